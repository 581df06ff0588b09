/**
 * Descriptor gallery: the selection's mean and standard-deviation descriptors and up to
 * `gallery_size` individual ones, each an S x B image (rows: depth windows, columns: weight
 * value bins) with a colormap and a color bar. Descriptors are fetched on demand.
 */
import { scalePow } from "d3-scale";
import { type ColormapName, sampleColormap } from "../draw/colormaps";
import { el, listen, watchMainButton } from "../draw/dom";
import { type Measure, packParts, shortenMiddle, textMeasurer } from "../draw/labels";
import type { SelectionStore } from "../selection";
import { formatNumber } from "../wire/columns";
import { type DescriptorReply, isSuperseded } from "../wire/requests";

interface GalleryOptions {
  parent: HTMLElement;
  store: SelectionStore;
  request: (indices: Int32Array) => Promise<DescriptorReply>;
  debounceMs?: number;
}

interface GalleryView {
  refresh(): void;
  destroy(): void;
}

const CMAP: ColormapName = "inferno";
/** Tiles are colored up to this percentile: one spike bin must not darken all the rest. */
const COLOR_PERCENTILE = 99;

/**
 * Linear color scale of tiles. Histogram densities are heavy-tailed (many empty bins, a few
 * spikes up to 1): clamping at the 99th percentile alone spreads the typical densities over
 * the whole colormap; a square-root scale on top (exponent 0.5) saturated them in practice.
 */
const COLOR_EXPONENT = 1;

/**
 * Color mapping of one kind of tile (densities, or stds): value -> [0, 1] on a power scale
 * over [0, vmax], clamped; `clipped` when values above vmax exist (shown as "vmax+").
 */
interface ColorDomain {
  vmax: number;
  exponent: number;
  clipped: boolean;
  unit: (value: number) => number;
}

/**
 * The `q`-th percentile (0..100) of the finite values of `arrays`, interpolated linearly
 * between order statistics like numpy's default; NaN when there is no finite value.
 * (d3-array's `quantile` interpolates the same way but keeps ±Infinity, which would make
 * the color scale useless; d3-array is only a transitive dependency, through d3-scale.)
 */
export function percentile(arrays: ArrayLike<number>[], q: number): number {
  let count = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) count++;
  if (count === 0) return Number.NaN;
  const values = new Float64Array(count);
  let k = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) values[k++] = a[i];
  values.sort();
  const position = (Math.min(100, Math.max(0, q)) / 100) * (count - 1);
  const lo = Math.floor(position);
  const hi = Math.min(count - 1, lo + 1);
  return values[lo] + (position - lo) * (values[hi] - values[lo]);
}

/**
 * Shared color domain of tiles: a power scale (`exponent` 1: linear, 0.5: square root) from
 * 0 to the `q`-th percentile of all their values (the maximum when that percentile is 0,
 * e.g. for mostly-empty histograms). One domain for every tile of a kind keeps the tiles
 * comparable.
 */
export function colorDomain(arrays: ArrayLike<number>[], q = COLOR_PERCENTILE, exponent = COLOR_EXPONENT): ColorDomain {
  let max = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (a[i] > max) max = a[i];
  const p = percentile(arrays, q);
  const vmax = p > 0 ? p : max;
  const scale = scalePow()
    .exponent(exponent)
    .domain([0, vmax > 0 ? vmax : 1])
    .range([0, 1])
    .clamp(true);
  return {
    vmax,
    exponent,
    clipped: max > vmax,
    unit: (value: number) => (Number.isFinite(value) && vmax > 0 ? scale(value) : 0),
  };
}

/** Paint an (S, B) block of `data` starting at `offset` into an S x B canvas. */
export function paintDescriptor(
  canvas: HTMLCanvasElement,
  data: Float32Array,
  offset: number,
  S: number,
  B: number,
  domain: ColorDomain,
): void {
  canvas.width = B;
  canvas.height = S;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return;
  const image = ctx.createImageData(B, S);
  const colors = sampleColormap(CMAP);
  const top = colors.length - 1;
  for (let i = 0; i < S * B; i++) {
    const [r, g, b] = colors[Math.round(domain.unit(data[offset + i]) * top)];
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/**
 * Labelled values of a color bar: 0, the value shown by the middle color and vmax ("+" when
 * larger values were clamped), each at the bar position (0..1) of its color; 2 significant
 * digits so that three labels fit under the bar.
 */
export function colorBarTicks(domain: ColorDomain): { at: number; text: string }[] {
  if (!(domain.vmax > 0)) return [{ at: 0, text: "0" }];
  const short = (v: number) => formatNumber(Number(v.toPrecision(2)));
  const middle = domain.vmax * 0.5 ** (1 / domain.exponent); // unit(middle) == 0.5
  return [
    { at: 0, text: "0" },
    { at: domain.unit(middle), text: short(middle) },
    { at: 1, text: `${short(domain.vmax)}${domain.clipped ? "+" : ""}` },
  ];
}

/** Caption of a color bar, e.g. "density (≤ 99th pct)" or "std (sqrt, ≤ 99th pct)". */
export function colorBarCaption(name: string, domain: ColorDomain): string {
  const kind = domain.exponent === 1 ? "" : domain.exponent === 0.5 ? "sqrt, " : `^${domain.exponent}, `;
  return `${name} (${kind}≤ ${COLOR_PERCENTILE}th pct)`;
}

export function colorBar(domain: ColorDomain, name: string): HTMLElement {
  const wrap = el("div", "miwd-gallery-colorbar");
  const bar = el("div", "miwd-colorbar");
  // The bar is uniform in color; the labels sit where the tiles show their values.
  const colors = sampleColormap(CMAP).filter((_, i) => i % 32 === 0 || i === 255);
  bar.style.background = `linear-gradient(to right, ${colors.map(([r, g, b]) => `rgb(${r},${g},${b})`).join(", ")})`;
  const ticks = el("div", "miwd-colorbar-ticks");
  for (const tick of colorBarTicks(domain)) {
    const span = el("span", "", tick.text);
    span.style.left = `${(tick.at * 100).toFixed(1)}%`;
    span.style.transform = tick.at <= 0 ? "none" : tick.at >= 1 ? "translateX(-100%)" : "translateX(-50%)";
    ticks.append(span);
  }
  const caption = el("div", "miwd-colorbar-caption", colorBarCaption(name, domain));
  caption.title =
    `color scale from 0 to the ${COLOR_PERCENTILE}th percentile of the values shown` +
    (domain.clipped ? "; larger values have the top color" : "");
  wrap.append(bar, ticks, caption);
  return wrap;
}

/** Width of a tile caption (styles.css: .miwd-tile figcaption max-width). */
const CAPTION_WIDTH_PX = 120;

/**
 * The lines of a tile caption: the first (the model id) shortened in the middle if needed,
 * the next ones' " · "-separated parts packed on lines of `width` px, never cut inside a
 * part, so "acc 0.512" is never "acc 0.1…". The tile shows the full label on hover.
 */
export function captionLines(label: string, measure: Measure, width = CAPTION_WIDTH_PX): string[] {
  const [first, ...rest] = label.split("\n");
  const lines = [shortenMiddle(first, width, measure) || first];
  for (const line of rest) lines.push(...packParts(line.split(" · "), width, measure, " · ", 4));
  return lines;
}

/**
 * "a random sample of 65,536" when Python computed the mean and std of a sample of a large
 * selection (widget/atlas.py GALLERY_EXACT_ROWS), else "".
 */
export function sampleNote(reply: Pick<DescriptorReply, "n" | "sampled">): string {
  return reply.sampled < reply.n ? `mean and std of a random sample of ${reply.sampled.toLocaleString()}` : "";
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
    // Mean and individual descriptors share one density scale; stds get their own.
    const density = colorDomain([reply.mean, reply.descriptors]);
    const spread = colorDomain([reply.std]);
    const who = reply.all ? `all ${reply.n.toLocaleString()} models` : `${reply.n.toLocaleString()} selected`;
    status.textContent = reply.stale ? ` — saved selection (${who}); open in Jupyter to fetch others` : ` — ${who}`;
    const sampled = sampleNote(reply);
    if (sampled) status.textContent += ` (${sampled})`;

    const summary = el("div", "miwd-gallery-summary");
    // Captions are measured in the gallery's font (bold ids are a little wider: CSS still
    // ellipsizes a line that overflows, and the full label is on hover).
    const measure = textMeasurer(getComputedStyle(body).font || "12px sans-serif", 12);
    const makeTile = (label: string, data: Float32Array, offset: number, domain: ColorDomain, cls: string) => {
      const tile = el("figure", `miwd-tile ${cls}`);
      const canvas = el("canvas", "miwd-descriptor");
      paintDescriptor(canvas, data, offset, S, B, domain);
      const caption = el("figcaption");
      for (const line of captionLines(label, measure)) caption.append(el("div", "", line));
      caption.title = label;
      tile.append(canvas, caption);
      return tile;
    };
    const meanTile = makeTile(`mean\n${who}`, reply.mean, 0, density, "miwd-mean");
    if (sampled) meanTile.title = sampled;
    meanTile.append(colorBar(density, "density"));
    const stdTile = makeTile(`std\n${who}`, reply.std, 0, spread, "miwd-std");
    stdTile.append(colorBar(spread, "std"));
    const axes = el("div", "miwd-gallery-axes");
    const vr = reply.value_range;
    axes.append(
      el("div", "", `rows: ${S} windows, input → output layers (top → bottom)`),
      el(
        "div",
        "",
        `columns: ${B} bins of weight value${vr ? `, ${formatNumber(vr[0])} … ${formatNumber(vr[1])}` : ""}`,
      ),
    );
    summary.append(meanTile, stdTile, axes);
    body.append(summary);

    const grid = el("div", "miwd-gallery-grid");
    reply.indices.forEach((row, i) => {
      const tile = makeTile(reply.labels[i] ?? String(row), reply.descriptors, i * S * B, density, "miwd-item");
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
        if (destroyed || mine !== generation || isSuperseded(err)) return;
        status.textContent = ` — ${err instanceof Error ? err.message : String(err)}`;
      });
  }

  // No request while a mouse button is held (a brush or lasso drag): each would make Python
  // summarize a selection about to change, and the drag's final selection would wait in
  // the kernel behind it. The request follows the release.
  let afterRelease = false;
  const button = watchMainButton(() => {
    if (!afterRelease) return;
    afterRelease = false;
    schedule();
  });
  function schedule() {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (button.pressed) {
      afterRelease = true;
      return;
    }
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
      button.remove();
      root.remove();
    },
  };
}
