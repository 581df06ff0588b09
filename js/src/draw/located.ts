/** Located models (`Atlas.locate`): decoding and the markers + neighbor lines on a 2-D overlay. */
import { decodeArray, decodeFloat32 } from "../wire/codec";
import type { EncodedLocated } from "../wire/model";
import type { Theme } from "./dom";

export interface Located {
  x: Float32Array;
  y: Float32Array;
  neighbors: Int32Array; // (q, k), -1 = none
  k: number;
  names: string[];
}

/** `Atlas._located` -> markers, or null when there are none (the trait is `{}` then). */
export function decodeLocated(value: EncodedLocated | Record<string, never> | null | undefined): Located | null {
  if (!value || !("x" in value) || !value.x) return null;
  const neighbors = decodeArray(value.neighbors);
  return {
    x: decodeFloat32(value.x),
    y: decodeFloat32(value.y),
    neighbors: Int32Array.from(neighbors.data),
    k: neighbors.shape[1] ?? 0,
    names: (value.names ?? []).map(String),
  };
}

/** Where things are on screen: located points in atlas units, library rows by position. */
interface OverlayProjection {
  /** Atlas coordinates of a located model -> CSS px. */
  query(x: number, y: number): [number, number];
  /** Library row -> CSS px. */
  row(index: number): [number, number];
}

/** Lines from each located model to its neighbors, then a labelled triangle marker on top. */
export function drawLocated(
  ctx: CanvasRenderingContext2D,
  located: Located,
  project: OverlayProjection,
  theme: Theme,
): void {
  const q = located.x.length;
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = theme.accent;
  for (let i = 0; i < q; i++) {
    const [sx, sy] = project.query(located.x[i], located.y[i]);
    for (let j = 0; j < located.k; j++) {
      const nb = located.neighbors[i * located.k + j];
      if (nb < 0) continue;
      const [nx, ny] = project.row(nb);
      ctx.beginPath();
      ctx.moveTo(sx, sy);
      ctx.lineTo(nx, ny);
      ctx.stroke();
    }
  }
  ctx.font = "12px var(--jp-ui-font-family, sans-serif)";
  for (let i = 0; i < q; i++) {
    const [sx, sy] = project.query(located.x[i], located.y[i]);
    ctx.beginPath();
    ctx.moveTo(sx, sy - 8);
    ctx.lineTo(sx + 7, sy + 5);
    ctx.lineTo(sx - 7, sy + 5);
    ctx.closePath();
    ctx.fillStyle = theme.accent;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = theme.background;
    ctx.stroke();
    // Label with a halo in the background color so it stays legible over points.
    const name = located.names[i] ?? "";
    ctx.lineWidth = 3;
    ctx.strokeStyle = theme.background;
    ctx.strokeText(name, sx + 9, sy - 6);
    ctx.fillStyle = theme.foreground;
    ctx.fillText(name, sx + 9, sy - 6);
    ctx.strokeStyle = theme.accent;
  }
}
