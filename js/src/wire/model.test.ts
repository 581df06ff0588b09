import { describe, expect, it } from "vitest";
import { dispatchMessage, type MessageHandlers, type ViewMessage } from "./model";

function recorder() {
  const seen: [string, ViewMessage, number][] = [];
  const handlers: MessageHandlers = {
    descriptors: (message, buffers) => seen.push(["descriptors", message, buffers.length]),
    columns: (message, buffers) => seen.push(["columns", message, buffers.length]),
    neighbors: (message, buffers) => seen.push(["neighbors", message, buffers.length]),
  };
  return { seen, handlers };
}

describe("dispatchMessage", () => {
  it("gives each message to the handler of its type, with its buffers", () => {
    const { seen, handlers } = recorder();
    const rows = new Int32Array([1, 2]);
    dispatchMessage(handlers, { type: "descriptors", id: "a-1", n: 2 }, [rows.buffer]);
    dispatchMessage(handlers, { type: "columns", names: ["id"] });
    dispatchMessage(handlers, { type: "neighbors", row: 3, k: 5 });
    expect(seen).toEqual([
      ["descriptors", { type: "descriptors", id: "a-1", n: 2 }, 1],
      ["columns", { type: "columns", names: ["id"] }, 0],
      ["neighbors", { type: "neighbors", row: 3, k: 5 }, 0],
    ]);
  });

  it("ignores unknown types, inherited names and contents that are not objects", () => {
    const { seen, handlers } = recorder();
    for (const content of [{ type: "other" }, { type: "toString" }, { type: "__proto__" }, {}, null, "columns", 3]) {
      dispatchMessage(handlers, content);
    }
    expect(seen).toEqual([]);
  });
});
