import { describe, expect, it } from "vitest";
import { encodeInt32 } from "./codec";
import { cellText, decodeColumns, encodeCategories, formatNumber } from "./columns";

describe("category encoding", () => {
  it("dictionary-encodes strings with sorted categories and a missing label", () => {
    const col = encodeCategories(["sgd", "adam", null, "sgd"]);
    expect(col.categories).toEqual(["adam", "sgd", "(missing)"]);
    expect(Array.from(col.codes)).toEqual([1, 0, 2, 1]);
    expect(col.codes).toBeInstanceOf(Uint8Array);
    const many = encodeCategories(Array.from({ length: 300 }, (_, i) => `m${i}`));
    expect(many.codes).toBeInstanceOf(Uint16Array);
  });

  it("decodes the columns Python sends and renders cells as text", () => {
    const codes = Uint8Array.from([0, 1, 0]);
    const values = Float32Array.from([0.25, Number.NaN, 3e-5]);
    const columns = decodeColumns({
      id: {
        kind: "categorical",
        codes: { buffer: new DataView(codes.buffer), dtype: "uint8", shape: [3] },
        categories: ["<img src=x onerror=alert(1)>", "b"],
      },
      lr: {
        kind: "numeric",
        values: { buffer: new DataView(values.buffer), dtype: "float32", shape: [3] },
        min: 3e-5,
        max: 0.25,
        log: true,
      },
      sel: { kind: "categorical", codes: encodeInt32([0]) as never, categories: ["x"] },
    });
    const id = columns.get("id");
    const lr = columns.get("lr");
    expect(id && cellText(id, 0)).toBe("<img src=x onerror=alert(1)>");
    expect(lr && cellText(lr, 0)).toBe("0.25");
    expect(lr && cellText(lr, 1)).toBe("–");
    expect(lr && cellText(lr, 2)).toBe("3e-5");
    expect(lr?.kind === "numeric" && lr.log).toBe(true);
    expect(formatNumber(1234.5678)).toBe("1,235");
  });
});
