import { describe, expect, it } from "vitest";
import { sameIndices } from "../selection";
import {
  base64ToBytes,
  decodeAnyArray,
  decodeArray,
  decodeFloat32,
  decodeIndices,
  encodeInt32,
  encodeSelection,
  SELECTION_MASK_ABOVE,
  SELECTION_MASK_MIN_ROWS,
  selectionIsBitmask,
  toBytes,
} from "./codec";

describe("codec", () => {
  it("respects byteOffset and byteLength of a DataView into a larger buffer", () => {
    // A comm message delivers views into one big ArrayBuffer: here 8 bytes of junk first.
    const backing = new ArrayBuffer(8 + 3 * 4 + 4);
    new Float32Array(backing, 8, 3).set([1.5, -2, 3.25]);
    new Uint8Array(backing).fill(255, 0, 8);
    const view = new DataView(backing, 8, 12);
    const { data, shape } = decodeArray({ buffer: view, dtype: "float32", shape: [3] });
    expect(Array.from(data)).toEqual([1.5, -2, 3.25]);
    expect(shape).toEqual([3]);
  });

  it("copies a misaligned view instead of failing", () => {
    const backing = new ArrayBuffer(1 + 8);
    const bytes = new Uint8Array(backing);
    bytes.set(new Uint8Array(Int32Array.from([7, -9]).buffer), 1);
    const view = new DataView(backing, 1, 8);
    expect(Array.from(decodeArray({ buffer: view, dtype: "int32", shape: [2] }).data)).toEqual([7, -9]);
  });

  it("decodes 2-D arrays, base64 text (standalone pages) and rejects wrong sizes", () => {
    const values = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b64 = btoa(String.fromCharCode(...new Uint8Array(values.buffer)));
    const out = decodeArray({ buffer: b64, dtype: "float32", shape: [3, 2] });
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.shape).toEqual([3, 2]);
    expect(() => decodeArray({ buffer: b64, dtype: "float32", shape: [4, 2] })).toThrow(/24 bytes/);
    expect(Array.from(base64ToBytes(""))).toEqual([]);
    expect(toBytes(new Uint16Array([1, 2]).subarray(1)).byteLength).toBe(2);
  });

  it("encodes selections as int32 and never as an empty binary frame", () => {
    const enc = encodeInt32([0, 5, 9]);
    expect(enc.dtype).toBe("int32");
    expect(enc.shape).toEqual([3]);
    expect(Array.from(decodeIndices(enc))).toEqual([0, 5, 9]);
    expect(encodeInt32([])).toEqual({ buffer: "", dtype: "int32", shape: [0] });
    expect(Array.from(decodeIndices(encodeInt32([])))).toEqual([]);
    expect(Array.from(decodeIndices([4, 0]))).toEqual([4, 0]);
    expect(decodeIndices(undefined).length).toBe(0);
  });

  it("decodes float64 and int64/uint64 (BigInt) arrays, aligned or not", () => {
    const f = Float64Array.from([0.1, 2 ** 53]);
    expect(Array.from(decodeArray({ buffer: new DataView(f.buffer), dtype: "float64", shape: [2] }).data)).toEqual([
      0.1,
      2 ** 53,
    ]);
    const backing = new ArrayBuffer(3 + 16);
    new Uint8Array(backing).set(new Uint8Array(BigInt64Array.from([2n ** 53n + 1n, -1n]).buffer), 3);
    const big = decodeAnyArray({ buffer: new DataView(backing, 3, 16), dtype: "int64", shape: [2] }).data;
    expect(big).toBeInstanceOf(BigInt64Array);
    expect(Array.from(big as BigInt64Array)).toEqual([2n ** 53n + 1n, -1n]);
    const u = BigUint64Array.from([2n ** 64n - 1n]);
    const b64 = btoa(String.fromCharCode(...new Uint8Array(u.buffer)));
    expect(decodeAnyArray({ buffer: b64, dtype: "uint64", shape: [1] }).data[0]).toBe(2n ** 64n - 1n);
    // decodeArray is for numbers only: BigInts must be asked for.
    expect(() => decodeArray({ buffer: b64, dtype: "uint64", shape: [1] })).toThrow(/unsupported dtype/);
    const numbers = decodeAnyArray({ buffer: new DataView(f.buffer), dtype: "float64", shape: [2] }).data;
    expect(numbers).toBeInstanceOf(Float64Array);
    expect(Array.from(numbers as Float64Array)).toEqual([0.1, 2 ** 53]);
  });

  it("encodes a large selection as a bitmask of n bits, Python's bytes, and decodes it exactly", () => {
    // Every second row of 100,000: np.packbits(mask, bitorder="little") starts b"UU" (0x55).
    const even = encodeSelection(
      Int32Array.from({ length: 50_000 }, (_, i) => 2 * i),
      100_000,
    );
    expect(even).toMatchObject({ dtype: "uint8", shape: [12_500], encoding: "bitmask", n: 100_000 });
    expect(Array.from(toBytes(even.buffer).subarray(0, 2))).toEqual([0x55, 0x55]);
    for (const n of [1, 7, 8, 9, 33, 1000, 16_385, 524_289, 1_000_003]) {
      const share = Math.floor(n / SELECTION_MASK_ABOVE);
      const least = SELECTION_MASK_MIN_ROWS;
      for (const k of new Set([0, 1, share, share + 1, least, least + 1, n >> 1, n])) {
        if (k > n) continue;
        // k rows spread over [0, n), the last row included when k > 0.
        const rows = Int32Array.from({ length: k }, (_, i) => n - 1 - Math.floor((i * n) / k)).reverse();
        const encoded = encodeSelection(rows, n);
        const bitmask = k > least && k * SELECTION_MASK_ABOVE > n;
        expect(selectionIsBitmask(k, n)).toBe(bitmask);
        expect(encoded.encoding === "bitmask").toBe(bitmask);
        if (bitmask) expect(encoded.shape).toEqual([(n + 7) >> 3]);
        else expect(encoded.dtype).toBe("int32");
        // (toEqual walks a million elements slowly)
        expect(sameIndices(decodeIndices(encoded), rows)).toBe(true);
      }
    }
  });

  it("ignores padding bits past n and rejects a bitmask of the wrong size", () => {
    const bits = Uint8Array.of(0xff);
    expect(Array.from(decodeIndices({ buffer: bits, dtype: "uint8", shape: [1], encoding: "bitmask", n: 3 }))).toEqual([
      0, 1, 2,
    ]);
    expect(() => decodeIndices({ buffer: bits, dtype: "uint8", shape: [1], encoding: "bitmask", n: 9 })).toThrow(
      /9 bits is 2 uint8 bytes/,
    );
  });

  it("decodes quantized positions (uint16 codes per column) to their float32 values", () => {
    const codes = Uint16Array.from([0, 0, 65_535, 65_535, 32_768, 1]);
    const lo = [-10, 2];
    const step = [20 / 65_535, 0.5];
    const out = decodeFloat32({ buffer: new DataView(codes.buffer), dtype: "uint16", shape: [3, 2], lo, step });
    expect(out).toBeInstanceOf(Float32Array);
    const expected = [-10, 2, 10, 2 + 65_535 * 0.5, -10 + 32_768 * step[0], 2.5];
    expected.forEach((v, i) => {
      expect(out[i]).toBeCloseTo(v, 4);
    });
    const plain = Float32Array.from([1.5, -2]);
    expect(decodeFloat32({ buffer: new DataView(plain.buffer), dtype: "float32", shape: [1, 2] })).toEqual(plain);
  });
});
