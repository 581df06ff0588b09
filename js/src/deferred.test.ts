import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeferredColumns } from "./deferred";
import type { ColumnsRequest } from "./model";

/** Python's side: `_deferred_columns` and the columns the view holds; `answer` plays a reply. */
function fakePython(names: string[]) {
  const state = { deferred: [...names], held: new Set<string>(["lr"]) };
  const sent: ColumnsRequest[] = [];
  const deferred = createDeferredColumns({
    deferred: () => state.deferred,
    has: (name) => state.held.has(name),
    send: (message) => sent.push(message),
  });
  const answer = (asked: string[]) => {
    for (const name of asked) state.held.add(name);
    state.deferred = state.deferred.filter((name) => !asked.includes(name));
    deferred.update();
  };
  return { state, sent, deferred, answer };
}

// Node has no animation frames: a fake one, driven by the fake timers (one frame = 16 ms).
beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => setTimeout(() => cb(0), 16));
  vi.stubGlobal("cancelAnimationFrame", (id: ReturnType<typeof setTimeout>) => clearTimeout(id));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("deferred columns", () => {
  it("are asked for after the first frame, not during it, and only once", () => {
    const { sent, deferred } = fakePython(["id", "path"]);
    deferred.afterFirstPaint();
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(16);
    expect(sent).toEqual([]); // the frame ran: the request waits for a task after it
    vi.advanceTimersToNextTimer();
    expect(sent).toEqual([{ type: "columns", names: ["id", "path"] }]);
    deferred.afterFirstPaint();
    deferred.request();
    vi.runAllTimers();
    expect(sent).toHaveLength(1);
  });

  it("a hover before the first frame asks at once and the frame asks no more", () => {
    const { sent, deferred } = fakePython(["id"]);
    deferred.request(); // the first tooltip
    deferred.afterFirstPaint();
    vi.runAllTimers();
    expect(sent).toEqual([{ type: "columns", names: ["id"] }]);
  });

  it("asks nothing when nothing is deferred or everything has arrived", () => {
    const { state, sent, deferred } = fakePython([]);
    deferred.afterFirstPaint();
    deferred.request();
    vi.runAllTimers();
    expect(sent).toEqual([]);
    expect(deferred.ready()).toBeNull();
    state.deferred = ["lr"]; // another view's request was answered: it is held already
    expect(deferred.pending()).toEqual([]);
    expect(deferred.ready()).toBeNull();
  });

  it("ready() asks at once and resolves only when every pending column has arrived", async () => {
    const { sent, deferred, answer } = fakePython(["id", "path"]);
    let done = false;
    const ready = deferred.ready();
    expect(ready).not.toBeNull();
    void ready?.then(() => {
      done = true;
    });
    expect(sent).toEqual([{ type: "columns", names: ["id", "path"] }]);
    answer(["id"]);
    await Promise.resolve();
    expect(done).toBe(false);
    answer(["path"]);
    await Promise.resolve();
    expect(done).toBe(true);
    expect(deferred.pending()).toEqual([]);
  });

  it("the cleanup cancels a scheduled request and a later draw schedules none", () => {
    const { sent, deferred } = fakePython(["id"]);
    deferred.afterFirstPaint();
    vi.advanceTimersByTime(16); // the frame ran, the task after it not yet
    deferred.destroy();
    vi.runAllTimers();
    deferred.afterFirstPaint(); // a draw resolving after the cleanup
    deferred.request();
    vi.runAllTimers();
    expect(sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
