import { describe, expect, it } from "vitest";
import { placeTooltip } from "./tooltip";

describe("tooltip placement", () => {
  it("sits right of the point, vertically centred on it", () => {
    expect(placeTooltip([100, 100], 80, 40, 600, 400)).toEqual({ left: 112, top: 80 });
  });

  it("flips left of the point near the right edge and stays inside the stage", () => {
    expect(placeTooltip([580, 100], 80, 40, 600, 400)).toEqual({ left: 488, top: 80 });
    expect(placeTooltip([50, 5], 80, 40, 100, 400)).toEqual({ left: 0, top: 0 }); // no room either side
    expect(placeTooltip([100, 395], 80, 40, 600, 400).top).toBe(360);
  });
});
