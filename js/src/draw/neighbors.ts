/**
 * Neighbours in descriptor space (`Atlas._neighbors`): a clicked model's k nearest models by
 * descriptor distance, not by atlas distance, drawn as lines from it like located models.
 */
import { decodeFloat32, decodeIndices, type EncodedArray } from "../wire/codec";
import type { Located } from "./located";

/** The trait: `{}` for none, an error, or the row with its neighbours and distances. */
export type EncodedNeighbors =
  | Record<string, never>
  | { row: number; error: string }
  | { row: number; neighbors: EncodedArray; distances: EncodedArray };

export interface Neighbors {
  row: number;
  neighbors: Int32Array;
  distances: Float32Array;
}

/** The trait -> neighbours, or null for none; an error is thrown as the message Python sent. */
export function decodeNeighbors(value: EncodedNeighbors | null | undefined): Neighbors | null {
  if (!value || !("row" in value)) return null;
  if ("error" in value) throw new Error(value.error);
  return { row: value.row, neighbors: decodeIndices(value.neighbors), distances: decodeFloat32(value.distances) };
}

/** As a located marker at the row's own atlas position (interleaved x, y coordinates). */
export function neighborsAsLocated(value: Neighbors, coordinates: Float32Array): Located {
  const { row, neighbors } = value;
  return {
    x: Float32Array.of(coordinates[2 * row]),
    y: Float32Array.of(coordinates[2 * row + 1]),
    neighbors: Int32Array.from(neighbors),
    k: neighbors.length,
    names: [`${neighbors.length} nearest by descriptor`],
  };
}
