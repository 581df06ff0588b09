/**
 * Table columns sent by Python: float32 numeric, dictionary-encoded categorical, or text
 * (one label per row, only shown in the tooltip). Many labels travel packed: one UTF-8
 * buffer, NUL-separated (`PackedLabels`), never a long JSON list.
 */
import { decodeArray, decodeFloat32, type EncodedArray, type TypedArray, toBytes } from "./codec";

interface NumericColumn {
  kind: "numeric";
  name: string;
  values: Float32Array;
  min: number;
  max: number;
  log: boolean;
}

interface CategoricalColumn {
  kind: "categorical";
  name: string;
  codes: TypedArray;
  categories: string[];
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
  kind: "numeric" | "categorical" | "text";
  values?: EncodedArray;
  codes?: EncodedArray;
  categories?: string[];
  labels?: PackedLabels;
  min?: number;
  max?: number;
  log?: boolean;
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

function decodeColumn(name: string, encoded: EncodedColumn): Column {
  if (encoded.kind === "numeric") {
    return {
      kind: "numeric",
      name,
      values: decodeFloat32(encoded.values as EncodedArray),
      min: Number(encoded.min),
      max: Number(encoded.max),
      log: Boolean(encoded.log),
    };
  }
  if (encoded.kind === "text") {
    return { kind: "text", name, labels: encoded.labels ? unpackLabels(encoded.labels) : [] };
  }
  return {
    kind: "categorical",
    name,
    codes: decodeArray(encoded.codes as EncodedArray).data,
    categories: encoded.labels ? unpackLabels(encoded.labels) : (encoded.categories ?? []).map(String),
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
  if (missing) categories.push("(missing)");
  const lookup = new Map(categories.map((c, i) => [c, i] as const));
  const Ctor = categories.length <= 256 ? Uint8Array : categories.length <= 65536 ? Uint16Array : Uint32Array;
  const codes = new Ctor(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    codes[i] = lookup.get(v == null ? "(missing)" : v) as number;
  }
  return { kind: "categorical", name: "", codes, categories };
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(v.toPrecision(3)).toExponential();
  return numberFormat.format(v);
}

/** Text of row `i` of a column (always plain text; the views put it in textContent). */
export function cellText(column: Column, i: number): string {
  if (column.kind === "numeric") return formatNumber(column.values[i]);
  if (column.kind === "text") return column.labels[i] ?? "";
  return column.categories[column.codes[i]] ?? "";
}
