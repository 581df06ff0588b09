import { describe, expect, it } from "vitest";
import { normalizeSelection, type SelectionSource, SelectionStore, sameIndices } from "./selection";

describe("selection state", () => {
  it("normalizes to sorted unique positions in range, keeping index 0", () => {
    expect(Array.from(normalizeSelection([5, 0, 5, -1, 12, 2.5, 3], 10))).toEqual([0, 3, 5]);
    expect(sameIndices([1, 2], Int32Array.from([1, 2]))).toBe(true);
    expect(sameIndices([1, 2], [1])).toBe(false);
  });

  it("normalizes large lassos through a mask and sorted input by a copy, the same way", () => {
    const n = 1000;
    const lasso = [999, 0, 500, 0, 7, 1000, -3, 7.5, ...Array.from({ length: 200 }, (_, i) => 300 - i)];
    const expected = [...new Set(lasso.filter((v) => Number.isInteger(v) && v >= 0 && v < n))].sort((a, b) => a - b);
    expect(Array.from(normalizeSelection(lasso, n))).toEqual(expected); // > n/32: mask path
    expect(Array.from(normalizeSelection(lasso.slice(0, 8), n))).toEqual([0, 7, 500, 999]); // sort path
    const sorted = Int32Array.from(expected);
    const copy = normalizeSelection(sorted, n);
    expect(Array.from(copy)).toEqual(expected);
    expect(copy).not.toBe(sorted); // a copy: the store owns its array
  });

  it("runs first listeners before the others, whatever the order of subscription", () => {
    const store = new SelectionStore(3);
    const order: string[] = [];
    store.subscribe(() => order.push("view"));
    store.subscribe(() => order.push("sync"), true);
    store.set([0], "scatter");
    expect(order).toEqual(["sync", "view"]);
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
