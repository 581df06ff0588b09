/**
 * Fitting labels into the room they have (axis titles and ticks, gallery captions), pure so
 * it is unit-tested: a slightly smaller font first, then a shortened text that keeps both
 * ends ("glorot_uniform" and "glorot_normal" differ at the end, "sgd_momentum" and "sgd" at
 * the start). The views show the full text on hover.
 */
import { scaleUtc } from "d3-scale";

/** Width in px of `text` at the base font size. */
export type Measure = (text: string) => number;

const ELLIPSIS = "…";

/**
 * `text` shortened to at most `maxWidth` by replacing its middle with "…": the longest such
 * text whose kept head is about `headShare` of the kept characters (the rest from the end).
 * "" when not even one character and the ellipsis fit.
 *
 * @example shortenMiddle("initialization", 40, (t) => t.length * 6) // "in…ion"
 */
export function shortenMiddle(text: string, maxWidth: number, measure: Measure, headShare = 0.45): string {
  if (measure(text) <= maxWidth) return text;
  const chars = Array.from(text); // code points: never split a surrogate pair
  const cut = (kept: number) => {
    const head = Math.max(1, Math.round(kept * headShare));
    const tail = kept - head;
    return `${chars.slice(0, head).join("")}${ELLIPSIS}${tail > 0 ? chars.slice(chars.length - tail).join("") : ""}`;
  };
  let lo = 0; // most kept characters known to fit
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(cut(mid)) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? "" : cut(lo);
}

export interface FittedLabel {
  /** The text to draw (`text` itself, or shortened). */
  text: string;
  /** Font size relative to the base one (minScale..1). */
  scale: number;
  /** Whether it differs from the full text (then the view shows the full text on hover). */
  shortened: boolean;
}

/**
 * Fit `text` into `maxWidth` px: as is; else at the font scale that makes it fit, if that is
 * at least `minScale` (rounded down to 1/20 steps); else shortened in the middle at
 * `minScale`. `measure` measures at scale 1 (widths scale linearly with the font size).
 *
 * @example fitLabel("sgd_momentum", 66, (t) => t.length * 6) // { text: "sgd_momentum", scale: 0.9, ... }
 */
export function fitLabel(text: string, maxWidth: number, measure: Measure, minScale = 0.8): FittedLabel {
  const width = measure(text);
  if (width <= maxWidth) return { text, scale: 1, shortened: false };
  const scale = Math.floor((maxWidth / width) * 20) / 20;
  if (scale >= minScale) return { text, scale, shortened: false };
  const shown = shortenMiddle(text, maxWidth / minScale, measure);
  return { text: shown, scale: minScale, shortened: true };
}

/**
 * Pack `parts` (e.g. "digits", "acc 0.512", "adam") into lines at most `maxWidth` wide,
 * joined by `separator`, never breaking inside a part; a part wider than a line on its own
 * is shortened in the middle. At most `maxLines` lines: the parts that do not fit are
 * dropped (the full text is on hover).
 *
 * @example packParts(["digits", "acc 0.512", "adam"], 60, (t) => t.length * 6) // ["digits", "acc 0.512", "adam"]
 */
export function packParts(
  parts: readonly string[],
  maxWidth: number,
  measure: Measure,
  separator = " · ",
  maxLines = 3,
): string[] {
  const lines: string[] = [];
  let line = "";
  for (const raw of parts) {
    const part = shortenMiddle(raw, maxWidth, measure);
    if (!part) continue;
    const joined = line ? `${line}${separator}${part}` : part;
    if (measure(joined) <= maxWidth) {
      line = joined;
      continue;
    }
    if (line) lines.push(line);
    line = part;
  }
  if (line) lines.push(line);
  return lines.slice(0, maxLines);
}

/** A canvas text measurer for a CSS `font` (a rough per-character estimate without canvas). */
export function textMeasurer(font: string, fallbackPx = 11): Measure {
  const ctx = typeof document === "undefined" ? null : document.createElement("canvas").getContext("2d");
  if (!ctx) return (text) => Array.from(text).length * 0.6 * fallbackPx;
  ctx.font = font;
  return (text) => ctx.measureText(text).width;
}

/**
 * About `count` round times (epoch ms) within [min, max] for a datetime axis: whole days,
 * months, years... in UTC (d3's time ticks), instead of round numbers of milliseconds.
 */
export function timeTicks(min: number, max: number, count = 5): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [];
  if (!(max > min)) return [min];
  return scaleUtc()
    .domain([new Date(min), new Date(max)])
    .ticks(count)
    .map((d) => d.getTime());
}
