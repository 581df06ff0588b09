import { describe, expect, it } from "vitest";
import { encodeInt32 } from "../wire/codec";
import { connectionData, decodePaths, pathColors } from "./paths";

describe("training paths", () => {
  it("decodes the trait and gives rows on no path a line of their own", () => {
    // rows: path 0 (epochs 1, 0), a lone model, path 1 (epochs 0, 1), another lone one
    const paths = decodePaths({
      line: encodeInt32([0, 0, -1, 1, 1, -1]),
      order: encodeInt32([1, 0, 0, 0, 1, 0]),
      count: 2,
    });
    expect(paths).not.toBeNull();
    if (!paths) return;
    const { line, lineOrder } = connectionData(paths);
    expect(Array.from(line)).toEqual([0, 0, 2, 1, 1, 3]);
    expect(Array.from(lineOrder)).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it("is null without paths", () => {
    expect(decodePaths({})).toBeNull();
  });

  it("colours segments from light (early) to dark (late)", () => {
    const lum = (hex: string) => {
      const v = Number.parseInt(hex.slice(1), 16);
      return 0.2126 * (v >> 16) + 0.7152 * ((v >> 8) & 255) + 0.0722 * (v & 255);
    };
    for (const background of ["#ffffff", "#111111"]) {
      const colors = pathColors(background);
      expect(lum(colors[0])).toBeGreaterThan(lum(colors[colors.length - 1]));
    }
  });
});
