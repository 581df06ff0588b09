import { describe, expect, it } from "vitest";
import { countText, normalizeCoordinates, paintProperties, previewRows } from "./scatter";

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

describe("previewRows", () => {
  it("is a regular stride from row 0 over the whole library, above the threshold only", () => {
    expect(previewRows(200_000)).toBeNull();
    const rows = previewRows(1_000_000) as Int32Array;
    expect(rows.length).toBe(100_000);
    expect(rows[0]).toBe(0);
    expect(rows[rows.length - 1]).toBe(999_990);
    expect(rows.every((r, k) => r === 10 * k)).toBe(true);
    const odd = previewRows(250_001, 100_000) as Int32Array;
    expect(odd.length).toBeLessThanOrEqual(100_000);
    expect(odd[odd.length - 1]).toBeGreaterThan(250_001 - 3 - 1); // reaches the last rows
    expect(previewRows(10, 4, 5)?.length).toBe(4); // every 3rd of 10: 0, 3, 6, 9
  });
});

describe("paintProperties", () => {
  const paints = {
    rest: { colors: ["#3a78b5", "#440154"], opacities: [0.78, 1] },
    faded: { colors: ["#6e7a86", "#4a3f4c"], opacities: [0.6, 1] },
  };

  it("fades the other points but draws selected and hovered ones in their colors at rest", () => {
    const faded = paintProperties(paints, true, false);
    expect(faded.pointColor).toEqual(paints.faded.colors);
    expect(faded.opacity).toEqual(paints.faded.opacities);
    expect(faded.opacityBy).toBe("valueZ");
    expect(faded.pointColorActive).toEqual(paints.rest.colors);
    expect(faded.pointColorHover).toEqual(paints.rest.colors);
    expect(paintProperties(paints, false, false).pointColor).toEqual(paints.rest.colors);
  });

  it("leaves the opacity to the density when there are that many points", () => {
    const dense = paintProperties(paints, true, true);
    expect(dense.pointColor).toEqual(paints.rest.colors);
    expect(dense.opacity).toBeUndefined();
    expect(dense.opacityBy).toBeUndefined();
  });
});
