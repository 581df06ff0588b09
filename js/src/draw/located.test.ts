import { describe, expect, it } from "vitest";
import { decodeLocated } from "./located";

describe("located models", () => {
  it("decodes markers and their (q, k) neighbors, keeping row 0", () => {
    const located = decodeLocated({
      x: { buffer: Float32Array.from([1, 2]), dtype: "float32", shape: [2] },
      y: { buffer: Float32Array.from([3, 4]), dtype: "float32", shape: [2] },
      neighbors: { buffer: Int32Array.from([0, 5, -1, 2]), dtype: "int32", shape: [2, 2] },
      names: ["a.safetensors", "b.onnx"],
    });
    expect(located).not.toBeNull();
    expect(Array.from(located?.x ?? [])).toEqual([1, 2]);
    expect(Array.from(located?.neighbors ?? [])).toEqual([0, 5, -1, 2]);
    expect(located?.k).toBe(2);
    expect(located?.names).toEqual(["a.safetensors", "b.onnx"]);
  });

  it("is null for the empty trait", () => {
    expect(decodeLocated({})).toBeNull();
    expect(decodeLocated(null)).toBeNull();
  });
});
