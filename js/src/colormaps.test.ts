import { describe, expect, it } from "vitest";
import { encodeColors, pointStyleFor } from "./coloring";
import { COLORMAP_SIZE, categoricalPalette, colormapIndex, normalize, rgbToHex, sampleColormap } from "./colormaps";
import type { Column } from "./columns";

describe("colormaps", () => {
  it("samples viridis end points and is (nearly) monotonic in luma", () => {
    const viridis = sampleColormap("viridis");
    expect(viridis).toHaveLength(COLORMAP_SIZE);
    expect(rgbToHex(viridis[0])).toBe("#440154");
    expect(rgbToHex(viridis[255])).toBe("#fde725");
    const lum = viridis.map(([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b);
    for (let i = 1; i < lum.length; i++) expect(lum[i]).toBeGreaterThan(lum[i - 1] - 1); // 8-bit rounding
  });

  it("maps values to bins on linear and log scales; missing is -1", () => {
    expect(colormapIndex(0, 0, 1)).toBe(0);
    expect(colormapIndex(1, 0, 1)).toBe(255);
    expect(colormapIndex(0.5, 0, 1)).toBe(128);
    expect(colormapIndex(2, 0, 1)).toBe(255); // clamped
    expect(colormapIndex(Number.NaN, 0, 1)).toBe(-1);
    expect(normalize(1e-3, 1e-4, 1e-2, true)).toBeCloseTo(0.5, 12);
    expect(colormapIndex(0, 1e-4, 1e-2, true)).toBe(-1); // no log of 0
    expect(normalize(3, 3, 3)).toBe(0.5); // constant column
  });

  it("gives distinct categorical colors, beyond the base palettes too", () => {
    const palette = categoricalPalette(40);
    expect(new Set(palette).size).toBe(40);
    expect(palette[0]).toBe("#4e79a7"); // Tableau 10
    expect(palette.every((c) => /^#[0-9a-f]{6}$/.test(c))).toBe(true);
  });

  it("encodes point colors: continuous bins + grey for missing, categories with counts", () => {
    const numeric: Column = {
      kind: "numeric",
      name: "acc",
      values: Float32Array.from([0, 1, Number.NaN]),
      min: 0,
      max: 1,
      log: false,
    };
    const enc = encodeColors(numeric, 3);
    expect(Array.from(enc.codes)).toEqual([0, 255, 256]);
    expect(enc.palette).toHaveLength(257);
    expect(enc.palette[256]).toBe("#9e9e9e");
    const cat: Column = {
      kind: "categorical",
      name: "opt",
      codes: Uint8Array.from([1, 0, 1, 2]),
      categories: ["adam", "sgd", "(missing)"],
    };
    const c = encodeColors(cat, 4);
    expect(Array.from(c.codes)).toEqual([1, 0, 1, 2]);
    expect(c.legend?.kind).toBe("categorical");
    if (c.legend?.kind === "categorical") {
      expect(c.legend.entries.map((e) => [e.label, e.count])).toEqual([
        ["adam", 1],
        ["sgd", 2],
        ["(missing)", 1],
      ]);
      expect(c.legend.entries[2].color).toBe("#9e9e9e");
    }
    expect(encodeColors(undefined, 2).legend).toBeNull();
  });

  it("shrinks points and opacity as the number of points grows", () => {
    const few = pointStyleFor(500);
    const many = pointStyleFor(13000);
    const huge = pointStyleFor(1_000_000);
    expect(few.size).toBeGreaterThan(many.size);
    expect(many.size).toBeGreaterThan(huge.size);
    expect(huge.size).toBeGreaterThanOrEqual(1);
    expect(few.opacity).toBeGreaterThan(many.opacity);
    expect(huge.opacity).toBeGreaterThanOrEqual(0.15);
  });
});
