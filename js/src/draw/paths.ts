/**
 * Training paths (`Atlas._paths`): the snapshots of one model joined in epoch order. Python
 * sends a path id per row (-1: a model with a single row) and each row's place on its path.
 */
import { decodeIndices, type EncodedArray } from "../wire/codec";
import { rgbToHex, themedColormap } from "./colormaps";

export type EncodedPaths = Record<string, never> | { line: EncodedArray; order: EncodedArray; count: number };

export interface Paths {
  line: Int32Array;
  order: Int32Array;
  count: number;
}

/**
 * Segment colours along each path, early epochs light, late ones dark: viridis reversed, in
 * the part of it that keeps 3:1 contrast against `background` (as the points' colours).
 */
export function pathColors(background: string): string[] {
  return themedColormap("viridis", background, 16).map(rgbToHex).reverse();
}

export function decodePaths(value: EncodedPaths | null | undefined): Paths | null {
  if (!value || !("line" in value)) return null;
  return { line: decodeIndices(value.line), order: decodeIndices(value.order), count: value.count };
}

/**
 * regl-scatterplot's `line` and `lineOrder` components. Rows on no path get a line of their
 * own (ids after the real ones): one shared id would join them all into one long curve.
 */
export function connectionData(paths: Paths): { line: Float32Array; lineOrder: Float32Array } {
  const n = paths.line.length;
  const line = new Float32Array(n);
  const lineOrder = new Float32Array(n);
  let alone = paths.count;
  for (let i = 0; i < n; i++) {
    const id = paths.line[i];
    line[i] = id >= 0 ? id : alone++;
    lineOrder[i] = id >= 0 ? paths.order[i] : 0;
  }
  return { line, lineOrder };
}
