import { describe, expect, it, vi } from "vitest";
import {
  bindLasso,
  combineSorted,
  LASSO_MIN_DIST_PX,
  MIN_LASSO_AREA_PX2,
  nearestPoint,
  PICK_RADIUS_PX,
  pointsInPolygon,
  polygonArea,
} from "./lasso";

/** Even-odd ray casting, one point at a time (the reference the scan must equal). */
function inside(px: number, py: number, poly: number[]): boolean {
  let hit = false;
  const k = poly.length / 2;
  for (let a = 0, b = k - 1; a < k; b = a++) {
    const [ax, ay, bx, by] = [poly[2 * a], poly[2 * a + 1], poly[2 * b], poly[2 * b + 1]];
    if (ay > py !== by > py && px < ax + ((py - ay) * (bx - ax)) / (by - ay)) hit = !hit;
  }
  return hit;
}

function randomPoints(n: number, seed = 1): { x: Float32Array; y: Float32Array } {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = 2 * next() - 1;
    y[i] = 2 * next() - 1;
  }
  return { x, y };
}

/** A concave star around (0.1, -0.05). */
function star(k = 9): number[] {
  const poly: number[] = [];
  for (let j = 0; j < 2 * k; j++) {
    const r = j % 2 === 0 ? 0.7 : 0.3;
    const a = (Math.PI * j) / k;
    poly.push(0.1 + r * Math.cos(a), -0.05 + r * Math.sin(a));
  }
  return poly;
}

describe("pointsInPolygon", () => {
  it("selects exactly the points inside a concave polygon, in row order", () => {
    const { x, y } = randomPoints(20000);
    const poly = star();
    const expected: number[] = [];
    for (let i = 0; i < x.length; i++) if (inside(x[i], y[i], poly)) expected.push(i);
    const got = pointsInPolygon(x, y, poly);
    expect(got).toBeInstanceOf(Int32Array);
    expect(Array.from(got)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(2000);
    expect(expected.length).toBeLessThan(18000); // the star's notches exclude points
  });

  it("equals testing every edge on long, self-crossing lassos and points on band edges", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (const k of [3, 40, 700, 3000]) {
      const poly: number[] = [];
      for (let j = 0; j < k; j++) poly.push(rand() * 2 - 1, rand() * 2 - 1);
      const n = 5000;
      const x = new Float32Array(n);
      const y = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        x[i] = rand() * 2.2 - 1.1;
        // every fourth point at a vertex's height (edges start, end and meet there)
        y[i] = i % 4 === 0 ? poly[2 * (i % k) + 1] : rand() * 2.2 - 1.1;
      }
      const expected: number[] = [];
      for (let i = 0; i < n; i++) if (inside(x[i], y[i], poly)) expected.push(i);
      expect(Array.from(pointsInPolygon(x, y, poly))).toEqual(expected);
    }
  });

  it("needs three vertices and keeps row 0", () => {
    const x = Float32Array.of(0, 5, 0.2);
    const y = Float32Array.of(0, 5, 0.1);
    expect(pointsInPolygon(x, y, [0, 0, 1, 1]).length).toBe(0);
    expect(Array.from(pointsInPolygon(x, y, [-1, -1, 1, -1, 1, 1, -1, 1]))).toEqual([0, 2]);
  });
});

describe("nearestPoint and combineSorted", () => {
  it("picks the nearest row within the radius, row 0 included, else -1", () => {
    const x = Float32Array.of(0, 1, 1.05);
    const y = Float32Array.of(0, 0, 0);
    expect(nearestPoint(x, y, 0.01, 0, 0.1)).toBe(0);
    expect(nearestPoint(x, y, 1.04, 0.01, 0.1)).toBe(2);
    expect(nearestPoint(x, y, 0.5, 0.5, 0.1)).toBe(-1);
  });

  it("merges and removes sorted rows", () => {
    const current = Int32Array.of(0, 3, 5, 9);
    const change = Int32Array.of(1, 3, 9, 12);
    expect(Array.from(combineSorted(current, change, "merge"))).toEqual([0, 1, 3, 5, 9, 12]);
    expect(Array.from(combineSorted(current, change, "remove"))).toEqual([0, 5]);
    expect(Array.from(combineSorted(new Int32Array(0), change, "remove"))).toEqual([]);
  });
});

/** A stand-in DOM: EventTargets with the few properties the lasso reads. */
function stage() {
  // The stage and the scatter canvas are one target here (no DOM tree to propagate in).
  const el = Object.assign(new EventTarget(), {
    clientWidth: 200,
    clientHeight: 100,
    getBoundingClientRect: () => ({ left: 10, top: 20, width: 200, height: 100 }),
  });
  const frame = el;
  const canvas = Object.assign(new EventTarget(), { width: 0, height: 0, style: {}, getContext: () => null });
  // Animation frames run when the test says (frames.run()).
  const frames = {
    queue: new Map<number, () => void>(),
    next: 1,
    run() {
      const due = [...this.queue.values()];
      this.queue.clear();
      for (const callback of due) callback();
    },
  };
  const win = Object.assign(new EventTarget(), {
    devicePixelRatio: 1,
    requestAnimationFrame: (callback: () => void) => {
      frames.queue.set(frames.next, callback);
      return frames.next++;
    },
    cancelAnimationFrame: (id: number) => frames.queue.delete(id),
  });
  return { el, frame, canvas, win, frames };
}

/** node has no MouseEvent: an Event carrying the fields the lasso copies. */
class StandInMouseEvent extends Event {
  constructor(type: string, init: MouseEventInit = {}) {
    super(type, init);
    const { bubbles, cancelable, composed, ...fields } = init; // Event's own, read-only
    Object.assign(this, fields);
  }
}
if (typeof MouseEvent === "undefined") vi.stubGlobal("MouseEvent", StandInMouseEvent);

function mouse(type: string, clientX: number, clientY: number, extra: Record<string, unknown> = {}): Event {
  const buttons = type === "pointermove" || type === "mousedown" ? 1 : 0;
  return Object.assign(new Event(type, { cancelable: true }), { button: 0, buttons, clientX, clientY, ...extra });
}

function bind(active: boolean) {
  const dom = stage();
  const onLasso = vi.fn();
  const onClick = vi.fn();
  const cleanup = bindLasso(
    {
      stage: dom.el as unknown as HTMLElement,
      frame: dom.frame as unknown as HTMLElement,
      canvas: dom.canvas as unknown as HTMLCanvasElement,
      active: () => active,
      toData: (sx, sy) => [sx / 100, -sy / 100],
      unitsPerPixel: () => 0.01,
      pointRadius: () => 3,
      color: () => "#f00",
      onLasso,
      onClick,
    },
    dom.win as unknown as Window,
  );
  return { ...dom, onLasso, onClick, cleanup };
}

describe("bindLasso", () => {
  it("turns a drag in lasso mode into a data-space polygon and swallows the click after it", () => {
    const t = bind(true);
    const down = mouse("mousedown", 20, 30);
    t.el.dispatchEvent(down);
    expect(down.defaultPrevented).toBe(true); // regl-scatterplot never sees it
    for (const [x, y] of [
      [60, 30],
      [61, 30], // closer than LASSO_MIN_DIST_PX to the last vertex: dropped
      [60, 80],
      [20, 80],
    ])
      t.win.dispatchEvent(mouse("pointermove", x, y));
    t.win.dispatchEvent(mouse("mouseup", 20, 80, { shiftKey: true }));
    expect(t.onLasso).toHaveBeenCalledTimes(1);
    const [polygon, mode] = t.onLasso.mock.calls[0];
    // relative to the frame (10, 20), then toData
    expect(Array.from(polygon as Float64Array)).toEqual([0.1, -0.1, 0.5, -0.1, 0.5, -0.6, 0.1, -0.6]);
    expect(mode).toBe("merge");
    expect(LASSO_MIN_DIST_PX).toBeGreaterThan(1);
    const click = mouse("click", 20, 80);
    t.el.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    // a move after the release draws nothing and lassos nothing
    t.win.dispatchEvent(mouse("pointermove", 90, 90));
    t.win.dispatchEvent(mouse("mouseup", 90, 90));
    expect(t.onLasso).toHaveBeenCalledTimes(1);
    t.cleanup();
  });

  it("a click in lasso mode picks; alt removes; without lasso mode only shift or alt lassos", () => {
    const t = bind(true);
    t.el.dispatchEvent(mouse("mousedown", 50, 50));
    t.win.dispatchEvent(mouse("mouseup", 50, 50, { altKey: true }));
    expect(t.onLasso).not.toHaveBeenCalled();
    expect(t.onClick).toHaveBeenCalledWith(0.4, -0.3, (3 + PICK_RADIUS_PX) * 0.01, "remove");
    t.cleanup();

    const pan = bind(false);
    const plain = mouse("mousedown", 20, 30);
    pan.el.dispatchEvent(plain);
    expect(plain.defaultPrevented).toBe(false); // a pan: regl-scatterplot's
    pan.win.dispatchEvent(mouse("pointermove", 80, 80));
    pan.win.dispatchEvent(mouse("mouseup", 80, 80));
    expect(pan.onLasso).not.toHaveBeenCalled();
    expect(pan.onClick).not.toHaveBeenCalled();
    pan.el.dispatchEvent(mouse("mousedown", 20, 30, { shiftKey: true }));
    for (const [x, y] of [
      [60, 30],
      [60, 80],
    ])
      pan.win.dispatchEvent(mouse("pointermove", x, y));
    pan.win.dispatchEvent(mouse("mouseup", 60, 80));
    expect(pan.onLasso).toHaveBeenCalledTimes(1);
    expect(pan.onLasso.mock.calls[0][1]).toBe("replace"); // shift released before the end
    // alt removes: also a lasso in pan mode (never regl-scatterplot's own selection)
    const alt = mouse("mousedown", 20, 30, { altKey: true });
    pan.el.dispatchEvent(alt);
    expect(alt.defaultPrevented).toBe(true);
    for (const [x, y] of [
      [60, 30],
      [60, 80],
    ])
      pan.win.dispatchEvent(mouse("pointermove", x, y));
    pan.win.dispatchEvent(mouse("mouseup", 60, 80, { altKey: true }));
    expect(pan.onLasso.mock.calls[1][1]).toBe("remove");
    pan.cleanup();
    // after the cleanup nothing listens
    pan.el.dispatchEvent(mouse("mousedown", 20, 30, { shiftKey: true }));
    pan.win.dispatchEvent(mouse("pointermove", 60, 30));
    pan.win.dispatchEvent(mouse("pointermove", 60, 80));
    pan.win.dispatchEvent(mouse("mouseup", 60, 80));
    expect(pan.onLasso).toHaveBeenCalledTimes(2);
  });
});

describe("lasso edge cases", () => {
  it("measures areas; a wobbling click is a click, not an empty lasso", () => {
    expect(polygonArea([0, 0, 4, 0, 4, 3, 0, 3])).toBe(12);
    expect(polygonArea([0, 0, 0, 3, 4, 3, 4, 0])).toBe(12); // either orientation
    const t = bind(true);
    t.el.dispatchEvent(mouse("mousedown", 50, 50));
    t.win.dispatchEvent(mouse("pointermove", 54, 50));
    t.win.dispatchEvent(mouse("pointermove", 50, 51)); // three vertices, almost no area
    t.win.dispatchEvent(mouse("mouseup", 50, 50));
    expect(MIN_LASSO_AREA_PX2).toBeGreaterThan(4);
    expect(t.onLasso).not.toHaveBeenCalled();
    expect(t.onClick).toHaveBeenCalledTimes(1);
    t.cleanup();
  });

  it("cancels when the button was released unseen, and ignores other targets and buttons", () => {
    const t = bind(true);
    t.el.dispatchEvent(mouse("mousedown", 20, 30));
    t.win.dispatchEvent(mouse("pointermove", 60, 30));
    t.win.dispatchEvent(mouse("pointermove", 60, 80, { buttons: 0 })); // released elsewhere
    t.win.dispatchEvent(mouse("mouseup", 20, 80));
    expect(t.onLasso).not.toHaveBeenCalled();
    expect(t.onClick).not.toHaveBeenCalled();
    // a mouse-down on another element (the legend over the points) starts nothing
    const legend = mouse("mousedown", 20, 30);
    Object.defineProperty(legend, "target", { value: {} });
    t.el.dispatchEvent(legend);
    expect(legend.defaultPrevented).toBe(false);
    // a right-button release does not end a lasso; the left one does
    t.el.dispatchEvent(mouse("mousedown", 20, 30));
    for (const [x, y] of [
      [60, 30],
      [60, 80],
    ])
      t.win.dispatchEvent(mouse("pointermove", x, y));
    const wheel = mouse("wheel", 60, 80);
    t.el.dispatchEvent(wheel);
    expect(wheel.defaultPrevented).toBe(true); // no zoom under the path
    t.win.dispatchEvent(mouse("mouseup", 60, 80, { button: 2 }));
    expect(t.onLasso).not.toHaveBeenCalled();
    t.win.dispatchEvent(mouse("mouseup", 60, 80));
    expect(t.onLasso).toHaveBeenCalledTimes(1);
    const after = mouse("wheel", 60, 80);
    t.el.dispatchEvent(after);
    expect(after.defaultPrevented).toBe(false);
    t.cleanup();
  });
});

describe("a press for regl-scatterplot's camera", () => {
  /** What regl-scatterplot's camera sees: window mousemoves and the frame's mousedowns. */
  function seen(t: ReturnType<typeof bind>) {
    const log: string[] = [];
    t.win.addEventListener("mousemove", (e) => {
      const m = e as MouseEvent;
      log.push(`move ${m.clientX},${m.clientY} buttons ${m.buttons}`);
    });
    t.frame.addEventListener("mousedown", (e) => {
      const m = e as MouseEvent;
      if (m instanceof MouseEvent) log.push(`down ${m.clientX},${m.clientY} buttons ${m.buttons}`);
    });
    return log;
  }

  it("gets a move to the press position, a frame, then the press", () => {
    const t = bind(false);
    const log = seen(t);
    const press = mouse("mousedown", 120, 70, { shiftKey: false });
    t.el.dispatchEvent(press);
    expect(press.defaultPrevented).toBe(false); // focus and the click are the browser's
    // The camera's position is where the press is before the press reaches it ...
    expect(log).toEqual(["move 120,70 buttons 0"]);
    t.frames.run(); // ... and it has had a frame to take it
    expect(log).toEqual(["move 120,70 buttons 0", "down 120,70 buttons 1"]);
    t.win.dispatchEvent(mouse("mouseup", 130, 70));
    expect(log).toHaveLength(2); // the press reached it once
    expect(t.onClick).not.toHaveBeenCalled();
    t.cleanup();
  });

  it("gets the press before the release when both come within one frame (a quick click)", () => {
    const t = bind(false);
    const log = seen(t);
    t.el.dispatchEvent(mouse("mousedown", 50, 40));
    const order: string[] = [];
    t.win.addEventListener("mouseup", () => order.push(`up after ${log.length}`));
    t.win.dispatchEvent(mouse("mouseup", 50, 40));
    expect(log).toEqual(["move 50,40 buttons 0", "down 50,40 buttons 1"]);
    expect(order).toEqual(["up after 2"]); // the press first, then the release
    t.frames.run();
    expect(log).toHaveLength(2); // no second press from the frame
    t.cleanup();
  });

  it("after a lasso, a pan starts from where the pointer is, not where the lasso began", () => {
    const t = bind(false);
    const log = seen(t);
    t.el.dispatchEvent(mouse("mousedown", 20, 30, { shiftKey: true }));
    for (const [x, y] of [
      [60, 30],
      [60, 80],
      [150, 80],
    ])
      t.win.dispatchEvent(mouse("pointermove", x, y));
    t.win.dispatchEvent(mouse("mouseup", 150, 80, { shiftKey: true }));
    expect(t.onLasso).toHaveBeenCalledTimes(1);
    expect(log).toEqual([]); // the lasso's moves and press were withheld
    t.el.dispatchEvent(mouse("mousedown", 150, 80)); // a pan, without moving first
    expect(log).toEqual(["move 150,80 buttons 0"]);
    t.frames.run();
    expect(log[1]).toBe("down 150,80 buttons 1");
    t.cleanup();
    // the cleanup drops a held press
    const u = bind(false);
    const after = seen(u);
    u.el.dispatchEvent(mouse("mousedown", 10, 10));
    u.cleanup();
    u.frames.run();
    expect(after).toEqual(["move 10,10 buttons 0"]);
  });
});
