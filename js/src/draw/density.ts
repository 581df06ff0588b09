/**
 * Binned density of parallel-coordinate lines, for 100,000 to 1,000,000 rows: each row's
 * value is binned once per axis (numeric: `DENSITY_BINS` equal bins of the axis, log axes in
 * log space; categorical: one bin per category), then the lines between two neighbouring
 * axes are counted per (left bin, right bin) cell. A cell is drawn as one line whose opacity
 * grows with log(count), so the cost of a redraw depends on the bins, not on the rows.
 * Pure functions (no DOM): unit-tested in density.test.ts.
 */

/** Bins of a numeric axis (about 3.5 px each on the default 234 px axis). */
export const DENSITY_BINS = 64;
/** The bin of a missing value (NaN, or <= 0 on a log axis): no line through that axis. */
export const MISSING_BIN = 0xffff;
/** Opacity levels of the drawn cells (one canvas path per level). */
export const DENSITY_LEVELS = 16;

/** Per-row bin of one axis plus where each bin sits on it (0 = bottom, 1 = top). */
export interface BinnedAxis {
  bins: Uint16Array;
  count: number;
  /** Position of each bin's centre along the axis, 0 (bottom) .. 1 (top). */
  centers: Float64Array;
}

/** Bin numeric `values` into `count` equal bins of [lo, hi] (log10 space when `log`). */
export function binNumeric(
  values: ArrayLike<number>,
  lo: number,
  hi: number,
  log: boolean,
  count = DENSITY_BINS,
): BinnedAxis {
  const n = values.length;
  const bins = new Uint16Array(n);
  const a = log ? Math.log10(lo) : lo;
  const b = log ? Math.log10(hi) : hi;
  const span = b > a ? b - a : 1;
  const last = count - 1;
  for (let i = 0; i < n; i++) {
    const raw = values[i];
    if (Number.isNaN(raw) || (log && !(raw > 0))) {
      bins[i] = MISSING_BIN;
      continue;
    }
    const v = log ? Math.log10(raw) : raw;
    let bin = Math.floor(((v - a) / span) * count);
    if (bin < 0) bin = 0;
    else if (bin > last) bin = last;
    bins[i] = bin;
  }
  const centers = Float64Array.from({ length: count }, (_, k) => (k + 0.5) / count);
  return { bins, count, centers };
}

/**
 * One bin per category (`units[c]`: the category's position 0..1 on the axis). More
 * categories than `maxBins` share `maxBins` equal bins by position.
 */
export function binCategorical(
  codes: ArrayLike<number>,
  units: ArrayLike<number>,
  maxBins = 4 * DENSITY_BINS,
): BinnedAxis {
  const n = codes.length;
  const bins = new Uint16Array(n);
  const categories = units.length;
  if (categories <= maxBins) {
    for (let i = 0; i < n; i++) {
      const c = codes[i];
      bins[i] = c < categories && Number.isFinite(units[c]) ? c : MISSING_BIN;
    }
    return { bins, count: categories, centers: Float64Array.from(units) };
  }
  const lookup = new Uint16Array(categories);
  for (let c = 0; c < categories; c++) {
    const u = units[c];
    lookup[c] = Number.isFinite(u) ? Math.min(maxBins - 1, Math.max(0, Math.floor(u * maxBins))) : MISSING_BIN;
  }
  for (let i = 0; i < n; i++) {
    const c = codes[i];
    bins[i] = c < categories ? lookup[c] : MISSING_BIN;
  }
  const centers = Float64Array.from({ length: maxBins }, (_, k) => (k + 0.5) / maxBins);
  return { bins, count: maxBins, centers };
}

/**
 * counts[i * right.count + j]: rows (of `rows`, or all rows when null) in bin i of `left`
 * and bin j of `right`; rows missing on either axis are not counted. `out` is reused when
 * it has the right size.
 */
export function pairHistogram(
  left: BinnedAxis,
  right: BinnedAxis,
  rows: ArrayLike<number> | null,
  out?: Uint32Array,
): Uint32Array {
  const size = left.count * right.count;
  const counts = out && out.length === size ? out : new Uint32Array(size);
  counts.fill(0);
  const a = left.bins;
  const b = right.bins;
  const stride = right.count;
  if (rows === null) {
    for (let r = 0; r < a.length; r++) {
      const i = a[r];
      const j = b[r];
      if (i !== MISSING_BIN && j !== MISSING_BIN) counts[i * stride + j]++;
    }
  } else {
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k];
      const i = a[r];
      const j = b[r];
      if (i !== MISSING_BIN && j !== MISSING_BIN) counts[i * stride + j]++;
    }
  }
  return counts;
}

/**
 * The non-empty cells grouped by opacity level: level = ceil(levels * log1p(count) /
 * log1p(max)) - 1, so the fullest cell is at the top level and a single line at level 0
 * or above. Returns, per level, the flat cell indices (i * rightCount + j).
 */
export function densityLevels(counts: Uint32Array, levels = DENSITY_LEVELS): Int32Array[] {
  let max = 0;
  let nonzero = 0;
  for (let c = 0; c < counts.length; c++) {
    const v = counts[c];
    if (v > 0) nonzero++;
    if (v > max) max = v;
  }
  const perLevel = new Uint32Array(levels);
  const level = new Int8Array(counts.length).fill(-1);
  if (max === 0) return Array.from({ length: levels }, () => new Int32Array(0));
  const denominator = Math.log1p(max);
  for (let c = 0; c < counts.length; c++) {
    const v = counts[c];
    if (v === 0) continue;
    const l = Math.max(0, Math.min(levels - 1, Math.ceil((levels * Math.log1p(v)) / denominator) - 1));
    level[c] = l;
    perLevel[l]++;
  }
  const out = Array.from({ length: levels }, (_, l) => new Int32Array(perLevel[l]));
  const fill = new Uint32Array(levels);
  for (let c = 0; c < counts.length && nonzero > 0; c++) {
    const l = level[c];
    if (l >= 0) {
      out[l][fill[l]++] = c;
      nonzero--;
    }
  }
  return out;
}

/** Opacity of a level: from `min` (one line among many) to `max` (the fullest cell). */
export function levelAlpha(level: number, levels = DENSITY_LEVELS, min = 0.04, max = 0.85): number {
  return min + ((max - min) * (level + 1)) / levels;
}

/** A 2-D context's path calls (what `strokeDensity` draws into; a fake in tests). */
export interface PathTarget {
  globalAlpha: number;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
}

/** Where two neighbouring axes are: x in px, y of a unit position (0 = bottom, 1 = top). */
export interface PairGeometry {
  x0: number;
  x1: number;
  y: (unit: number) => number;
}

/**
 * Stroke the cells of one axis pair, one path per opacity level, the densest last (on
 * top). Returns how many cell lines were drawn.
 */
export function strokeDensity(
  ctx: PathTarget,
  left: BinnedAxis,
  right: BinnedAxis,
  counts: Uint32Array,
  geometry: PairGeometry,
  alphaScale = 1,
): number {
  const levels = densityLevels(counts);
  const stride = right.count;
  let drawn = 0;
  for (let l = 0; l < levels.length; l++) {
    const cells = levels[l];
    if (!cells.length) continue;
    ctx.globalAlpha = Math.min(1, levelAlpha(l, levels.length) * alphaScale);
    ctx.beginPath();
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[k];
      const i = Math.floor(cell / stride);
      const j = cell - i * stride;
      ctx.moveTo(geometry.x0, geometry.y(left.centers[i]));
      ctx.lineTo(geometry.x1, geometry.y(right.centers[j]));
    }
    ctx.stroke();
    drawn += cells.length;
  }
  return drawn;
}
