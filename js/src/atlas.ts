/**
 * The Atlas view: builds the three linked views inside `el` around one selection store and
 * returns a cleanup that removes every listener, observer, timer and WebGL context it made.
 */
import "./styles.css";
import { el, listen, readTheme, type Theme } from "./draw/dom";
import { decodeLocated } from "./draw/located";
import { decodeNeighbors } from "./draw/neighbors";
import { decodePaths } from "./draw/paths";
import { SelectionStore } from "./selection";
import { createClusterGallery } from "./views/cluster_gallery";
import {
  CLUSTER_COLUMN,
  type Clusters,
  clusterColumn,
  createClusterBar,
  decodeClusters,
  encodeClusters,
} from "./views/clusters";
import { createColumnPicker } from "./views/column_picker";
import { createExportBar } from "./views/export";
import { createGallery } from "./views/gallery";
import { observeLayout } from "./views/layout";
import { createParallel } from "./views/parallel";
import { createRepresentationNote } from "./views/representation";
import { createScatter } from "./views/scatter";
import { decodeFloat32, decodeIndices } from "./wire/codec";
import { type Column, decodeColumns, decodeNewColumns, isDrawn, mergeColumns } from "./wire/columns";
import { createDeferredColumns } from "./wire/deferred";
import type { AtlasModel, NeighborsRequest } from "./wire/model";
import { createDescriptorChannel } from "./wire/requests";
import { onTrait, syncSelection } from "./wire/sync";

/**
 * Events kept inside the widget: in JupyterLab a shift+mousedown in an output would
 * otherwise start the notebook's cell selection (and steal the drag), and keys typed in the
 * widget would trigger notebook shortcuts. mousemove/mouseup are not stopped:
 * regl-scatterplot and d3-brush listen for them on window.
 */
const CONTAINED_EVENTS = ["mousedown", "pointerdown", "click", "dblclick", "contextmenu", "keydown", "keyup"] as const;

/**
 * Pages switch themes by changing these attributes on <body> or <html>: JupyterLab its
 * data-jp-theme-*, marimo the classes "dark" / "light".
 */
const THEME_ATTRIBUTES = ["data-jp-theme-light", "data-jp-theme-name", "class", "data-theme"];

function sameTheme(a: Theme, b: Theme): boolean {
  return (Object.keys(a) as (keyof Theme)[]).every((key) => a[key] === b[key]);
}

function createRoot(host: HTMLElement) {
  const root = el("div", "miwd-root");
  root.dataset.testid = "miwd-atlas";
  const left = el("div", "miwd-left");
  const right = el("div", "miwd-right");
  root.append(left, right);
  host.append(root);
  const removers = CONTAINED_EVENTS.map((type) => listen(root, type, (e) => e.stopPropagation()));
  const destroy = () => {
    for (const remove of removers) remove();
  };
  return { root, left, right, destroy };
}

/** Call `onChange` whenever the page's theme (or the system's) changes; returns the remover. */
function watchTheme(onChange: () => void): () => void {
  const observer = new MutationObserver(() => onChange());
  for (const node of [document.body, document.documentElement]) {
    observer.observe(node, { attributes: true, attributeFilter: THEME_ATTRIBUTES });
  }
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  scheme.addEventListener("change", onChange);
  return () => {
    observer.disconnect();
    scheme.removeEventListener("change", onChange);
  };
}

export function render({ model, el: host }: { model: AtlasModel; el: HTMLElement }): () => void {
  const n = model.get("n");
  const cleanups: (() => void)[] = [];
  const { root, left, right, destroy: destroyRoot } = createRoot(host);
  const store = new SelectionStore(n);
  store.set(decodeIndices(model.get("selection")), "init");
  // First of all: a view's selection goes to Python before any view redraws (the sync is
  // the store's first listener; the views defer their redraws to animation frames).
  cleanups.push(syncSelection(model, store));
  let clusters: Clusters = decodeClusters(model.get("clusters"));
  /** Python's columns plus the "(cluster)" column built here from the clusters. */
  const withClusters = (sent: Map<string, Column>) => {
    if (clusters.size) sent.set(CLUSTER_COLUMN, clusterColumn(clusters, n));
    else sent.delete(CLUSTER_COLUMN);
    return sent;
  };
  // Python's `_columns`, and its `_text_columns` (deferred text columns, once sent), decoded
  // apart: a change of one does not decode the other again.
  let sentColumns = decodeColumns(model.get("_columns"));
  let textColumns = decodeColumns(model.get("_text_columns"));
  let columns: Map<string, Column> = withClusters(mergeColumns(sentColumns, textColumns));
  let theme = readTheme(root);
  const coordinates = model.get("coordinates");
  const points = coordinates ? decodeFloat32(coordinates) : new Float32Array(0);
  const allColumns = () => model.get("_all_columns") ?? [...columns.keys()];
  /** Every column a view can draw: the metadata's, and "(cluster)" while there are clusters. */
  const colorOptions = () => [...(clusters.size ? [CLUSTER_COLUMN] : []), ...allColumns()];
  // Ids of a large library come after the first paint (or when a tooltip or the CSV needs them).
  const deferred = createDeferredColumns({
    deferred: () => model.get("_deferred_columns") ?? [],
    has: (name) => columns.has(name),
    send: (message) => model.send(message),
  });
  const showNeighbors = (row: number) => {
    const message: NeighborsRequest = { type: "neighbors", row, k: model.get("neighbors_k") ?? 10 };
    model.send(message);
  };

  // What the atlas is laid out on, above the scatter.
  const representationNote = createRepresentationNote({ parent: left, get: () => model.get("representation") ?? "" });
  const scatter = createScatter({
    parent: left,
    n,
    coordinates: points,
    store,
    columns: () => columns,
    // The scatter reads these only to show a tooltip: the first hover asks for the deferred
    // columns (they show "…" until they arrive). "(cluster)" without clusters never comes.
    tooltipColumns: () => {
      deferred.request();
      return (model.get("tooltip_columns") ?? []).filter((name) => name !== CLUSTER_COLUMN || columns.has(name));
    },
    color: model.get("color") ?? "",
    theme,
    onColorChange: (name) => {
      model.set("color", name);
      model.save_changes();
      parallel.setColor(name);
    },
    colorOptions,
    paths: decodePaths(model.get("_paths")),
    onPick: showNeighbors,
    onDrawn: () => deferred.afterFirstPaint(),
  });
  const setClusters = (next: Clusters) => {
    model.set("clusters", encodeClusters(next));
    model.save_changes();
  };
  const clusterBar = createClusterBar({
    parent: left,
    store,
    get: () => clusters,
    set: setClusters,
    background: () => theme.background,
  });
  // The column pickers fold away: open, they take several lines above the parallel axes.
  const controls = document.createElement("details");
  controls.className = "miwd-controls";
  controls.dataset.testid = "miwd-columns";
  const controlsSummary = document.createElement("summary");
  controlsSummary.textContent = "Columns: axes and tooltip";
  controls.append(controlsSummary);
  right.append(controls);
  const axesPicker = createColumnPicker({
    parent: controls,
    label: "Axes",
    testid: "miwd-axes-picker",
    get: () => model.get("axes") ?? [],
    set: (names) => {
      model.set("axes", names);
      model.save_changes();
    },
    options: colorOptions, // the columns the colour menu offers, "(cluster)" included
  });
  const tooltipPicker = createColumnPicker({
    parent: controls,
    label: "Tooltip",
    testid: "miwd-tooltip-picker",
    get: () => model.get("tooltip_columns") ?? [],
    set: (names) => {
      model.set("tooltip_columns", names);
      model.save_changes();
    },
    options: allColumns,
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
  const channel = createDescriptorChannel(model);
  const gallery = createGallery({ parent: right, store, request: (indices) => channel.request(indices) });
  // Its own channel: the clusters' requests and the selection's never supersede each other.
  const clusterChannel = createDescriptorChannel(model);
  const clusterGallery = createClusterGallery({
    parent: left, // under the scatter and the cluster chips, where the clusters were drawn
    request: (rows) => clusterChannel.request(rows),
    background: () => theme.background,
  });
  clusterGallery.show(clusters);
  // Why neighbours could not be shown (Python's message), under the scatter; empty otherwise.
  const neighborNote = document.createElement("div");
  neighborNote.className = "miwd-note miwd-neighbor-note";
  neighborNote.dataset.testid = "miwd-neighbor-note";
  left.append(neighborNote);
  const applyNeighbors = () => {
    try {
      scatter.setNeighbors(decodeNeighbors(model.get("_neighbors")));
      neighborNote.textContent = "";
    } catch (err) {
      scatter.setNeighbors(null);
      neighborNote.textContent = `neighbours: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  applyNeighbors();

  // --- traits -> views; selection both ways
  cleanups.push(
    onTrait(model, "color", () => {
      const name = model.get("color") ?? "";
      scatter.setColor(name);
      parallel.setColor(name);
    }),
    onTrait(model, "_columns", () => {
      const axes = model.get("axes") ?? [];
      const missing = axes.filter((name) => !isDrawn(columns.get(name)));
      const before = columns;
      sentColumns = decodeColumns(model.get("_columns"));
      columns = withClusters(mergeColumns(sentColumns, textColumns));
      // Text columns draw nothing: no redraw of every point for them.
      if ([...columns].some(([name, column]) => isDrawn(column) && !isDrawn(before.get(name)))) {
        scatter.setColumns();
      }
      // Only axes that were waiting for their column are re-laid out (that resets brushes).
      if (missing.some((name) => isDrawn(columns.get(name)))) parallel.setAxes(axes);
      deferred.update();
      scatter.refreshTooltip(); // a tooltip column just chosen has arrived
    }),
    // The deferred ids arrived: only tooltips and the CSV read them, nothing redraws.
    onTrait(model, "_text_columns", () => {
      textColumns = decodeNewColumns(model.get("_text_columns"), textColumns);
      columns = withClusters(mergeColumns(sentColumns, textColumns));
      deferred.update();
      scatter.refreshTooltip(); // an open tooltip shows them instead of "…"
    }),
    onTrait(model, "_deferred_columns", () => deferred.update()),
    onTrait(model, "axes", () => {
      parallel.setAxes(model.get("axes") ?? []);
      axesPicker.refresh();
    }),
    onTrait(model, "tooltip_columns", () => tooltipPicker.refresh()),
    onTrait(model, "clusters", () => {
      clusters = decodeClusters(model.get("clusters"));
      columns = withClusters(columns);
      clusterBar.refresh();
      clusterGallery.show(clusters);
      scatter.setColorOptions();
      axesPicker.refresh();
      // Views drawing the clusters redraw (colours by cluster keep the brushes).
      const color = model.get("color") ?? "";
      if (color === CLUSTER_COLUMN) {
        scatter.setColumns();
        parallel.setColor(color);
      }
      const axes = model.get("axes") ?? [];
      if (axes.includes(CLUSTER_COLUMN)) parallel.setAxes(axes);
    }),
    onTrait(model, "_neighbors", applyNeighbors),
    onTrait(model, "representation", () => representationNote.refresh()),
    // Clear (an empty selection) also hides the neighbour lines.
    store.subscribe((selection) => {
      if (selection.length === 0 && "row" in (model.get("_neighbors") ?? {})) showNeighbors(-1);
    }),
    onTrait(model, "_located", () => scatter.setLocated(decodeLocated(model.get("_located")))),
  );
  scatter.setLocated(decodeLocated(model.get("_located")));
  // Download selection (CSV) and PNG of the scatter (its canvases: points, then markers).
  const exportBar = createExportBar({
    parent: left,
    store,
    columns: () => columns,
    canvases: () => [...left.querySelectorAll<HTMLCanvasElement>(".miwd-stage canvas")],
    background: () => theme.background,
    columnsReady: () => deferred.ready(),
  });

  // --- layout (fit the cell width) and theme
  const layout = observeLayout(root, host, (sizes) => {
    scatter.resize(sizes.scatterWidth, sizes.scatterHeight);
    parallel.resize(sizes.parallelWidth);
  });
  const applyTheme = () => {
    const next = readTheme(root);
    if (sameTheme(next, theme)) return;
    theme = next;
    scatter.setTheme(theme);
    parallel.setTheme(theme);
    clusterBar.refresh();
    clusterGallery.show(clusters); // swatches fitted to the new background
  };
  cleanups.push(layout.destroy, watchTheme(applyTheme));
  layout.update();
  // The first theme read may have happened before `el` was attached to the page.
  const raf = requestAnimationFrame(() => {
    applyTheme();
    layout.update();
  });
  cleanups.push(() => cancelAnimationFrame(raf));

  return () => {
    for (const cleanup of cleanups.reverse()) cleanup();
    deferred.destroy();
    channel.destroy();
    clusterChannel.destroy();
    clusterGallery.destroy();
    axesPicker.destroy();
    tooltipPicker.destroy();
    clusterBar.destroy();
    gallery.destroy();
    parallel.destroy();
    scatter.destroy();
    exportBar.destroy();
    representationNote.destroy();
    store.destroy();
    destroyRoot();
    root.remove();
  };
}
