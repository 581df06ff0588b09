import { describe, expect, it } from "vitest";
import { addable, moveItem } from "./column_picker";

describe("column picker", () => {
  it("moves an item by one place, clamped at both ends, without touching the input", () => {
    const names = ["a", "b", "c"];
    expect(moveItem(names, 0, 1)).toEqual(["b", "a", "c"]);
    expect(moveItem(names, 2, -1)).toEqual(["a", "c", "b"]);
    expect(moveItem(names, 0, -1)).toEqual(["a", "b", "c"]);
    expect(moveItem(names, 2, 5)).toEqual(["a", "b", "c"]);
    expect(moveItem(names, 7, 1)).toEqual(["a", "b", "c"]);
    expect(names).toEqual(["a", "b", "c"]);
  });

  it("offers every column not chosen yet, in the metadata's order", () => {
    expect(addable(["id", "lr", "optimizer", "seed"], ["optimizer", "id"])).toEqual(["lr", "seed"]);
    expect(addable(["a"], ["a"])).toEqual([]);
  });
});
