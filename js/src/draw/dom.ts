/** Tiny DOM helpers. Text always goes through textContent, never innerHTML. */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** addEventListener that returns its own remover, so cleanups remove exactly what was added. */
export function listen<K extends keyof HTMLElementEventMap>(
  target: HTMLElement | Window | Document,
  type: K,
  handler: (event: HTMLElementEventMap[K]) => void,
  options?: AddEventListenerOptions,
): () => void {
  target.addEventListener(type, handler as EventListener, options);
  return () => target.removeEventListener(type, handler as EventListener, options);
}

/**
 * A 2-D canvas sized to `width` x `height` CSS px at `dpr` device pixels per px (resized only
 * when that changed), cleared, its context drawing in CSS px; null without a 2-D context.
 */
export function fitCanvas(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
  dpr: number,
  attributes?: CanvasRenderingContext2DSettings,
): CanvasRenderingContext2D | null {
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d", attributes);
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

/** Whether the main mouse button is held (see {@link watchMainButton}). */
export interface MainButton {
  readonly pressed: boolean;
  remove(): void;
}

/**
 * Track the main mouse button on `win` (capture phase: a drag in any view). Mouse and
 * pointer events both count (pages dispatch either); a release that never comes (a context
 * menu, a lost focus) ends with the next move without buttons, or with the blur.
 * `onRelease` runs once per release.
 */
export function watchMainButton(onRelease?: () => void, win: Window = window): MainButton {
  let pressed = false;
  const press = (e: MouseEvent) => {
    if (e.button === 0) pressed = true;
  };
  const release = () => {
    if (!pressed) return;
    pressed = false;
    onRelease?.();
  };
  const up = (e: MouseEvent) => e.button === 0 && release();
  const move = (e: MouseEvent) => pressed && (e.buttons & 1) === 0 && release();
  const capture = { capture: true };
  const removers = [
    listen(win, "mousedown", press, capture),
    listen(win, "pointerdown", press, capture),
    listen(win, "mouseup", up, capture),
    listen(win, "pointerup", up, capture),
    listen(win, "pointercancel", release, capture),
    listen(win, "mousemove", move, capture),
    listen(win, "pointermove", move, capture),
    listen(win, "blur", release),
  ];
  return {
    get pressed() {
      return pressed;
    },
    remove() {
      for (const remove of removers) remove();
    },
  };
}

/** Colors of the current Jupyter theme (CSS variables with light fallbacks). */
export interface Theme {
  background: string;
  foreground: string;
  muted: string;
  border: string;
  accent: string;
  dark: boolean;
}

function luminance(hex: string): number {
  const v = Number.parseInt(hex.slice(1, 7), 16);
  if (Number.isNaN(v)) return 1;
  return (0.2126 * ((v >> 16) & 255) + 0.7152 * ((v >> 8) & 255) + 0.0722 * (v & 255)) / 255;
}

/** "rgb(r, g, b)" / "rgba(...)" -> "#rrggbb" (WebGL and regl-scatterplot want hex). */
function cssColorToHex(color: string, fallback: string): string {
  const m = color.match(/-?\d+(\.\d+)?/g);
  if (!color.startsWith("rgb") || !m || m.length < 3) return fallback;
  return `#${m
    .slice(0, 3)
    .map((v) =>
      Math.max(0, Math.min(255, Math.round(Number(v))))
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}

export function readTheme(node: HTMLElement): Theme {
  // Theme variables may hold any CSS color syntax (names, var() chains): let the browser
  // resolve each one through a probe element, then convert to hex.
  const probe = document.createElement("span");
  probe.style.display = "none";
  node.appendChild(probe);
  const resolve = (name: string, fallback: string) => {
    probe.style.color = fallback;
    probe.style.color = `var(${name}, ${fallback})`;
    return cssColorToHex(getComputedStyle(probe).color, fallback);
  };
  const theme = {
    background: resolve("--miwd-bg", "#ffffff"),
    foreground: resolve("--miwd-fg", "#1a1a1a"),
    muted: resolve("--miwd-muted", "#757575"),
    border: resolve("--miwd-border", "#e0e0e0"),
    accent: resolve("--miwd-accent", "#e6550d"),
    dark: false,
  };
  probe.remove();
  theme.dark = luminance(theme.background) < 0.5;
  return theme;
}
