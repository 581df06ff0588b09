import { describe, expect, it } from "vitest";
import { afterPaint, frameTask, renderGate, restTask } from "./frame";

describe("frame tasks", () => {
  it("run once per frame however often scheduled, and cancel cleanly", () => {
    const frames: (() => void)[] = [];
    const request = (cb: () => void) => frames.push(cb);
    const cancelled: number[] = [];
    let runs = 0;
    const task = frameTask(
      () => runs++,
      request,
      (h) => cancelled.push(h),
    );
    task.schedule();
    task.schedule();
    expect(frames).toHaveLength(1);
    expect(task.pending).toBe(true);
    frames[0]();
    expect(runs).toBe(1);
    expect(task.pending).toBe(false);
    task.schedule();
    task.cancel();
    expect(cancelled).toEqual([2]);
    expect(task.pending).toBe(false);
  });
});

describe("rest tasks", () => {
  it("run once, a delay after the last of a burst of calls", () => {
    const pending = new Map<number, { callback: () => void; ms: number }>();
    let next = 0;
    const timers = {
      set: (callback: () => void, ms: number) => {
        pending.set(++next, { callback, ms });
        return next;
      },
      clear: (handle: unknown) => pending.delete(handle as number),
    };
    let runs = 0;
    const task = restTask(() => runs++, 150, timers);
    task.schedule();
    task.schedule();
    task.schedule();
    expect(pending.size).toBe(1); // the earlier timers were cleared
    const [[, only]] = [...pending];
    expect(only.ms).toBe(150);
    only.callback();
    expect(runs).toBe(1);
    expect(task.pending).toBe(false);
    task.schedule();
    task.cancel();
    expect(pending.size).toBe(1); // the first (already run) entry only
    expect(runs).toBe(1);
  });
});

describe("render gate", () => {
  function harness() {
    let clock = 0;
    const timers: { callback: () => void; at: number; handle: number }[] = [];
    let next = 0;
    const api = {
      set: (callback: () => void, ms: number) => {
        timers.push({ callback, at: clock + ms, handle: ++next });
        return next;
      },
      clear: (handle: unknown) => {
        const i = timers.findIndex((t) => t.handle === handle);
        if (i >= 0) timers.splice(i, 1);
      },
    };
    const advance = (ms: number) => {
      clock += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= clock && timers.includes(t)) {
          timers.splice(timers.indexOf(t), 1);
          t.callback();
        }
      }
    };
    return { api, advance, now: () => clock, timers, tick: (ms: number) => (clock += ms) };
  }

  it("times renders, skips them while held and asks for a redraw when the hold ends", () => {
    const h = harness();
    const rendered: string[] = [];
    let redraws = 0;
    const gate = renderGate(
      (what: string) => {
        rendered.push(what);
        h.tick(900); // a slow (software WebGL) frame
      },
      () => redraws++,
      h.now,
      h.api,
    );
    expect(gate.lastMs).toBe(0);
    gate.render("first");
    expect(rendered).toEqual(["first"]);
    expect(gate.lastMs).toBe(900);
    gate.hold(100);
    gate.render("held");
    gate.render("held again");
    expect(rendered).toEqual(["first"]);
    expect(h.timers).toHaveLength(1); // one pending redraw for both skipped frames
    h.advance(50);
    gate.hold(30); // shorter than what is left: no change
    h.advance(49);
    expect(redraws).toBe(0);
    h.advance(1);
    expect(redraws).toBe(1);
    gate.render("after");
    expect(rendered).toEqual(["first", "after"]);
  });

  it("an extended hold delays the redraw; destroy drops it", () => {
    const h = harness();
    let redraws = 0;
    const gate = renderGate(
      () => {},
      () => redraws++,
      h.now,
      h.api,
    );
    gate.hold(100);
    gate.render();
    h.advance(60);
    gate.hold(100); // a newer selection: until 160
    h.advance(40); // the first timer fires at 100, finds the hold extended
    expect(redraws).toBe(0);
    h.advance(60);
    expect(redraws).toBe(1);
    gate.hold(100);
    gate.render();
    gate.destroy();
    h.advance(200);
    expect(redraws).toBe(1);
  });
});

describe("afterPaint", () => {
  it("runs the task two frames on, once, and not after its cancel", () => {
    const queue: (() => void)[] = [];
    const request = (cb: () => void) => queue.push(cb);
    const cancel = (h: number) => {
      queue[h - 1] = () => {};
    };
    let runs = 0;
    afterPaint(() => runs++, request, cancel);
    queue.shift()?.(); // the frame that draws
    expect(runs).toBe(0);
    queue.shift()?.(); // the next: painted
    expect(runs).toBe(1);
    expect(queue.length).toBe(0);
    const stop = afterPaint(() => runs++, request, cancel);
    stop();
    for (const cb of queue.splice(0)) cb();
    expect(runs).toBe(1);
  });
});
