import { describe, expect, it } from "vitest";
import { normalizeSelection, type SelectionSource, SelectionStore, sameIndices } from "./selection";

describe("selection state", () => {
  it("normalizes to sorted unique positions in range, keeping index 0", () => {
    expect(Array.from(normalizeSelection([5, 0, 5, -1, 12, 2.5, 3], 10))).toEqual([0, 3, 5]);
    expect(sameIndices([1, 2], Int32Array.from([1, 2]))).toBe(true);
    expect(sameIndices([1, 2], [1])).toBe(false);
  });

  it("notifies with the source, and not at all when nothing changed", () => {
    const store = new SelectionStore(10);
    const calls: [number[], SelectionSource][] = [];
    const off = store.subscribe((sel, source) => calls.push([Array.from(sel), source]));
    expect(store.set([3, 0], "scatter")).toBe(true);
    expect(store.set([0, 3, 3], "model")).toBe(false); // an echo of the same selection
    expect(store.set([], "parallel")).toBe(true);
    expect(calls).toEqual([
      [[0, 3], "scatter"],
      [[], "parallel"],
    ]);
    off();
    store.set([1], "model");
    expect(calls).toHaveLength(2);
  });

  it("answers membership including row 0, and instances are independent", () => {
    const a = new SelectionStore(5);
    const b = new SelectionStore(5);
    a.set([0, 4], "model");
    expect(a.has(0)).toBe(true);
    expect(a.has(1)).toBe(false);
    expect(b.has(0)).toBe(false);
    const hovered: (number | null)[] = [];
    a.hover.on((i) => hovered.push(i));
    a.hover.emit(0);
    a.hover.emit(null);
    b.hover.emit(3);
    expect(hovered).toEqual([0, null]);
  });
});
