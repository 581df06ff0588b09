import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeferredColumns, DEFERRED_WAIT_MS } from "./deferred";
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
    let done: string[] | null = null;
    const ready = deferred.ready();
    expect(ready).not.toBeNull();
    void ready?.then((missing) => {
      done = missing;
    });
    expect(sent).toEqual([{ type: "columns", names: ["id", "path"] }]);
    answer(["id"]);
    await Promise.resolve();
    expect(done).toBeNull();
    answer(["path"]);
    await Promise.resolve();
    expect(done).toEqual([]);
    expect(deferred.pending()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0); // the wait's timer is cleared
  });

  it("without an answer ready() gives up after DEFERRED_WAIT_MS, naming what is missing", async () => {
    expect(DEFERRED_WAIT_MS).toBe(10_000);
    const { sent, deferred, answer } = fakePython(["id", "path"]);
    deferred.afterFirstPaint();
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(1); // asked after the first frame; Python is gone
    let missing: string[] | null = null;
    void deferred.ready()?.then((names) => {
      missing = names;
    });
    expect(sent).toHaveLength(1); // already asked: the click does not ask twice
    await vi.advanceTimersByTimeAsync(DEFERRED_WAIT_MS - 1);
    expect(missing).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(missing).toEqual(["id", "path"]);
    // The next click asks again, and this time Python answers before the wait is over.
    let second: string[] | null = null;
    void deferred.ready()?.then((names) => {
      second = names;
    });
    expect(sent).toEqual([
      { type: "columns", names: ["id", "path"] },
      { type: "columns", names: ["id", "path"] },
    ]);
    await vi.advanceTimersByTimeAsync(DEFERRED_WAIT_MS / 2);
    answer(["id", "path"]);
    await Promise.resolve();
    expect(second).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    expect(deferred.ready()).toBeNull();
  });

  it("a column that arrived while waiting is not named missing", async () => {
    const { deferred, answer } = fakePython(["id", "path"]);
    let missing: string[] | null = null;
    void deferred.ready()?.then((names) => {
      missing = names;
    });
    answer(["id"]);
    await vi.advanceTimersByTimeAsync(DEFERRED_WAIT_MS);
    expect(missing).toEqual(["path"]);
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

  it("the cleanup clears the wait of a pending ready()", () => {
    const { deferred } = fakePython(["id"]);
    void deferred.ready();
    expect(vi.getTimerCount()).toBe(1);
    deferred.destroy();
    expect(vi.getTimerCount()).toBe(0);
  });
});
