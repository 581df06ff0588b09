import { describe, expect, it } from "vitest";
import type { Column } from "../wire/columns";
import { axisTicks, extentOf, layoutAxes, placeInSlot, rangeOf, titleSlots } from "./parallel";

describe("parallel coordinates labels", () => {
  it("gives each title the room halfway to its neighbours, edges for the outer ones", () => {
    expect(titleSlots([20, 120, 220], 300, 8)).toEqual([
      { lo: 0, hi: 66 },
      { lo: 74, hi: 166 },
      { lo: 174, hi: 300 },
    ]);
    expect(titleSlots([150], 300)).toEqual([{ lo: 0, hi: 300 }]);
  });

  it("centers titles on their axis, shifted inward at the canvas edges", () => {
    expect(placeInSlot(120, 40, { lo: 74, hi: 166 })).toBe(120);
    expect(placeInSlot(20, 40, { lo: 0, hi: 66 })).toBe(20);
    expect(placeInSlot(10, 40, { lo: 0, hi: 66 })).toBe(20); // would start at -10 px
    expect(placeInSlot(290, 40, { lo: 174, hi: 300 })).toBe(280);
    expect(placeInSlot(10, 66, { lo: 0, hi: 66 })).toBe(33); // fills its slot
  });
});

const columns = new Map<string, Column>([
  [
    "lr",
    {
      kind: "numeric",
      name: "lr",
      values: Float32Array.from([1e-4, 1e-2, Number.NaN]),
      min: 1e-4,
      max: 1e-2,
      log: true,
    },
  ],
  ["acc", { kind: "numeric", name: "acc", values: Float32Array.from([0.2, 0.8, 0.5]), min: 0.2, max: 0.8, log: false }],
  ["opt", { kind: "categorical", name: "opt", codes: Uint8Array.from([1, 0, 1]), categories: ["adam", "sgd"] }],
]);

describe("parallel coordinates axes", () => {
  const axes = layoutAxes(columns, ["lr", "missing", "opt", "acc"], 400, 280);

  it("spreads the usable axes evenly and maps rows to pixels (missing values are NaN)", () => {
    expect(axes.map((a) => [a.name, a.kind])).toEqual([
      ["lr", "numeric"],
      ["opt", "categorical"],
      ["acc", "numeric"],
    ]);
    expect(axes.map((a) => a.x)).toEqual([24, 180, 336]); // margins 24 / 64
    const [lr, opt, acc] = axes;
    expect(lr.y(0)).toBeCloseTo(264); // the bottom (280 - 16) is the minimum
    expect(lr.y(1)).toBeCloseTo(30); // the top margin is the maximum
    expect(lr.y(2)).toBeNaN();
    expect(acc.y(2)).toBeCloseTo((264 + 30) / 2);
    expect(opt.y(0)).toBe(opt.y(2));
    expect(opt.y(0)).toBeLessThan(opt.y(1)); // "sgd" above "adam"
    expect(layoutAxes(columns, ["acc"], 400, 280)[0].x).toBe((24 + 336) / 2);
  });

  it("labels log axes with powers of ten and categorical axes with their categories", () => {
    const [lr, opt] = axes;
    expect(axisTicks(lr).map((t) => t.text)).toEqual(["1e-4", "3e-4", "0.001", "0.003", "0.01"]);
    expect(axisTicks(opt).map((t) => t.text)).toEqual(["adam", "sgd"]);
  });

  it("converts brushed pixels to ranges and back", () => {
    const [, opt, acc] = axes;
    const range = rangeOf(acc, [30, 147]);
    expect(range?.kind).toBe("numeric");
    if (range?.kind !== "numeric") return;
    expect(range.hi).toBeCloseTo(0.8);
    expect(range.lo).toBeCloseTo(0.5, 2);
    const extent = extentOf(acc, range);
    expect(extent?.[0]).toBeCloseTo(30);
    expect(extent?.[1]).toBeCloseTo(147);
    const cats = rangeOf(opt, [0, opt.y(1) - 1]); // above "adam": only "sgd"
    expect(cats?.kind === "categorical" && [...cats.codes]).toEqual([1]);
    expect(rangeOf(acc, null)).toBeNull();
  });
});
