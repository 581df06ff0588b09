/**
 * Per-widget shared state: the selection (sorted, unique Int32 row positions) and the
 * hovered row. Every view subscribes; each change carries its source so a view can ignore
 * its own echo. No module-level state: two widgets on a page never share a store.
 */

export type SelectionSource = "model" | "scatter" | "lasso" | "parallel" | "toolbar" | "path" | "init";
type SelectionListener = (selection: Int32Array, source: SelectionSource) => void;

/** Above this share of n, normalizing goes through a membership mask (O(n)) instead of a sort. */
const MASK_SHARE = 1 / 32;

/**
 * Sorted, unique positions within [0, n); anything else is dropped. Already-normalized
 * input (a brush result, an echo of the model) is only copied; large unsorted input (a
 * lasso of a million points) goes through a mask instead of a sort.
 */
export function normalizeSelection(indices: ArrayLike<number>, n: number): Int32Array {
  const count = indices.length;
  let normalized = true;
  for (let i = 0; i < count; i++) {
    const v = indices[i];
    if (!(Number.isInteger(v) && v >= 0 && v < n && (i === 0 || v > indices[i - 1]))) {
      normalized = false;
      break;
    }
  }
  if (normalized) return Int32Array.from(indices);
  if (count > n * MASK_SHARE) {
    const mask = new Uint8Array(n);
    let unique = 0;
    for (let i = 0; i < count; i++) {
      const v = indices[i];
      if (Number.isInteger(v) && v >= 0 && v < n && mask[v] === 0) {
        mask[v] = 1;
        unique++;
      }
    }
    const out = new Int32Array(unique);
    for (let row = 0, k = 0; k < unique; row++) if (mask[row]) out[k++] = row;
    return out;
  }
  const kept = new Int32Array(count);
  let length = 0;
  for (let i = 0; i < count; i++) {
    const v = indices[i];
    if (Number.isInteger(v) && v >= 0 && v < n) kept[length++] = v;
  }
  const sorted = kept.subarray(0, length).sort();
  let write = 0;
  for (let read = 0; read < sorted.length; read++) {
    if (read === 0 || sorted[read] !== sorted[read - 1]) sorted[write++] = sorted[read];
  }
  return sorted.slice(0, write);
}

export function sameIndices(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class Emitter<T> {
  private listeners = new Set<(value: T) => void>();
  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  clear(): void {
    this.listeners.clear();
  }
}

export class SelectionStore {
  readonly n: number;
  private current: Int32Array = new Int32Array(0);
  private mask: Uint8Array | null = null;
  private listeners = new Set<SelectionListener>();
  private firstListeners = new Set<SelectionListener>();
  /** Hovered row (gallery or scatter), null when none. Index 0 is a valid row. */
  readonly hover = new Emitter<number | null>();

  constructor(n: number) {
    this.n = n;
  }

  get(): Int32Array {
    return this.current;
  }

  get size(): number {
    return this.current.length;
  }

  /** Membership test in O(1) (the mask is built lazily, once per selection). */
  has(index: number): boolean {
    if (!this.mask) {
      this.mask = new Uint8Array(this.n);
      for (const i of this.current) this.mask[i] = 1;
    }
    return this.mask[index] === 1;
  }

  /** Replace the selection; returns false (and notifies nobody) if nothing changed. */
  set(indices: ArrayLike<number>, source: SelectionSource): boolean {
    const next = normalizeSelection(indices, this.n);
    if (sameIndices(next, this.current)) return false;
    this.current = next;
    this.mask = null;
    for (const listener of [...this.firstListeners, ...this.listeners]) listener(next, source);
    return true;
  }

  /**
   * Listen for selection changes. `first` listeners run before all others, whenever they
   * subscribed: the sync to Python is one, so the kernel gets a selection before any view
   * spends time on it.
   */
  subscribe(listener: SelectionListener, first = false): () => void {
    const set = first ? this.firstListeners : this.listeners;
    set.add(listener);
    return () => set.delete(listener);
  }

  destroy(): void {
    this.listeners.clear();
    this.firstListeners.clear();
    this.hover.clear();
  }
}
