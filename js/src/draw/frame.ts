/**
 * Redraws run after the selection was sent to Python, once per animation frame: a view's
 * store listener only calls `schedule()`; many selections within one frame (a brush drag)
 * cost one redraw, with the latest state.
 */

type RequestFrame = (callback: () => void) => number;
type CancelFrame = (handle: number) => void;

export interface FrameTask {
  /** Run the task in the next animation frame (once, however often this is called). */
  schedule(): void;
  /** Drop a scheduled run (cleanup). */
  cancel(): void;
  readonly pending: boolean;
}

const defaultRequest: RequestFrame = (callback) =>
  typeof requestAnimationFrame === "function"
    ? requestAnimationFrame(callback)
    : (setTimeout(callback, 16) as unknown as number);
const defaultCancel: CancelFrame = (handle) => {
  if (typeof cancelAnimationFrame === "function") cancelAnimationFrame(handle);
  else clearTimeout(handle);
};

export function frameTask(task: () => void, request = defaultRequest, cancel = defaultCancel): FrameTask {
  let handle: number | null = null;
  return {
    schedule() {
      if (handle !== null) return;
      handle = request(() => {
        handle = null;
        task();
      });
    },
    cancel() {
      if (handle === null) return;
      cancel(handle);
      handle = null;
    },
    get pending() {
      return handle !== null;
    },
  };
}

/**
 * Run `task` once the browser has painted what is scheduled now (two animation frames on:
 * the one that draws, then the next); returns the cancel. A view that is costly to lay out
 * (parallel coordinates of a million rows) waits for it, so the scatter shows first.
 */
export function afterPaint(task: () => void, request = defaultRequest, cancel = defaultCancel): () => void {
  let handle: number | null = request(() => {
    handle = request(() => {
      handle = null;
      task();
    });
  });
  return () => {
    if (handle !== null) cancel(handle);
    handle = null;
  };
}

interface Timers {
  set: (callback: () => void, ms: number) => unknown;
  clear: (handle: unknown) => void;
}
const defaultTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
const defaultNow = () => performance.now();

/**
 * A brush drag rests when no move came for this long: then the views draw what they skip
 * while it moves (the parallel coordinates' exact lines, the scatter's highlight when its
 * frames are slow). One value for every view: they settle together.
 */
export const BRUSH_REST_MS = 250;

export interface RestTask {
  /** Run the task once `ms` after the last call (a drag that rests). */
  schedule(): void;
  cancel(): void;
  readonly pending: boolean;
}

/** A trailing debounce: many calls in a burst run the task once, `ms` after the last. */
export function restTask(task: () => void, ms: number, timers: Timers = defaultTimers): RestTask {
  let handle: unknown = null;
  return {
    schedule() {
      if (handle !== null) timers.clear(handle);
      handle = timers.set(() => {
        handle = null;
        task();
      }, ms);
    },
    cancel() {
      if (handle === null) return;
      timers.clear(handle);
      handle = null;
    },
    get pending() {
      return handle !== null;
    },
  };
}

export interface RenderGate<A extends unknown[]> {
  /** The wrapped render: timed, or skipped while held (then `redraw` is asked for after). */
  render(...args: A): void;
  /** Skip renders for the next `ms` (extends a running hold, never shortens it). */
  hold(ms: number): void;
  /** Duration of the last render (ms), 0 before the first. */
  readonly lastMs: number;
  destroy(): void;
}

/**
 * Times a renderer's frames and can hold them back for a moment. A million points take a
 * second per frame in software WebGL; a frame started right after a selection was sent
 * keeps the main thread busy while the browser still writes that message to the WebSocket
 * (a large message goes out in chunks, each waiting for the main thread), so Python got a
 * lasso's selection only after the redraw. A short hold lets the message go first; the
 * skipped frame is redrawn when it ends (`redraw`).
 */
export function renderGate<A extends unknown[]>(
  render: (...args: A) => void,
  redraw: () => void,
  now: () => number = defaultNow,
  timers: Timers = defaultTimers,
): RenderGate<A> {
  let holdUntil = Number.NEGATIVE_INFINITY;
  let lastMs = 0;
  let timer: unknown = null;
  let destroyed = false;
  const release = () => {
    timer = null;
    if (destroyed) return;
    const wait = holdUntil - now();
    if (wait > 0) timer = timers.set(release, wait);
    else redraw();
  };
  return {
    render(...args) {
      const start = now();
      if (start < holdUntil) {
        if (timer === null) timer = timers.set(release, holdUntil - start);
        return;
      }
      render(...args);
      lastMs = now() - start;
    },
    hold(ms) {
      holdUntil = Math.max(holdUntil, now() + ms);
    },
    get lastMs() {
      return lastMs;
    },
    destroy() {
      destroyed = true;
      if (timer !== null) timers.clear(timer);
      timer = null;
    },
  };
}
