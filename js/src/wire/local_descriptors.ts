/**
 * The gallery of any selection computed in the page (standalone HTML, no kernel): the
 * library's descriptors arrive as uint16 codes (`value = offset + code * step`, written by
 * src/miwd_widget/widget/standalone.py), and mean, std and a spread sample of examples are
 * computed here the way Python's `Atlas.descriptor_reply` does.
 */
import { toBytes } from "./codec";

/** What `standalone.library_payload` writes: deflated little-endian uint16 codes as base64. */
export interface EncodedLibrary {
  codes: string;
  compression: "deflate" | "none";
  dtype: "uint16";
  shape: number[];
  offset: number;
  step: number;
  max_error: number;
}

/** The decoded codes of n descriptors of S x B values. */
export interface QuantizedDescriptors {
  codes: Uint16Array; // (n, S, B)
  n: number;
  S: number;
  B: number;
  offset: number;
  step: number;
}

/** A selection's gallery: the shown rows, their descriptors, and the mean/std of all rows. */
export interface LocalGallery {
  shown: Int32Array;
  descriptors: Float32Array; // (shown.length, S, B)
  mean: Float32Array; // (S, B)
  std: Float32Array; // (S, B)
}

/** zlib-format ("deflate") bytes -> the inflated bytes (browsers' DecompressionStream). */
export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function decodeLibrary(encoded: EncodedLibrary): Promise<QuantizedDescriptors> {
  if (encoded.dtype !== "uint16") throw new TypeError(`descriptor codes: unsupported dtype ${String(encoded.dtype)}`);
  const [n, S, B] = encoded.shape;
  const raw = toBytes(encoded.codes);
  const bytes = encoded.compression === "deflate" ? await inflate(raw) : raw.slice();
  if (bytes.byteLength !== n * S * B * 2) {
    throw new RangeError(
      `descriptor codes: ${bytes.byteLength} bytes, shape [${encoded.shape}] needs ${n * S * B * 2}`,
    );
  }
  // Inflated (or copied) bytes start at offset 0 of their own buffer: aligned for uint16.
  const codes = new Uint16Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, n * S * B);
  return { codes, n, S, B, offset: encoded.offset, step: encoded.step };
}

/** numpy's `round` (half to even), which `_spread_sample` uses: Math.round(2.5) is 3, numpy's 2. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Python's `_spread_sample`: `k` of `positions` spread evenly (first and last included),
 * picked at `round(linspace(0, size - 1, k))` like numpy, repeats dropped.
 */
export function spreadSample(positions: Int32Array, k: number): Int32Array {
  if (k <= 0 || positions.length === 0) return new Int32Array(0);
  if (positions.length <= k) return positions.slice();
  const last = positions.length - 1;
  const step = k > 1 ? last / (k - 1) : 0;
  const picks: number[] = [];
  for (let i = 0; i < k; i++) {
    // numpy.linspace: i * step, the end point set exactly (linspace(0, x, 1) is [0]).
    const pick = k > 1 && i === k - 1 ? last : roundHalfEven(i * step);
    if (picks.length === 0 || pick !== picks[picks.length - 1]) picks.push(pick);
  }
  return Int32Array.from(picks, (p) => positions[p]);
}

/**
 * Mean, population std and the spread sample of `positions` (null or empty: every row).
 * Sums run over the integer codes in float64 (exact up to 2^53), then scale by `step`.
 */
export function describeSelection(
  library: QuantizedDescriptors,
  positions: Int32Array | null,
  gallerySize: number,
): LocalGallery {
  const { codes, n, offset, step } = library;
  const size = library.S * library.B;
  const everything = !positions || positions.length === 0;
  const count = everything ? n : positions.length;
  const sum = new Float64Array(size);
  const squares = new Float64Array(size);
  for (let r = 0; r < count; r++) {
    const base = (everything ? r : positions[r]) * size;
    for (let j = 0; j < size; j++) {
      const c = codes[base + j];
      sum[j] += c;
      squares[j] += c * c;
    }
  }
  const mean = new Float32Array(size);
  const std = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    if (count === 0) {
      mean[j] = Number.NaN;
      std[j] = Number.NaN;
      continue;
    }
    const m = sum[j] / count;
    mean[j] = offset + step * m;
    std[j] = step * Math.sqrt(Math.max(squares[j] / count - m * m, 0));
  }
  const all = everything ? Int32Array.from({ length: n }, (_, i) => i) : positions;
  const shown = spreadSample(all, gallerySize);
  const descriptors = new Float32Array(shown.length * size);
  shown.forEach((row, i) => {
    for (let j = 0; j < size; j++) descriptors[i * size + j] = offset + step * codes[row * size + j];
  });
  return { shown, descriptors, mean, std };
}
