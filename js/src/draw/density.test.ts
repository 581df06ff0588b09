import { describe, expect, it } from "vitest";
import {
  binCategorical,
  binNumeric,
  DENSITY_LEVELS,
  densityLevels,
  levelAlpha,
  MISSING_BIN,
  type PathTarget,
  pairHistogram,
  strokeDensity,
} from "./density";

/** Records the path calls of strokeDensity. */
function recorder() {
  const strokes: { alpha: number; segments: number[][] }[] = [];
  let current: number[][] = [];
  let pending: number[] = [];
  const ctx: PathTarget = {
    globalAlpha: 1,
    beginPath() {
      current = [];
    },
    moveTo(x, y) {
      pending = [x, y];
    },
    lineTo(x, y) {
      current.push([...pending, x, y]);
    },
    stroke() {
      strokes.push({ alpha: ctx.globalAlpha, segments: current });
    },
  };
  return { ctx, strokes };
}

describe("binned density of parallel-coordinate lines", () => {
  it("bins numeric values into equal bins, the maximum in the top bin, missing apart", () => {
    const { bins, count, centers } = binNumeric(Float32Array.from([0, 0.5, 1, Number.NaN, 0.26]), 0, 1, false, 4);
    expect(count).toBe(4);
    expect(Array.from(bins)).toEqual([0, 2, 3, MISSING_BIN, 1]);
    expect(Array.from(centers)).toEqual([0.125, 0.375, 0.625, 0.875]);
  });

  it("bins log axes in log space and treats values <= 0 as missing", () => {
    const { bins } = binNumeric(Float32Array.from([1e-4, 5e-3, 5e-2, 1e-1, 0]), 1e-4, 1e-1, true, 3);
    expect(Array.from(bins)).toEqual([0, 1, 2, 2, MISSING_BIN]);
  });

  it("keeps one bin per category at its axis position, and pools many categories", () => {
    const few = binCategorical(Uint8Array.from([2, 0, 1, 0]), [0.25, 0.5, 0.75]);
    expect(Array.from(few.bins)).toEqual([2, 0, 1, 0]);
    expect(Array.from(few.centers)).toEqual([0.25, 0.5, 0.75]);
    const units = Float64Array.from({ length: 1000 }, (_, c) => (c + 0.5) / 1000);
    const many = binCategorical(Uint16Array.from([0, 999, 500]), units, 10);
    expect(many.count).toBe(10);
    expect(Array.from(many.bins)).toEqual([0, 9, 5]);
  });

  it("counts rows per (left bin, right bin) cell, for all rows or a selection, index 0 included", () => {
    const left = binNumeric(Float32Array.from([0, 0, 1, 1, Number.NaN]), 0, 1, false, 2);
    const right = binNumeric(Float32Array.from([1, 1, 0, 1, 0]), 0, 1, false, 2);
    expect(Array.from(pairHistogram(left, right, null))).toEqual([0, 2, 1, 1]); // row 4 missing
    const out = new Uint32Array(4);
    const counts = pairHistogram(left, right, Int32Array.from([0, 3]), out);
    expect(counts).toBe(out); // reused
    expect(Array.from(counts)).toEqual([0, 1, 0, 1]);
  });

  it("puts the fullest cell at the top opacity level and single lines low", () => {
    const counts = Uint32Array.from([0, 1, 1000, 30]);
    const levels = densityLevels(counts);
    expect(levels).toHaveLength(DENSITY_LEVELS);
    const levelOf = (cell: number) => levels.findIndex((cells) => cells.includes(cell));
    expect(levelOf(0)).toBe(-1); // empty cells are not drawn
    expect(levelOf(2)).toBe(DENSITY_LEVELS - 1);
    expect(levelOf(1)).toBeLessThan(levelOf(3));
    expect(levelOf(3)).toBeLessThan(levelOf(2));
    expect(levelAlpha(DENSITY_LEVELS - 1)).toBeCloseTo(0.85);
    expect(densityLevels(new Uint32Array(4)).every((cells) => cells.length === 0)).toBe(true);
  });

  it("draws one line per non-empty cell between the two axes, one path per level, densest last", () => {
    const left = binNumeric(Float32Array.from([0, 0, 0, 1]), 0, 1, false, 2);
    const right = binNumeric(Float32Array.from([0, 0, 0, 1]), 0, 1, false, 2);
    const counts = pairHistogram(left, right, null);
    const { ctx, strokes } = recorder();
    const y = (unit: number) => 100 - unit * 100;
    const drawn = strokeDensity(ctx, left, right, counts, { x0: 10, x1: 90, y });
    expect(drawn).toBe(2);
    const segments = strokes.flatMap((s) => s.segments);
    expect(segments).toEqual(
      expect.arrayContaining([
        [10, 75, 90, 75],
        [10, 25, 90, 25],
      ]),
    );
    expect(strokes.at(-1)?.segments).toEqual([[10, 75, 90, 75]]); // 3 rows: densest, on top
    expect(strokes[0].alpha).toBeLessThan(strokes.at(-1)?.alpha ?? 0);
  });

  it("scales with the bins, not the rows: a million rows bin and count fast", () => {
    const n = 1_000_000;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = (i * 7919) % 1000;
      b[i] = (i * 104729) % 997;
    }
    const left = binNumeric(a, 0, 999, false);
    const right = binNumeric(b, 0, 996, false);
    const counts = pairHistogram(left, right, null);
    expect(counts.reduce((s, v) => s + v, 0)).toBe(n);
    const { ctx, strokes } = recorder();
    const drawn = strokeDensity(ctx, left, right, counts, { x0: 0, x1: 1, y: (u) => u });
    expect(drawn).toBeLessThanOrEqual(64 * 64);
    expect(strokes.length).toBeLessThanOrEqual(DENSITY_LEVELS);
  });
});
