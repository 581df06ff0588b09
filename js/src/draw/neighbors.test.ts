import { describe, expect, it } from "vitest";
import { encodeInt32 } from "../wire/codec";
import { decodeNeighbors, neighborsAsLocated } from "./neighbors";

const f32 = (values: number[]) => {
  const data = Float32Array.from(values);
  return { buffer: new DataView(data.buffer), dtype: "float32" as const, shape: [data.length] };
};

describe("descriptor-space neighbours", () => {
  it("decode and become a marker at the clicked row's atlas position, row 0 included", () => {
    const value = decodeNeighbors({ row: 0, neighbors: encodeInt32([3, 1]), distances: f32([0.5, 0.7]) });
    expect(value).not.toBeNull();
    if (!value) return;
    expect(Array.from(value.neighbors)).toEqual([3, 1]);
    expect(value.distances[1]).toBeCloseTo(0.7, 6);
    const coordinates = Float32Array.of(10, 20, 1, 2, 3, 4, 5, 6);
    const marker = neighborsAsLocated(value, coordinates);
    expect([marker.x[0], marker.y[0]]).toEqual([10, 20]);
    expect(marker.k).toBe(2);
    expect(Array.from(marker.neighbors)).toEqual([3, 1]);
  });

  it("are null when none are shown, and Python's error is thrown as its message", () => {
    expect(decodeNeighbors({})).toBeNull();
    expect(() => decodeNeighbors({ row: 2, error: "no descriptors" })).toThrow("no descriptors");
  });
});
