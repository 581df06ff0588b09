import { hcl } from "d3-color";
import { describe, expect, it } from "vitest";
import type { Column } from "../wire/columns";
import { encodeColors, FADE, FADED_CHROMA, fadedColor, pointPaints, pointStyleFor } from "./coloring";
import {
  blendOver,
  contrastAt,
  contrastRatio,
  MIN_CONTRAST,
  readableOpacity,
  rgbToHex,
  themedColormap,
} from "./colormaps";

// JupyterLab's light and dark --jp-layout-color0, marimo's dark background, a dark panel.
const BACKGROUNDS = ["#ffffff", "#111111", "#181c1a", "#212121"];
// The opacities pointStyleFor draws with at a fixed opacity (density mode starts above 20,000).
const COUNTS = [500, 2000, 5000, 13000, 20000];

const numeric: Column = {
  kind: "numeric",
  name: "accuracy",
  values: Float32Array.from({ length: 256 }, (_, i) => i / 255),
  min: 0,
  max: 1,
  log: false,
};
const categorical: Column = {
  kind: "categorical",
  name: "optimizer",
  codes: Uint8Array.from({ length: 40 }, (_, i) => i),
  categories: Array.from({ length: 40 }, (_, i) => `c${i}`),
} as unknown as Column;

/** A point's contrast as the canvas draws it: blended over the background, rounded to 8 bits. */
const drawnContrast = (color: string, bg: string, opacity: number) =>
  contrastRatio(blendOver(color, bg, opacity).map(Math.round) as [number, number, number], bg);

/** The default point palettes: viridis + missing grey, 40 categories, the single color. */
const palettes = (bg: string) => ({
  viridis: encodeColors(numeric, 256, bg).palette,
  categories: encodeColors(categorical, 40, bg).palette,
  single: encodeColors(undefined, 1, bg).palette,
});

describe("faded points keep 3:1 against the background", () => {
  it("blends as the canvas does and measures the blend against the background", () => {
    expect(blendOver("#000000", "#ffffff", 0.5)).toEqual([127.5, 127.5, 127.5]);
    expect(blendOver("#3a78b5", "#111111", 1).map(Math.round)).toEqual([0x3a, 0x78, 0xb5]);
    expect(contrastAt("#000000", "#ffffff", 1)).toBeCloseTo(21, 9);
    expect(contrastAt("#000000", "#ffffff", 0)).toBeCloseTo(1, 9);
  });

  it("the problem: the colormap's 3:1 ends fall under 3:1 when drawn below opacity 1", () => {
    const opacity = pointStyleFor(500).opacity; // 0.9, the most opaque of them
    for (const bg of BACKGROUNDS) {
      const colors = themedColormap("viridis", bg);
      const weakest = Math.min(...colors.map((c) => contrastRatio(c, bg)));
      expect(weakest).toBeGreaterThanOrEqual(MIN_CONTRAST);
      expect(Math.min(...colors.map((c) => contrastAt(c, bg, opacity)))).toBeLessThan(MIN_CONTRAST);
    }
  });

  it("finds the lowest opacity that keeps the contrast", () => {
    expect(readableOpacity("#000000", "#ffffff")).toBeLessThan(0.5);
    const floor = readableOpacity("#3a78b5", "#ffffff");
    expect(contrastAt("#3a78b5", "#ffffff", floor)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    expect(contrastAt("#3a78b5", "#ffffff", floor - 0.01)).toBeLessThan(MIN_CONTRAST);
    // A color at the edge stays opaque; one under 3:1 even opaque too.
    const edge = rgbToHex(themedColormap("viridis", "#111111")[0]);
    expect(readableOpacity(edge, "#111111")).toBeGreaterThan(0.95);
    expect(readableOpacity("#fde725", "#ffffff")).toBe(1);
  });

  it.each(BACKGROUNDS)("every default palette, at rest and faded, at every point count, on %s", (bg) => {
    for (const [name, palette] of Object.entries(palettes(bg))) {
      for (const n of COUNTS) {
        const { opacity, byDensity } = pointStyleFor(n);
        expect(byDensity).toBe(false);
        const { rest, faded } = pointPaints(palette, bg, opacity);
        expect(rest.colors).toEqual(palette);
        expect(faded.colors).toHaveLength(palette.length);
        palette.forEach((color, i) => {
          const where = `${name} ${color} on ${bg}, ${n} points`;
          expect(drawnContrast(color, bg, rest.opacities[i]), where).toBeGreaterThanOrEqual(MIN_CONTRAST);
          expect(drawnContrast(faded.colors[i], bg, faded.opacities[i]), where).toBeGreaterThanOrEqual(MIN_CONTRAST);
          expect(rest.opacities[i]).toBeGreaterThanOrEqual(opacity); // never more transparent than before
          expect(faded.opacities[i]).toBeGreaterThanOrEqual(Math.round(opacity * FADE * 100) / 100);
        });
      }
    }
  });

  it.each(BACKGROUNDS)("a selection greys every color and fades most of the colormap, on %s", (bg) => {
    for (const [name, palette] of Object.entries(palettes(bg))) {
      const { rest, faded } = pointPaints(palette, bg, pointStyleFor(2000).opacity);
      palette.forEach((color, i) => {
        const chroma = hcl(color).c || 0;
        expect(hcl(faded.colors[i]).c || 0).toBeLessThanOrEqual(chroma * FADED_CHROMA + 3);
        expect(faded.opacities[i], `${name} ${color}`).toBeLessThanOrEqual(rest.opacities[i]); // never more opaque
      });
      if (name === "viridis") {
        const fading = rest.opacities.filter((r, i) => faded.opacities[i] < r - 0.1).length;
        expect(fading / palette.length).toBeGreaterThan(0.5);
      }
    }
    const grey = fadedColor("#9e9e9e", bg); // no hue: greyed, it stays a grey
    expect(hcl(grey).c || 0).toBeLessThan(3);
  });
});
