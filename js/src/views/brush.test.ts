import { describe, expect, it } from "vitest";
import type { Column } from "../wire/columns";
import { applyBrushes, type BrushRange, BrushSession, categoriesInExtent } from "./brush";

const acc: Column = {
  kind: "numeric",
  name: "acc",
  values: Float32Array.from([0.1, 0.5, 0.9, Number.NaN, 0.7]),
  min: 0.1,
  max: 0.9,
  log: false,
};
const opt: Column = {
  kind: "categorical",
  name: "opt",
  codes: Uint8Array.from([0, 1, 1, 2, 0]),
  categories: ["adam", "sgd", "rmsprop"],
};
const columns = new Map<string, Column>([
  ["acc", acc],
  ["opt", opt],
]);

describe("brushing", () => {
  it("keeps rows inside a numeric range (missing values are out)", () => {
    const brushes = new Map<string, BrushRange>([["acc", { kind: "numeric", lo: 0.5, hi: 0.9 }]]);
    expect(Array.from(applyBrushes(null, 5, columns, brushes))).toEqual([1, 2, 4]);
  });

  it("ANDs brushes on several axes and narrows a base selection", () => {
    const brushes = new Map<string, BrushRange>([
      ["acc", { kind: "numeric", lo: 0.4, hi: 1 }],
      ["opt", { kind: "categorical", codes: new Set([1]) }],
    ]);
    expect(Array.from(applyBrushes(null, 5, columns, brushes))).toEqual([1, 2]);
    expect(Array.from(applyBrushes(Int32Array.from([0, 2, 4]), 5, columns, brushes))).toEqual([2]);
  });

  it("finds the categories under a brushed pixel interval", () => {
    expect([...categoriesInExtent([200, 100, 0], 90, 210)].sort()).toEqual([0, 1]);
    expect([...categoriesInExtent([200, 100, 0], 210, 90)].sort()).toEqual([0, 1]);
    expect(categoriesInExtent([200, 100, 0], 120, 180).size).toBe(0);
  });

  it("a session narrows from the selection at its start and restores it when cleared", () => {
    const session = new BrushSession(5, () => columns);
    const base = Int32Array.from([0, 1, 2, 4]);
    const a = session.update("acc", { kind: "numeric", lo: 0.6, hi: 1 }, base);
    expect(Array.from(a)).toEqual([2, 4]);
    // The second brush narrows the *base*, not the already narrowed selection.
    const b = session.update("opt", { kind: "categorical", codes: new Set([0]) }, a);
    expect(Array.from(b)).toEqual([4]);
    const c = session.update("acc", null, b);
    expect(Array.from(c)).toEqual([0, 4]);
    const d = session.update("opt", null, c);
    expect(Array.from(d)).toEqual([0, 1, 2, 4]);
    expect(session.isActive).toBe(false);
  });

  it("with nothing selected, brushing selects from the whole library", () => {
    const session = new BrushSession(5, () => columns);
    expect(Array.from(session.update("opt", { kind: "categorical", codes: new Set([2]) }, new Int32Array(0)))).toEqual([
      3,
    ]);
  });
});

describe("brushing many rows", () => {
  it("equals a row-by-row check on 100,000 rows, two brushes, with and without a base", () => {
    const n = 100_000;
    const values = new Float32Array(n);
    const codes = new Uint8Array(n);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < n; i++) {
      values[i] = i % 97 === 0 ? Number.NaN : random();
      codes[i] = Math.floor(random() * 4);
    }
    const cols = new Map<string, Column>([
      ["v", { kind: "numeric", name: "v", values, min: 0, max: 1, log: false }],
      ["c", { kind: "categorical", name: "c", codes, categories: ["a", "b", "c", "d"] }],
    ]);
    const brushes = new Map<string, BrushRange>([
      ["v", { kind: "numeric", lo: 0.25, hi: 0.6 }],
      ["c", { kind: "categorical", codes: new Set([1, 3]) }],
    ]);
    const expected: number[] = [];
    for (let i = 0; i < n; i++)
      if (values[i] >= 0.25 && values[i] <= 0.6 && (codes[i] === 1 || codes[i] === 3)) expected.push(i);
    expect(Array.from(applyBrushes(null, n, cols, brushes))).toEqual(expected);
    const base = Int32Array.from({ length: n / 2 }, (_, k) => 2 * k);
    const out = applyBrushes(base, n, cols, brushes);
    expect(Array.from(out)).toEqual(expected.filter((i) => i % 2 === 0));
    expect(Array.from(base.subarray(0, 3))).toEqual([0, 2, 4]); // the base is not modified
    // A numeric range on a categorical axis keeps nothing.
    expect(applyBrushes(null, n, cols, new Map([["c", { kind: "numeric", lo: 0, hi: 9 }]])).length).toBe(0);
  });
});
