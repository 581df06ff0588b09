import { describe, expect, it } from "vitest";
import { captionLines } from "../views/gallery";
import { axisTicks, layoutAxes } from "../views/parallel";
import type { Column } from "../wire/columns";
import { fitLabel, formatCount, isNumberText, packParts, shortenEnd, textMeasurer, timeTicks } from "./labels";

const mono = (t: string) => Array.from(t).length * 6; // a 6 px per character font

describe("label fitting", () => {
  it("shortens at the end, never in the middle nor inside a number", () => {
    expect(shortenEnd("initialization", 100, mono)).toBe("initialization");
    expect(shortenEnd("sgd_momentum", 54, mono)).toBe("sgd_mome…"); // was "sgd_m…entum"
    expect(shortenEnd("initialization", 40, mono)).toBe("initi…");
    expect(mono(shortenEnd("glorot_normal", 54, mono))).toBeLessThanOrEqual(54);
    expect(shortenEnd("abc", 5, mono)).toBe("");
    expect(shortenEnd("😀😀😀😀😀😀", 24, mono)).toBe("😀😀😀…"); // code points intact
    // The cut moves back before a number instead of splitting it; no space before "…".
    expect(shortenEnd("acc 0.512 adam", 48, mono)).toBe("acc…"); // not "acc 0.5…"
    expect(shortenEnd("all 1,000,000 models", 60, mono)).toBe("all…"); // not "all 1,00…"
    expect(shortenEnd("lr 0.001 sgd", 60, mono)).toBe("lr 0.001…");
    // A number alone is never shortened: the caller writes it compactly.
    expect(shortenEnd("1,000,000", 24, mono)).toBe("1,000,000");
    expect(shortenEnd("0.000123", 24, mono)).toBe("0.000123");
  });

  it("tells numbers from words", () => {
    for (const text of ["0.512", "1,000,000", "-3e-4", "1.0M", "65.5K", "12%", "+2", ".5", "−1"]) {
      expect(isNumberText(text)).toBe(true);
    }
    for (const text of ["sgd_momentum", "acc 0.5", "m01234", "1e", "", "adam2"]) expect(isNumberText(text)).toBe(false);
  });

  it("writes counts whole up to 9,999, compactly above", () => {
    expect(formatCount(2000)).toBe("2,000");
    expect(formatCount(9999)).toBe("9,999");
    expect(formatCount(65_536)).toBe("65.5K");
    expect(formatCount(439_417)).toBe("439K");
    expect(formatCount(1_000_000)).toBe("1.0M");
    expect(formatCount(12_000_000)).toBe("12M");
    expect(formatCount(Number.NaN)).toBe("–");
  });

  it("prefers a smaller font down to minScale, then shortens at the end", () => {
    expect(fitLabel("adam", 30, mono)).toEqual({ text: "adam", scale: 1, shortened: false });
    expect(fitLabel("sgd_momentum", 66, mono)).toEqual({ text: "sgd_momentum", scale: 0.9, shortened: false });
    const cut = fitLabel("initialization", 50, mono); // 84 px: 0.59 would be needed
    expect(cut.scale).toBe(0.8);
    expect(cut.shortened).toBe(true);
    expect(mono(cut.text) * cut.scale).toBeLessThanOrEqual(50);
    expect(cut.text).toBe("initializ…");
    // A number that does not fit is drawn whole at the smallest font, not cut.
    expect(fitLabel("0.000123", 20, mono)).toEqual({ text: "0.000123", scale: 0.8, shortened: false });
  });

  it("packs caption parts on lines without cutting a part (the gallery's accuracies)", () => {
    const parts = ["digits", "acc 0.512", "sgd_momentum", "relu"];
    const lines = packParts(parts, 120, mono); // 20 characters per line
    expect(lines).toEqual(["digits · acc 0.512", "sgd_momentum · relu"]);
    expect(lines.every((l) => mono(l) <= 120)).toBe(true);
    expect(lines.join(" ").includes("acc 0.512")).toBe(true); // was "acc 0.1…"
    // A single part wider than the line is shortened at its end; extra lines are dropped.
    expect(packParts(["a_very_long_dataset_name", "acc 0.9"], 60, mono)).toEqual(["a_very_lo…", "acc 0.9"]);
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
  it("keep every accuracy whole and the id whole (wrapped, not cut in its middle)", () => {
    const lines = captionLines("m01234\ncolour_digits · acc 0.123 · sgd_momentum · sigmoid", mono);
    expect(lines[0]).toBe("m01234");
    expect(lines.some((l) => l.split(" · ").includes("acc 0.123"))).toBe(true);
    expect(lines.every((l) => mono(l) <= 120)).toBe(true);
    expect(lines.slice(1).join(" · ")).toBe("colour_digits · acc 0.123 · sgd_momentum · sigmoid");
    const long = captionLines("zoo/run_2024_05/models/m01234\nacc 0.9", mono);
    expect(long).toEqual(["zoo/run_2024_05/", "models/m01234", "acc 0.9"]); // the id's end is shown
    expect(long.every((l) => mono(l) <= 120)).toBe(true);
    // The mean's caption of a million models: a compact count, never "all 1,00…00 models".
    const mean = captionLines(`mean\nall ${formatCount(1_000_000)} models`, mono);
    expect(mean).toEqual(["mean", "all 1.0M models"]);
  });
});
