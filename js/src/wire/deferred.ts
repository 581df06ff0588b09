/**
 * The deferred text columns of a large library (`Atlas._deferred_columns`: ids, paths): not
 * in the first state, so the first paint does not wait for them. The view asks Python for
 * them once, after its first frame, or at once when a tooltip or the CSV needs them first.
 * Python may never answer (a notebook reopened without its kernel, an nbconvert page with
 * widget state, a dead kernel): the CSV waits at most `DEFERRED_WAIT_MS`, and asks again
 * on the next click.
 */
import type { ColumnsRequest } from "./model";

/** How long the CSV download waits for the deferred columns before it is saved without them. */
export const DEFERRED_WAIT_MS = 10_000;

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
  /**
   * null when nothing is pending, else asks and resolves once every column has arrived (with
   * []), or after `DEFERRED_WAIT_MS` with the names still missing; a later call asks again.
   */
  ready(): Promise<string[]> | null;
  /** To call when the columns held or `_deferred_columns` changed (resolves the waiting `ready`s). */
  update(): void;
  /** Cancels a scheduled request, and schedules none after; waiting `ready`s never resolve. */
  destroy(): void;
}

export function createDeferredColumns(opts: DeferredOptions): DeferredColumns {
  let asked = false;
  let destroyed = false; // a draw that resolves after the cleanup schedules nothing
  let frame: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: { resolve: (missing: string[]) => void; timer: ReturnType<typeof setTimeout> }[] = [];
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
      return new Promise<string[]>((resolve) => {
        if (destroyed) return;
        const waiter = {
          resolve,
          timer: setTimeout(() => {
            waiters = waiters.filter((w) => w !== waiter);
            asked = false; // no answer: the request (or its reply) may be lost; ask again next time
            resolve(pending());
          }, DEFERRED_WAIT_MS),
        };
        waiters.push(waiter);
      });
    },
    update() {
      if (waiters.length === 0 || pending().length > 0) return;
      const done = waiters;
      waiters = [];
      for (const waiter of done) {
        clearTimeout(waiter.timer);
        waiter.resolve([]);
      }
    },
    destroy() {
      destroyed = true;
      if (frame !== undefined) cancelAnimationFrame(frame);
      clearTimeout(timer);
      for (const waiter of waiters) clearTimeout(waiter.timer);
      waiters = [];
    },
  };
}
