import { describe, expect, it } from "vitest";
import {
  colorBarCaption,
  colorBarTicks,
  colorDomain,
  galleryDomains,
  percentile,
  sampleNote,
  scaleButtonText,
} from "./gallery";

describe("gallery color domain", () => {
  it("interpolates percentiles like numpy and ignores non-finite values", () => {
    const ramp = Float32Array.from({ length: 101 }, (_, i) => i); // 0..100
    expect(percentile([ramp], 99)).toBe(99);
    expect(percentile([ramp], 50)).toBe(50);
    // np.percentile([1, 2, 3, 4], 75) == 3.25; NaN and Infinity are skipped.
    expect(percentile([Float32Array.from([4, Number.NaN, 1]), [3, Number.POSITIVE_INFINITY, 2]], 75)).toBeCloseTo(
      3.25,
      12,
    );
    expect(percentile([[Number.NaN]], 99)).toBeNaN();
  });

  it("clips a single spike at the 99th percentile (linear by default, or square root)", () => {
    // 99 bins at 0.04 and one spike at 1: np.percentile(..., 99) == 0.04 + 0.01 * 0.96.
    const values = new Float32Array(100).fill(0.04);
    values[7] = 1;
    const domain = colorDomain([values]);
    expect(domain.vmax).toBeCloseTo(0.04 + 0.01 * (1 - 0.04), 6);
    expect(domain.clipped).toBe(true);
    expect(domain.unit(1)).toBe(1); // the spike gets the top color, clamped
    expect(domain.unit(0)).toBe(0);
    expect(domain.unit(Number.NaN)).toBe(0);
    // A 0..max map would have put the typical bins at 0.04 of the colormap.
    expect(domain.unit(0.04)).toBeCloseTo(0.04 / 0.0496, 6);
    const sqrt = colorDomain([values], 99, 0.5);
    expect(sqrt.vmax).toBe(domain.vmax);
    expect(sqrt.unit(sqrt.vmax / 4)).toBeCloseTo(0.5, 12);
    expect(sqrt.unit(2)).toBe(1);
  });

  it("shares one domain across arrays and falls back to the max for mostly-zero data", () => {
    const mean = Float32Array.from([0, 0.5]);
    const tiles = new Float32Array(300); // all zero, one bright bin
    tiles[0] = 2;
    const domain = colorDomain([mean, tiles]); // 99th percentile of 302 values is 0
    expect(domain.vmax).toBe(2);
    expect(domain.clipped).toBe(false);
    expect(domain.unit(0.5)).toBeCloseTo(0.25, 12);
    const empty = colorDomain([new Float32Array(4)]);
    expect(empty.vmax).toBe(0);
    expect(empty.unit(0)).toBe(0);
  });

  it("labels the color bar where the tiles show those values", () => {
    const linear = colorDomain([Float32Array.from([0, 0.2, 0.4])], 100);
    expect(colorBarTicks(linear)).toEqual([
      { at: 0, text: "0" },
      { at: 0.5, text: "0.2" },
      { at: 1, text: "0.4" },
    ]);
    expect(colorBarCaption("density", linear)).toBe("density (≤ 99th pct)");
    const sqrt = colorDomain([Float32Array.from([0, 0.2, 0.4])], 100, 0.5);
    expect(colorBarTicks(sqrt)[1]).toEqual({ at: 0.5, text: "0.1" });
    expect(colorBarCaption("std", sqrt)).toBe("std (sqrt, ≤ 99th pct)");
    // 0..99 and a spike: clipped at 99 (shown "99+"), middle 49.5 rounded to 2 digits.
    const spike = colorDomain([Float32Array.from({ length: 101 }, (_, i) => (i === 100 ? 1000 : i))]);
    expect(colorBarTicks(spike).map((t) => t.text)).toEqual(["0", "50", "99+"]);
  });
});

describe("gallery sample note", () => {
  it("says when the mean and std come from a sample of a large selection", () => {
    expect(sampleNote({ n: 500000, sampled: 65536 })).toBe(
      `mean and std of a random sample of ${(65536).toLocaleString()}`,
    );
    expect(sampleNote({ n: 40, sampled: 40 })).toBe("");
  });
});

/** A (S, B) descriptor whose rows are histograms: a bell of width `spread` bins per row. */
function bell(S: number, B: number, spread: (row: number) => number): Float32Array {
  const out = new Float32Array(S * B);
  for (let r = 0; r < S; r++) {
    let total = 0;
    for (let b = 0; b < B; b++) total += out[r * B + b] = Math.exp(-(((b - B / 2) / spread(r)) ** 2));
    for (let b = 0; b < B; b++) out[r * B + b] /= total;
  }
  return out;
}

describe("gallery scales", () => {
  const S = 8;
  const B = 16;
  // A constant-initialization model: all weights of every window in one bin (density 1).
  const constant = new Float32Array(S * B);
  for (let r = 0; r < S; r++) constant[r * B + 3] = 1;
  // A trained model whose distribution widens with depth (peaks from ~0.4 down to ~0.08).
  const trained = bell(S, B, (r) => 1 + r);
  const reply = {
    S,
    B,
    k: 2,
    descriptors: Float32Array.from([...constant, ...trained]),
    mean: Float32Array.from(constant.map((v, i) => (v + trained[i]) / 2)),
    std: Float32Array.from(constant.map((v, i) => Math.abs(v - trained[i]) / 2)),
  };

  it("per tile: each descriptor up to its own 99th percentile, so a constant model sets no other scale", () => {
    const domains = galleryDomains(reply, "tile");
    expect(domains.shared).toBeNull();
    expect(domains.tiles).toHaveLength(2);
    expect(domains.tiles[0].vmax).toBe(1);
    expect(domains.tiles[1].vmax).toBeCloseTo(percentile([trained], 99), 6);
    expect(domains.tiles[1].vmax).toBeLessThan(0.5);
    // The trained model's deepest (widest) window still spans a good part of the colormap:
    // on the shared scale its peak would be a few percent of it, almost black.
    const deepPeak = Math.max(...trained.subarray((S - 1) * B, S * B));
    expect(domains.tiles[1].unit(deepPeak)).toBeGreaterThan(0.15);
    expect(galleryDomains(reply, "shared").tiles[1].unit(deepPeak)).toBeLessThan(0.1);
    // The mean and std are on the scale of their own kind (as in the Clusters panel).
    expect(domains.mean.vmax).toBeCloseTo(colorDomain([reply.mean]).vmax, 12);
    expect(domains.std.vmax).toBeCloseTo(colorDomain([reply.std]).vmax, 12);
  });

  it("shared: the mean and every descriptor on one scale, the std on its own", () => {
    const domains = galleryDomains(reply, "shared");
    expect(domains.shared).not.toBeNull();
    const vmax = colorDomain([reply.mean, reply.descriptors]).vmax;
    expect(domains.shared?.vmax).toBe(vmax);
    expect(domains.mean).toBe(domains.shared);
    expect(domains.tiles.map((t) => t.vmax)).toEqual([vmax, vmax]);
    expect(domains.std.vmax).toBe(galleryDomains(reply, "tile").std.vmax);
  });

  it("takes only the k descriptors sent, and none when there are none", () => {
    expect(galleryDomains({ ...reply, k: 1 }, "tile").tiles).toHaveLength(1);
    expect(galleryDomains({ ...reply, k: 0, descriptors: new Float32Array(0) }, "shared").tiles).toEqual([]);
  });

  it("names the scale shown on its toggle", () => {
    expect(scaleButtonText("tile").text).toBe("Scale: per tile");
    expect(scaleButtonText("shared").text).toBe("Scale: shared");
  });
});
