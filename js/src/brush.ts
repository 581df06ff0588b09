/**
 * Brushing logic of the parallel coordinates, kept free of the DOM so it is unit-tested.
 * A brush on a numeric axis keeps rows whose value lies in [lo, hi]; on a categorical axis
 * it keeps rows whose category is in a set. Brushes AND together and narrow the *base*
 * selection, i.e. the selection that existed when brushing started (all rows if empty).
 */
import type { Column } from "./columns";

export type BrushRange = { kind: "numeric"; lo: number; hi: number } | { kind: "categorical"; codes: Set<number> };

function rowPasses(column: Column, row: number, range: BrushRange): boolean {
  if (column.kind === "numeric") {
    if (range.kind !== "numeric") return false;
    const v = column.values[row];
    return v >= range.lo && v <= range.hi; // NaN fails both comparisons: missing is out
  }
  if (range.kind !== "categorical" || column.kind !== "categorical") return false;
  return range.codes.has(column.codes[row]);
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
  const count = base ? base.length : n;
  const out = new Int32Array(count);
  let k = 0;
  for (let j = 0; j < count; j++) {
    const row = base ? base[j] : j;
    let ok = true;
    for (const [column, range] of active) {
      if (!rowPasses(column, row, range)) {
        ok = false;
        break;
      }
    }
    if (ok) out[k++] = row;
  }
  return out.slice(0, k);
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
