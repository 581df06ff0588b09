/**
 * Named clusters (the paper's A-F): the `clusters` trait's codec and the cluster bar, where
 * "Keep as cluster" names the current selection and each cluster is a chip (colour, name,
 * size) that selects it again, renames it (double-click) or deletes it (×).
 */

import { encodeColors } from "../draw/coloring";
import { el, listen } from "../draw/dom";
import type { SelectionStore } from "../selection";
import { decodeIndices, type EncodedArray, encodeInt32 } from "../wire/codec";
import type { Column } from "../wire/columns";

/** The trait's wire format (Python: miwd_widget/widget/clusters.py). */
export interface EncodedClusters {
  names: string[];
  sizes: number[];
  rows: EncodedArray;
}

/** Clusters in their order: name -> sorted row positions. */
export type Clusters = Map<string, Int32Array>;

/** Python's NO_CLUSTER: the label of rows in no cluster, never a cluster name. */
export const NO_CLUSTER = "(no cluster)";
/** The colour / axis column of the clusters (Python's CLUSTER_COLUMN; no metadata clash). */
export const CLUSTER_COLUMN = "(cluster)";

/**
 * The "(cluster)" column, built here from the clusters (not sent by Python: a saved page has
 * no kernel, and a rename must not re-send every column): each row's first cluster in order,
 * "(no cluster)" (the missing code) elsewhere. Every cluster is a category, empty or hidden
 * under an earlier one, so cluster i always has colour i.
 */
export function clusterColumn(clusters: Clusters, n: number): Column {
  const names = [...clusters.keys()];
  const codes = new Int32Array(n).fill(names.length);
  for (let i = names.length - 1; i >= 0; i--) {
    for (const row of clusters.get(names[i]) ?? []) if (row >= 0 && row < n) codes[row] = i;
  }
  return {
    kind: "categorical",
    name: CLUSTER_COLUMN,
    codes,
    categories: [...names, NO_CLUSTER],
    missing: names.length,
  };
}

export function decodeClusters(value: EncodedClusters | Record<string, never> | null | undefined): Clusters {
  const clusters: Clusters = new Map();
  if (!value || !("names" in value) || !value.names) return clusters;
  const rows = decodeIndices(value.rows);
  let start = 0;
  value.names.forEach((name, i) => {
    const size = value.sizes[i] ?? 0;
    clusters.set(String(name), rows.slice(start, start + size));
    start += size;
  });
  return clusters;
}

export function encodeClusters(clusters: Clusters): EncodedClusters {
  const names = [...clusters.keys()];
  const sizes = names.map((name) => clusters.get(name)?.length ?? 0);
  const rows = new Int32Array(sizes.reduce((a, b) => a + b, 0));
  let start = 0;
  for (const name of names) {
    const part = clusters.get(name) ?? new Int32Array(0);
    rows.set(part, start);
    start += part.length;
  }
  return { names, sizes, rows: encodeInt32(rows) };
}

/** A, B, ..., Z, AA, AB, ...: the first label not taken (as Python's next_cluster_name). */
export function nextClusterName(taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let i = 0; ; i++) {
    let label = "";
    let k = i;
    while (k >= 0) {
      label = String.fromCharCode(65 + (k % 26)) + label;
      k = Math.floor(k / 26) - 1;
    }
    if (!used.has(label)) return label;
  }
}

/** The colour of each cluster: its category's colour in {@link clusterColumn}, on `background`. */
export function clusterColors(clusters: Clusters, background?: string): Map<string, string> {
  const names = [...clusters.keys()];
  const column = clusterColumn(new Map(names.map((name, i) => [name, Int32Array.of(i)])), names.length);
  const { palette } = encodeColors(column, names.length, background);
  return new Map(names.map((name, i) => [name, palette[i]]));
}

/** A copy of `clusters` with `name` renamed to `next`, keeping its place in the order. */
export function renameCluster(clusters: Clusters, name: string, next: string): Clusters {
  return new Map([...clusters].map(([key, rows]) => [key === name ? next : key, rows]));
}

interface ClusterBarOptions {
  parent: HTMLElement;
  store: SelectionStore;
  /** The current clusters (the model's). */
  get: () => Clusters;
  /** Replace the clusters (the model's, synced to Python). */
  set: (clusters: Clusters) => void;
  /** The theme's background (the colours are fitted to it). */
  background: () => string;
}

export interface ClusterBar {
  /** Redraw the chips from `get()` (after the trait changed). */
  refresh(): void;
  destroy(): void;
}

export function createClusterBar(opts: ClusterBarOptions): ClusterBar {
  const { store } = opts;
  const root = el("div", "miwd-clusters");
  root.dataset.testid = "miwd-clusters";
  const keep = el("button", "miwd-keep-cluster", "Keep as cluster");
  keep.type = "button";
  keep.dataset.testid = "miwd-keep-cluster";
  keep.title = "Name the current selection as a cluster (compare clusters in Python: atlas.compare())";
  const nameInput = el("input", "miwd-cluster-name");
  nameInput.type = "text";
  nameInput.size = 8;
  nameInput.dataset.testid = "miwd-cluster-name";
  nameInput.setAttribute("aria-label", "Cluster name");
  const chips = el("div", "miwd-cluster-chips");
  root.append(keep, nameInput, chips);
  opts.parent.append(root);

  let chipRemovers: (() => void)[] = [];
  const clearChips = () => {
    for (const remove of chipRemovers) remove();
    chipRemovers = [];
  };

  const updateKeep = () => {
    keep.disabled = store.size === 0;
    nameInput.placeholder = nextClusterName(opts.get().keys());
  };

  const keepSelection = () => {
    if (store.size === 0) return;
    const clusters = opts.get();
    const name = nameInput.value.trim() || nextClusterName(clusters.keys());
    if (name === NO_CLUSTER) return;
    const next = new Map(clusters);
    next.set(name, store.get().slice());
    nameInput.value = "";
    opts.set(next);
  };

  /** Inline rename: an input in place of the name; Enter or blur commits, Escape cancels. */
  const startRename = (chip: HTMLElement, label: HTMLElement, name: string) => {
    const input = el("input", "miwd-cluster-rename");
    input.type = "text";
    input.value = name;
    input.size = Math.max(4, name.length + 1);
    label.replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (commit: boolean) => {
      if (done) return;
      done = true;
      const next = input.value.trim();
      const clusters = opts.get();
      if (commit && next && next !== name && next !== NO_CLUSTER && !clusters.has(next)) {
        opts.set(renameCluster(clusters, name, next));
      } else {
        input.replaceWith(label);
      }
    };
    chipRemovers.push(
      listen(input, "keydown", (e) => {
        if (e.key === "Enter") finish(true);
        else if (e.key === "Escape") finish(false);
      }),
      listen(input, "blur", () => finish(true)),
    );
    chip.classList.add("miwd-renaming");
  };

  const refresh = () => {
    clearChips();
    const clusters = opts.get();
    const colors = clusterColors(clusters, opts.background());
    chips.replaceChildren(
      ...[...clusters].map(([name, rows]) => {
        const chip = el("span", "miwd-cluster-chip");
        chip.dataset.testid = "miwd-cluster-chip";
        chip.dataset.cluster = name;
        const swatch = el("span", "miwd-cluster-swatch");
        swatch.style.background = colors.get(name) ?? "";
        const label = el("button", "miwd-cluster-label", name);
        label.type = "button";
        label.title = `Select cluster ${name} (double-click to rename)`;
        const size = el("span", "miwd-cluster-size", rows.length.toLocaleString());
        const remove = el("button", "miwd-cluster-remove", "×");
        remove.type = "button";
        remove.title = `Delete cluster ${name}`;
        remove.setAttribute("aria-label", `Delete cluster ${name}`);
        chip.append(swatch, label, size, remove);
        chipRemovers.push(
          listen(label, "click", () => store.set(opts.get().get(name) ?? [], "toolbar")),
          listen(label, "dblclick", () => startRename(chip, label, name)),
          listen(remove, "click", () => {
            const next = new Map(opts.get());
            next.delete(name);
            opts.set(next);
          }),
        );
        return chip;
      }),
    );
    updateKeep();
  };

  const removers = [
    listen(keep, "click", keepSelection),
    listen(nameInput, "keydown", (e) => {
      if (e.key === "Enter") keepSelection();
    }),
    store.subscribe(() => updateKeep()),
  ];
  refresh();

  return {
    refresh,
    destroy() {
      clearChips();
      for (const remove of removers) remove();
      root.remove();
    },
  };
}
