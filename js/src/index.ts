/**
 * anywidget entry point: builds the three linked views inside `el` and returns a cleanup
 * that removes every listener it added. Also `renderStandalone` for save_html pages.
 */
import "./styles.css";
import { decodeArray, decodeFloat32, decodeIndices, encodeInt32, toBytes, type EncodedArray } from "./codec";
import { decodeColumns, type Column } from "./columns";
import { el, listen, readTheme } from "./dom";
import { createGallery, type DescriptorReply } from "./gallery";
import { createParallel } from "./parallel";
import { createScatter, type Located } from "./scatter";
import { SelectionStore, sameIndices } from "./selection";

type Callback = (...args: any[]) => void;

/** The part of the anywidget model API this widget uses. */
export interface AtlasModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: Callback): void;
  off(event: string, callback: Callback): void;
  send(content: unknown, callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void;
}

export const REQUEST_TIMEOUT_MS = 20000;
const SAVE_DELAY_MS = 30;
const TWO_COLUMNS_MIN_WIDTH = 1000;

let instanceCounter = 0; // only to make request ids unique per widget view

function decodeLocated(value: any): Located | null {
  if (!value || !value.x) return null;
  const neighbors = decodeArray(value.neighbors as EncodedArray);
  return {
    x: decodeFloat32(value.x),
    y: decodeFloat32(value.y),
    neighbors: Int32Array.from(neighbors.data),
    k: neighbors.shape[1] ?? 0,
    names: (value.names ?? []).map(String),
  };
}

function decodeReply(content: any, buffers: (DataView | ArrayBuffer | ArrayBufferView | string)[]): DescriptorReply {
  const { S, B, k } = content;
  const f32 = (i: number, size: number) =>
    decodeFloat32({ buffer: buffers[i] as EncodedArray["buffer"], dtype: "float32", shape: [size] });
  return {
    indices: content.indices ?? [],
    labels: (content.labels ?? []).map(String),
    k,
    S,
    B,
    n: content.n,
    all: Boolean(content.all),
    value_range: content.value_range ?? null,
    descriptors: f32(0, k * S * B),
    mean: f32(1, S * B),
    std: f32(2, S * B),
    stale: Boolean(content.stale),
  };
}

function render({ model, el: host }: { model: AtlasModel; el: HTMLElement }): () => void {
  const cleanups: (() => void)[] = [];
  const instance = ++instanceCounter;
  const n: number = model.get("n");
  const root = el("div", "miwd-root");
  root.dataset.testid = "miwd-atlas";
  host.append(root);

  // Keep mouse/keyboard input inside the widget: in JupyterLab a shift+mousedown in an
  // output would otherwise start the notebook's cell selection (and steal the drag), and
  // keys typed in the widget would trigger notebook shortcuts. mousemove/mouseup are not
  // stopped: regl-scatterplot and d3-brush listen for them on window.
  for (const type of ["mousedown", "pointerdown", "click", "dblclick", "contextmenu", "keydown", "keyup"] as const) {
    cleanups.push(listen(root, type, (e) => e.stopPropagation()));
  }

  const store = new SelectionStore(n);
  store.set(decodeIndices(model.get("selection")), "init");
  let columns: Map<string, Column> = decodeColumns(model.get("_columns"));
  let theme = readTheme(root);

  const left = el("div", "miwd-left");
  const right = el("div", "miwd-right");
  root.append(left, right);

  const scatter = createScatter({
    parent: left,
    n,
    coordinates: decodeFloat32(model.get("coordinates")),
    store,
    columns: () => columns,
    tooltipColumns: () => model.get("tooltip_columns") ?? [],
    color: model.get("color") ?? "",
    theme,
    onColorChange: (name) => {
      model.set("color", name);
      model.save_changes();
      parallel.setColor(name);
    },
  });
  const parallel = createParallel({
    parent: right,
    n,
    store,
    columns: () => columns,
    axes: model.get("axes") ?? [],
    color: model.get("color") ?? "",
    theme,
  });

  // --- descriptor requests (custom messages with an id, answered by Python)
  const pending = new Map<string, { resolve: (r: DescriptorReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  let requestCounter = 0;
  const onCustom = (content: any, buffers: DataView[]) => {
    if (!content || content.type !== "descriptors") return;
    const entry = pending.get(content.id);
    if (!entry) return;
    pending.delete(content.id);
    clearTimeout(entry.timer);
    if (content.error) entry.reject(new Error(String(content.error)));
    else {
      try {
        entry.resolve(decodeReply(content, buffers ?? []));
      } catch (err) {
        entry.reject(err as Error);
      }
    }
  };
  model.on("msg:custom", onCustom);
  cleanups.push(() => model.off("msg:custom", onCustom));
  const request = (indices: Int32Array) =>
    new Promise<DescriptorReply>((resolve, reject) => {
      const id = `${instance}-${++requestCounter}`;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no reply from the kernel within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      const copy = indices.slice();
      model.send({ type: "descriptors", id, n: copy.length }, undefined, [copy.buffer]);
    });
  cleanups.push(() => {
    for (const entry of pending.values()) clearTimeout(entry.timer);
    pending.clear();
  });
  const gallery = createGallery({ parent: right, store, request });

  // --- selection: model -> store (no-op when it is our own echo), store -> model
  const onModelSelection = () => {
    store.set(decodeIndices(model.get("selection")), "model");
  };
  model.on("change:selection", onModelSelection);
  cleanups.push(() => model.off("change:selection", onModelSelection));
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  const saveSelection = () => {
    saveTimer = undefined;
    const current = store.get();
    if (sameIndices(decodeIndices(model.get("selection")), current)) return;
    model.set("selection", encodeInt32(current));
    model.save_changes();
  };
  cleanups.push(
    store.subscribe((_selection, source) => {
      if (source === "model" || source === "init") return;
      if (saveTimer === undefined) saveTimer = setTimeout(saveSelection, SAVE_DELAY_MS);
    }),
  );
  cleanups.push(() => {
    if (saveTimer !== undefined) clearTimeout(saveTimer);
  });

  // --- other traits
  const onColor = () => {
    const name = model.get("color") ?? "";
    scatter.setColor(name);
    parallel.setColor(name);
  };
  const onColumns = () => {
    columns = decodeColumns(model.get("_columns"));
    scatter.setColumns();
    parallel.setAxes(model.get("axes") ?? []);
  };
  const onAxes = () => parallel.setAxes(model.get("axes") ?? []);
  const onLocated = () => scatter.setLocated(decodeLocated(model.get("_located")));
  const traitHandlers: [string, Callback][] = [
    ["change:color", onColor],
    ["change:_columns", onColumns],
    ["change:axes", onAxes],
    ["change:_located", onLocated],
  ];
  for (const [event, handler] of traitHandlers) {
    model.on(event, handler);
    cleanups.push(() => model.off(event, handler));
  }
  onLocated();

  // --- layout: fit the cell width; side by side when wide enough
  let lastWidth = -1;
  const layout = () => {
    const width = Math.floor(root.clientWidth || host.clientWidth || 0);
    if (width <= 0 || width === lastWidth) return;
    lastWidth = width;
    // Hysteresis: a scrollbar appearing after a layout switch must not flip it back.
    const wasWide = root.classList.contains("miwd-wide");
    const wide = wasWide ? width >= TWO_COLUMNS_MIN_WIDTH - 40 : width >= TWO_COLUMNS_MIN_WIDTH;
    root.classList.toggle("miwd-wide", wide);
    const scatterWidth = wide ? Math.floor(width * 0.5) - 8 : width;
    scatter.resize(scatterWidth, wide ? Math.min(720, Math.max(480, scatterWidth)) : Math.min(560, Math.max(320, Math.round(width * 0.7))));
    parallel.resize(wide ? width - scatterWidth - 16 : width);
  };
  const resizeObserver = new ResizeObserver(() => layout());
  resizeObserver.observe(root);
  cleanups.push(() => resizeObserver.disconnect());
  layout();

  // --- theme: JupyterLab switches themes by changing attributes on <body>
  const themeObserver = new MutationObserver(() => {
    theme = readTheme(root);
    scatter.setTheme(theme);
    parallel.setTheme(theme);
  });
  themeObserver.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  cleanups.push(() => themeObserver.disconnect());
  // The first theme read may have happened before `el` was attached to the page.
  const raf = requestAnimationFrame(() => {
    const next = readTheme(root);
    if (next.background !== theme.background || next.foreground !== theme.foreground) {
      theme = next;
      scatter.setTheme(theme);
      parallel.setTheme(theme);
    }
    layout();
  });
  cleanups.push(() => cancelAnimationFrame(raf));

  return () => {
    for (const cleanup of cleanups.reverse()) cleanup();
    gallery.destroy();
    parallel.destroy();
    scatter.destroy(); // releases the WebGL context
    store.destroy();
    root.remove();
  };
}

/** An in-page model for standalone HTML: local state, descriptors of the saved selection. */
export class LocalModel implements AtlasModel {
  private state: Record<string, any>;
  private handlers = new Map<string, Set<Callback>>();
  constructor(
    state: Record<string, any>,
    private saved: { content: any; buffers: string[]; selection: number[] } | null,
  ) {
    this.state = { ...state };
  }
  get(name: string) {
    return this.state[name];
  }
  set(name: string, value: unknown) {
    this.state[name] = value;
    this.emit(`change:${name}`);
  }
  save_changes() {}
  on(event: string, callback: Callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(callback);
  }
  off(event: string, callback: Callback) {
    this.handlers.get(event)?.delete(callback);
  }
  private emit(event: string, ...args: unknown[]) {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args);
  }
  send(content: any, _callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]) {
    if (!content || content.type !== "descriptors") return;
    const requested = buffers?.length ? decodeIndices({ buffer: buffers[0] as ArrayBuffer, dtype: "int32", shape: [content.n] }) : new Int32Array(0);
    setTimeout(() => {
      if (!this.saved) {
        this.emit("msg:custom", { type: "descriptors", id: content.id, error: "no descriptors saved in this page" }, []);
        return;
      }
      const stale = !sameIndices(requested, this.saved.selection);
      const replyBuffers = this.saved.buffers.map((b) => {
        const bytes = toBytes(b);
        return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      });
      this.emit("msg:custom", { ...this.saved.content, id: content.id, stale }, replyBuffers);
    }, 0);
  }
}

export function renderStandalone(
  host: HTMLElement,
  payload: { state: Record<string, any>; descriptors: { content: any; buffers: string[]; selection: number[] } | null },
): () => void {
  const model = new LocalModel(payload.state, payload.descriptors);
  return render({ model, el: host });
}

/** Log the full stack of a failed render (Jupyter only shows the message), then rethrow. */
function renderWithDiagnostics(props: { model: AtlasModel; el: HTMLElement }): () => void {
  try {
    return render(props);
  } catch (err) {
    console.error("miwd-widget: render failed", err instanceof Error ? err.stack : err);
    throw err;
  }
}

export default { render: renderWithDiagnostics };
