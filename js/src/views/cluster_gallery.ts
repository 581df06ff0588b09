/**
 * The clusters side by side (the paper's Figure 5): for each named cluster its size and its
 * mean and standard-deviation descriptors, on one colour scale per kind so they compare (the
 * same rule as the gallery's mean and std: `colorDomain` over the images of that kind).
 */

import { el } from "../draw/dom";
import { type DescriptorReply, isSuperseded } from "../wire/requests";
import { type Clusters, clusterColors } from "./clusters";
import { colorBar, colorDomain, paintDescriptor, sampleNote } from "./gallery";

interface ClusterGalleryOptions {
  parent: HTMLElement;
  /** One request at a time (a newer one supersedes the pending one). */
  request: (indices: Int32Array) => Promise<DescriptorReply>;
  /** The theme's background (the cluster colours are fitted to it). */
  background: () => string;
}

export interface ClusterGallery {
  /** Fetch and draw these clusters (hidden when there are none). */
  show(clusters: Clusters): void;
  destroy(): void;
}

export function createClusterGallery(opts: ClusterGalleryOptions): ClusterGallery {
  const root = el("div", "miwd-cluster-gallery");
  root.dataset.testid = "miwd-cluster-gallery";
  const title = el("div", "miwd-panel-title", "Clusters");
  const status = el("span", "miwd-note");
  title.append(status);
  const body = el("div", "miwd-cluster-rows");
  root.append(title, body);
  root.hidden = true;
  opts.parent.append(root);
  let generation = 0;
  let destroyed = false;

  /** `replies[i]` is null for an empty cluster (no descriptors to show). */
  function render(clusters: Clusters, replies: (DescriptorReply | null)[]) {
    const colors = clusterColors(clusters, opts.background());
    const shown = replies.filter((r): r is DescriptorReply => r !== null);
    const density = colorDomain(shown.map((r) => r.mean));
    const spread = colorDomain(shown.map((r) => r.std));
    const rows = [...clusters.keys()].map((name, i) => {
      const reply = replies[i];
      const row = el("div", "miwd-cluster-row");
      row.dataset.cluster = name;
      const head = el("div", "miwd-cluster-head");
      const swatch = el("span", "miwd-cluster-swatch");
      swatch.style.background = colors.get(name) ?? "";
      const size = el("span", "miwd-note", `${(reply?.n ?? 0).toLocaleString()}`);
      head.append(swatch, el("span", "miwd-cluster-title", name), size);
      row.append(head);
      if (!reply) return row; // an empty cluster: its name and 0, no tiles
      const note = sampleNote(reply);
      if (note) size.title = note;
      const tile = (data: Float32Array, domain: ReturnType<typeof colorDomain>, kind: string) => {
        const figure = el("figure", `miwd-tile miwd-cluster-${kind}`);
        const canvas = el("canvas", "miwd-descriptor");
        paintDescriptor(canvas, data, 0, reply.S, reply.B, domain);
        figure.append(canvas, el("figcaption", "", kind));
        return figure;
      };
      row.append(tile(reply.mean, density, "mean"), tile(reply.std, spread, "std"));
      return row;
    });
    const legend = el("div", "miwd-cluster-legend");
    legend.append(colorBar(density, "density"), colorBar(spread, "std"));
    body.replaceChildren(...rows, legend);
    status.textContent = ` — ${clusters.size} side by side`;
  }

  async function fetchAll(clusters: Clusters, mine: number) {
    const replies: (DescriptorReply | null)[] = [];
    for (const rows of clusters.values()) {
      // An empty request would mean "the whole library": an empty cluster is not requested.
      if (rows.length === 0) {
        replies.push(null);
        continue;
      }
      const reply = await opts.request(rows);
      if (destroyed || mine !== generation) return;
      // A saved page without the library's descriptors only has the saved selection's.
      if (reply.stale) throw new Error("the clusters' descriptors are not saved in this page");
      replies.push(reply);
    }
    render(clusters, replies);
  }

  return {
    show(clusters) {
      const mine = ++generation;
      root.hidden = clusters.size === 0;
      if (clusters.size === 0) {
        body.replaceChildren();
        return;
      }
      status.textContent = " — loading…";
      fetchAll(clusters, mine).catch((err: unknown) => {
        if (destroyed || mine !== generation || isSuperseded(err)) return;
        status.textContent = ` — ${err instanceof Error ? err.message : String(err)}`;
      });
    },
    destroy() {
      destroyed = true;
      root.remove();
    },
  };
}
