import { describe, expect, it, vi } from "vitest";
import { fitCanvas, parseCssColor, watchMainButton } from "./dom";

function event(type: string, button = 0, buttons = 0): Event {
  return Object.assign(new Event(type), { button, buttons });
}

describe("watchMainButton", () => {
  it("follows the main button through mouse and pointer events, one release each", () => {
    const win = new EventTarget() as unknown as Window;
    const onRelease = vi.fn();
    const button = watchMainButton(onRelease, win);
    win.dispatchEvent(event("mousedown", 2, 2)); // the right button drags nothing
    expect(button.pressed).toBe(false);
    win.dispatchEvent(event("pointerdown", 0, 1));
    win.dispatchEvent(event("mousedown", 0, 1));
    expect(button.pressed).toBe(true);
    win.dispatchEvent(event("mousemove", 0, 1)); // still held
    expect(button.pressed).toBe(true);
    win.dispatchEvent(event("pointerup"));
    win.dispatchEvent(event("mouseup"));
    expect(button.pressed).toBe(false);
    expect(onRelease).toHaveBeenCalledTimes(1);
    // a release that never came: the next move without buttons, or the blur, ends it
    win.dispatchEvent(event("pointerdown", 0, 1));
    win.dispatchEvent(event("pointermove", 0, 0));
    expect(button.pressed).toBe(false);
    win.dispatchEvent(event("mousedown", 0, 1));
    win.dispatchEvent(event("blur"));
    expect(button.pressed).toBe(false);
    expect(onRelease).toHaveBeenCalledTimes(3);
    button.remove();
    win.dispatchEvent(event("mousedown", 0, 1));
    expect(button.pressed).toBe(false);
  });
});

describe("fitCanvas", () => {
  it("sizes the canvas in device pixels only when that changed, and draws in CSS px", () => {
    const calls: string[] = [];
    const ctx = {
      setTransform: (...a: number[]) => calls.push(`transform ${a.join(",")}`),
      clearRect: (...a: number[]) => calls.push(`clear ${a.join(",")}`),
    };
    let writes = 0;
    const canvas = {
      _w: 0,
      get width() {
        return this._w;
      },
      set width(v: number) {
        writes++;
        this._w = v;
      },
      height: 0,
      style: {} as Record<string, string>,
      getContext: () => ctx,
    };
    const c = canvas as unknown as HTMLCanvasElement;
    expect(fitCanvas(c, 200, 100, 1.5)).toBe(ctx);
    expect([canvas.width, canvas.height, canvas.style.width, canvas.style.height]).toEqual([
      300,
      150,
      "200px",
      "100px",
    ]);
    expect(calls).toEqual(["transform 1.5,0,0,1.5,0,0", "clear 0,0,200,100"]);
    fitCanvas(c, 200, 100, 1.5);
    expect(writes).toBe(1); // same size: not resized (that would clear and reallocate it)
    const none = { ...canvas, getContext: () => null } as unknown as HTMLCanvasElement;
    expect(fitCanvas(none, 10, 10, 1)).toBeNull();
  });
});

describe("parseCssColor", () => {
  it("reads the computed color syntaxes of Chromium, alpha included", () => {
    expect(parseCssColor("rgb(17, 17, 17)")).toEqual([17, 17, 17, 1]);
    expect(parseCssColor("rgba(255, 255, 255, 0.87)")).toEqual([255, 255, 255, 0.87]);
    expect(parseCssColor("rgb(0 0 0 / 0.5)")).toEqual([0, 0, 0, 0.5]);
    const marimo = parseCssColor("color(srgb 0.0941176 0.109804 0.101961)");
    expect(marimo?.map((v) => Math.round(v))).toEqual([24, 28, 26, 1]); // #181c1a
    expect(parseCssColor("color(srgb 1 1 1 / 0.25)")).toEqual([255, 255, 255, 0.25]);
  });

  it("returns null for what it cannot read (and no canvas to paint on)", () => {
    expect(parseCssColor("color(display-p3 1 0 0)")).toBeNull();
    expect(parseCssColor("rgb(nonsense)")).toBeNull();
    expect(parseCssColor("oklch(0.2 0.01 160)")).toBeNull(); // painted in a browser, not here
  });
});
