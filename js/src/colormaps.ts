/** Colormaps: perceptual continuous maps (viridis, inferno) and a categorical palette. */

import { rgb } from "d3-color";
import { interpolateInferno, interpolateViridis, schemeSet3, schemeTableau10 } from "d3-scale-chromatic";

type RGB = [number, number, number];
export type ColormapName = "viridis" | "inferno";

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  viridis: interpolateViridis,
  inferno: interpolateInferno,
};

export const COLORMAP_SIZE = 256;
export const MISSING_COLOR = "#9e9e9e";

const cache = new Map<string, RGB[]>();

/** `size` evenly spaced colors (0..255 channels) of a named colormap. */
export function sampleColormap(name: ColormapName, size = COLORMAP_SIZE): RGB[] {
  const key = `${name}:${size}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const interpolate = INTERPOLATORS[name];
  const colors: RGB[] = [];
  for (let i = 0; i < size; i++) {
    const c = rgb(interpolate(size === 1 ? 0 : i / (size - 1)));
    colors.push([Math.round(c.r), Math.round(c.g), Math.round(c.b)]);
  }
  cache.set(key, colors);
  return colors;
}

export function rgbToHex([r, g, b]: RGB): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

function hexToRgb(hex: string): RGB {
  const c = rgb(hex);
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
}

/**
 * Position of `value` in [0, 1] on a linear or log scale clamped to [min, max];
 * NaN (missing, or non-positive on a log scale) for values that have no color.
 */
export function normalize(value: number, min: number, max: number, log = false): number {
  if (!Number.isFinite(value)) return Number.NaN;
  if (log) {
    if (value <= 0 || min <= 0) return Number.NaN;
    value = Math.log10(value);
    min = Math.log10(min);
    max = Math.log10(max);
  }
  if (!(max > min)) return 0.5;
  const t = (value - min) / (max - min);
  return Math.min(1, Math.max(0, t));
}

/** Colormap bin (0..size-1) of a value, or -1 when missing. */
export function colormapIndex(value: number, min: number, max: number, log = false, size = COLORMAP_SIZE): number {
  const t = normalize(value, min, max, log);
  if (Number.isNaN(t)) return -1;
  return Math.min(size - 1, Math.floor(t * size));
}

/** A palette of `count` distinct hex colors (Tableau 10, then Set3, then golden-angle hues). */
export function categoricalPalette(count: number): string[] {
  const base = [...schemeTableau10, ...schemeSet3];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i < base.length) out.push(base[i]);
    else {
      const hue = (i * 137.508) % 360;
      out.push(`hsl(${hue.toFixed(1)}, 55%, 55%)`);
    }
  }
  return out.map((c) => rgbToHex(hexToRgb(c)));
}
