import { describe, expect, it } from "vitest";
import { encodeInt32 } from "./codec";
import {
  type Column,
  cellText,
  decodeColumns,
  decodeNewColumns,
  encodeCategories,
  formatDate,
  formatNumber,
  formatValue,
  isMissing,
  mergeColumns,
} from "./columns";

/** An encoded array as Python sends it: a DataView into a larger buffer (offset 8). */
function wire(data: ArrayBufferView & { length: number }, dtype: string) {
  const backing = new ArrayBuffer(8 + data.byteLength);
  new Uint8Array(backing, 8).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { buffer: new DataView(backing, 8, data.byteLength), dtype, shape: [data.length] } as never;
}

describe("category encoding", () => {
  it("dictionary-encodes strings with sorted categories and a missing label", () => {
    const col = encodeCategories(["sgd", "adam", null, "sgd"]);
    expect(col.categories).toEqual(["adam", "sgd", "(missing)"]);
    expect(Array.from(col.codes)).toEqual([1, 0, 2, 1]);
    expect(col.codes).toBeInstanceOf(Uint8Array);
    expect(col.missing).toBe(2);
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
    expect(lr && cellText(lr, 1)).toBe("(missing)");
    expect(lr && cellText(lr, 2)).toBe("3e-5");
    expect(lr?.kind === "numeric" && lr.log).toBe(true);
    expect(formatNumber(1234.5678)).toBe("1,235");
  });
});

describe("exact columns from Python's codec", () => {
  it("keeps int32 integers exact, zero-copy, and prints every digit", () => {
    const columns = decodeColumns({
      seed: {
        kind: "numeric",
        values: wire(Int32Array.from([123456789, -5]), "int32"),
        min: -5,
        max: 123456789,
        log: false,
        integer: true,
      },
    });
    const seed = columns.get("seed");
    if (seed?.kind !== "numeric") throw new Error("numeric expected");
    expect(seed.values).toBeInstanceOf(Int32Array);
    expect(seed.values[0]).toBe(123456789); // float32 gave 123456792
    expect(cellText(seed, 0)).toBe("123456789");
    expect(cellText(seed, 1)).toBe("-5");
    expect(formatValue(seed, 64)).toBe("64");
  });

  it("decodes uint8/uint16 integer codes plus their offset to exact int32 values", () => {
    const cases: [Uint8Array | Uint16Array, string, number | undefined, number[]][] = [
      [Uint8Array.from([0, 224, 32]), "uint8", 32, [32, 256, 64]],
      [Uint8Array.from([0, 255]), "uint8", undefined, [0, 255]],
      [Uint8Array.from([0, 200]), "uint8", -100, [-100, 100]],
      [Uint16Array.from([0, 65_535]), "uint16", undefined, [0, 65_535]],
      [Uint16Array.from([0, 60_000]), "uint16", -40_000, [-40_000, 20_000]],
      [Uint16Array.from([0, 65_535]), "uint16", 2 ** 31 - 1 - 65_535, [2 ** 31 - 1 - 65_535, 2 ** 31 - 1]],
    ];
    for (const [codes, dtype, offset, expected] of cases) {
      const column = decodeColumns({
        n: { kind: "numeric", values: wire(codes, dtype), offset, min: 0, max: 1, log: false, integer: true },
      }).get("n");
      if (column?.kind !== "numeric") throw new Error("numeric expected");
      expect(column.values).toBeInstanceOf(Int32Array);
      expect(Array.from(column.values)).toEqual(expected);
      expect(cellText(column, expected.length - 1)).toBe(String(expected.at(-1)));
    }
    const withMissing = decodeColumns({
      b: {
        kind: "numeric",
        values: wire(Uint8Array.from([0, 0, 224]), "uint8"),
        offset: 32,
        missing: wire(Uint8Array.from([0, 1, 0]), "uint8"),
        min: 32,
        max: 256,
        log: false,
        integer: true,
      },
    }).get("b");
    if (withMissing?.kind !== "numeric") throw new Error("numeric expected");
    expect(Array.from(withMissing.values)).toEqual([32, Number.NaN, 256]);
  });

  it("turns an int32 missing mask into NaN and shows 'missing'", () => {
    const columns = decodeColumns({
      epochs: {
        kind: "numeric",
        values: wire(Int32Array.from([7, 0, 10]), "int32"),
        missing: wire(Uint8Array.from([0, 1, 0]), "uint8"),
        min: 7,
        max: 10,
        log: false,
        integer: true,
      },
    });
    const epochs = columns.get("epochs");
    if (epochs?.kind !== "numeric") throw new Error("numeric expected");
    expect(Array.from(epochs.values)).toEqual([7, Number.NaN, 10]);
    expect([0, 1, 2].map((i) => cellText(epochs, i))).toEqual(["7", "(missing)", "10"]);
  });

  it("keeps float64 integers up to 2^53 and int64 beyond it exact", () => {
    const big = BigInt64Array.from([2n ** 53n + 1n, -(2n ** 62n) - 3n, 0n]);
    const columns = decodeColumns({
      f64: {
        kind: "numeric",
        values: wire(Float64Array.from([2 ** 53, 2 ** 40 + 1]), "float64"),
        min: 0,
        max: 2 ** 53,
        log: false,
        integer: true,
      },
      i64: {
        kind: "numeric",
        values: wire(big, "int64"),
        missing: wire(Uint8Array.from([0, 0, 1]), "uint8"),
        min: -(2 ** 62),
        max: 2 ** 53,
        log: false,
        integer: true,
      },
      u64: {
        kind: "numeric",
        values: wire(BigUint64Array.from([2n ** 64n - 1n]), "uint64"),
        min: 0,
        max: 2 ** 64,
        log: false,
        integer: true,
      },
    });
    const f64 = columns.get("f64");
    const i64 = columns.get("i64");
    const u64 = columns.get("u64");
    if (f64?.kind !== "numeric" || i64?.kind !== "numeric" || u64?.kind !== "numeric") throw new Error("numeric");
    expect(cellText(f64, 0)).toBe("9007199254740992");
    expect(cellText(f64, 1)).toBe("1099511627777");
    expect(i64.values).toBeInstanceOf(Float64Array); // nearest doubles, for the axes
    expect(i64.values[1]).toBe(-(2 ** 62));
    expect(cellText(i64, 0)).toBe("9007199254740993"); // not ...992
    expect(cellText(i64, 1)).toBe("-4611686018427387907");
    expect(cellText(i64, 2)).toBe("(missing)");
    expect(Number.isNaN(i64.values[2])).toBe(true);
    expect(cellText(u64, 0)).toBe("18446744073709551615");
  });

  it("decodes datetimes as epoch-ms numbers shown as dates in their zone", () => {
    const t = Date.UTC(2024, 2, 1, 12, 30, 5, 250);
    const columns = decodeColumns({
      when: {
        kind: "datetime",
        values: wire(Float64Array.from([t, Number.NaN, 0]), "float64"),
        min: 0,
        max: t,
        log: false,
        tz: null,
      },
      paris: {
        kind: "datetime",
        values: wire(Float64Array.from([Date.UTC(2024, 5, 1)]), "float64"),
        min: 0,
        max: 0,
        log: false,
        tz: "Europe/Paris",
      },
      bogus: {
        kind: "datetime",
        values: wire(Float64Array.from([0]), "float64"),
        min: 0,
        max: 0,
        log: false,
        tz: "Not/AZone",
      },
    });
    const when = columns.get("when");
    const paris = columns.get("paris");
    const bogus = columns.get("bogus");
    if (when?.kind !== "numeric" || paris?.kind !== "numeric" || bogus?.kind !== "numeric") throw new Error("numeric");
    expect(when.time).toEqual({ timeZone: "UTC" });
    expect(when.values[0]).toBe(t);
    expect(cellText(when, 0)).toBe("2024-03-01 12:30:05.250");
    expect(cellText(when, 1)).toBe("(missing)");
    expect(cellText(when, 2)).toBe("1970-01-01 00:00:00");
    expect(formatValue(when, t)).toBe("2024-03-01"); // axes: day only over a long span
    expect(cellText(paris, 0)).toBe("2024-06-01 02:00:00"); // CEST
    expect(cellText(bogus, 0)).toBe("1970-01-01 00:00:00"); // unknown zone: UTC
    expect(formatDate(Number.NaN)).toBe("–");
  });

  it("takes the missing code of a categorical column from Python, not from its label", () => {
    const columns = decodeColumns({
      note: {
        kind: "categorical",
        codes: wire(Uint8Array.from([0, 1]), "uint8"),
        categories: ["(missing)", "(missing)"],
        missing: 1,
      },
      flag: { kind: "categorical", codes: wire(Uint8Array.from([1, 0]), "uint8"), categories: ["False", "True"] },
    });
    const note = columns.get("note");
    const flag = columns.get("flag");
    expect(note?.kind === "categorical" && note.missing).toBe(1);
    expect(flag?.kind === "categorical" && flag.missing).toBe(-1);
    expect(flag && cellText(flag, 0)).toBe("True");
    expect(note && [isMissing(note, 0), isMissing(note, 1)]).toEqual([false, true]); // the real "(missing)" is a value
    expect(flag && isMissing(flag, 0)).toBe(false);
    const nums = decodeColumns({
      x: { kind: "numeric", values: wire(Float32Array.from([1, Number.NaN]), "float32"), min: 1, max: 1, log: false },
    }).get("x");
    expect(nums && [isMissing(nums, 0), isMissing(nums, 1)]).toEqual([false, true]);
  });
});

describe("the view's columns: `_columns` over `_text_columns`", () => {
  /** A text column as Python's encode_text sends it: packed NUL-separated UTF-8. */
  const packed = (labels: string[]) => ({
    kind: "text",
    labels: { text: wire(new TextEncoder().encode(labels.join("\0")), "uint8"), count: labels.length },
  });

  it("overlays the text columns, `_columns` winning for a name in both, in `_columns`' order", () => {
    const sent = decodeColumns({
      lr: { kind: "numeric", values: wire(Float32Array.from([0.5, 0.25]), "float32"), min: 0.25, max: 0.5 },
      dataset: { kind: "categorical", codes: wire(Uint8Array.from([1, 0]), "uint8"), categories: ["a", "b"] },
    });
    const text = decodeColumns({ dataset: packed(["b", "a"]), id: packed(["m0", "m1"]) });
    const merged = mergeColumns(sent, text);
    expect([...merged.keys()]).toEqual(["lr", "dataset", "id"]);
    expect(merged.get("dataset")?.kind).toBe("categorical"); // the drawn encoding
    expect(cellText(merged.get("id") as Column, 1)).toBe("m1");
    expect(merged).not.toBe(sent); // the decoded `_columns` stay as they were
    expect([...sent.keys()]).toEqual(["lr", "dataset"]);
  });

  it("decodes only the text columns that are new, and drops none of them", () => {
    const first = decodeNewColumns({ id: packed(["m0", "m1"]) }, new Map());
    const id = first.get("id");
    expect(id?.kind === "text" && id.labels).toEqual(["m0", "m1"]);
    // Python sends the whole dict again when a column is added: the ids are not unpacked again.
    const next = decodeNewColumns({ id: packed(["m0", "m1"]), path: packed(["p/0", "p/1"]) }, first);
    expect(next.get("id")).toBe(id);
    expect(cellText(next.get("path") as Column, 0)).toBe("p/0");
    expect(decodeNewColumns(undefined, first).size).toBe(0); // no `_text_columns` (older pages)
  });
});
