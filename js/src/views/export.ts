/**
 * Taking a selection out of the atlas: "Download selection" writes a CSV of the selected
 * rows (id first, then every column the view has), "PNG" an image of the scatter with the
 * markers of located models. Same buttons in Jupyter and in standalone pages (no kernel).
 */

import { el, listen } from "../draw/dom";
import type { SelectionStore } from "../selection";
import { type Column, cellText, isMissing } from "../wire/columns";

interface ExportOptions {
  parent: HTMLElement;
  store: SelectionStore;
  columns: () => Map<string, Column>;
  /** The canvases of the scatter, back to front (drawn in this order into the PNG). */
  canvases: () => HTMLCanvasElement[];
  /** Fill behind the canvases (the theme's background). */
  background: () => string;
  /**
   * null when every column is here; else a promise of the deferred columns (the ids of a
   * large library), which the CSV waits for. It resolves with the names that did not come
   * in time (the kernel did not answer): the CSV is then saved without them, and says so.
   */
  columnsReady?: () => Promise<readonly string[]> | null;
}

interface ExportBar {
  destroy(): void;
}

/** How long a download's object URL lives (the browser reads it after the click returns). */
const REVOKE_MS = 10_000;

/**
 * One CSV field, quoted (RFC 4180: inner quotes doubled), so it stays text in any reader. Text
 * that a spreadsheet would run as a formula (=, +, -, @, tab or CR first: model ids and names
 * come from files anyone can write) gets a leading apostrophe, as OWASP advises.
 */
export function csvText(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}

/**
 * A number as CSV text, unquoted: integers exactly, float32 values with the fewest digits
 * that give the same float32 back (0.1 rather than 0.10000000149011612), empty when missing.
 */
export function csvNumber(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "" : String(value);
  if (Number.isInteger(value)) return String(value);
  if (Math.fround(value) !== value) return String(value); // not a float32: JS's own shortest form
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9))); // 9 significant digits always round-trip float32
}

/** A cell: empty when missing; exact integers beyond 2^53 and dates as their text. */
function cell(column: Column, row: number): string {
  if (isMissing(column, row)) return "";
  if (column.kind === "numeric" && !column.exact && !column.time) return csvNumber(column.values[row]);
  return csvText(cellText(column, row));
}

/**
 * CSV of `rows`: a header, then one line per row; the `id` column first, then the others in
 * the order the view has them (`row`, the position in the library, when there is no id).
 * Text and categories are quoted, numbers are not (Python's csv.QUOTE_NONNUMERIC reads the
 * types back); lines end in CRLF.
 */
export function selectionCsv(rows: ArrayLike<number>, columns: Map<string, Column>): string {
  const id = columns.get("id");
  const ordered = [...(id ? [id] : []), ...[...columns.values()].filter((c) => c !== id)];
  const header = [...(id ? [] : [csvText("row")]), ...ordered.map((c) => csvText(c.name))];
  const lines = [header.join(",")];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const fields = ordered.map((column) => cell(column, row));
    lines.push((id ? fields : [String(row), ...fields]).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * The CSV of `rows` once `ready` (the deferred columns, null: none) has resolved: `columns` is
 * read then, so the ids that arrived are in it. `missing`: the deferred columns that did not
 * come, so are not in the CSV.
 */
export async function csvWhenReady(
  rows: ArrayLike<number>,
  columns: () => Map<string, Column>,
  ready: Promise<readonly string[]> | null,
): Promise<{ text: string; missing: string[] }> {
  const missing = ready ? [...(await ready)] : [];
  return { text: selectionCsv(rows, columns()), missing };
}

/** What the CSV button says: waiting for the deferred columns, or the last CSV lacked some. */
export function csvButtonText(
  base: string,
  waiting: boolean,
  missing: readonly string[],
): { title: string; note: string } {
  if (waiting) return { title: "Loading the ids of the models: the CSV follows", note: "" };
  if (missing.length === 0) return { title: base, note: "" };
  const names = missing.join(", ");
  return {
    title: `${base}. The last CSV has no ${names}: the kernel did not send them; click to try again`,
    note: `CSV saved without ${names} (no answer from the kernel)`,
  };
}

/** The canvases stacked on one canvas of the first one's pixel size, over `background`. */
export function composite(canvases: HTMLCanvasElement[], background: string): HTMLCanvasElement {
  const out = document.createElement("canvas");
  const first = canvases[0];
  out.width = first?.width ?? 1;
  out.height = first?.height ?? 1;
  const ctx = out.getContext("2d");
  if (!ctx) throw new Error("no 2-D canvas context for the PNG");
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, out.width, out.height);
  for (const canvas of canvases) {
    if (canvas.width && canvas.height) ctx.drawImage(canvas, 0, 0, out.width, out.height);
  }
  return out;
}

function button(text: string, title: string, testid: string): HTMLButtonElement {
  const node = el("button", `miwd-${testid}`, text);
  node.type = "button";
  node.title = title;
  node.dataset.testid = `miwd-${testid}`;
  return node;
}

export function createExportBar(opts: ExportOptions): ExportBar {
  const { store } = opts;
  const bar = el("div", "miwd-toolbar miwd-export");
  const csv = button(
    "Download selection",
    "CSV of the selected models: id and the metadata in this view",
    "export-csv",
  );
  const png = button("PNG", "Image of the scatter as shown", "export-png");
  // Says which deferred columns the last CSV lacks (the kernel did not answer); else empty.
  const note = el("span", "miwd-note miwd-export-note");
  note.dataset.testid = "miwd-export-note";
  bar.append(csv, png, note);
  opts.parent.append(bar);

  const urls = new Map<string, ReturnType<typeof setTimeout>>();
  const revoke = (url: string) => {
    clearTimeout(urls.get(url));
    urls.delete(url);
    URL.revokeObjectURL(url);
  };
  const save = (blob: Blob, name: string) => {
    const url = URL.createObjectURL(blob);
    const link = el("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    bar.append(link);
    link.click();
    link.remove();
    urls.set(
      url,
      setTimeout(() => revoke(url), REVOKE_MS),
    );
  };
  const csvTitle = csv.title;
  let waiting = false; // for the deferred columns (ids), after a click
  let missing: string[] = []; // the deferred columns the last CSV was saved without
  let destroyed = false;
  const updateCsv = () => {
    csv.disabled = waiting || store.size === 0;
    const text = csvButtonText(csvTitle, waiting, missing);
    csv.title = text.title;
    note.textContent = text.note;
  };
  const saveCsv = (text: string) => save(new Blob([text], { type: "text/csv" }), "miwd-selection.csv");

  const removers = [
    listen(csv, "click", () => {
      if (store.size === 0 || waiting) return;
      const rows = store.get(); // the selection of the click, even if it changes meanwhile
      const ready = opts.columnsReady?.() ?? null;
      if (!ready) {
        missing = [];
        updateCsv();
        saveCsv(selectionCsv(rows, opts.columns())); // at once, inside the click
        return;
      }
      waiting = true;
      updateCsv();
      void csvWhenReady(rows, opts.columns, ready).then((result) => {
        if (destroyed) return;
        waiting = false;
        missing = result.missing;
        updateCsv();
        saveCsv(result.text);
      });
    }),
    listen(png, "click", () => {
      composite(opts.canvases(), opts.background()).toBlob((blob) => {
        if (blob && bar.isConnected) save(blob, "miwd-atlas.png");
      }, "image/png");
    }),
    store.subscribe(updateCsv),
  ];
  updateCsv();

  return {
    destroy() {
      destroyed = true;
      for (const remove of removers) remove();
      for (const url of [...urls.keys()]) revoke(url);
      bar.remove();
    },
  };
}
