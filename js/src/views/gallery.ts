/**
 * Descriptor gallery: the selection's mean and standard-deviation descriptors and up to
 * `gallery_size` individual ones, each an S x B image (rows: depth windows, columns: weight
 * value bins) with a colormap and a color bar. Descriptors are fetched on demand.
 */
import { scalePow } from "d3-scale";
import { type ColormapName, sampleColormap } from "../draw/colormaps";
import { el, listen, watchMainButton } from "../draw/dom";
import { formatCount, type Measure, packParts, textMeasurer } from "../draw/labels";
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

/**
 * How the individual descriptors are colored: each on its own scale (the default), or all
 * on one scale shared with the selection's mean, to compare magnitudes.
 */
export type GalleryScale = "tile" | "shared";

/** The color domains of one gallery reply (see {@link galleryDomains}). */
export interface GalleryDomains {
  mean: ColorDomain;
  std: ColorDomain;
  /** One per descriptor of `reply.descriptors`, in order. */
  tiles: ColorDomain[];
  /** The domain every tile shares (`scale` "shared"), else null. */
  shared: ColorDomain | null;
}

/**
 * The color domains of a reply's tiles. Per tile ("tile"), each descriptor is colored from 0
 * to its own 99th percentile: a constant-initialization model (all weights of a window in
 * one bin, density 1) no longer sets the scale of models whose densities peak at about 0.1,
 * and within a tile the percentile (not the maximum) keeps one spike bin, e.g. a layer of
 * zeros, from darkening the other windows, so the change of the distribution with depth
 * (the paper's Figure 2) shows in every tile. "shared": the mean and all descriptors on one
 * scale, to compare magnitudes. The mean and std are always on the scale of their own kind,
 * as the Clusters panel colors its means and stds (one {@link colorDomain} per kind).
 */
export function galleryDomains(
  reply: Pick<DescriptorReply, "mean" | "std" | "descriptors" | "k" | "S" | "B">,
  scale: GalleryScale,
): GalleryDomains {
  const size = reply.S * reply.B;
  const std = colorDomain([reply.std]);
  const k = Math.min(reply.k, Math.floor(reply.descriptors.length / Math.max(1, size)));
  if (scale === "shared") {
    const shared = colorDomain([reply.mean, reply.descriptors.subarray(0, k * size)]);
    return { mean: shared, std, tiles: Array.from({ length: k }, () => shared), shared };
  }
  const tiles = Array.from({ length: k }, (_, i) =>
    colorDomain([reply.descriptors.subarray(i * size, (i + 1) * size)]),
  );
  return { mean: colorDomain([reply.mean]), std, tiles, shared: null };
}

/** Caption of a color bar, e.g. "density (≤ 99th pct)" or "std (sqrt, ≤ 99th pct)". */
export function colorBarCaption(name: string, domain: ColorDomain): string {
  const kind = domain.exponent === 1 ? "" : domain.exponent === 0.5 ? "sqrt, " : `^${domain.exponent}, `;
  return `${name} (${kind}≤ ${COLOR_PERCENTILE}th pct)`;
}

/** The colormap as a CSS gradient (uniform in color, like the tiles' mapping). */
function colormapGradient(): string {
  const colors = sampleColormap(CMAP).filter((_, i) => i % 32 === 0 || i === 255);
  return `linear-gradient(to right, ${colors.map(([r, g, b]) => `rgb(${r},${g},${b})`).join(", ")})`;
}

export function colorBar(domain: ColorDomain, name: string): HTMLElement {
  const wrap = el("div", "miwd-gallery-colorbar");
  const bar = el("div", "miwd-colorbar");
  bar.style.background = colormapGradient();
  // The labels sit where the tiles show their values.
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

/**
 * The color bar of the individual descriptors: with the shared scale's values, or, per tile,
 * "0" to "own 99th pct" (each tile's value is on its hover and in its `data-vmax`).
 */
export function tileScaleBar(domains: GalleryDomains): HTMLElement {
  if (domains.shared) {
    const bar = colorBar(domains.shared, "tiles");
    const caption = bar.querySelector(".miwd-colorbar-caption") as HTMLElement;
    caption.textContent = "tiles: one shared scale";
    caption.title = `every descriptor and the mean colored from 0 to the ${COLOR_PERCENTILE}th percentile of all their values`;
    bar.dataset.scale = "shared";
    return bar;
  }
  const wrap = el("div", "miwd-gallery-colorbar");
  wrap.dataset.scale = "tile";
  const bar = el("div", "miwd-colorbar");
  bar.style.background = colormapGradient();
  const ticks = el("div", "miwd-colorbar-ticks");
  const zero = el("span", "", "0");
  zero.style.left = "0%";
  const top = el("span", "", `its ${COLOR_PERCENTILE}th pct`);
  top.style.left = "100%";
  top.style.transform = "translateX(-100%)";
  ticks.append(zero, top);
  const caption = el("div", "miwd-colorbar-caption", "tiles: each its own scale");
  caption.title =
    `each descriptor is colored from 0 to its own ${COLOR_PERCENTILE}th percentile ` +
    "(hover a tile for its value); the button above puts them on one shared scale";
  wrap.append(bar, ticks, caption);
  return wrap;
}

/** Width of a tile caption (styles.css: .miwd-tile figcaption max-width). */
const CAPTION_WIDTH_PX = 120;

/**
 * The lines of a tile caption: the first (the model id) whole, or wrapped after its "/", "_",
 * "-" or "." on up to two lines (an id is never cut in its middle: its end tells models
 * apart), the next ones' " · "-separated parts packed on lines of `width` px, never cut
 * inside a part, so "acc 0.512" is never "acc 0.1…". The tile shows the full label on hover.
 */
export function captionLines(label: string, measure: Measure, width = CAPTION_WIDTH_PX): string[] {
  const [first, ...rest] = label.split("\n");
  const idLines = measure(first) <= width ? [first] : packParts(first.split(/(?<=[/_.-])/), width, measure, "", 2);
  const lines = idLines.length ? idLines : [first];
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

/** The scale toggle's text and hover for the scale shown (it switches to the other). */
export function scaleButtonText(scale: GalleryScale): { text: string; title: string } {
  return scale === "tile"
    ? { text: "Scale: per tile", title: "Each descriptor on its own color scale; click for one shared scale" }
    : { text: "Scale: shared", title: "All descriptors on one color scale; click for a scale per tile" };
}

export function createGallery(opts: GalleryOptions): GalleryView {
  const { store } = opts;
  const removers: (() => void)[] = [];
  const root = el("div", "miwd-gallery");
  root.dataset.testid = "miwd-gallery";
  const title = el("div", "miwd-panel-title", "Descriptors");
  const status = el("span", "miwd-note miwd-gallery-status");
  const scaleButton = el("button", "miwd-gallery-scale");
  scaleButton.type = "button";
  scaleButton.dataset.testid = "miwd-gallery-scale";
  title.append(status, scaleButton);
  const body = el("div", "miwd-gallery-body");
  root.append(title, body);
  opts.parent.append(root);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;
  let destroyed = false;
  let scale: GalleryScale = "tile";
  let shown: DescriptorReply | null = null;

  const showScale = () => {
    const { text, title: hover } = scaleButtonText(scale);
    scaleButton.textContent = text;
    scaleButton.title = hover;
    scaleButton.setAttribute("aria-pressed", String(scale === "shared"));
    root.dataset.scale = scale;
  };
  showScale();
  const toggleScale = () => {
    scale = scale === "tile" ? "shared" : "tile";
    showScale();
    if (shown) {
      while (removers.length) (removers.pop() as () => void)();
      render(shown);
    }
  };

  function render(reply: DescriptorReply) {
    shown = reply;
    body.replaceChildren();
    const { S, B } = reply;
    const domains = galleryDomains(reply, scale);
    const who = reply.all ? `all ${formatCount(reply.n)} models` : `${formatCount(reply.n)} selected`;
    const whoInFull = reply.all ? `all ${reply.n.toLocaleString()} models` : `${reply.n.toLocaleString()} selected`;
    status.textContent = reply.stale ? ` — saved selection (${who}); open in Jupyter to fetch others` : ` — ${who}`;
    status.title = whoInFull;
    const sampled = sampleNote(reply);
    if (sampled) status.textContent += ` (${sampled})`;

    const summary = el("div", "miwd-gallery-summary");
    // Captions are measured in the gallery's font (bold ids are a little wider: CSS still
    // ellipsizes a line that overflows, and the full label is on hover).
    const measure = textMeasurer(getComputedStyle(body).font || "12px sans-serif", 12);
    const makeTile = (
      label: string,
      data: Float32Array,
      offset: number,
      domain: ColorDomain,
      cls: string,
      hover = label,
    ) => {
      const tile = el("figure", `miwd-tile ${cls}`);
      const canvas = el("canvas", "miwd-descriptor");
      paintDescriptor(canvas, data, offset, S, B, domain);
      // The top of the tile's color scale, read by the browser tests (and on hover).
      tile.dataset.vmax = String(domain.vmax);
      const caption = el("figcaption");
      for (const line of captionLines(label, measure)) caption.append(el("div", "", line));
      caption.title = hover;
      canvas.title = `color scale 0 … ${formatNumber(Number(domain.vmax.toPrecision(2)))}${domain.clipped ? "+" : ""}`;
      tile.append(canvas, caption);
      return tile;
    };
    const meanTile = makeTile(`mean\n${who}`, reply.mean, 0, domains.mean, "miwd-mean", `mean\n${whoInFull}`);
    if (sampled) meanTile.title = sampled;
    meanTile.append(colorBar(domains.mean, "density"));
    const stdTile = makeTile(`std\n${who}`, reply.std, 0, domains.std, "miwd-std", `std\n${whoInFull}`);
    stdTile.append(colorBar(domains.std, "std"));
    const axes = el("div", "miwd-gallery-axes");
    const vr = reply.value_range;
    axes.append(
      el("div", "", `rows: ${S} windows, input → output layers (top → bottom)`),
      el(
        "div",
        "",
        // No line break inside the range ("-1" on one line, "… 1" on the next).
        `columns: ${B} bins of weight value${vr ? `, ${formatNumber(vr[0])}\u00a0…\u00a0${formatNumber(vr[1])}` : ""}`,
      ),
    );
    if (reply.k > 0) axes.append(tileScaleBar(domains));
    summary.append(meanTile, stdTile, axes);
    body.append(summary);

    const grid = el("div", "miwd-gallery-grid");
    reply.indices.forEach((row, i) => {
      const domain = domains.tiles[i] ?? domains.mean;
      const tile = makeTile(reply.labels[i] ?? String(row), reply.descriptors, i * S * B, domain, "miwd-item");
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
      const more = el("div", "miwd-note", `showing ${reply.k} of ${formatCount(reply.n)}`);
      more.title = `showing ${reply.k} of ${reply.n.toLocaleString()}`;
      grid.append(more);
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
  const scaleButtonOff = listen(scaleButton, "click", toggleScale);
  fetchNow();

  return {
    refresh: fetchNow,
    destroy() {
      destroyed = true;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
      for (const remove of removers) remove();
      button.remove();
      scaleButtonOff();
      root.remove();
    },
  };
}
