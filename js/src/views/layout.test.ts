import { describe, expect, it } from "vitest";
import { computeLayout } from "./layout";

describe("layout", () => {
  it("stacks the views below 1000 px and puts them side by side from there", () => {
    const narrow = computeLayout(800, false);
    expect(narrow).toEqual({ wide: false, scatterWidth: 800, scatterHeight: 560, parallelWidth: 800 });
    const wide = computeLayout(1200, false);
    expect(wide.wide).toBe(true);
    expect(wide.scatterWidth + wide.parallelWidth + 16).toBe(1200);
    expect(wide.scatterHeight).toBe(592); // square scatter within [480, 720]
  });

  it("keeps the wide layout within 40 px below the threshold (a scrollbar must not flip it)", () => {
    expect(computeLayout(980, true).wide).toBe(true);
    expect(computeLayout(980, false).wide).toBe(false);
    expect(computeLayout(959, true).wide).toBe(false);
  });

  it("clamps the stacked scatter height", () => {
    expect(computeLayout(300, false).scatterHeight).toBe(320);
    expect(computeLayout(700, false).scatterHeight).toBe(490);
  });
});
