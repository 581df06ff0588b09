/**
 * Point colors from a column: colormap bins (continuous) or palette codes (categorical),
 * fitted to the background (3:1 contrast, colormaps.ts); missing values in grey. And the
 * colors and opacities points are drawn with, at rest and faded, so that they keep 3:1 too.
 */

import { hcl } from "d3-color";
import { type Column, MISSING_TEXT } from "../wire/columns";
import {
  COLORMAP_SIZE,
  categoricalPalette,
  colormapIndex,
  contrastRatio,
  isDark,
  MIN_CONTRAST,
  missingColor,
  readableOn,
  readableOpacity,
  rgbToHex,
  themedColormap,
} from "./colormaps";

export type Legend =
  | {
      kind: "continuous";
      name: string;
      min: number;
      max: number;
      log: boolean;
      colors: string[];
      /** The column, for value text (dates, integers). */
      column?: Extract<Column, { kind: "numeric" }>;
      /** Rows without a value (drawn in `color`); absent when there are none. */
      missing?: { color: string; count: number };
    }
  | { kind: "categorical"; name: string; entries: { label: string; color: string; count: number }[] }
  | null;

interface ColorEncoding {
  /** Per point: index into `palette`. */
  codes: Float32Array;
  palette: string[];
  legend: Legend;
}

const DEFAULT_POINT_COLOR = "#3a78b5";
/**
 * The default color's contrast with the background, above MIN_CONTRAST: drawn at the opacity
 * of a few thousand points (0.78, pointStyleFor), a point still has 3:1. Unchanged on white
 * (4.6:1); lightened on dark themes (4.1:1 on JupyterLab's #111).
 */
const DEFAULT_POINT_CONTRAST = 4.5;

/**
 * Per-point palette codes of `column` for `n` points on a `background` (the theme's; the
 * light default when not given).
 */
export function encodeColors(column: Column | undefined, n: number, background = "#ffffff"): ColorEncoding {
  const codes = new Float32Array(n);
  if (!column || column.kind === "text") {
    return { codes, palette: [readableOn(DEFAULT_POINT_COLOR, background, DEFAULT_POINT_CONTRAST)], legend: null };
  }
  const grey = missingColor(background);
  if (column.kind === "numeric") {
    const colors = themedColormap("viridis", background).map(rgbToHex);
    const missing = COLORMAP_SIZE; // one extra palette entry, grey
    let missingCount = 0;
    for (let i = 0; i < n; i++) {
      const bin = colormapIndex(column.values[i], column.min, column.max, column.log);
      codes[i] = bin < 0 ? missing : bin;
      if (bin < 0) missingCount++;
    }
    const { name, min, max, log } = column;
    return {
      codes,
      palette: [...colors, grey],
      legend: {
        kind: "continuous",
        name,
        min,
        max,
        log,
        colors,
        column,
        ...(missingCount ? { missing: { color: grey, count: missingCount } } : {}),
      },
    };
  }
  const palette = categoricalPalette(column.categories.length, background);
  const counts = new Array<number>(column.categories.length).fill(0);
  for (let i = 0; i < n; i++) {
    codes[i] = column.codes[i];
    counts[column.codes[i]]++;
  }
  // The missing code when Python said which one; else the label (older states, tests).
  const missingCode = column.missing ?? column.categories.indexOf(MISSING_TEXT);
  if (missingCode >= 0 && missingCode < palette.length) palette[missingCode] = grey;
  return {
    codes,
    palette,
    legend: {
      kind: "categorical",
      name: column.name,
      entries: column.categories.map((label, i) => ({ label, color: palette[i], count: counts[i] })),
    },
  };
}

/** Above this many points, the opacity follows the density of the points in view. */
export const DENSITY_OPACITY_POINTS = 20000;

/**
 * Point size (CSS px) and opacity for n points: big and opaque when few, small when many;
 * `byDensity` when there are so many that a fixed opacity would make one blob.
 */
export function pointStyleFor(n: number): { size: number; opacity: number; byDensity: boolean } {
  const ratio = 1000 / Math.max(n, 1);
  const size = n <= 1000 ? 6 : Math.max(1, 6 * ratio ** 0.3);
  const opacity = n <= 1000 ? 0.9 : Math.min(0.9, Math.max(0.15, 0.9 * ratio ** 0.2));
  return {
    size: Math.round(size * 10) / 10,
    opacity: Math.round(opacity * 100) / 100,
    byDensity: n > DENSITY_OPACITY_POINTS,
  };
}

/** How much a selection fades the other points: their opacity times this, as far as 3:1 allows. */
export const FADE = 0.5;
/** ... and their colors' chroma (CIE LCh) times this: greyed (fadedColor). */
export const FADED_CHROMA = 0.3;

/** The contrast drawn points are fitted to: 3:1 and a little, as the canvas rounds blends to 8 bits. */
const DRAWN_CONTRAST = MIN_CONTRAST + 0.05;

/** What the points of each palette color are drawn with (regl-scatterplot, by category). */
export interface PointPaint {
  colors: string[];
  opacities: number[];
}

/**
 * A palette color greyed for faded points (its CIE chroma times FADED_CHROMA), readable on
 * `background` (3:1) and drawn at `opacity` too: its lightness moves away from the
 * background as far as that needs (a grey blends toward it a little unlike a hue does).
 */
export function fadedColor(color: string, background: string, opacity = 1): string {
  const c = hcl(color);
  if (!(c.c > 0)) return color; // a grey already
  const away = isDark(background) ? 1 : -1;
  for (let step = 0; step <= 100; step++) {
    const l = Math.max(0, Math.min(100, c.l + away * step));
    const candidate = hcl(c.h, c.c * FADED_CHROMA, l).formatHex();
    const readable = contrastRatio(candidate, background) >= MIN_CONTRAST;
    if (readable && readableOpacity(candidate, background, DRAWN_CONTRAST) <= opacity) return candidate;
  }
  return away > 0 ? "#ffffff" : "#000000";
}

/**
 * The points of each palette color at rest and while a selection fades them. A point drawn
 * below opacity 1 is blended with the background, which lowers its contrast; each opacity is
 * raised to the color's readableOpacity, so every point keeps 3:1: at rest the `opacity` of
 * pointStyleFor (the colormap's ends, fitted to exactly 3:1, stay opaque); faded, the color
 * greyed (fadedColor: context, not content, for every color) at FADE times that opacity.
 */
export function pointPaints(
  palette: string[],
  background: string,
  opacity: number,
): { rest: PointPaint; faded: PointPaint } {
  const floor = (color: string) => readableOpacity(color, background, DRAWN_CONTRAST);
  const at = (floors: number[], target: number) => floors.map((f) => Math.max(f, Math.round(target * 100) / 100));
  const restFloors = palette.map(floor);
  // Greyed, each fades at least as far as its color does: never more opaque than at rest.
  const faded = palette.map((color, i) => fadedColor(color, background, restFloors[i]));
  return {
    rest: { colors: palette, opacities: at(restFloors, opacity) },
    faded: { colors: faded, opacities: at(faded.map(floor), opacity * FADE) },
  };
}
