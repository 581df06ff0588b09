import { describe, expect, it } from "vitest";
import { countText, normalizeCoordinates } from "./scatter";

describe("scatter", () => {
  it("centres the atlas and scales its longer side to [-0.95, 0.95] (one scale for x and y)", () => {
    const coords = Float32Array.from([0, 0, 10, 2, 4, 1]); // (x, y) interleaved
    const { x, y, map } = normalizeCoordinates(coords, 3);
    expect(Array.from(x).map((v) => +v.toFixed(4))).toEqual([-0.95, 0.95, -0.19]);
    expect(Array.from(y).map((v) => +v.toFixed(4))).toEqual([-0.19, 0.19, 0]);
    expect(map(5, 1)).toEqual([0, 0]);
  });

  it("counts the selection", () => {
    expect(countText(0, 1500)).toBe("1,500 models");
    expect(countText(1, 1500)).toBe("1 of 1,500 selected");
  });
});
