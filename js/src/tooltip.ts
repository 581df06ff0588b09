/** The scatter's hover tooltip: a table of the tooltip columns of one row, placed near it. */
import { type Column, cellText, isMissing } from "./columns";
import { el } from "./dom";

const OFFSET_PX = 12;

/**
 * Top-left corner (CSS px) of a `tw` x `th` tooltip for a point at `pos` in a `width` x
 * `height` stage: right of the point, or left of it when it would overflow; vertically
 * centred on it and kept inside the stage.
 */
export function placeTooltip(
  pos: readonly [number, number],
  tw: number,
  th: number,
  width: number,
  height: number,
): { left: number; top: number } {
  const left = pos[0] + OFFSET_PX + tw > width ? pos[0] - OFFSET_PX - tw : pos[0] + OFFSET_PX;
  const top = Math.min(Math.max(0, pos[1] - th / 2), Math.max(0, height - th));
  return { left: Math.max(0, left), top };
}

/** Fill `tooltip` with row `index` of `names` (missing columns skipped) and show it at `pos`. */
export function showTooltip(
  tooltip: HTMLElement,
  index: number,
  columns: Map<string, Column>,
  names: readonly string[],
  pos: readonly [number, number],
  stage: { width: number; height: number },
): void {
  tooltip.replaceChildren();
  const table = el("table");
  for (const name of names) {
    const column = columns.get(name);
    if (!column) continue;
    const row = el("tr");
    const cell = el("td", "", cellText(column, index));
    if (isMissing(column, index)) {
      cell.classList.add("miwd-missing");
      cell.style.fontStyle = "italic"; // "(missing)" reads as no value, not as a category
    }
    row.append(el("th", "", name), cell);
    table.append(row);
  }
  tooltip.append(table);
  tooltip.hidden = false;
  const { left, top } = placeTooltip(pos, tooltip.offsetWidth, tooltip.offsetHeight, stage.width, stage.height);
  tooltip.style.left = `${left}px`;
  tooltip.style.top = `${top}px`;
}
