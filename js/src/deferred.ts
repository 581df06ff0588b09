/**
 * The deferred text columns of a large library (`Atlas._deferred_columns`: ids, paths): not
 * in the first state, so the first paint does not wait for them. The view asks Python for
 * them once, after its first frame, or at once when a tooltip or the CSV needs them first.
 */
import type { ColumnsRequest } from "./model";

interface DeferredOptions {
  /** The names Python has deferred (its `_deferred_columns`, current value). */
  deferred: () => readonly string[];
  /** Whether the view holds the column `name` now. */
  has: (name: string) => boolean;
  send: (message: ColumnsRequest) => void;
}

export interface DeferredColumns {
  /** Deferred names whose column has not arrived. */
  pending(): string[];
  /** Ask Python for the pending columns; at most once per view. */
  request(): void;
  /** The first full draw resolved: ask after its frame (next animation frame, then a task). */
  afterFirstPaint(): void;
  /** null when nothing is pending, else asks and resolves once every column has arrived. */
  ready(): Promise<void> | null;
  /** To call when `_columns` or `_deferred_columns` changed (resolves the waiting `ready`s). */
  update(): void;
  /** Cancels a scheduled request, and schedules none after; waiting `ready`s never resolve. */
  destroy(): void;
}

export function createDeferredColumns(opts: DeferredOptions): DeferredColumns {
  let asked = false;
  let destroyed = false; // a draw that resolves after the cleanup schedules nothing
  let frame: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: (() => void)[] = [];
  const pending = () => opts.deferred().filter((name) => !opts.has(name));
  const request = () => {
    if (asked || destroyed) return;
    const names = pending();
    if (names.length === 0) return;
    asked = true;
    opts.send({ type: "columns", names });
  };
  return {
    pending,
    request,
    afterFirstPaint() {
      if (asked || destroyed || frame !== undefined || pending().length === 0) return;
      // regl-scatterplot's draw() resolves before its frame is shown: wait for that frame,
      // then for a task after it, so the transfer never delays the first paint.
      frame = requestAnimationFrame(() => {
        timer = setTimeout(() => {
          timer = undefined;
          request();
        }, 0);
      });
    },
    ready() {
      if (pending().length === 0) return null;
      request();
      return new Promise<void>((resolve) => {
        if (!destroyed) waiters.push(resolve);
      });
    },
    update() {
      if (waiters.length === 0 || pending().length > 0) return;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    },
    destroy() {
      destroyed = true;
      if (frame !== undefined) cancelAnimationFrame(frame);
      clearTimeout(timer);
      waiters = [];
    },
  };
}
