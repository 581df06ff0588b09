/**
 * ndarray codec shared with Python (src/miwd_widget/widget/codec.py):
 * `{buffer, dtype, shape}` where `buffer` is what the transport delivers: a DataView
 * (ipywidgets), an ArrayBuffer / typed array (set locally), or base64 text (standalone HTML).
 * Views are taken with their byteOffset/byteLength: a DataView from a comm message usually
 * points into a larger ArrayBuffer, so `new Float32Array(view.buffer)` would read garbage.
 */

export type TypedArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;
/** int64/uint64 (exact integers beyond 2^53): BigInt typed arrays, decoded by decodeBigArray. */
export type BigArray = BigInt64Array | BigUint64Array;

type NumberDType = "uint8" | "uint16" | "uint32" | "int8" | "int16" | "int32" | "float32" | "float64";
type DType = NumberDType | "int64" | "uint64";

export interface EncodedArray {
  buffer: DataView | ArrayBuffer | ArrayBufferView | string;
  dtype: DType;
  shape: number[];
  /** Quantized positions (Python's quantized_to_json): value = lo[j] + code * step[j], per column j. */
  lo?: number[];
  step?: number[];
}

interface NDArray<T extends TypedArray | BigArray = TypedArray> {
  data: T;
  dtype: DType;
  shape: number[];
}

const CONSTRUCTORS = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

const BIG_CONSTRUCTORS = { int64: BigInt64Array, uint64: BigUint64Array } as const;

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The bytes behind any buffer-like value, honouring byteOffset and byteLength. */
export function toBytes(buffer: EncodedArray["buffer"]): Uint8Array {
  if (typeof buffer === "string") return base64ToBytes(buffer);
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  throw new TypeError("ndarray buffer must be a DataView, ArrayBuffer, typed array or base64");
}

type AnyConstructor =
  | (typeof CONSTRUCTORS)[keyof typeof CONSTRUCTORS]
  | (typeof BIG_CONSTRUCTORS)[keyof typeof BIG_CONSTRUCTORS];

function view<T extends TypedArray | BigArray>(encoded: EncodedArray, Ctor: AnyConstructor): NDArray<T> {
  const bytes = toBytes(encoded.buffer);
  const itemSize = Ctor.BYTES_PER_ELEMENT;
  const expected = encoded.shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== expected * itemSize) {
    throw new RangeError(
      `buffer has ${bytes.byteLength} bytes, shape [${encoded.shape}] of ${encoded.dtype} needs ${expected * itemSize}`,
    );
  }
  // A typed array view must be aligned to its element size: copy misaligned bytes out.
  const aligned = bytes.byteOffset % itemSize === 0;
  const buffer = (aligned ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
  const data = new Ctor(buffer, aligned ? bytes.byteOffset : 0, expected) as T;
  return { data, dtype: encoded.dtype, shape: [...encoded.shape] };
}

/** Decode `{buffer, dtype, shape}` into a typed array view (copying only if misaligned). */
export function decodeArray(encoded: EncodedArray): NDArray {
  const Ctor = CONSTRUCTORS[encoded.dtype as NumberDType];
  if (!Ctor) throw new TypeError(`unsupported dtype ${String(encoded.dtype)}`);
  return view<TypedArray>(encoded, Ctor);
}

/** Decode any dtype, int64/uint64 as BigInt64Array/BigUint64Array. */
export function decodeAnyArray(encoded: EncodedArray): NDArray<TypedArray | BigArray> {
  const Big = BIG_CONSTRUCTORS[encoded.dtype as "int64" | "uint64"];
  return Big ? view<BigArray>(encoded, Big) : decodeArray(encoded);
}

/** Decode and require a given dtype family (e.g. float32 coordinates); quantized codes become their values. */
export function decodeFloat32(encoded: EncodedArray): Float32Array {
  const { data, shape } = decodeArray(encoded);
  const { lo, step } = encoded;
  if (lo && step) {
    const columns = shape.length > 1 ? shape[shape.length - 1] : 1;
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const j = i % columns;
      out[i] = lo[j] + data[i] * step[j];
    }
    return out;
  }
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Encode int32 row positions the way Python's selection trait expects. */
export function encodeInt32(values: ArrayLike<number>): EncodedArray {
  const data = values instanceof Int32Array ? values : Int32Array.from(values);
  // No empty binary frames (JupyterLab fails to deserialize them): "" is an empty array.
  if (data.length === 0) return { buffer: "", dtype: "int32", shape: [0] };
  return { buffer: new DataView(data.buffer, data.byteOffset, data.byteLength), dtype: "int32", shape: [data.length] };
}

/**
 * A selection above `n / SELECTION_MASK_ABOVE` rows, and above `SELECTION_MASK_MIN_ROWS` (a
 * 64 kB int32 buffer: smaller messages leave at once anyway), travels as a bitmask of `n`
 * bits (n / 8 bytes, fewer than its 4 bytes a row as int32): a lasso of half a million rows
 * is 125 kB instead of 2 MB, which took seconds to leave a page busy redrawing. The same rule
 * as Python's (src/miwd_widget/widget/traits.py): the kernel's encoding of a selection the
 * page sent is then identical, and ipywidgets sends nothing back.
 */
export const SELECTION_MASK_ABOVE = 32;
export const SELECTION_MASK_MIN_ROWS = 16_384;

/** Whether a selection of `rows` of `n` models travels as a bitmask. */
export function selectionIsBitmask(rows: number, n: number): boolean {
  return rows > SELECTION_MASK_MIN_ROWS && rows * SELECTION_MASK_ABOVE > n;
}

/** The `selection` trait on the wire: int32 rows, or a little-endian bitmask of `n` bits. */
export type EncodedSelection = EncodedArray & { encoding?: "bitmask"; n?: number };

/** Encode sorted, unique row positions within [0, n) as the selection trait (see above). */
export function encodeSelection(rows: Int32Array, n: number): EncodedSelection {
  if (!selectionIsBitmask(rows.length, n)) return encodeInt32(rows);
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < rows.length; i++) bits[rows[i] >> 3] |= 1 << (rows[i] & 7);
  return { buffer: new DataView(bits.buffer), dtype: "uint8", shape: [bits.length], encoding: "bitmask", n };
}

/** The rows (ascending) whose bits are set in the first `n` bits of a little-endian bitmask. */
function bitmaskRows(bits: Uint8Array, n: number): Int32Array {
  let count = 0;
  for (let j = 0; j < bits.length; j++) {
    let byte = bits[j];
    while (byte) {
      byte &= byte - 1;
      count++;
    }
  }
  const rows = new Int32Array(count);
  let k = 0;
  for (let j = 0; j < bits.length; j++) {
    const byte = bits[j];
    if (byte === 0) continue;
    for (let b = 0; b < 8; b++) {
      const row = (j << 3) + b;
      if (byte & (1 << b) && row < n) rows[k++] = row;
    }
  }
  return k === count ? rows : rows.slice(0, k);
}

/** Accept an encoded array, a bitmask selection or a plain list (all valid selection payloads). */
export function decodeIndices(value: unknown): Int32Array {
  if (value == null) return new Int32Array(0);
  if (Array.isArray(value)) return Int32Array.from(value as number[]);
  if (value instanceof Int32Array) return value;
  const encoded = value as EncodedSelection;
  if (encoded.encoding === "bitmask") {
    const n = encoded.n ?? 0;
    const { data } = decodeArray(encoded);
    if (!(data instanceof Uint8Array) || data.length !== (n + 7) >> 3) {
      throw new RangeError(`a bitmask of ${n} bits is ${(n + 7) >> 3} uint8 bytes, got ${data.length}`);
    }
    return bitmaskRows(data, n);
  }
  const { data } = decodeArray(encoded);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}
