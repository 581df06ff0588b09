import { describe, expect, it } from "vitest";
import { representationText } from "./representation";

describe("representationText", () => {
  it("names the representation the atlas is laid out on", () => {
    expect(representationText("stats (K=16)")).toBe("Layout: stats (K=16)");
    expect(representationText("miwd (32×32)")).toBe("Layout: miwd (32×32)");
  });
  it("is empty for pages that name none (the line is hidden)", () => {
    expect(representationText("")).toBe("");
  });
});
