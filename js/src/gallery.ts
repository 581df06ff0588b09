/**
 * Descriptor gallery: the selection's mean and standard-deviation descriptors and up to
 * `gallery_size` individual ones, each an S x B image (rows: depth windows, columns: weight
 * value bins) with a colormap and a color bar. Descriptors are fetched on demand.
 */
import { sampleColormap, type ColormapName } from "./colormaps";
import { formatNumber } from "./columns";
import { el, listen } from "./dom";
import type { SelectionStore } from "./selection";

export interface DescriptorReply {
  indices: number[];
  labels: string[];
  k: number;
  S: number;
  B: number;
  n: number;
  all: boolean;
  value_range: [number, number] | null;
  descriptors: Float32Array; // (k, S, B)
  mean: Float32Array; // (S, B)
  std: Float32Array; // (S, B)
  /** Standalone page: the saved selection's descriptors, not the current selection's. */
  stale?: boolean;
}

export interface GalleryOptions {
  parent: HTMLElement;
  store: SelectionStore;
  request: (indices: Int32Array) => Promise<DescriptorReply>;
  debounceMs?: number;
}

export interface GalleryView {
  refresh(): void;
  destroy(): void;
}

const CMAP: ColormapName = "inferno";

/** Paint an (S, B) block of `data` starting at `offset` into an S x B canvas. */
export function paintDescriptor(
  canvas: HTMLCanvasElement,
  data: Float32Array,
  offset: number,
  S: number,
  B: number,
  vmax: number,
): void {
  canvas.width = B;
  canvas.height = S;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return;
  const image = ctx.createImageData(B, S);
  const colors = sampleColormap(CMAP);
  const top = colors.length - 1;
  for (let i = 0; i < S * B; i++) {
    const v = data[offset + i];
    const t = vmax > 0 && Number.isFinite(v) ? Math.min(1, Math.max(0, v / vmax)) : 0;
    const [r, g, b] = colors[Math.round(t * top)];
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function maxOf(data: Float32Array): number {
  let m = 0;
  for (const v of data) if (v > m) m = v;
  return m;
}

function colorBar(vmax: number, label: string): HTMLElement {
  const wrap = el("div", "miwd-gallery-colorbar");
  const bar = el("div", "miwd-colorbar");
  const colors = sampleColormap(CMAP).filter((_, i) => i % 32 === 0 || i === 255);
  bar.style.background = `linear-gradient(to right, ${colors.map(([r, g, b]) => `rgb(${r},${g},${b})`).join(", ")})`;
  const labels = el("div", "miwd-colorbar-labels");
  labels.append(el("span", "", "0"), el("span", "", label), el("span", "", formatNumber(vmax)));
  wrap.append(bar, labels);
  return wrap;
}

export function createGallery(opts: GalleryOptions): GalleryView {
  const { store } = opts;
  const removers: (() => void)[] = [];
  const root = el("div", "miwd-gallery");
  root.dataset.testid = "miwd-gallery";
  const title = el("div", "miwd-panel-title", "Descriptors");
  const status = el("span", "miwd-note miwd-gallery-status");
  title.append(status);
  const body = el("div", "miwd-gallery-body");
  root.append(title, body);
  opts.parent.append(root);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;
  let destroyed = false;

  function render(reply: DescriptorReply) {
    body.replaceChildren();
    const { S, B } = reply;
    const vmax = Math.max(maxOf(reply.mean), maxOf(reply.descriptors));
    const smax = maxOf(reply.std);
    const who = reply.all ? `all ${reply.n.toLocaleString()} models` : `${reply.n.toLocaleString()} selected`;
    status.textContent = reply.stale
      ? ` — saved selection (${who}); open in Jupyter to fetch others`
      : ` — ${who}`;

    const summary = el("div", "miwd-gallery-summary");
    const makeTile = (label: string, data: Float32Array, offset: number, max: number, cls: string) => {
      const tile = el("figure", `miwd-tile ${cls}`);
      const canvas = el("canvas", "miwd-descriptor");
      paintDescriptor(canvas, data, offset, S, B, max);
      const caption = el("figcaption");
      for (const line of label.split("\n")) caption.append(el("div", "", line));
      tile.append(canvas, caption);
      return tile;
    };
    const meanTile = makeTile(`mean\n${who}`, reply.mean, 0, vmax, "miwd-mean");
    meanTile.append(colorBar(vmax, "density"));
    const stdTile = makeTile(`std\n${who}`, reply.std, 0, smax, "miwd-std");
    stdTile.append(colorBar(smax, "std"));
    const axes = el("div", "miwd-gallery-axes");
    const vr = reply.value_range;
    axes.append(
      el("div", "", `rows: ${S} windows, input → output layers (top → bottom)`),
      el("div", "", `columns: ${B} bins of weight value${vr ? `, ${formatNumber(vr[0])} … ${formatNumber(vr[1])}` : ""}`),
    );
    summary.append(meanTile, stdTile, axes);
    body.append(summary);

    const grid = el("div", "miwd-gallery-grid");
    reply.indices.forEach((row, i) => {
      const tile = makeTile(reply.labels[i] ?? String(row), reply.descriptors, i * S * B, vmax, "miwd-item");
      tile.dataset.index = String(row);
      tile.tabIndex = 0;
      // Hovering (or focusing) a descriptor highlights its model in the scatter.
      removers.push(listen(tile, "mouseenter", () => store.hover.emit(row)));
      removers.push(listen(tile, "mouseleave", () => store.hover.emit(null)));
      removers.push(listen(tile, "focus", () => store.hover.emit(row)));
      removers.push(listen(tile, "blur", () => store.hover.emit(null)));
      grid.append(tile);
    });
    if (reply.n > reply.k) {
      grid.append(el("div", "miwd-note", `showing ${reply.k} of ${reply.n.toLocaleString()}`));
    }
    body.append(grid);
  }

  function fetchNow() {
    const mine = ++generation;
    status.textContent = " — loading…";
    opts
      .request(store.get())
      .then((reply) => {
        if (destroyed || mine !== generation) return; // a newer request superseded this one
        // Listeners of the previous tiles go with them.
        while (removers.length) (removers.pop() as () => void)();
        render(reply);
      })
      .catch((err: unknown) => {
        if (destroyed || mine !== generation) return;
        status.textContent = ` — ${err instanceof Error ? err.message : String(err)}`;
      });
  }

  function schedule() {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fetchNow();
    }, opts.debounceMs ?? 150);
  }

  const unsubscribe = store.subscribe(() => schedule());
  fetchNow();

  return {
    refresh: fetchNow,
    destroy() {
      destroyed = true;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
      for (const remove of removers) remove();
      root.remove();
    },
  };
}
