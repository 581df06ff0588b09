/**
 * Table columns sent by Python (src/miwd_widget/widget/codec.py): numeric, datetime,
 * dictionary-encoded categorical, or text (one label per row, only shown in the tooltip).
 * Many labels travel packed: one UTF-8 buffer, NUL-separated (`PackedLabels`).
 *
 * Numbers: floats as float32; integers exactly: uint8/uint16 codes plus an `offset` (decoded
 * to int32), int32, float64 (up to 2^53) or int64/uint64,
 * whose exact values are kept as BigInts for text while `values` holds the nearest doubles
 * for drawing. Datetimes are numeric columns of epoch milliseconds with a `time` zone, so
 * every view that draws numbers draws them; only their text differs. Missing values are NaN
 * in `values` (a `missing` mask from Python becomes NaN here) and the `missing` code of a
 * categorical column.
 */
import { type BigArray, decodeAnyArray, decodeArray, type EncodedArray, type TypedArray, toBytes } from "./codec";

/** How missing values read in tooltips (Python's MISSING_LABEL). */
export const MISSING_TEXT = "(missing)";

interface NumericColumn {
  kind: "numeric";
  name: string;
  /** One number per row, NaN when missing (epoch ms for datetimes). */
  values: Float32Array | Float64Array | Int32Array;
  min: number;
  max: number;
  log: boolean;
  /** Integer column: its text shows every digit. */
  integer?: boolean;
  /** int64/uint64 columns beyond 2^53: the exact values (`values` holds the nearest doubles). */
  exact?: BigArray;
  /** Datetime column: values are epoch ms shown as dates in this IANA zone ("UTC": naive). */
  time?: { timeZone: string };
}

interface CategoricalColumn {
  kind: "categorical";
  name: string;
  codes: TypedArray;
  categories: string[];
  /** Code of the missing values (-1: none). */
  missing?: number;
}

interface TextColumn {
  kind: "text";
  name: string;
  /** One label per row. */
  labels: string[];
}

export type Column = NumericColumn | CategoricalColumn | TextColumn;
/** The columns a view can draw (axes, colors). */
export type DrawnColumn = NumericColumn | CategoricalColumn;

export function isDrawn(column: Column | undefined): column is DrawnColumn {
  return column !== undefined && column.kind !== "text";
}

/** Python's `pack_labels`: `count` labels as NUL-separated UTF-8. */
export interface PackedLabels {
  text: EncodedArray;
  count: number;
}

export interface EncodedColumn {
  kind: "numeric" | "datetime" | "categorical" | "text";
  values?: EncodedArray;
  codes?: EncodedArray;
  categories?: string[];
  labels?: PackedLabels;
  min?: number;
  max?: number;
  log?: boolean;
  integer?: boolean;
  /** numeric uint8/uint16 integer codes: the value of code 0 (absent: 0). */
  offset?: number;
  /** numeric: a uint8 mask of missing rows; categorical: the missing code. */
  missing?: EncodedArray | number;
  /** datetime: IANA time zone, null for naive times. */
  tz?: string | null;
}

export function unpackLabels(packed: PackedLabels): string[] {
  if (!packed.count) return [];
  const text = new TextDecoder().decode(toBytes(packed.text.buffer));
  const labels = text.split("\0");
  if (labels.length !== packed.count) {
    throw new RangeError(`packed labels: expected ${packed.count}, got ${labels.length}`);
  }
  return labels;
}

/** A time zone the browser knows, else UTC (naive times are shown as they are). */
function timeZoneOf(tz: string | null | undefined): string {
  if (!tz) return "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz;
  } catch {
    return "UTC";
  }
}

function decodeNumbers(encoded: EncodedColumn): Pick<NumericColumn, "values" | "exact"> {
  const { data } = decodeAnyArray(encoded.values as EncodedArray);
  const mask = typeof encoded.missing === "object" ? decodeArray(encoded.missing).data : null;
  if (data instanceof Uint8Array || data instanceof Uint16Array) {
    // Narrow integer codes counted from `offset`: the views get int32 values as before.
    const offset = encoded.offset ?? 0;
    if (mask) return { values: Float64Array.from(data, (v, i) => (mask[i] ? Number.NaN : v + offset)) };
    return { values: Int32Array.from(data, (v) => v + offset) };
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const values = Float64Array.from(data, (v, i) => (mask?.[i] ? Number.NaN : Number(v)));
    return { values, exact: data };
  }
  if (mask) {
    // int32 with missing rows: NaN needs floats (float64 keeps every int32 exact).
    return { values: Float64Array.from(data, (v, i) => (mask[i] ? Number.NaN : v)) };
  }
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) {
    return { values: data };
  }
  return { values: Float64Array.from(data) };
}

function decodeColumn(name: string, encoded: EncodedColumn): Column {
  if (encoded.kind === "numeric" || encoded.kind === "datetime") {
    const column: NumericColumn = {
      kind: "numeric",
      name,
      ...decodeNumbers(encoded),
      min: Number(encoded.min),
      max: Number(encoded.max),
      log: Boolean(encoded.log),
      integer: Boolean(encoded.integer),
    };
    if (encoded.kind === "datetime") column.time = { timeZone: timeZoneOf(encoded.tz) };
    return column;
  }
  if (encoded.kind === "text") {
    return { kind: "text", name, labels: encoded.labels ? unpackLabels(encoded.labels) : [] };
  }
  const categories = encoded.labels ? unpackLabels(encoded.labels) : (encoded.categories ?? []).map(String);
  return {
    kind: "categorical",
    name,
    codes: decodeArray(encoded.codes as EncodedArray).data,
    categories,
    missing: typeof encoded.missing === "number" ? encoded.missing : -1,
  };
}

export function decodeColumns(value: unknown): Map<string, Column> {
  const out = new Map<string, Column>();
  if (value && typeof value === "object") {
    for (const [name, enc] of Object.entries(value as Record<string, EncodedColumn>)) {
      out.set(name, decodeColumn(name, enc));
    }
  }
  return out;
}

/**
 * `decodeColumns(value)`, keeping the columns `held` already has by name instead of decoding
 * them again: for Python's `_text_columns`, which only grows (a deferred column is added
 * once) and is sent whole on each change; unpacking 1,000,000 ids again would take a while.
 */
export function decodeNewColumns(value: unknown, held: ReadonlyMap<string, Column>): Map<string, Column> {
  const out = new Map<string, Column>();
  if (value && typeof value === "object") {
    for (const [name, enc] of Object.entries(value as Record<string, EncodedColumn>)) {
      out.set(name, held.get(name) ?? decodeColumn(name, enc));
    }
  }
  return out;
}

/**
 * The view's columns: `sent` (Python's `_columns`) overlaid on `text` (its `_text_columns`,
 * the deferred text columns once sent). A column in both is `sent`'s, the drawn encoding.
 * Order: `sent`'s, then the other text columns (the CSV keeps it).
 */
export function mergeColumns(
  sent: ReadonlyMap<string, Column>,
  text: ReadonlyMap<string, Column>,
): Map<string, Column> {
  const out = new Map(sent);
  for (const [name, column] of text) if (!out.has(name)) out.set(name, column);
  return out;
}

/**
 * Dictionary-encode string values (sorted categories, codes in the smallest unsigned type).
 * The browser-side twin of Python's encode_column, used for tests and derived columns.
 */
export function encodeCategories(values: ArrayLike<string | null | undefined>): CategoricalColumn {
  const present = new Set<string>();
  let missing = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) missing = true;
    else present.add(v);
  }
  const categories = [...present].sort();
  if (missing) categories.push(MISSING_TEXT);
  const lookup = new Map(categories.map((c, i) => [c, i] as const));
  const Ctor = categories.length <= 256 ? Uint8Array : categories.length <= 65536 ? Uint16Array : Uint32Array;
  const codes = new Ctor(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    codes[i] = lookup.get(v == null ? MISSING_TEXT : v) as number;
  }
  return { kind: "categorical", name: "", codes, categories, missing: missing ? categories.length - 1 : -1 };
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(v.toPrecision(3)).toExponential();
  return numberFormat.format(v);
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * An epoch-ms time as "2024-03-01 12:30:05" in `timeZone` ("2024-03-01" when `dateOnly`),
 * "–" when not finite. Built from formatToParts: no locale-dependent order or separators.
 */
export function formatDate(ms: number, timeZone = "UTC", dateOnly = false): string {
  if (!Number.isFinite(ms)) return "–";
  let format = dateFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    dateFormats.set(timeZone, format);
  }
  const part = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const date = `${part.year}-${part.month}-${part.day}`;
  if (dateOnly) return date;
  const millis = ms - Math.floor(ms / 1000) * 1000;
  const frac = millis ? `.${String(Math.round(millis)).padStart(3, "0")}` : "";
  return `${date} ${part.hour}:${part.minute}:${part.second}${frac}`;
}

/**
 * A value of a numeric column as axis or legend text: dates for datetime columns (day only
 * when the column spans more than a few days), whole numbers for integer columns, else
 * formatNumber.
 */
export function formatValue(column: NumericColumn, v: number): string {
  if (column.time) return formatDate(v, column.time.timeZone, column.max - column.min > 3 * 86_400_000);
  if (column.integer && Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  return formatNumber(v);
}

/** Whether row `i` of a column has no value (NaN, or the categorical column's missing code). */
export function isMissing(column: Column, i: number): boolean {
  if (column.kind === "numeric") return Number.isNaN(column.values[i]);
  if (column.kind === "categorical")
    return column.missing !== undefined && column.missing >= 0 && column.codes[i] === column.missing;
  return false; // text columns carry missing values as their label only
}

/** Text of row `i` of a column (always plain text; the views put it in textContent). */
export function cellText(column: Column, i: number): string {
  if (column.kind === "numeric") {
    const v = column.values[i];
    if (Number.isNaN(v)) return MISSING_TEXT;
    if (column.exact) return column.exact[i].toString(); // every digit beyond 2^53
    if (column.time) return formatDate(v, column.time.timeZone);
    if (column.integer) return String(v); // exact up to 2^53 (float64) or int32
    return formatNumber(v);
  }
  if (column.kind === "text") return column.labels[i] ?? "";
  return column.categories[column.codes[i]] ?? "";
}
