/**
 * Brushing logic of the parallel coordinates, kept free of the DOM so it is unit-tested.
 * A brush on a numeric axis keeps rows whose value lies in [lo, hi]; on a categorical axis
 * it keeps rows whose category is in a set. Brushes AND together and narrow the *base*
 * selection, i.e. the selection that existed when brushing started (all rows if empty).
 */
import type { Column } from "../wire/columns";

export type BrushRange = { kind: "numeric"; lo: number; hi: number } | { kind: "categorical"; codes: Set<number> };

/**
 * Rows of `rows` (the first `count`; null: rows 0..count-1) that pass one brush, written
 * to `out` (which may be `rows`); returns how many. One tight loop per brush over the
 * column's typed array: a brush drag on a million rows recomputes this on every move (a
 * per-row closure over all brushes took ~20 ms).
 */
function filterRows(
  rows: Int32Array | null,
  count: number,
  column: Column,
  range: BrushRange,
  out: Int32Array,
): number {
  let k = 0;
  if (column.kind === "numeric" && range.kind === "numeric") {
    const { values } = column;
    const { lo, hi } = range;
    if (rows === null) {
      for (let row = 0; row < count; row++) {
        const v = values[row];
        if (v >= lo && v <= hi) out[k++] = row; // NaN fails both comparisons: missing is out
      }
      return k;
    }
    for (let j = 0; j < count; j++) {
      const row = rows[j];
      const v = values[row];
      if (v >= lo && v <= hi) out[k++] = row;
    }
    return k;
  }
  if (column.kind === "categorical" && range.kind === "categorical") {
    const { codes } = column;
    let top = 0;
    for (const code of range.codes) if (code >= top) top = code + 1;
    const allowed = new Uint8Array(top);
    for (const code of range.codes) if (code >= 0) allowed[code] = 1;
    for (let j = 0; j < count; j++) {
      const row = rows === null ? j : rows[j];
      if (allowed[codes[row]] === 1) out[k++] = row;
    }
    return k;
  }
  return 0; // a range of the other kind (or a text column): nothing passes
}

/** Rows of `base` (or of 0..n-1 when base is null) that pass every brush. */
export function applyBrushes(
  base: Int32Array | null,
  n: number,
  columns: Map<string, Column>,
  brushes: Map<string, BrushRange>,
): Int32Array {
  const active = [...brushes.entries()]
    .map(([name, range]) => [columns.get(name), range] as const)
    .filter((entry): entry is readonly [Column, BrushRange] => entry[0] !== undefined);
  let count = base ? base.length : n;
  if (active.length === 0) return base ? Int32Array.from(base) : Int32Array.from({ length: n }, (_, i) => i);
  const out = new Int32Array(count);
  let rows: Int32Array | null = base;
  for (const [column, range] of active) {
    count = filterRows(rows, count, column, range, out);
    rows = out; // later brushes narrow the survivors in place
  }
  return out.slice(0, count);
}

/** Categories whose axis position (pixels) falls inside a brushed pixel interval. */
export function categoriesInExtent(positions: ArrayLike<number>, y0: number, y1: number): Set<number> {
  const lo = Math.min(y0, y1);
  const hi = Math.max(y0, y1);
  const codes = new Set<number>();
  for (let code = 0; code < positions.length; code++) {
    const p = positions[code];
    if (p >= lo && p <= hi) codes.add(code);
  }
  return codes;
}

/**
 * The brushing session: remembers the base selection while brushes are active.
 * `update` returns the selection the views should show.
 */
export class BrushSession {
  private base: Int32Array | null = null;
  private active = false;
  readonly brushes = new Map<string, BrushRange>();

  constructor(
    private readonly n: number,
    private readonly columns: () => Map<string, Column>,
  ) {}

  get isActive(): boolean {
    return this.active;
  }

  /** Set (range) or clear (null) the brush of one axis; returns the narrowed selection. */
  update(axis: string, range: BrushRange | null, current: Int32Array): Int32Array {
    if (!this.active) {
      this.base = current.length > 0 ? current : null;
      this.active = true;
    }
    if (range) this.brushes.set(axis, range);
    else this.brushes.delete(axis);
    if (this.brushes.size === 0) {
      const restored = this.base ?? new Int32Array(0);
      this.reset();
      return restored;
    }
    return applyBrushes(this.base, this.n, this.columns(), this.brushes);
  }

  /** Forget brushes and base (the selection was changed elsewhere). */
  reset(): void {
    this.base = null;
    this.active = false;
    this.brushes.clear();
  }
}
