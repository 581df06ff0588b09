/**
 * The atlas: a WebGL scatter (regl-scatterplot) with pan/zoom, lasso, click and shift-click,
 * color by any sent column (legend / color bar), tooltips and the markers of located models.
 */
import { scaleLinear } from "d3-scale";
import createScatterplot, { createRenderer } from "regl-scatterplot";
import { encodeColors, FADE, type PointPaint, pointPaints, pointStyleFor } from "../draw/coloring";
import { el, fitCanvas, listen, type Theme, watchMainButton } from "../draw/dom";
import { afterPaint, BRUSH_REST_MS, frameTask, type RenderGate, renderGate, restTask } from "../draw/frame";
import { drawLocated, type Located } from "../draw/located";
import { type Neighbors, neighborsAsLocated } from "../draw/neighbors";
import { connectionData, type Paths, pathColors } from "../draw/paths";
import { type SelectionStore, sameIndices } from "../selection";
import type { Column } from "../wire/columns";
import { bindLasso, combineSorted, type LassoMode, nearestPoint, pointsInPolygon } from "./lasso";
import { renderLegend } from "./legend";
import { refreshTooltip, showTooltip } from "./tooltip";

type Scatterplot = ReturnType<typeof createScatterplot>;
type ScatterplotProperties = NonNullable<Parameters<typeof createScatterplot>[0]>;
type Renderer = ReturnType<typeof createRenderer>;
type LinearScale = ReturnType<typeof scaleLinear<number, number>>;
/** regl-scatterplot reads `actionKeyMap`; its types still declare only the deprecated `keyMap`. */
type ActionKeyMap = Partial<Record<"lasso" | "merge" | "remove" | "rotate", "alt" | "cmd" | "ctrl" | "meta" | "shift">>;

interface ScatterOptions {
  parent: HTMLElement;
  n: number;
  coordinates: Float32Array; // (n, 2) interleaved, raw atlas units
  store: SelectionStore;
  columns: () => Map<string, Column>;
  tooltipColumns: () => string[];
  color: string;
  theme: Theme;
  onColorChange: (name: string) => void;
  /** Every column the color menu offers (those not sent yet are fetched when chosen). */
  colorOptions: () => string[];
  /** Training paths of a snapshot library, null when there are none. */
  paths: Paths | null;
  /** A click on one point (also in path mode, where it selects the point's whole path). */
  onPick?: (row: number) => void;
  /** Called once, when every point has been drawn for the first time. */
  onDrawn?: () => void;
}

interface ScatterView {
  setColor(name: string): void;
  setColumns(): void;
  setLocated(located: Located | null): void;
  setNeighbors(neighbors: Neighbors | null): void;
  /** Refill the color menu (the options changed, e.g. the first cluster was kept). */
  setColorOptions(): void;
  setTheme(theme: Theme): void;
  /** Fill an open tooltip again when a column it waits for ("…") has arrived. */
  refreshTooltip(): void;
  resize(width: number, height: number): void;
  destroy(): void;
}

/** Map atlas coordinates into [-0.95, 0.95] keeping the aspect ratio (one scale for x and y). */
export function normalizeCoordinates(coords: Float32Array, n: number) {
  let xmin = Number.POSITIVE_INFINITY;
  let xmax = Number.NEGATIVE_INFINITY;
  let ymin = Number.POSITIVE_INFINITY;
  let ymax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = coords[2 * i];
    const y = coords[2 * i + 1];
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  const cx = n ? (xmin + xmax) / 2 : 0;
  const cy = n ? (ymin + ymax) / 2 : 0;
  const half = Math.max(xmax - xmin, ymax - ymin, 1e-9) / 2;
  const scale = 0.95 / half;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = (coords[2 * i] - cx) * scale;
    y[i] = (coords[2 * i + 1] - cy) * scale;
  }
  const map = (px: number, py: number): [number, number] => [(px - cx) * scale, (py - cy) * scale];
  return { x, y, map };
}

/** "N models" or "k of N selected". */
export function countText(selected: number, n: number): string {
  return selected ? `${selected.toLocaleString()} of ${n.toLocaleString()} selected` : `${n.toLocaleString()} models`;
}

function button(className: string, text: string, title?: string): HTMLButtonElement {
  const node = el("button", className, text);
  node.type = "button";
  if (title) node.title = title;
  return node;
}

/** The view's DOM: toolbar (lasso, reset, clear, color select, count) and the stage. */
function buildDom(parent: HTMLElement) {
  const root = el("div", "miwd-scatter");
  root.dataset.testid = "miwd-scatter";
  const lassoButton = button(
    "miwd-lasso-toggle",
    "Lasso",
    "Toggle lasso selection (otherwise drag pans, wheel zooms; shift+drag lassos)",
  );
  lassoButton.setAttribute("aria-pressed", "false");
  lassoButton.dataset.testid = "miwd-lasso-toggle";
  const resetButton = button("miwd-reset-view", "Reset view");
  const clearButton = button(
    "miwd-clear-selection",
    "Clear",
    "Clear the selection (also: double-click on empty space)",
  );
  const colorLabel = el("label", "miwd-color-label", "Color ");
  const colorSelect = el("select", "miwd-color-select");
  colorSelect.dataset.testid = "miwd-color-select";
  colorLabel.append(colorSelect);
  const pathsButton = button(
    "miwd-paths-toggle",
    "Paths",
    "Show each model's training path (its snapshots by epoch, light to dark); a click selects a whole path",
  );
  pathsButton.dataset.testid = "miwd-paths-toggle";
  pathsButton.hidden = true;
  const count = el("span", "miwd-count");
  count.dataset.testid = "miwd-count";
  const toolbar = el("div", "miwd-toolbar");
  toolbar.append(lassoButton, resetButton, clearButton, pathsButton, colorLabel, count);

  const stage = el("div", "miwd-stage");
  const canvas = el("canvas", "miwd-scatter-canvas");
  canvas.dataset.testid = "miwd-scatter-canvas";
  const overlay = el("canvas", "miwd-overlay");
  const lassoCanvas = el("canvas", "miwd-lasso-canvas");
  const tooltip = el("div", "miwd-tooltip");
  tooltip.hidden = true;
  const legend = el("div", "miwd-legend");
  legend.dataset.testid = "miwd-legend";
  stage.append(canvas, overlay, lassoCanvas, legend, tooltip);
  root.append(toolbar, stage);
  parent.append(root);
  return {
    root,
    lassoButton,
    resetButton,
    clearButton,
    pathsButton,
    colorSelect,
    count,
    stage,
    canvas,
    overlay,
    lassoCanvas,
    tooltip,
    legend,
  };
}

/** The data domain of the scatter's scales (coordinates are normalized into [-1, 1]). */
function baseScale(): LinearScale {
  return scaleLinear().domain([-1, 1]);
}

function themeProperties(theme: Theme) {
  return {
    backgroundColor: theme.background,
    lassoColor: theme.accent,
    pointColorActive: theme.accent,
    pointColorHover: theme.foreground,
    reticleColor: theme.foreground,
  };
}

/**
 * regl-scatterplot on `canvas`, with its own renderer (WebGL context): `destroy` releases
 * the context at once instead of leaving it to the garbage collector (browsers cap the
 * number of live contexts, and a notebook re-renders views often).
 */
function createGl(canvas: HTMLCanvasElement, width: number, height: number, n: number, theme: Theme) {
  // Its own drawing canvas at the scatter's size: by default the renderer draws into a
  // canvas (and framebuffer) of the whole window, which in software WebGL cost a tenth of a
  // second to allocate and more fill per frame than the points need.
  const dpr = window.devicePixelRatio || 1;
  const glCanvas = document.createElement("canvas");
  glCanvas.width = Math.round(width * dpr);
  glCanvas.height = Math.round(height * dpr);
  const renderer: Renderer = createRenderer({ canvas: glCanvas });
  const style = pointStyleFor(n);
  const properties: ScatterplotProperties & { actionKeyMap: ActionKeyMap } = {
    renderer,
    canvas,
    width,
    height,
    xScale: baseScale(),
    yScale: baseScale(),
    pointSize: style.size,
    pointSizeSelected: 1,
    pointOutlineWidth: 1.5,
    opacity: style.opacity,
    // Many points: the opacity follows the number of points in view (regl-scatterplot's
    // density mode: zoomed out, a million points stay clusters instead of one blob; zoomed
    // in, they become opaque), and the point size grows with the zoom (asinh scale).
    // ("density" is a valid opacityBy at run time; the package's types omit it.)
    ...(style.byDensity
      ? ({ opacityBy: "density", opacityByDensityFill: 0.2 } as unknown as Partial<ScatterplotProperties>)
      : {}),
    pointScaleMode: "asinh",
    // A selection fades the other points. At a fixed opacity they are greyed and each color
    // fades only as far as it keeps 3:1 (opacity by category, pointPaints: set in draw and
    // when a selection starts or ends); by density, regl-scatterplot scales their opacity.
    opacityInactiveScale: style.byDensity ? FADE : 1,
    ...themeProperties(theme),
    showReticle: false,
    lassoInitiator: false,
    lassoOnLongPress: false,
    lassoMinDelay: 10,
    lassoMinDist: 3,
    deselectOnDblClick: true,
    // regl-scatterplot listens for Escape on window: in Jupyter that key leaves edit mode
    // anywhere on the page, and must not clear every atlas's selection.
    deselectOnEscape: false,
    // Always pan/zoom: the lasso is our own (lasso.ts), also for shift+drag.
    mouseMode: "panZoom",
    // shift = "add": shift+click adds a point (shift+drag lassos, lasso.ts).
    actionKeyMap: { merge: "shift", remove: "alt" },
    colorBy: "valueA",
    // Events in the same task: by default regl-scatterplot publishes "select" in a
    // setTimeout, and at a million points in software WebGL an animation frame (~1 s) ran
    // first, so a lasso reached the store (and Python) one whole frame late.
    syncEvents: true,
  };
  const scatterplot: Scatterplot = createScatterplot(properties);
  // regl-scatterplot calls renderer.render(...) on every frame it draws: timed here, and
  // held back for a moment right after a selection was sent (see renderGate).
  const gate: RenderGate<Parameters<Renderer["render"]>> = renderGate(renderer.render, () => scatterplot.redraw());
  renderer.render = gate.render;
  const destroy = () => {
    gate.destroy();
    const gl = renderer.regl?._gl;
    scatterplot.destroy(); // leaves a renderer it was given alone
    renderer.destroy();
    gl?.getExtension("WEBGL_lose_context")?.loseContext();
  };
  return { scatterplot, gate, renderer, destroy, style };
}

/**
 * regl-scatterplot's colors and opacities for points painted as `paints` (pointPaints), faded
 * or not; by density only the colors at rest (its opacity follows the density).
 */
export function paintProperties(
  paints: { rest: PointPaint; faded: PointPaint },
  faded: boolean,
  byDensity: boolean,
): Partial<ScatterplotProperties> {
  const paint = faded && !byDensity ? paints.faded : paints.rest;
  return {
    pointColor: paint.colors,
    // Selected and hovered points in their colors at rest: regl-scatterplot takes them from
    // these lists (one color per palette entry), else from pointColor, faded or not. (Lists
    // are valid at run time; the package's types take one color.)
    ...({
      pointColorActive: paints.rest.colors,
      pointColorHover: paints.rest.colors,
    } as unknown as Partial<ScatterplotProperties>),
    ...(byDensity ? {} : { opacityBy: "valueZ" as const, opacity: paint.opacities }),
  };
}

type Dom = ReturnType<typeof buildDom>;
type Size = { width: number; height: number };

/** Size the 2-D overlay to the stage and draw the located models' markers on it. */
function paintOverlay(
  overlay: HTMLCanvasElement,
  size: Size,
  markers: (Located | null)[],
  scatterplot: Scatterplot,
  points: ReturnType<typeof normalizeCoordinates>,
  theme: Theme,
): void {
  const ctx = fitCanvas(overlay, size.width, size.height, window.devicePixelRatio || 1, {
    willReadFrequently: true,
  });
  if (!ctx) return;
  if (!markers.some((m) => m !== null)) return;
  const xs = scatterplot.get("xScale") as LinearScale;
  const ys = scatterplot.get("yScale") as LinearScale;
  const { x, y, map } = points;
  const project = {
    query: (qx: number, qy: number): [number, number] => {
      const [mx, my] = map(qx, qy);
      return [xs(mx), ys(my)];
    },
    row: (i: number): [number, number] => [xs(x[i]), ys(y[i])],
  };
  for (const located of markers) if (located) drawLocated(ctx, located, project, theme);
}

/** Above this many points the first frames draw a spread sample of them, then all points. */
export const PREVIEW_ABOVE = 200_000;
/** About this many points are in that first, preview draw. */
export const PREVIEW_POINTS = 100_000;

/** The rows regl-scatterplot draws: a preview sample (`rows`) or, once null, all of them. */
export interface Preview {
  rows: Int32Array | null;
  toRow(index: number): number;
}

/**
 * A regular stride of rows (every k-th, from row 0): spread over the whole library, so the
 * preview shows every region of the atlas in proportion; null when all rows fit.
 */
export function previewRows(n: number, points = PREVIEW_POINTS, above = PREVIEW_ABOVE): Int32Array | null {
  if (n <= above) return null;
  const step = Math.ceil(n / points);
  const rows = new Int32Array(Math.ceil(n / step));
  for (let k = 0; k < rows.length; k++) rows[k] = k * step;
  return rows;
}

function pickRows<T extends Float32Array | Uint8Array | Uint16Array | Int32Array>(values: T, rows: Int32Array): T {
  const out = new (values.constructor as new (length: number) => T)(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = values[rows[k]];
  return out;
}

/** A frame slower than this (ms) is too slow to follow a brush drag or to precede a send. */
export const SLOW_RENDER_MS = 50;
/** How long a slow frame waits after a selection was sent (the message leaves first). */
export const SEND_HOLD_MS = 120;

/**
 * scatter -> store on select/deselect; store -> scatter (and the count) for other sources.
 * The highlight of a selection made elsewhere is drawn in the next animation frame (after
 * the selection went to Python), once for a burst of changes. When a frame is slow (a
 * million points in software WebGL take about a second), every selection first holds the
 * next frame back briefly so its message leaves, and a brush drag updates only the count
 * while it moves: the points are highlighted once it rests, so the parallel coordinates
 * keep following the brush.
 */
function bindSelection(
  scatterplot: Scatterplot,
  gate: Pick<RenderGate<unknown[]>, "hold" | "lastMs">,
  store: SelectionStore,
  onChange: () => void,
  expandClick: (row: number) => Int32Array | null,
  onPick: (row: number) => void,
  drawn: Preview,
): (() => void)[] {
  const selectSub = scatterplot.subscribe("select", ({ points: picked }) => {
    const points = drawn.rows ? picked.map((i) => drawn.toRow(i)) : picked;
    // A click on a path point selects the whole path ("path": the scatter redraws it).
    const path = points.length === 1 ? expandClick(points[0]) : null;
    if (path) store.set(path, "path");
    else store.set(points, drawn.rows ? "lasso" : "scatter"); // a preview's pick: highlighted later
    if (points.length === 1) onPick(points[0]);
  });
  const deselectSub = scatterplot.subscribe("deselect", () => store.set([], "scatter"));
  let highlight: Int32Array | null = null; // to draw, null: the scatter shows the store
  let resting = false; // a brushed highlight waits for the drag to rest
  // ... and for the button's release: a mouse held still longer than the rest (a slow
  // drag) must not start a second-long frame in the middle of it.
  const button = watchMainButton();
  const frame = frameTask(() => {
    onChange();
    if (highlight === null || resting || drawn.rows) return; // the full draw selects the store's
    const selection = highlight;
    highlight = null;
    if (selection.length === 0) scatterplot.deselect({ preventEvent: true });
    else scatterplot.select(Array.from(selection), { preventEvent: true });
  });
  let waits = 0; // a release missed (outside the window) must not hold the highlight forever
  const rest = restTask(() => {
    if (button.pressed && ++waits < 10) {
      rest.schedule();
      return;
    }
    waits = 0;
    resting = false;
    frame.schedule();
  }, BRUSH_REST_MS);
  return [
    () => scatterplot.unsubscribe(selectSub),
    () => scatterplot.unsubscribe(deselectSub),
    () => frame.cancel(),
    () => rest.cancel(),
    () => button.remove(),
    store.subscribe((selection, source) => {
      const slow = gate.lastMs > SLOW_RENDER_MS;
      if (slow) gate.hold(SEND_HOLD_MS);
      highlight = source === "scatter" ? null : selection;
      resting = slow && source === "parallel";
      if (resting) rest.schedule();
      else rest.cancel();
      frame.schedule();
    }),
  ];
}

/** Tooltip on hover, highlight of rows hovered in other views (gallery), overlay on pan/zoom. */
function bindHover(
  scatterplot: Scatterplot,
  dom: Dom,
  store: SelectionStore,
  tooltipFor: (index: number, pos: readonly [number, number]) => void,
  onView: () => void,
  drawn: Preview,
): (() => void)[] {
  let pointer: [number, number] | null = null;
  const show = (index: number) => tooltipFor(index, scatterplot.getScreenPosition(index) ?? pointer ?? [0, 0]);
  // Hover waits for the full draw (a preview's indices are not rows; it lasts a moment).
  const overSub = scatterplot.subscribe("pointOver", (index) => drawn.rows || show(index));
  const outSub = scatterplot.subscribe("pointOut", () => {
    dom.tooltip.hidden = true;
  });
  const viewSub = scatterplot.subscribe("view", () => onView());
  return [
    () => scatterplot.unsubscribe(overSub),
    () => scatterplot.unsubscribe(outSub),
    () => scatterplot.unsubscribe(viewSub),
    listen(dom.canvas, "mousemove", (e) => {
      const r = dom.canvas.getBoundingClientRect();
      pointer = [e.clientX - r.left, e.clientY - r.top];
    }),
    store.hover.on((index) => {
      if (drawn.rows) return;
      if (index === null) {
        scatterplot.hover(-1, { preventEvent: true });
        dom.tooltip.hidden = true;
      } else {
        scatterplot.hover(index, { showReticleOnce: true, preventEvent: true });
        show(index);
      }
    }),
  ];
}

/** "(none)" plus one option per column, `selected` chosen. */
function fillColorSelect(select: HTMLSelectElement, names: Iterable<string>, selected: string): void {
  const none = el("option", "", "(none)");
  none.value = "";
  const options = [...names].map((name) => {
    const option = el("option", "", name);
    option.value = name;
    return option;
  });
  select.replaceChildren(none, ...options);
  select.value = selected;
}

/** Lasso toggle, reset view and clear buttons. */
function bindButtons(scatterplot: Scatterplot, dom: Dom, store: SelectionStore): (() => void)[] {
  const setLassoMode = (on: boolean) => {
    dom.lassoButton.setAttribute("aria-pressed", String(on));
    dom.lassoButton.classList.toggle("miwd-active", on);
    dom.root.classList.toggle("miwd-lasso-mode", on);
  };
  return [
    listen(dom.lassoButton, "click", () => setLassoMode(dom.lassoButton.getAttribute("aria-pressed") !== "true")),
    listen(dom.resetButton, "click", () => void scatterplot.reset()),
    listen(dom.clearButton, "click", () => store.set([], "toolbar")),
  ];
}

export function createScatter(opts: ScatterOptions): ScatterView {
  const { n, store } = opts;
  const dom = buildDom(opts.parent);
  const points = normalizeCoordinates(opts.coordinates, n);
  const size: Size = { width: Math.max(200, opts.parent.clientWidth || 600), height: 460 };
  let theme = opts.theme;
  let colorName = opts.color;
  let located: Located | null = null;
  let neighbors: Located | null = null;
  const paths = opts.paths;
  let showPaths = paths !== null;
  const gl = createGl(dom.canvas, size.width, size.height, n, theme);
  const { scatterplot } = gl;
  // The points' colors and opacities at rest and faded (by density: colors only, createGl).
  let paints: { rest: PointPaint; faded: PointPaint } | null = null;
  let faded = store.size > 0;
  const paintNow = () => (paints ? paintProperties(paints, faded, gl.style.byDensity) : {});
  const drawOverlay = () => paintOverlay(dom.overlay, size, [located, neighbors], scatterplot, points, theme);
  const pathConnections = paths ? connectionData(paths) : null;

  // A million points take seconds to draw in software WebGL: the first frames show a spread
  // sample of them (regl-scatterplot then holds only those; its indices map through
  // `rows`), the next all of them. The lasso works on all points throughout (lasso.ts).
  const preview: Preview = {
    rows: previewRows(n),
    toRow(index) {
      return this.rows ? this.rows[index] : index;
    },
  };
  dom.root.dataset.preview = String(preview.rows?.length ?? 0);
  // regl-scatterplot rejects overlapping draw calls: chain them.
  let drawing: Promise<void> = Promise.resolve();
  let drawnOnce = false;
  let destroyed = false;
  const draw = () => {
    const encoding = encodeColors(opts.columns().get(colorName), n, theme.background);
    const drawnPaints = pointPaints(encoding.palette, theme.background, gl.style.opacity);
    renderLegend(dom.legend, encoding.legend);
    drawing = drawing
      .then(async () => {
        const rows = preview.rows;
        paints = drawnPaints; // from now on, a selection fades these
        if (rows) {
          // set() applies the colours at once; its promise waits for a frame: not before a draw.
          void scatterplot.set({ ...paintNow(), showPointConnections: false }).catch(() => {});
          const sample = {
            x: pickRows(points.x, rows),
            y: pickRows(points.y, rows),
            z: pickRows(encoding.codes, rows),
          };
          await scatterplot.draw(sample, { zDataType: "categorical" });
          await new Promise<void>((resolve) => afterPaint(resolve));
          if (destroyed) return;
        }
        void scatterplot.set({ ...paintNow(), showPointConnections: showPaths }).catch(() => {});
        const data = { x: points.x, y: points.y, z: encoding.codes };
        // Paths: regl-scatterplot connects points by a 5th (line) and 6th (order) component,
        // which it reads only when a 4th (w) is there too. It then builds its point arrays
        // with `x.map(...)`, which on a Float32Array yields NaNs: x goes in as a plain array.
        const connected =
          showPaths && pathConnections
            ? { ...data, x: Array.from(points.x), w: encoding.codes, ...pathConnections }
            : data;
        const chosen = store.get();
        await scatterplot.draw(connected, { zDataType: "categorical", select: Array.from(chosen) });
        // regl-scatterplot held the sample until now (its picks map through `rows`).
        preview.rows = null;
        // A selection made while it drew (its spatial index is built in a worker at a
        // million points) would otherwise lose its highlight to the one drawn with.
        const now = store.get();
        if (!sameIndices(now, chosen)) {
          if (now.length === 0) scatterplot.deselect({ preventEvent: true });
          else scatterplot.select(Array.from(now), { preventEvent: true });
        }
        dom.root.dataset.paths = String(showPaths && paths ? paths.count : 0);
        dom.root.dataset.preview = "0";
        drawOverlay();
        if (!drawnOnce) {
          drawnOnce = true;
          opts.onDrawn?.();
        }
      })
      .catch((err) => console.error("miwd-widget: scatter draw failed", err));
  };
  const updateCount = () => {
    dom.count.textContent = countText(store.size, n);
  };
  const tooltipFor = (index: number, pos: readonly [number, number]) =>
    showTooltip(dom.tooltip, index, opts.columns(), opts.tooltipColumns(), pos, size);
  const onColorSelect = () => {
    colorName = dom.colorSelect.value;
    opts.onColorChange(colorName);
    draw();
  };
  const expandClick = (row: number): Int32Array | null => {
    if (!showPaths || !paths) return null;
    const line = paths.line[row];
    if (line < 0) return null;
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (paths.line[i] === line) rows.push(i);
    return Int32Array.from(rows);
  };
  const togglePaths = () => {
    showPaths = !showPaths;
    dom.pathsButton.setAttribute("aria-pressed", String(showPaths));
    dom.pathsButton.classList.toggle("miwd-active", showPaths);
    draw();
  };
  if (paths) {
    dom.pathsButton.hidden = false;
    dom.pathsButton.setAttribute("aria-pressed", "true");
    dom.pathsButton.classList.add("miwd-active");
    dom.pathsButton.title += ` (${paths.count.toLocaleString()} paths)`;
    void scatterplot.set({
      pointConnectionColorBy: "segment",
      pointConnectionColor: pathColors(theme.background),
      pointConnectionOpacity: 0.6,
      pointConnectionSize: 1.5,
    } as Partial<ScatterplotProperties>);
  }
  /** A lasso or a lasso-mode click, combined with the selection as its keys say. */
  const lassoSelect = (rows: Int32Array, mode: LassoMode) => {
    const next = mode === "replace" ? rows : combineSorted(store.get(), rows, mode);
    store.set(next, "lasso");
  };
  const scales = () => ({
    xs: scatterplot.get("xScale") as LinearScale,
    ys: scatterplot.get("yScale") as LinearScale,
  });
  const removeLasso = bindLasso({
    stage: dom.stage,
    frame: dom.canvas,
    canvas: dom.lassoCanvas,
    active: () => dom.lassoButton.getAttribute("aria-pressed") === "true",
    toData: (sx, sy) => {
      const { xs, ys } = scales();
      return [xs.invert(sx), ys.invert(sy)];
    },
    unitsPerPixel: () => {
      const { xs } = scales();
      const [d0, d1] = xs.domain();
      const [r0, r1] = xs.range();
      return Math.abs((d1 - d0) / (r1 - r0 || 1));
    },
    // The drawn radius: regl-scatterplot's asinh point scale grows the points when zoomed in.
    pointRadius: () => {
      const size = pointStyleFor(n).size;
      const [d0, d1] = scales().xs.domain();
      const zoom = 2 / Math.abs(d1 - d0 || 2);
      return (size * (zoom > 1 ? Math.asinh(zoom) / Math.asinh(1) : Math.max(1 / size, zoom))) / 2;
    },
    color: () => theme.accent,
    onStart: () => {
      dom.tooltip.hidden = true;
    },
    onLasso: (polygon, mode) => lassoSelect(pointsInPolygon(points.x, points.y, polygon), mode),
    onClick: (x, y, radius, mode) => {
      const row = nearestPoint(points.x, points.y, x, y, radius);
      if (row < 0) return;
      lassoSelect(expandClick(row) ?? Int32Array.of(row), mode); // a path point: its whole path
      if (mode !== "remove") opts.onPick?.(row);
    },
  });
  const removers = [
    removeLasso,
    ...bindSelection(scatterplot, gl.gate, store, updateCount, expandClick, (row) => opts.onPick?.(row), preview),
    ...bindHover(scatterplot, dom, store, tooltipFor, drawOverlay, preview),
    ...bindButtons(scatterplot, dom, store),
    listen(dom.colorSelect, "change", onColorSelect),
    listen(dom.pathsButton, "click", togglePaths),
    // A selection made or cleared: the other points fade, or come back.
    store.subscribe((selection) => {
      if (faded === selection.length > 0 || gl.style.byDensity) return;
      faded = selection.length > 0;
      void scatterplot.set(paintNow()).catch(() => {});
    }),
  ];

  /** The stage and the canvas at the scatter's size (CSS pixels). */
  function styleSize() {
    dom.stage.style.height = `${size.height}px`;
    dom.canvas.style.width = `${size.width}px`;
    dom.canvas.style.height = `${size.height}px`;
  }

  function resize(w: number, h: number) {
    size.width = Math.max(200, Math.floor(w));
    size.height = Math.max(200, Math.floor(h));
    styleSize();
    // Never smaller than the scatter: regl-scatterplot scales its frame by the ratio.
    gl.renderer.resize(size.width, size.height);
    // regl-scatterplot applies a new size's aspect ratio one frame later without updating
    // its scales (the overlay's projection): fresh scales of the same base domain then make
    // it compute them from the current camera, and the markers are drawn again.
    void scatterplot
      .set({ width: size.width, height: size.height })
      .then(() => scatterplot.set({ xScale: baseScale(), yScale: baseScale() }))
      .then(drawOverlay);
    drawOverlay();
  }

  fillColorSelect(dom.colorSelect, opts.colorOptions(), colorName);
  updateCount();
  // The renderer and regl-scatterplot were made at this size (createGl): resizing them again
  // here reset the drawing buffer and waited two frames before the first one with points.
  styleSize();
  drawOverlay();
  draw();

  return {
    setColor(name) {
      if (name === colorName) return;
      colorName = name;
      dom.colorSelect.value = name;
      draw();
    },
    setColumns() {
      fillColorSelect(dom.colorSelect, opts.colorOptions(), colorName);
      draw();
    },
    setLocated(value) {
      located = value;
      drawOverlay();
    },
    setNeighbors(value) {
      neighbors = value ? neighborsAsLocated(value, opts.coordinates) : null;
      drawOverlay();
    },
    setColorOptions() {
      fillColorSelect(dom.colorSelect, opts.colorOptions(), colorName);
    },
    setTheme(next) {
      theme = next;
      void scatterplot.set({
        ...themeProperties(next),
        ...(paths ? { pointConnectionColor: pathColors(next.background) } : {}),
      } as Partial<ScatterplotProperties>);
      draw(); // point colors are fitted to the background (3:1 contrast)
    },
    refreshTooltip() {
      refreshTooltip(dom.tooltip, opts.columns(), opts.tooltipColumns(), size);
    },
    resize,
    destroy() {
      destroyed = true;
      for (const remove of removers) remove();
      gl.destroy(); // releases the WebGL context
      dom.root.remove();
    },
  };
}
