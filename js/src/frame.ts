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
