import { describe, expect, it } from "vitest";
import { frameTask } from "./frame";

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
