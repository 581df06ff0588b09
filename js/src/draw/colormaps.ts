/**
 * Colormaps: perceptual continuous maps (viridis, inferno) and a categorical palette, both
 * fitted to the theme's background: every point color has a WCAG contrast of at least 3:1
 * against it (viridis' ends have about 1.25:1: #fde725 on white, #440154 on a dark theme).
 */

import { hcl, rgb } from "d3-color";
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

/** WCAG 2 contrast asked for graphical objects (the points, lines and swatches). */
export const MIN_CONTRAST = 3;

/** WCAG 2 relative luminance of an sRGB color (channels 0..255). */
export function relativeLuminance([r, g, b]: RGB): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio (1..21) of two colors (hex or RGB). */
export function contrastRatio(a: RGB | string, b: RGB | string): number {
  const la = relativeLuminance(typeof a === "string" ? hexToRgb(a) : a);
  const lb = relativeLuminance(typeof b === "string" ? hexToRgb(b) : b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * `color` drawn at `opacity` over `background`, as the scatter's canvas blends it: each sRGB
 * channel `opacity * color + (1 - opacity) * background` (WebGL's "src alpha" blending).
 */
export function blendOver(color: RGB | string, background: RGB | string, opacity: number): RGB {
  const c = typeof color === "string" ? hexToRgb(color) : color;
  const b = typeof background === "string" ? hexToRgb(background) : background;
  return [0, 1, 2].map((i) => opacity * c[i] + (1 - opacity) * b[i]) as RGB;
}

/** WCAG 2 contrast of `color` drawn at `opacity` over `background` against that background. */
export function contrastAt(color: RGB | string, background: RGB | string, opacity: number): number {
  return contrastRatio(blendOver(color, background, opacity), background);
}

/**
 * The lowest opacity (a multiple of 0.01) down to which `color` drawn over `background` keeps
 * `minContrast`; 1 when only opaque does, or not even that. Tried from opaque down by tenths,
 * then by hundredths below the last tenth that passes (20 tries, not 100: a palette of 257
 * colors is fitted for every draw).
 */
export function readableOpacity(color: RGB | string, background: RGB | string, minContrast = MIN_CONTRAST): number {
  const [c, b] = [color, background].map((x) => (typeof x === "string" ? hexToRgb(x) : x));
  const passes = (hundredths: number) => contrastAt(c, b, hundredths / 100) >= minContrast;
  let lowest = 100;
  while (lowest > 10 && passes(lowest - 10)) lowest -= 10;
  while (lowest > 1 && passes(lowest - 1)) lowest -= 1;
  return lowest / 100;
}

/** A dark color (background): relative luminance at most 0.18, the middle of perceived lightness. */
export function isDark(color: RGB | string): boolean {
  return relativeLuminance(typeof color === "string" ? hexToRgb(color) : color) <= 0.18;
}

/**
 * The part [t0, t1] of a colormap whose colors all have at least `minContrast` against
 * `background`: the longest run of its 256 samples that pass (viridis: about [0, 0.55] on
 * white, [0.3, 1] on JupyterLab's dark #111111). Truncating keeps the map's order and hues;
 * the alternative, outlines on every point, is not available in regl-scatterplot.
 */
export function colormapRange(name: ColormapName, background: string, minContrast = MIN_CONTRAST): [number, number] {
  const samples = sampleColormap(name);
  const last = samples.length - 1;
  let best: [number, number] = [0, last];
  let bestLength = -1;
  let start = -1;
  for (let i = 0; i <= samples.length; i++) {
    const ok = i < samples.length && contrastRatio(samples[i], background) >= minContrast;
    if (ok && start < 0) start = i;
    if (!ok && start >= 0) {
      if (i - start > bestLength) {
        bestLength = i - start;
        best = [start, i - 1];
      }
      start = -1;
    }
  }
  // No sample passes (a mid-grey background): the whole map, best effort.
  return bestLength < 0 ? [0, 1] : [best[0] / last, best[1] / last];
}

/** `size` colors of a colormap over its part readable on `background` (colormapRange). */
export function themedColormap(name: ColormapName, background: string, size = COLORMAP_SIZE): RGB[] {
  const key = `${name}:${size}:${background}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const [t0, t1] = colormapRange(name, background);
  const interpolate = INTERPOLATORS[name];
  const colors: RGB[] = [];
  for (let i = 0; i < size; i++) {
    const c = rgb(interpolate(t0 + (t1 - t0) * (size === 1 ? 0 : i / (size - 1))));
    colors.push([Math.round(c.r), Math.round(c.g), Math.round(c.b)]);
  }
  cache.set(key, colors);
  return colors;
}

/**
 * `color` with its lightness (CIE LCh) moved away from `background`'s just enough for
 * `minContrast`; hue and chroma are kept as far as sRGB allows, so palettes stay distinct.
 */
export function readableOn(color: string, background: string, minContrast = MIN_CONTRAST): string {
  if (contrastRatio(color, background) >= minContrast) return rgbToHex(hexToRgb(color));
  const darker = !isDark(background); // light background: darken
  const base = hcl(color);
  for (let step = 1; step <= 100; step++) {
    const l = darker ? base.l - step : base.l + step;
    const candidate = rgbToHex(hexToRgb(hcl(base.h, base.c, Math.max(0, Math.min(100, l))).formatHex()));
    if (contrastRatio(candidate, background) >= minContrast) return candidate;
  }
  return darker ? "#000000" : "#ffffff";
}

/** The color of missing values: a neutral grey readable on `background`. */
export function missingColor(background: string): string {
  return readableOn(MISSING_COLOR, background);
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

/**
 * A palette of `count` distinct hex colors (Tableau 10, then Set3, then golden-angle hues),
 * each made readable on `background` when one is given (readableOn).
 */
export function categoricalPalette(count: number, background?: string): string[] {
  const base = [...schemeTableau10, ...schemeSet3];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i < base.length) out.push(base[i]);
    else {
      const hue = (i * 137.508) % 360;
      out.push(`hsl(${hue.toFixed(1)}, 55%, 55%)`);
    }
  }
  const hex = out.map((c) => rgbToHex(hexToRgb(c)));
  if (background === undefined) return hex;
  // Lightness changes can merge two colors: nudge duplicates further until distinct.
  const seen = new Set<string>();
  return hex.map((c) => {
    let fitted = readableOn(c, background);
    for (let k = 1; seen.has(fitted) && k < 40; k++) fitted = readableOn(c, background, MIN_CONTRAST + 0.1 * k);
    seen.add(fitted);
    return fitted;
  });
}
