/** Layout of the atlas in its cell: side by side when wide enough, stacked otherwise. */

const TWO_COLUMNS_MIN_WIDTH = 1000;
/** A scrollbar appearing after switching to two columns must not flip the layout back. */
const HYSTERESIS_PX = 40;
const GAP_PX = 16;

interface Layout {
  wide: boolean;
  scatterWidth: number;
  scatterHeight: number;
  parallelWidth: number;
}

/** Sizes of the views for a root `width` px wide (`wasWide`: the current layout). */
export function computeLayout(width: number, wasWide: boolean): Layout {
  const wide = wasWide ? width >= TWO_COLUMNS_MIN_WIDTH - HYSTERESIS_PX : width >= TWO_COLUMNS_MIN_WIDTH;
  if (wide) {
    const scatterWidth = Math.floor(width * 0.5) - GAP_PX / 2;
    return {
      wide,
      scatterWidth,
      scatterHeight: Math.min(720, Math.max(480, scatterWidth)),
      parallelWidth: width - scatterWidth - GAP_PX,
    };
  }
  return {
    wide,
    scatterWidth: width,
    scatterHeight: Math.min(560, Math.max(320, Math.round(width * 0.7))),
    parallelWidth: width,
  };
}

/**
 * Re-layout `root` whenever its width changes (ResizeObserver); `apply` gets the new sizes.
 * Returns `{ update, destroy }`: `update()` re-measures now (no-op if the width is unchanged).
 */
export function observeLayout(
  root: HTMLElement,
  fallback: HTMLElement,
  apply: (layout: Layout) => void,
): { update(): void; destroy(): void } {
  let lastWidth = -1;
  const update = () => {
    const width = Math.floor(root.clientWidth || fallback.clientWidth || 0);
    if (width <= 0 || width === lastWidth) return;
    lastWidth = width;
    const layout = computeLayout(width, root.classList.contains("miwd-wide"));
    root.classList.toggle("miwd-wide", layout.wide);
    apply(layout);
  };
  const observer = new ResizeObserver(() => update());
  observer.observe(root);
  return { update, destroy: () => observer.disconnect() };
}
