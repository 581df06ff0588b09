import { describe, expect, it } from "vitest";
import { captionLines } from "../views/gallery";
import { axisTicks, layoutAxes } from "../views/parallel";
import type { Column } from "../wire/columns";
import { fitLabel, packParts, shortenMiddle, textMeasurer, timeTicks } from "./labels";

const mono = (t: string) => Array.from(t).length * 6; // a 6 px per character font

describe("label fitting", () => {
  it("shortens in the middle, keeping both informative ends", () => {
    expect(shortenMiddle("initialization", 100, mono)).toBe("initialization");
    expect(shortenMiddle("initialization", 40, mono)).toBe("in…ion");
    const normal = shortenMiddle("glorot_normal", 54, mono);
    const uniform = shortenMiddle("glorot_uniform", 54, mono);
    expect(mono(normal)).toBeLessThanOrEqual(54);
    expect(normal).not.toBe(uniform); // a prefix cut made both "glorot_…"
    expect(normal.endsWith("rmal")).toBe(true);
    expect(shortenMiddle("sgd_momentum", 48, mono)).toBe("sgd…ntum");
    expect(shortenMiddle("abc", 5, mono)).toBe("");
    expect(shortenMiddle("😀😀😀😀😀😀", 24, mono)).toBe("😀…😀😀"); // code points intact
  });

  it("prefers a smaller font down to minScale, then shortens", () => {
    expect(fitLabel("adam", 30, mono)).toEqual({ text: "adam", scale: 1, shortened: false });
    expect(fitLabel("sgd_momentum", 66, mono)).toEqual({ text: "sgd_momentum", scale: 0.9, shortened: false });
    const cut = fitLabel("initialization", 50, mono); // 84 px: 0.59 would be needed
    expect(cut.scale).toBe(0.8);
    expect(cut.shortened).toBe(true);
    expect(mono(cut.text) * cut.scale).toBeLessThanOrEqual(50);
    expect(cut.text.startsWith("ini") && cut.text.endsWith("ion")).toBe(true);
  });

  it("packs caption parts on lines without cutting a part (the gallery's accuracies)", () => {
    const parts = ["digits", "acc 0.512", "sgd_momentum", "relu"];
    const lines = packParts(parts, 120, mono); // 20 characters per line
    expect(lines).toEqual(["digits · acc 0.512", "sgd_momentum · relu"]);
    expect(lines.every((l) => mono(l) <= 120)).toBe(true);
    expect(lines.join(" ").includes("acc 0.512")).toBe(true); // was "acc 0.1…"
    // A single part wider than the line is shortened; extra lines are dropped.
    expect(packParts(["a_very_long_dataset_name", "acc 0.9"], 60, mono)).toEqual(["a_ve…_name", "acc 0.9"]);
    expect(packParts(["aaaa", "bbbb", "cccc"], 24, mono, " · ", 2)).toEqual(["aaaa", "bbbb"]);
  });

  it("measures without a canvas by a character estimate", () => {
    const measure = textMeasurer("11px sans-serif", 10);
    expect(measure("abcd")).toBeGreaterThan(0);
    expect(measure("abcdabcd")).toBeGreaterThan(measure("abcd"));
  });
});

describe("time ticks", () => {
  it("puts datetime ticks on round days, not round milliseconds", () => {
    const day = 86_400_000;
    const start = Date.UTC(2024, 0, 1, 7, 13);
    const ticks = timeTicks(start, start + 10 * day);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const t of ticks) {
      expect(t % day).toBe(0); // UTC midnights
      expect(t).toBeGreaterThanOrEqual(start);
      expect(t).toBeLessThanOrEqual(start + 10 * day);
    }
    expect(timeTicks(5, 5)).toEqual([5]);
    expect(timeTicks(Number.NaN, 5)).toEqual([]);
  });
});

describe("parallel axes' tick labels", () => {
  it("read datetime axes as dates and integer axes as whole numbers", () => {
    const day = 86_400_000;
    const t0 = Date.UTC(2024, 0, 1);
    const columns = new Map<string, Column>([
      [
        "trained",
        {
          kind: "numeric",
          name: "trained",
          values: Float64Array.from([t0, t0 + 20 * day]),
          min: t0,
          max: t0 + 20 * day,
          log: false,
          time: { timeZone: "UTC" },
        },
      ],
      [
        "seed",
        { kind: "numeric", name: "seed", values: Int32Array.from([0, 40]), min: 0, max: 40, log: false, integer: true },
      ],
    ]);
    const [trained, seed] = layoutAxes(columns, ["trained", "seed"], 600, 300);
    const texts = axisTicks(trained).map((t) => t.text);
    expect(texts.length).toBeGreaterThanOrEqual(3);
    for (const text of texts) expect(text).toMatch(/^2024-01-\d\d$/);
    expect(axisTicks(seed).map((t) => t.text)).toEqual(["0", "10", "20", "30", "40"]);
  });
});

describe("gallery captions", () => {
  it("keep every accuracy whole and the id's end", () => {
    const lines = captionLines("m01234\ncolour_digits · acc 0.123 · sgd_momentum · sigmoid", mono);
    expect(lines[0]).toBe("m01234");
    expect(lines.some((l) => l.split(" · ").includes("acc 0.123"))).toBe(true);
    expect(lines.every((l) => mono(l) <= 120)).toBe(true);
    expect(lines.slice(1).join(" · ")).toBe("colour_digits · acc 0.123 · sgd_momentum · sigmoid");
    const long = captionLines("zoo/run_2024_05/models/m01234\nacc 0.9", mono);
    expect(long[0].endsWith("m01234")).toBe(true);
    expect(mono(long[0])).toBeLessThanOrEqual(120);
  });
});
