import { describe, expect, it } from "vitest";
import { fitText, placeInSlot, titleSlots } from "./parallel";

const mono = (text: string) => text.length * 6; // 6 px per character

describe("parallel coordinates labels", () => {
  it("keeps text that fits and otherwise ellipsizes to the longest fitting prefix", () => {
    expect(fitText("optimizer", 54, mono)).toBe("optimizer"); // 54 px exactly
    expect(fitText("initialization", 59, mono)).toBe("initiali…"); // "initializ…" is 60 px
    expect(fitText("random_normal", 61, mono)).toBe("random_no…");
    expect(fitText("abc", 11, mono)).toBe(""); // not even "a…" (12 px) fits
    expect(fitText("abc", 12, mono)).toBe("a…");
  });

  it("gives each title the room halfway to its neighbours, edges for the outer ones", () => {
    expect(titleSlots([20, 120, 220], 300, 8)).toEqual([
      { lo: 0, hi: 66 },
      { lo: 74, hi: 166 },
      { lo: 174, hi: 300 },
    ]);
    expect(titleSlots([150], 300)).toEqual([{ lo: 0, hi: 300 }]);
  });

  it("centers titles on their axis, shifted inward at the canvas edges", () => {
    expect(placeInSlot(120, 40, { lo: 74, hi: 166 })).toBe(120);
    expect(placeInSlot(20, 40, { lo: 0, hi: 66 })).toBe(20);
    expect(placeInSlot(10, 40, { lo: 0, hi: 66 })).toBe(20); // would start at -10 px
    expect(placeInSlot(290, 40, { lo: 174, hi: 300 })).toBe(280);
    expect(placeInSlot(10, 66, { lo: 0, hi: 66 })).toBe(33); // fills its slot
  });
});
