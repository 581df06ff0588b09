import { describe, expect, it } from "vitest";
import type { Column } from "../wire/columns";
import { encodeColors, pointStyleFor } from "./coloring";
import {
  COLORMAP_SIZE,
  categoricalPalette,
  colormapIndex,
  colormapRange,
  contrastRatio,
  isDark,
  MIN_CONTRAST,
  missingColor,
  normalize,
  readableOn,
  relativeLuminance,
  rgbToHex,
  sampleColormap,
  themedColormap,
} from "./colormaps";

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
    expect(enc.palette[256]).toBe(missingColor("#ffffff"));
    expect(enc.legend?.kind === "continuous" && enc.legend.missing).toEqual({ color: enc.palette[256], count: 1 });
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
      expect(c.legend.entries[2].color).toBe(missingColor("#ffffff"));
    }
    // The missing code Python names wins over the label: a real "(missing)" string is a value.
    const named: Column = { ...cat, categories: ["(missing)", "sgd", "x"], missing: 2 } as Column;
    const n = encodeColors(named, 4, "#111111");
    expect(n.palette[2]).toBe(missingColor("#111111"));
    expect(n.palette[0]).not.toBe(missingColor("#111111"));
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

  describe("contrast against the theme's background (WCAG 2, graphics need 3:1)", () => {
    // JupyterLab's light and dark --jp-layout-color0, and the dark theme's panels.
    const BACKGROUNDS = ["#ffffff", "#111111", "#212121"];

    it("computes WCAG luminance and contrast", () => {
      expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 12);
      expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 9);
      expect(contrastRatio("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
      // The problem: viridis' ends nearly vanish.
      expect(contrastRatio("#fde725", "#ffffff")).toBeLessThan(1.3);
      expect(contrastRatio("#440154", "#111111")).toBeLessThan(1.3);
    });

    it.each(BACKGROUNDS)("every themed colormap color meets 3:1 on %s", (bg) => {
      for (const name of ["viridis", "inferno"] as const) {
        const colors = themedColormap(name, bg);
        expect(colors).toHaveLength(COLORMAP_SIZE);
        for (const c of colors) expect(contrastRatio(c, bg)).toBeGreaterThanOrEqual(MIN_CONTRAST);
        const [t0, t1] = colormapRange(name, bg);
        expect(t1 - t0).toBeGreaterThan(0.45); // about half the map or more is kept
      }
    });

    it("keeps the dark end on light backgrounds and the bright end on dark ones", () => {
      expect(rgbToHex(themedColormap("viridis", "#ffffff")[0])).toBe("#440154");
      expect(rgbToHex(themedColormap("viridis", "#111111")[255])).toBe("#fde725");
      expect(colormapRange("viridis", "#ffffff")[1]).toBeLessThan(1);
      expect(colormapRange("viridis", "#111111")[0]).toBeGreaterThan(0);
    });

    it.each(BACKGROUNDS)("every categorical and missing color meets 3:1 on %s and stays distinct", (bg) => {
      const palette = categoricalPalette(40, bg);
      expect(new Set(palette).size).toBe(40);
      for (const c of palette) expect(contrastRatio(c, bg)).toBeGreaterThanOrEqual(MIN_CONTRAST);
      expect(contrastRatio(missingColor(bg), bg)).toBeGreaterThanOrEqual(MIN_CONTRAST);
      const enc = encodeColors(
        { kind: "numeric", name: "a", values: Float32Array.from([0, 0.5, 1]), min: 0, max: 1, log: false },
        3,
        bg,
      );
      for (const c of enc.palette) expect(contrastRatio(c, bg)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    });

    it("changes only colors that fail, keeping their hue side", () => {
      expect(readableOn("#4e79a7", "#ffffff")).toBe("#4e79a7");
      const yellow = readableOn("#edc949", "#ffffff");
      expect(yellow).not.toBe("#edc949");
      expect(contrastRatio(yellow, "#ffffff")).toBeGreaterThanOrEqual(3);
      const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(yellow.slice(i, i + 2), 16));
      expect(r).toBeGreaterThan(b); // still a yellow-brown, not a grey or blue
      expect(g).toBeGreaterThan(b);
    });
  });
});

describe("themes", () => {
  // JupyterLab's light and dark backgrounds, and marimo's dark one.
  const backgrounds = ["#ffffff", "#111111", "#181c1a"];

  it("calls a background dark below the middle of perceived lightness", () => {
    expect(backgrounds.map((bg) => isDark(bg))).toEqual([false, true, true]);
    expect(isDark("#757575")).toBe(true);
    expect(isDark("#767676")).toBe(false);
  });

  it("draws points without a color column readable on every theme, even at 0.78 opacity", () => {
    for (const bg of backgrounds) {
      const { palette } = encodeColors(undefined, 3, bg);
      const [c, b] = [palette[0], bg].map((hex) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)));
      const drawn = c.map((v, i) => Math.round(0.78 * v + 0.22 * b[i])) as [number, number, number];
      expect(contrastRatio(drawn, bg)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    }
    expect(encodeColors(undefined, 3, "#ffffff").palette).toEqual(["#3a78b5"]); // light: as before
  });
});
