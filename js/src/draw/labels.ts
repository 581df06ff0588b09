/**
 * Fitting labels into the room they have (axis titles and ticks, gallery captions), pure so
 * it is unit-tested: a slightly smaller font first, then the text shortened at its end
 * ("sgd_mome…", never "sgd_m…entum": a cut in the middle reads as another value), never
 * inside a number (counts are written compactly instead: "1.0M"). The views show the full
 * text on hover wherever a label is shortened.
 */
import { scaleUtc } from "d3-scale";

/** Width in px of `text` at the base font size. */
export type Measure = (text: string) => number;

const ELLIPSIS = "…";

/** A character of a written number ("1,000,000", "0.512", "-3e-4"): never cut between two. */
const NUMBER_CHAR = /[0-9.,]/;

/** Whether `text` is one number as the views write them ("0.512", "1,000", "-2e-5", "1.0M", "12%"). */
export function isNumberText(text: string): boolean {
  return /^[-+−]?(\d[\d,]*(\.\d*)?|\.\d+)(e[-+]?\d+)?[%KMBT]?$/i.test(text.trim());
}

/**
 * `text` shortened at its end to at most `maxWidth`: its longest head that fits with "…"
 * after it, the cut moved back before a number it would fall in ("acc …", not "acc 0.…").
 * "" when no head fits (or only part of a number); `text` itself when it fits, or when it
 * is a number (a number is never cut: the caller writes it compactly or lets it overflow).
 *
 * @example shortenEnd("sgd_momentum", 54, (t) => t.length * 6) // "sgd_mome…"
 */
export function shortenEnd(text: string, maxWidth: number, measure: Measure): string {
  if (measure(text) <= maxWidth || isNumberText(text)) return text;
  const chars = Array.from(text); // code points: never split a surrogate pair
  const cut = (kept: number) => `${chars.slice(0, kept).join("").trimEnd()}${ELLIPSIS}`;
  let lo = 0; // most kept characters known to fit
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(cut(mid)) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  // Inside a number ("1,00|0,000", "0.5|12"): keep none of it.
  while (lo > 0 && NUMBER_CHAR.test(chars[lo - 1]) && NUMBER_CHAR.test(chars[lo])) lo--;
  return lo === 0 || chars.slice(0, lo).join("").trim() === "" ? "" : cut(lo);
}

/**
 * A count as the views caption it: in full up to 9,999 ("2,000"), compact above with at
 * least two significant digits ("65.5K", "1.0M"), so that it fits a caption uncut.
 *
 * @example formatCount(1_000_000) // "1.0M"
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) < 10_000) return n.toLocaleString("en-US");
  return COMPACT.format(n);
}

const COMPACT = new Intl.NumberFormat("en-US", {
  notation: "compact",
  minimumSignificantDigits: 2,
  maximumSignificantDigits: 3,
});

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
 * at least `minScale` (rounded down to 1/20 steps); else shortened at its end at `minScale`
 * (a number is never shortened: it is drawn whole at `minScale`). `measure` measures at
 * scale 1 (widths scale linearly with the font size).
 *
 * @example fitLabel("sgd_momentum", 66, (t) => t.length * 6) // { text: "sgd_momentum", scale: 0.9, ... }
 */
export function fitLabel(text: string, maxWidth: number, measure: Measure, minScale = 0.8): FittedLabel {
  const width = measure(text);
  if (width <= maxWidth) return { text, scale: 1, shortened: false };
  const scale = Math.floor((maxWidth / width) * 20) / 20;
  if (scale >= minScale) return { text, scale, shortened: false };
  const shown = shortenEnd(text, maxWidth / minScale, measure);
  return { text: shown, scale: minScale, shortened: shown !== text };
}

/**
 * Pack `parts` (e.g. "digits", "acc 0.512", "adam") into lines at most `maxWidth` wide,
 * joined by `separator`, never breaking inside a part; a part wider than a line on its own
 * is shortened at its end (never inside a number). At most `maxLines` lines: the parts that do not fit are
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
    const part = shortenEnd(raw, maxWidth, measure);
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
