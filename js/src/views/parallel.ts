/**
 * Parallel coordinates on a 2-D canvas with axes and d3-brush brushes on an SVG overlay.
 * Brushing narrows the selection. Up to a few thousand lines are drawn one by one; beyond,
 * the lines between neighbouring axes are drawn as binned density (density.ts), whose cost
 * does not grow with the rows: the library as a faint layer, the selection on top. Redraws
 * run once per animation frame, after the selection was sent to Python.
 */
import { type BrushBehavior, brushY, type D3BrushEvent } from "d3-brush";
import { type ScaleContinuousNumeric, scaleLinear, scaleLog, scalePoint } from "d3-scale";
import { type Selection, select } from "d3-selection";
import { encodeColors } from "../draw/coloring";
import { type BinnedAxis, binCategorical, binNumeric, pairHistogram, strokeDensity } from "../draw/density";
import { el, type Theme } from "../draw/dom";
import { afterPaint, BRUSH_REST_MS, frameTask, restTask } from "../draw/frame";
import { fitLabel, timeTicks } from "../draw/labels";
import type { SelectionStore } from "../selection";
import { type Column, type DrawnColumn, formatValue, isDrawn } from "../wire/columns";
import { type BrushRange, BrushSession, categoriesInExtent } from "./brush";

/** Selections up to this many rows are drawn line by line (colored); larger ones as density. */
export const MAX_EXACT_LINES = 4000;
/**
 * While a brush moves, selections above this many rows are drawn as density: a few thousand
 * translucent polylines take ~80 ms on the 2-D canvas, too slow to follow the drag. The
 * exact lines come back once the brush rests (`BRUSH_REST_MS`).
 */
export const MAX_DRAG_LINES = 1000;
/** The faint whole-library layer: line by line up to this many rows, else density. */
export const MAX_EXACT_BACKGROUND = 8000;
const MARGIN = { top: 30, right: 64, bottom: 16, left: 24 };
const FONT_SIZE_PX = 11; // as in styles.css (.miwd-parallel-svg text)
const SVG_NS = "http://www.w3.org/2000/svg";

interface ParallelOptions {
  parent: HTMLElement;
  n: number;
  store: SelectionStore;
  columns: () => Map<string, Column>;
  axes: string[];
  color: string;
  theme: Theme;
}

interface ParallelView {
  setAxes(axes: string[]): void;
  setColor(name: string): void;
  setTheme(theme: Theme): void;
  resize(width: number): void;
  destroy(): void;
}

interface AxisBase {
  name: string;
  x: number;
  /** Pixel y of a row on this axis; NaN when its value is missing. */
  y: (row: number) => number;
}
interface NumericAxis extends AxisBase {
  kind: "numeric";
  column: Extract<DrawnColumn, { kind: "numeric" }>;
  scale: ScaleContinuousNumeric<number, number>;
}
interface CategoricalAxis extends AxisBase {
  kind: "categorical";
  column: Extract<DrawnColumn, { kind: "categorical" }>;
  /** Pixel y of each category code. */
  positions: Float64Array;
}
type Axis = NumericAxis | CategoricalAxis;

/** Every row of one axis in density bins (positions 0 = bottom .. 1 = top of the axis). */
export function binAxisRows(axis: Axis, height: number): BinnedAxis {
  if (axis.kind === "numeric") {
    const { values, min, max, log } = axis.column;
    return binNumeric(values, min, max > min ? max : min + 1, log);
  }
  const bottom = height - MARGIN.bottom;
  const span = bottom - MARGIN.top;
  const units = Float64Array.from(axis.positions, (p) => (bottom - p) / span);
  return binCategorical(axis.column.codes, units);
}

/**
 * One vertical axis per usable column name (those the columns map has), evenly spread over
 * `width` (centred when alone): a linear or log scale, or one position per category.
 */
export function layoutAxes(
  columns: Map<string, Column>,
  names: readonly string[],
  width: number,
  height: number,
): Axis[] {
  const usable = names.filter((a) => isDrawn(columns.get(a)));
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const bottom = height - MARGIN.bottom;
  const step = usable.length > 1 ? (right - left) / (usable.length - 1) : 0;
  return usable.map((name, i): Axis => {
    const column = columns.get(name) as DrawnColumn;
    const x = usable.length > 1 ? left + i * step : (left + right) / 2;
    if (column.kind === "numeric") {
      const lo = column.min;
      const hi = column.max > column.min ? column.max : column.min + 1;
      const scale = (column.log ? scaleLog() : scaleLinear()).domain([lo, hi]).range([bottom, MARGIN.top]);
      const values = column.values;
      const y = (row: number) => {
        const v = values[row];
        return Number.isFinite(v) && (!column.log || v > 0) ? scale(v) : Number.NaN;
      };
      return { kind: "numeric", name, column, x, scale, y };
    }
    const scale = scalePoint<number>()
      .domain(column.categories.map((_, c) => c))
      .range([bottom, MARGIN.top])
      .padding(0.5);
    const positions = Float64Array.from(column.categories, (_, c) => scale(c) ?? Number.NaN);
    const codes = column.codes;
    return { kind: "categorical", name, column, x, positions, y: (row) => positions[codes[row]] };
  });
}

/** Tick positions and labels: nice ticks, powers of ten on log axes, <= 12 categories. */
export function axisTicks(axis: Axis): { y: number; text: string }[] {
  if (axis.kind === "numeric") {
    const { column } = axis;
    const values = column.log
      ? logTicks(column.min, column.max)
      : column.time
        ? timeTicks(column.min, column.max)
        : axis.scale.ticks(5);
    return values.map((v) => ({ y: axis.scale(v), text: formatValue(column, v) })); // dates, integers
  }
  const every = Math.max(1, Math.ceil(axis.column.categories.length / 12));
  return axis.column.categories
    .map((text, code) => ({ y: axis.positions[code], text }))
    .filter((_, code) => code % every === 0);
}

/** Pixel extent of a brush range on its axis (null: no category of it is on the axis). */
export function extentOf(axis: Axis, range: BrushRange): [number, number] | null {
  if (range.kind === "numeric") {
    if (axis.kind !== "numeric") return null;
    const a = axis.scale(range.hi);
    const b = axis.scale(range.lo);
    return [Math.min(a, b), Math.max(a, b)];
  }
  if (axis.kind !== "categorical") return null;
  const ys = [...range.codes].map((c) => axis.positions[c] ?? Number.NaN).filter(Number.isFinite);
  if (!ys.length) return null;
  return [Math.min(...ys) - 4, Math.max(...ys) + 4];
}

/** The brush range of a brushed pixel extent (null: the brush was cleared). */
export function rangeOf(axis: Axis, extent: [number, number] | null): BrushRange | null {
  if (!extent) return null;
  const [y0, y1] = extent;
  if (axis.kind === "numeric") {
    const a = axis.scale.invert(y0);
    const b = axis.scale.invert(y1);
    return { kind: "numeric", lo: Math.min(a, b), hi: Math.max(a, b) };
  }
  return { kind: "categorical", codes: categoriesInExtent(axis.positions, y0, y1) };
}

/** One polyline per row of `rows` (null: rows 0..count-1), broken where a value is missing. */
function strokeRows(
  ctx: CanvasRenderingContext2D,
  axes: readonly Axis[],
  rows: ArrayLike<number> | null,
  count = rows?.length ?? 0,
): void {
  for (let j = 0; j < count; j++) {
    const row = rows ? rows[j] : j;
    ctx.beginPath();
    let pen = false;
    for (const axis of axes) {
      const y = axis.y(row);
      if (Number.isNaN(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(axis.x, y);
      else ctx.moveTo(axis.x, y);
      pen = true;
    }
    ctx.stroke();
  }
}

function sizeCanvas(c: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(width * dpr);
  c.height = Math.round(height * dpr);
  // willReadFrequently keeps this canvas on the CPU rasterizer: thousands of translucent
  // strokes are far faster there than on a (possibly software-emulated) GPU canvas.
  const ctx = c.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

type Svg = Selection<SVGSVGElement, unknown, null, undefined>;
type Group = Selection<SVGGElement, unknown, null, undefined>;

interface AxisStyle {
  height: number;
  theme: Theme;
  measureTitle: (text: string) => number;
  measureTick: (text: string) => number;
}

/** The axis line and its title, fitted into `slot` (full name on hover). */
/** Inline font size of a label drawn at `scale` (an inline style: CSS beats SVG attributes). */
function fontSize(scale: number): string {
  return `${Number((FONT_SIZE_PX * scale).toFixed(2))}px`;
}

function drawAxisLine(g: Group, axis: Axis, slot: { lo: number; hi: number }, style: AxisStyle): void {
  const fg = style.theme.foreground;
  g.append("line")
    .attr("x1", axis.x)
    .attr("x2", axis.x)
    .attr("y1", MARGIN.top)
    .attr("y2", style.height - MARGIN.bottom)
    .attr("stroke", fg)
    .attr("stroke-width", 1);
  const label = axis.kind === "numeric" && axis.column.log ? `${axis.name} (log)` : axis.name;
  // A smaller font first, then shortened at the end ("initializ…"); the full name on hover.
  const shown = fitLabel(label, slot.hi - slot.lo, style.measureTitle);
  const title = g
    .append("text")
    .attr("class", "miwd-axis-title")
    .attr("x", placeInSlot(axis.x, style.measureTitle(shown.text) * shown.scale, slot))
    .attr("y", MARGIN.top - 12)
    .attr("text-anchor", "middle")
    .attr("fill", fg)
    .style("font-size", fontSize(shown.scale))
    .text(shown.text);
  title.append("title").text(label);
}

/**
 * Tick marks and labels right of the axis, ending `labelRoom` px later (before the next
 * axis), on a translucent box so lines do not hide them.
 */
function drawTicks(g: Group, axis: Axis, labelRoom: number, style: AxisStyle): void {
  const fg = style.theme.foreground;
  const labelX = axis.x + 7;
  for (const t of axisTicks(axis)) {
    g.append("line")
      .attr("x1", axis.x)
      .attr("x2", axis.x + 4)
      .attr("y1", t.y)
      .attr("y2", t.y)
      .attr("stroke", fg);
    // "sgd_momentum" in a smaller font rather than "sgd_mo…"; else shortened at its end
    // ("sgd_mome…", the full text on hover), a number never.
    const fitted = fitLabel(t.text, labelRoom, style.measureTick);
    const text = fitted.text;
    if (!text) continue;
    g.append("rect")
      .attr("class", "miwd-tick-box")
      .attr("x", labelX - 2)
      .attr("y", t.y - 7)
      .attr("width", style.measureTick(text) * fitted.scale + 4)
      .attr("height", 14)
      .attr("rx", 2)
      .attr("fill", style.theme.background)
      .attr("fill-opacity", 0.75)
      .attr("pointer-events", "none");
    const tick = g
      .append("text")
      .attr("class", "miwd-tick")
      .attr("x", labelX)
      .attr("y", t.y)
      .attr("dy", "0.32em")
      .attr("text-anchor", "start")
      .attr("fill", fg)
      .style("font-size", fontSize(fitted.scale))
      .text(text);
    if (text !== t.text) tick.append("title").text(t.text);
  }
}

export function createParallel(opts: ParallelOptions): ParallelView {
  const { n, store } = opts;
  const root = el("div", "miwd-parallel");
  root.dataset.testid = "miwd-parallel";
  const title = el("div", "miwd-panel-title", "Hyper-parameters");
  const note = el("span", "miwd-note");
  title.append(note);
  const stage = el("div", "miwd-parallel-stage");
  const canvas = el("canvas", "miwd-parallel-canvas");
  const svgNode = document.createElementNS(SVG_NS, "svg");
  svgNode.setAttribute("class", "miwd-parallel-svg");
  stage.append(canvas, svgNode);
  root.append(title, stage);
  opts.parent.append(root);

  let axesNames = opts.axes;
  let colorName = opts.color;
  let theme = opts.theme;
  let width = Math.max(300, opts.parent.clientWidth || 600);
  const height = 280;
  let axes: Axis[] = [];
  const background = document.createElement("canvas"); // cached faint library layer
  const session = new BrushSession(n, opts.columns);
  const svg: Svg = select(svgNode);
  const brushes = new Map<string, BrushBehavior<unknown>>();
  // The first draw waits for the first resize() (the host lays out right after creating
  // the view): drawing at a guessed width first would rasterize everything twice. Until
  // then, setters only record their values.
  let drawn = false;

  // Density bins of every row per axis (only when some layer is drawn as density).
  let binned: BinnedAxis[] = [];
  let pairCounts: Uint32Array[] = [];
  let encoding: ReturnType<typeof encodeColors> | null = null; // per color column, cached
  const colors = () => {
    encoding ??= encodeColors(opts.columns().get(colorName), n, theme.background);
    return encoding;
  };
  const unitToY = (unit: number) => height - MARGIN.bottom - unit * (height - MARGIN.bottom - MARGIN.top);

  function strokeDensityOf(ctx: CanvasRenderingContext2D, rows: Int32Array | null, alphaScale: number) {
    if (binned.length !== axes.length) binned = axes.map((axis) => binAxisRows(axis, height));
    for (let a = 0; a + 1 < axes.length; a++) {
      pairCounts[a] = pairHistogram(binned[a], binned[a + 1], rows, pairCounts[a]);
      strokeDensity(
        ctx,
        binned[a],
        binned[a + 1],
        pairCounts[a],
        {
          x0: axes[a].x,
          x1: axes[a + 1].x,
          y: unitToY,
        },
        alphaScale,
      );
    }
  }

  function drawBackground() {
    const ctx = sizeCanvas(background, width, height);
    ctx.strokeStyle = theme.muted;
    ctx.lineWidth = 1;
    if (n <= MAX_EXACT_BACKGROUND) {
      ctx.globalAlpha = Math.min(0.5, Math.max(0.008, 40 / Math.max(n, 1)));
      strokeRows(ctx, axes, null, n);
    } else {
      strokeDensityOf(ctx, null, 0.5);
    }
  }

  function drawSelection() {
    const ctx = sizeCanvas(canvas, width, height);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    ctx.drawImage(background, 0, 0, width, height);
    const selection = store.get();
    note.textContent = "";
    if (selection.length === 0) return;
    if (selection.length > (dragging ? MAX_DRAG_LINES : MAX_EXACT_LINES)) {
      note.textContent = ` (density of ${selection.length.toLocaleString()} selected)`;
      ctx.strokeStyle = theme.accent;
      ctx.lineWidth = 1.2;
      strokeDensityOf(ctx, selection, 1);
      return;
    }
    const encoding = colors();
    ctx.globalAlpha = Math.min(0.7, Math.max(0.03, 8 / Math.sqrt(selection.length)));
    ctx.lineWidth = 1.2;
    // Group by color to limit style changes.
    const byColor = new Map<number, number[]>();
    for (const row of selection) {
      const code = encoding.codes[row];
      const list = byColor.get(code);
      if (list) list.push(row);
      else byColor.set(code, [row]);
    }
    for (const [code, list] of byColor) {
      ctx.strokeStyle = encoding.legend ? encoding.palette[code] : theme.accent;
      strokeRows(ctx, axes, list);
    }
  }
  const selectionFrame = frameTask(drawSelection);
  let dragging = false; // a brush is moving: larger selections as density (see MAX_DRAG_LINES)
  const brushRest = restTask(() => {
    dragging = false;
    selectionFrame.schedule();
  }, BRUSH_REST_MS);

  function drawAxes() {
    svg.attr("width", width).attr("height", height);
    svg.selectAll("*").remove();
    const family = getComputedStyle(root).fontFamily || "sans-serif";
    const style: AxisStyle = {
      height,
      theme,
      measureTitle: textMeasurer(`600 ${FONT_SIZE_PX}px ${family}`),
      measureTick: textMeasurer(`${FONT_SIZE_PX}px ${family}`),
    };
    // Titles: one row, each within the space halfway to its neighbours.
    const slots = titleSlots(
      axes.map((a) => a.x),
      width,
    );
    for (const [index, axis] of axes.entries()) {
      const g: Group = svg.append("g").attr("class", "miwd-axis").attr("data-axis", axis.name);
      drawAxisLine(g, axis, slots[index], style);
      // The last axis' labels end inside the canvas.
      const next = axes[index + 1];
      drawTicks(g, axis, (next ? next.x - 5 : width - 2) - (axis.x + 7), style);
      const brush = brushY<unknown>()
        .extent([
          [axis.x - 12, MARGIN.top - 4],
          [axis.x + 12, height - MARGIN.bottom + 4],
        ])
        .on("start brush end", (event: D3BrushEvent<unknown>) => onBrush(axis, event));
      brushes.set(axis.name, brush);
      const bg = g.append("g").attr("class", "miwd-brush").attr("data-axis", axis.name).call(brush);
      const range = session.brushes.get(axis.name);
      if (range) bg.call(brush.move, extentOf(axis, range)); // keep brushes across redraws
    }
  }

  function onBrush(axis: Axis, event: D3BrushEvent<unknown>) {
    if (!event.sourceEvent) return; // programmatic moves (redraws, resets) are not user input
    const range = rangeOf(axis, event.selection as [number, number] | null);
    store.set(session.update(axis.name, range, store.get()), "parallel");
  }

  const unsubscribe = store.subscribe((_selection, source) => {
    if (!drawn) return; // the first resize() draws the then-current selection
    if (source !== "parallel" && session.isActive) {
      session.reset();
      svg.selectAll<SVGGElement, unknown>("g.miwd-brush").each(function () {
        const name = this.getAttribute("data-axis") ?? "";
        const brush = brushes.get(name);
        if (brush) select(this).call(brush.move, null);
      });
    }
    dragging = source === "parallel";
    if (dragging) brushRest.schedule();
    else brushRest.cancel();
    selectionFrame.schedule(); // after the selection went to Python, once per frame
  });

  let firstDraw: (() => void) | undefined;

  function redrawAll() {
    axes = layoutAxes(opts.columns(), axesNames, width, height);
    binned = [];
    pairCounts = [];
    encoding = null;
    drawBackground();
    selectionFrame.cancel();
    drawSelection();
    drawAxes();
  }

  return {
    setAxes(next) {
      axesNames = next;
      session.reset();
      if (drawn) redrawAll();
    },
    setColor(name) {
      colorName = name;
      encoding = null;
      if (drawn) selectionFrame.schedule();
    },
    setTheme(next) {
      const previous = theme;
      theme = next;
      if (next.background !== previous.background) encoding = null; // colors fit the background
      if (!drawn) return;
      // The thousands of library lines are re-rasterized only when their color changed.
      if (next.muted !== previous.muted) drawBackground();
      drawSelection();
      drawAxes();
    },
    resize(w) {
      const next = Math.max(300, Math.floor(w));
      if (drawn && next === width) return;
      width = next;
      if (drawn) {
        redrawAll();
        return;
      }
      // The first layout bins every row on every axis (a quarter second at a million):
      // after the page painted once, so the scatter is not held back by it.
      firstDraw ??= afterPaint(() => {
        drawn = true;
        redrawAll();
      });
    },
    destroy() {
      firstDraw?.();
      unsubscribe();
      selectionFrame.cancel();
      brushRest.cancel();
      svg.selectAll("*").on(".brush", null);
      root.remove();
    },
  };
}

/** Width in px of a text in a CSS `font` (canvas measureText; ~0.6 em per character without a canvas). */
function textMeasurer(font: string): (text: string) => number {
  const ctx = document.createElement("canvas").getContext("2d");
  if (!ctx) return (text) => text.length * 0.6 * FONT_SIZE_PX;
  ctx.font = font;
  return (text) => ctx.measureText(text).width;
}

/**
 * Horizontal room [lo, hi] of each axis title: from halfway to the previous axis to halfway
 * to the next (the canvas edges for the outer ones), less `gap` px between titles.
 */
export function titleSlots(xs: number[], width: number, gap = 8): { lo: number; hi: number }[] {
  return xs.map((x, i) => ({
    lo: i > 0 ? (xs[i - 1] + x) / 2 + gap / 2 : 0,
    hi: i < xs.length - 1 ? (x + xs[i + 1]) / 2 - gap / 2 : width,
  }));
}

/** Center of a `textWidth`-wide title: on its axis `x`, shifted to stay inside its slot. */
export function placeInSlot(x: number, textWidth: number, slot: { lo: number; hi: number }): number {
  const half = textWidth / 2;
  if (slot.hi - slot.lo <= textWidth) return (slot.lo + slot.hi) / 2;
  return Math.min(slot.hi - half, Math.max(slot.lo + half, x));
}

/** Powers of ten (and 3x) within [min, max] for a log axis. */
export function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0) || !(max > 0)) return out;
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 3]) {
      const v = m * 10 ** e;
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}
