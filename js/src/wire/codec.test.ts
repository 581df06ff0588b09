import { describe, expect, it } from "vitest";
import { base64ToBytes, decodeAnyArray, decodeArray, decodeIndices, encodeInt32, toBytes } from "./codec";

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
});
