/** The scatter's legend: a color bar (continuous column) or swatches (categorical column). */
import type { Legend } from "../draw/coloring";
import { el } from "../draw/dom";
import { formatNumber, formatValue, MISSING_TEXT } from "../wire/columns";

/** Categories listed before "+N more". */
const MAX_ENTRIES = 20;

export function renderLegend(container: HTMLElement, spec: Legend): void {
  container.replaceChildren();
  container.hidden = spec === null;
  if (!spec) return;
  container.append(el("div", "miwd-legend-title", spec.name));
  if (spec.kind === "continuous") {
    const bar = el("div", "miwd-colorbar");
    const stops = spec.colors.filter((_, i) => i % 16 === 0 || i === spec.colors.length - 1);
    bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    const labels = el("div", "miwd-colorbar-labels");
    const text = (v: number) => (spec.column ? formatValue(spec.column, v) : formatNumber(v));
    labels.append(
      el("span", "", text(spec.min)),
      el("span", "", spec.log ? "log" : ""),
      el("span", "", text(spec.max)),
    );
    container.append(bar, labels);
    if (spec.missing) {
      // Missing values have no place on the bar: their own swatch.
      const item = el("div", "miwd-legend-entry");
      const swatch = el("span", "miwd-swatch");
      swatch.style.background = spec.missing.color;
      item.append(swatch, el("span", "", `${MISSING_TEXT} (${spec.missing.count.toLocaleString()})`));
      container.append(item);
    }
    return;
  }
  const list = el("div", "miwd-legend-entries");
  const shown = spec.entries.slice(0, MAX_ENTRIES);
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
  container.append(list);
}
