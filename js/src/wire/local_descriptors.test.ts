import { describe, expect, it } from "vitest";
import {
  decodeLibrary,
  describeSelection,
  type EncodedLibrary,
  type QuantizedDescriptors,
  roundHalfEven,
  spreadSample,
} from "./local_descriptors";

/** A deterministic pseudo-random generator (tests must not depend on Math.random). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomLibrary(n: number, S: number, B: number, seed = 1): QuantizedDescriptors {
  const random = lcg(seed);
  const codes = Uint16Array.from({ length: n * S * B }, () => Math.floor(random() * 65536));
  return { codes, n, S, B, offset: -0.25, step: 1 / 65535 };
}

/** Two-pass mean and population std of the dequantized values, row by row, in float64. */
function reference(lib: QuantizedDescriptors, rows: number[]) {
  const size = lib.S * lib.B;
  const value = (row: number, j: number) => lib.offset + lib.step * lib.codes[row * size + j];
  const mean = new Float64Array(size);
  const std = new Float64Array(size);
  for (let j = 0; j < size; j++) {
    let s = 0;
    for (const r of rows) s += value(r, j);
    mean[j] = s / rows.length;
    let v = 0;
    for (const r of rows) v += (value(r, j) - mean[j]) ** 2;
    std[j] = Math.sqrt(v / rows.length);
  }
  return { mean, std, value };
}

function expectClose(actual: Float32Array, expected: Float64Array, tolerance: number) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tolerance);
}

describe("spread sample (Python's _spread_sample)", () => {
  it("rounds half to even like numpy", () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 4, 4, 2, 3]);
  });

  it("matches numpy's picks, first and last included", () => {
    // np.linspace(0, 99, 5).round() -> [0, 25, 50, 74, 99] (24.75, 49.5 -> 50, 74.25)
    expect(
      Array.from(
        spreadSample(
          Int32Array.from({ length: 100 }, (_, i) => i),
          5,
        ),
      ),
    ).toEqual([0, 25, 50, 74, 99]);
    // np.linspace(0, 5, 3) = [0, 2.5, 5] -> 2.5 rounds to 2 (Math.round would give 3)
    expect(Array.from(spreadSample(Int32Array.from([10, 11, 12, 13, 14, 15]), 3))).toEqual([10, 12, 15]);
    expect(Array.from(spreadSample(Int32Array.from([4, 8]), 5))).toEqual([4, 8]);
    expect(spreadSample(Int32Array.from([1, 2, 3]), 0).length).toBe(0);
    // k = 1: only the first (numpy: linspace(0, n-1, 1) == [0])
    expect(Array.from(spreadSample(Int32Array.from([7, 8, 9]), 1))).toEqual([7]);
  });
});

describe("describeSelection", () => {
  const lib = randomLibrary(50, 3, 4);

  it("gives the mean and std of the selected rows' values", () => {
    const rows = [2, 3, 17, 31, 49];
    const got = describeSelection(lib, Int32Array.from(rows), 12);
    const want = reference(lib, rows);
    expectClose(got.mean, want.mean, 1e-7);
    expectClose(got.std, want.std, 1e-7);
    expect(Array.from(got.shown)).toEqual(rows);
    // The examples are the rows' own values.
    const size = lib.S * lib.B;
    const second = Float64Array.from({ length: size }, (_, j) => want.value(3, j));
    expectClose(got.descriptors.subarray(size, 2 * size), second, 1e-7);
  });

  it("describes the whole library for an empty or missing selection, sampling it spread out", () => {
    const all = Array.from({ length: lib.n }, (_, i) => i);
    const want = reference(lib, all);
    for (const positions of [null, new Int32Array(0)]) {
      const got = describeSelection(lib, positions, 4);
      expectClose(got.mean, want.mean, 1e-7);
      expectClose(got.std, want.std, 1e-7);
      // linspace(0, 49, 4) = [0, 16.33, 32.67, 49]
      expect(Array.from(got.shown)).toEqual([0, 16, 33, 49]);
      expect(got.descriptors.length).toBe(4 * lib.S * lib.B);
    }
  });

  it("has zero std for one row and a constant library", () => {
    const one = describeSelection(lib, Int32Array.from([5]), 3);
    expect(Math.max(...one.std)).toBe(0);
    const constant: QuantizedDescriptors = { codes: new Uint16Array(6), n: 2, S: 1, B: 3, offset: 0.5, step: 0 };
    const got = describeSelection(constant, null, 3);
    expect(Array.from(got.mean)).toEqual([0.5, 0.5, 0.5]);
    expect(Array.from(got.std)).toEqual([0, 0, 0]);
  });
});

describe("decodeLibrary", () => {
  async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

  it("inflates base64 deflate (zlib) codes into uint16 values", async () => {
    const codes = Uint16Array.from([0, 1, 65535, 300, 7, 9]);
    const packed = await deflate(new Uint8Array(codes.buffer));
    const encoded: EncodedLibrary = {
      codes: b64(packed),
      compression: "deflate",
      dtype: "uint16",
      shape: [2, 1, 3],
      offset: 0,
      step: 0.5,
      max_error: 0.25,
    };
    const lib = await decodeLibrary(encoded);
    expect(Array.from(lib.codes)).toEqual(Array.from(codes));
    expect([lib.n, lib.S, lib.B, lib.step]).toEqual([2, 1, 3, 0.5]);
    expect(Array.from(describeSelection(lib, Int32Array.from([1]), 1).mean)).toEqual([150, 3.5, 4.5]);
  });

  it("rejects codes that do not fill the shape", async () => {
    const encoded: EncodedLibrary = {
      codes: b64(new Uint8Array(10)),
      compression: "none",
      dtype: "uint16",
      shape: [2, 1, 3],
      offset: 0,
      step: 1,
      max_error: 0.5,
    };
    await expect(decodeLibrary(encoded)).rejects.toThrow(/10 bytes, shape \[2,1,3\] needs 12/);
  });
});
