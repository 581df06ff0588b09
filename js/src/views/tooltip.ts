/** The scatter's hover tooltip: a table of the tooltip columns of one row, placed near it. */

import { el } from "../draw/dom";
import { type Column, cellText, isMissing } from "../wire/columns";

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

/** What a tooltip shows for a column that has not arrived from Python yet. */
export const PENDING_TEXT = "…";

/** One line of the tooltip: the column's name, its text for the row, and how it reads. */
export interface TooltipCell {
  name: string;
  text: string;
  /** A missing value ("(missing)", in italics). */
  missing: boolean;
  /** The column is on its way (a deferred id column, or one just chosen): "…". */
  pending: boolean;
}

/**
 * The lines of row `index`: one per name in `names`. A name without a column yet is on its
 * way from Python (the view asks for every tooltip column) and shows `PENDING_TEXT`.
 */
export function tooltipCells(index: number, columns: Map<string, Column>, names: readonly string[]): TooltipCell[] {
  return names.map((name) => {
    const column = columns.get(name);
    if (!column) return { name, text: PENDING_TEXT, missing: false, pending: true };
    return { name, text: cellText(column, index), missing: isMissing(column, index), pending: false };
  });
}

/** Fill `tooltip` with row `index` of `names` (see `tooltipCells`) and show it at `pos`. */
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
  for (const { name, text, missing, pending } of tooltipCells(index, columns, names)) {
    const row = el("tr");
    const cell = el("td", "", text);
    if (missing) {
      cell.classList.add("miwd-missing");
      cell.style.fontStyle = "italic"; // "(missing)" reads as no value, not as a category
    }
    if (pending) cell.classList.add("miwd-pending");
    row.append(el("th", "", name), cell);
    table.append(row);
  }
  tooltip.append(table);
  tooltip.hidden = false;
  // What refreshTooltip needs to fill it again once its pending columns arrive.
  tooltip.dataset.row = String(index);
  tooltip.dataset.x = String(pos[0]);
  tooltip.dataset.y = String(pos[1]);
  tooltip.dataset.pending = JSON.stringify(names.filter((name) => !columns.has(name)));
  const { left, top } = placeTooltip(pos, tooltip.offsetWidth, tooltip.offsetHeight, stage.width, stage.height);
  tooltip.style.left = `${left}px`;
  tooltip.style.top = `${top}px`;
}

/** Whether a column the tooltip showed as pending (`pending`, its names) has arrived. */
export function pendingArrived(pending: readonly string[], columns: Map<string, Column>): boolean {
  return pending.some((name) => columns.has(name));
}

/**
 * Fill an open tooltip again, in place, when a column it shows as "…" has arrived: the
 * deferred ids come while the pointer rests on the point, and no hover follows to redraw it.
 * Returns whether it was refilled.
 */
export function refreshTooltip(
  tooltip: HTMLElement,
  columns: Map<string, Column>,
  names: readonly string[],
  stage: { width: number; height: number },
): boolean {
  const { row, x, y, pending } = tooltip.dataset;
  if (tooltip.hidden || row === undefined || !pending) return false;
  if (!pendingArrived(JSON.parse(pending) as string[], columns)) return false;
  showTooltip(tooltip, Number(row), columns, names, [Number(x), Number(y)], stage);
  return true;
}
