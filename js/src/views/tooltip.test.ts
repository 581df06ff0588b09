import { describe, expect, it } from "vitest";
import { type Column, encodeCategories } from "../wire/columns";
import { PENDING_TEXT, pendingArrived, placeTooltip, tooltipCells } from "./tooltip";

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

describe("tooltip cells", () => {
  const columns = new Map<string, Column>([
    ["optimizer", { ...encodeCategories(["adam", null]), name: "optimizer" }],
    ["lr", { kind: "numeric", name: "lr", values: Float32Array.from([0.5, 0.25]), min: 0.25, max: 0.5, log: false }],
  ]);

  it("shows a deferred column that has not arrived as '…', in the order asked", () => {
    const cells = tooltipCells(1, columns, ["id", "optimizer", "lr"]);
    expect(cells.map((c) => c.name)).toEqual(["id", "optimizer", "lr"]);
    expect(cells[0]).toEqual({ name: "id", text: "…", missing: false, pending: true });
    expect(PENDING_TEXT).toBe("…");
    expect(cells[1]).toEqual({ name: "optimizer", text: "(missing)", missing: true, pending: false });
    expect(cells[2]).toEqual({ name: "lr", text: "0.25", missing: false, pending: false });
  });

  it("shows the id once it has arrived", () => {
    const arrived = new Map(columns).set("id", { kind: "text", name: "id", labels: ["m0", "m1"] });
    expect(tooltipCells(1, arrived, ["id"])).toEqual([{ name: "id", text: "m1", missing: false, pending: false }]);
  });

  it("knows when an open tooltip's pending column has arrived (then it is filled again)", () => {
    expect(pendingArrived(["id"], columns)).toBe(false);
    const arrived = new Map(columns).set("id", { kind: "text", name: "id", labels: ["m0", "m1"] });
    expect(pendingArrived(["id"], arrived)).toBe(true);
    expect(pendingArrived([], arrived)).toBe(false); // nothing was pending: left as it is
  });
});
