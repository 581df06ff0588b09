/**
 * The atlas: a WebGL scatter (regl-scatterplot) with pan/zoom, lasso, click and shift-click,
 * color by any sent column (legend / color bar), tooltips and the markers of located models.
 */
import createScatterplot from "regl-scatterplot";
import { scaleLinear } from "d3-scale";
import { encodeColors, pointStyleFor, type Legend } from "./coloring";
import { cellText, formatNumber, type Column } from "./columns";
import { el, listen, type Theme } from "./dom";
import type { SelectionStore } from "./selection";

type Scatterplot = ReturnType<typeof createScatterplot>;

export interface Located {
  x: Float32Array;
  y: Float32Array;
  neighbors: Int32Array; // (q, k), -1 = none
  k: number;
  names: string[];
}

export interface ScatterOptions {
  parent: HTMLElement;
  n: number;
  coordinates: Float32Array; // (n, 2) interleaved, raw atlas units
  store: SelectionStore;
  columns: () => Map<string, Column>;
  tooltipColumns: () => string[];
  color: string;
  theme: Theme;
  onColorChange: (name: string) => void;
}

export interface ScatterView {
  setColor(name: string): void;
  setColumns(): void;
  setLocated(located: Located | null): void;
  setTheme(theme: Theme): void;
  resize(width: number, height: number): void;
  /** Rendered and ready for interaction (first draw finished). */
  ready: Promise<void>;
  destroy(): void;
}

/** Map atlas coordinates into [-0.95, 0.95] keeping the aspect ratio (one scale for x and y). */
export function normalizeCoordinates(coords: Float32Array, n: number) {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
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

export function createScatter(opts: ScatterOptions): ScatterView {
  const { n, store } = opts;
  const removers: (() => void)[] = [];
  const root = el("div", "miwd-scatter");
  root.dataset.testid = "miwd-scatter";
  const toolbar = el("div", "miwd-toolbar");
  const lassoButton = el("button", "miwd-lasso-toggle", "Lasso");
  lassoButton.type = "button";
  lassoButton.title = "Toggle lasso selection (otherwise drag pans, wheel zooms; shift+drag lassos)";
  lassoButton.setAttribute("aria-pressed", "false");
  lassoButton.dataset.testid = "miwd-lasso-toggle";
  const resetButton = el("button", "miwd-reset-view", "Reset view");
  resetButton.type = "button";
  const clearButton = el("button", "miwd-clear-selection", "Clear");
  clearButton.type = "button";
  clearButton.title = "Clear the selection (also: double-click on empty space)";
  const colorLabel = el("label", "miwd-color-label", "Color ");
  const colorSelect = el("select", "miwd-color-select");
  colorSelect.dataset.testid = "miwd-color-select";
  colorLabel.append(colorSelect);
  const count = el("span", "miwd-count");
  count.dataset.testid = "miwd-count";
  toolbar.append(lassoButton, resetButton, clearButton, colorLabel, count);

  const stage = el("div", "miwd-stage");
  const canvas = el("canvas", "miwd-scatter-canvas");
  canvas.dataset.testid = "miwd-scatter-canvas";
  const overlay = el("canvas", "miwd-overlay");
  const tooltip = el("div", "miwd-tooltip");
  tooltip.hidden = true;
  const legend = el("div", "miwd-legend");
  legend.dataset.testid = "miwd-legend";
  stage.append(canvas, overlay, legend, tooltip);
  root.append(toolbar, stage);
  opts.parent.append(root);

  const { x, y, map } = normalizeCoordinates(opts.coordinates, n);
  const style = pointStyleFor(n);
  let width = Math.max(200, opts.parent.clientWidth || 600);
  let height = 460;
  let theme = opts.theme;
  let colorName = opts.color;
  let located: Located | null = null;
  let lassoMode = false;
  const xScale = scaleLinear().domain([-1, 1]);
  const yScale = scaleLinear().domain([-1, 1]);

  const scatterplot: Scatterplot = createScatterplot({
    canvas,
    width,
    height,
    xScale,
    yScale,
    pointSize: style.size,
    pointSizeSelected: 1,
    pointOutlineWidth: 1.5,
    opacity: style.opacity,
    opacityInactiveScale: 0.5,
    backgroundColor: theme.background,
    lassoColor: theme.accent,
    pointColorActive: theme.accent,
    pointColorHover: theme.foreground,
    reticleColor: theme.foreground,
    showReticle: false,
    lassoInitiator: false,
    lassoOnLongPress: false,
    lassoMinDelay: 10,
    lassoMinDist: 3,
    deselectOnDblClick: true,
    // regl-scatterplot listens for Escape on window: in Jupyter that key leaves edit mode
    // anywhere on the page, and must not clear every atlas's selection.
    deselectOnEscape: false,
    mouseMode: "panZoom",
    // shift = "add": shift+drag lassos into the selection, shift+click adds a point.
    actionKeyMap: { lasso: "shift", merge: "shift", remove: "alt" },
    colorBy: "valueA",
  } as unknown as Parameters<typeof createScatterplot>[0]);

  // --- drawing (regl-scatterplot rejects overlapping draw calls: chain them)
  let drawing: Promise<void> = Promise.resolve();
  const draw = () => {
    const encoding = encodeColors(opts.columns().get(colorName), n);
    renderLegend(encoding.legend);
    drawing = drawing
      .then(async () => {
        await scatterplot.set({ pointColor: encoding.palette } as never);
        await scatterplot.draw(
          { x, y, z: encoding.codes },
          { zDataType: "categorical", select: Array.from(store.get()) },
        );
        drawOverlay();
      })
      .catch((err) => console.error("miwd-widget: scatter draw failed", err));
    return drawing;
  };

  // --- selection: scatter -> store, store -> scatter
  const selectSub = scatterplot.subscribe("select", ({ points }) => store.set(points, "scatter"));
  const deselectSub = scatterplot.subscribe("deselect", () => store.set([], "scatter"));
  removers.push(
    store.subscribe((selection, source) => {
      updateCount();
      if (source === "scatter") return;
      if (selection.length === 0) scatterplot.deselect({ preventEvent: true });
      else scatterplot.select(Array.from(selection), { preventEvent: true });
    }),
  );
  const updateCount = () => {
    const k = store.size;
    count.textContent = k ? `${k.toLocaleString()} of ${n.toLocaleString()} selected` : `${n.toLocaleString()} models`;
  };

  // --- hover: tooltip, and highlight requested by other views (gallery)
  let pointer: [number, number] | null = null;
  removers.push(
    listen(canvas, "mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      pointer = [e.clientX - r.left, e.clientY - r.top];
    }),
  );
  const overSub = scatterplot.subscribe("pointOver", (index) => showTooltip(index));
  const outSub = scatterplot.subscribe("pointOut", () => {
    tooltip.hidden = true;
  });
  removers.push(
    store.hover.on((index) => {
      if (index === null) {
        scatterplot.hover(-1, { preventEvent: true });
        tooltip.hidden = true;
      } else {
        scatterplot.hover(index, { showReticleOnce: true, preventEvent: true });
        showTooltip(index);
      }
    }),
  );
  const viewSub = scatterplot.subscribe("view", () => drawOverlay());

  function showTooltip(index: number) {
    tooltip.replaceChildren();
    const columns = opts.columns();
    const table = el("table");
    for (const name of opts.tooltipColumns()) {
      const column = columns.get(name);
      if (!column) continue;
      const row = el("tr");
      row.append(el("th", "", name), el("td", "", cellText(column, index)));
      table.append(row);
    }
    tooltip.append(table);
    const pos = scatterplot.getScreenPosition(index) ?? pointer ?? [0, 0];
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    const th = tooltip.offsetHeight;
    const left = pos[0] + 12 + tw > width ? pos[0] - 12 - tw : pos[0] + 12;
    const top = Math.min(Math.max(0, pos[1] - th / 2), Math.max(0, height - th));
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${top}px`;
  }

  // --- legend / color bar
  function renderLegend(spec: Legend) {
    legend.replaceChildren();
    legend.hidden = spec === null;
    if (!spec) return;
    legend.append(el("div", "miwd-legend-title", spec.name));
    if (spec.kind === "continuous") {
      const bar = el("div", "miwd-colorbar");
      const stops = spec.colors.filter((_, i) => i % 16 === 0 || i === spec.colors.length - 1);
      bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
      const labels = el("div", "miwd-colorbar-labels");
      labels.append(el("span", "", formatNumber(spec.min)), el("span", "", spec.log ? "log" : ""), el("span", "", formatNumber(spec.max)));
      legend.append(bar, labels);
    } else {
      const list = el("div", "miwd-legend-entries");
      const shown = spec.entries.slice(0, 20);
      for (const entry of shown) {
        const item = el("div", "miwd-legend-entry");
        const swatch = el("span", "miwd-swatch");
        swatch.style.background = entry.color;
        item.append(swatch, el("span", "", entry.label));
        item.title = `${entry.count.toLocaleString()} models`;
        list.append(item);
      }
      if (spec.entries.length > shown.length) {
        list.append(el("div", "miwd-legend-more", `+${spec.entries.length - shown.length} more`));
      }
      legend.append(list);
    }
  }

  // --- color select
  function fillColorSelect() {
    colorSelect.replaceChildren();
    const none = el("option", "", "(none)");
    none.value = "";
    colorSelect.append(none);
    for (const name of opts.columns().keys()) {
      const option = el("option", "", name);
      option.value = name;
      colorSelect.append(option);
    }
    colorSelect.value = colorName;
  }
  removers.push(
    listen(colorSelect, "change", () => {
      colorName = colorSelect.value;
      opts.onColorChange(colorName);
      void draw();
    }),
  );

  // --- modes and buttons
  const setLassoMode = (on: boolean) => {
    lassoMode = on;
    lassoButton.setAttribute("aria-pressed", String(on));
    lassoButton.classList.toggle("miwd-active", on);
    root.classList.toggle("miwd-lasso-mode", on);
    void scatterplot.set({ mouseMode: on ? "lasso" : "panZoom" });
  };
  removers.push(listen(lassoButton, "click", () => setLassoMode(!lassoMode)));
  removers.push(listen(resetButton, "click", () => void scatterplot.reset()));
  removers.push(listen(clearButton, "click", () => store.set([], "model")));

  // --- located models: markers and lines to neighbors, drawn on a 2-D overlay
  function drawOverlay() {
    const dpr = window.devicePixelRatio || 1;
    if (overlay.width !== Math.round(width * dpr) || overlay.height !== Math.round(height * dpr)) {
      overlay.width = Math.round(width * dpr);
      overlay.height = Math.round(height * dpr);
      overlay.style.width = `${width}px`;
      overlay.style.height = `${height}px`;
    }
    const ctx = overlay.getContext("2d", { willReadFrequently: true });
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!located) return;
    const xs = scatterplot.get("xScale") as typeof xScale;
    const ys = scatterplot.get("yScale") as typeof yScale;
    const q = located.x.length;
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = theme.accent;
    for (let i = 0; i < q; i++) {
      const [qx, qy] = map(located.x[i], located.y[i]);
      const sx = xs(qx);
      const sy = ys(qy);
      for (let j = 0; j < located.k; j++) {
        const nb = located.neighbors[i * located.k + j];
        if (nb < 0) continue;
        ctx.beginPath();
        ctx.moveTo(sx, sy);
        ctx.lineTo(xs(x[nb]), ys(y[nb]));
        ctx.stroke();
      }
    }
    ctx.font = "12px var(--jp-ui-font-family, sans-serif)";
    for (let i = 0; i < q; i++) {
      const [qx, qy] = map(located.x[i], located.y[i]);
      const sx = xs(qx);
      const sy = ys(qy);
      ctx.beginPath();
      ctx.moveTo(sx, sy - 8);
      ctx.lineTo(sx + 7, sy + 5);
      ctx.lineTo(sx - 7, sy + 5);
      ctx.closePath();
      ctx.fillStyle = theme.accent;
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = theme.background;
      ctx.stroke();
      // Label with a halo in the background color so it stays legible over points.
      ctx.lineWidth = 3;
      ctx.strokeStyle = theme.background;
      ctx.strokeText(located.names[i] ?? "", sx + 9, sy - 6);
      ctx.fillStyle = theme.foreground;
      ctx.fillText(located.names[i] ?? "", sx + 9, sy - 6);
      ctx.strokeStyle = theme.accent;
    }
  }

  function resize(w: number, h: number) {
    width = Math.max(200, Math.floor(w));
    height = Math.max(200, Math.floor(h));
    stage.style.height = `${height}px`;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    void scatterplot.set({ width, height });
    drawOverlay();
  }

  fillColorSelect();
  updateCount();
  resize(width, height);
  const ready = draw();

  return {
    ready,
    setColor(name: string) {
      if (name === colorName) return;
      colorName = name;
      colorSelect.value = name;
      void draw();
    },
    setColumns() {
      fillColorSelect();
      void draw();
    },
    setLocated(value: Located | null) {
      located = value;
      drawOverlay();
    },
    setTheme(next: Theme) {
      theme = next;
      void scatterplot.set({
        backgroundColor: next.background,
        lassoColor: next.accent,
        pointColorActive: next.accent,
        pointColorHover: next.foreground,
        reticleColor: next.foreground,
      } as never);
      drawOverlay();
    },
    resize,
    destroy() {
      for (const remove of removers) remove();
      scatterplot.unsubscribe(selectSub);
      scatterplot.unsubscribe(deselectSub);
      scatterplot.unsubscribe(overSub);
      scatterplot.unsubscribe(outSub);
      scatterplot.unsubscribe(viewSub);
      scatterplot.destroy();
      root.remove();
    },
  };
}
