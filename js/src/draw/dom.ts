/** Tiny DOM helpers. Text always goes through textContent, never innerHTML. */

import { isDark, rgbToHex } from "./colormaps";

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

/** Colors of the current theme (JupyterLab's CSS variables, else fitted to the page). */
export interface Theme {
  background: string;
  foreground: string;
  muted: string;
  border: string;
  accent: string;
  dark: boolean;
}

type RGBA = [number, number, number, number];

/**
 * A computed CSS color as 0..255 channels and an alpha in 0..1: "rgb()", "rgba()" and
 * "color(srgb ...)" (what Chromium computes for color-mix) are parsed; other syntaxes
 * (oklch, lab) are converted by painting one canvas pixel, when there is a canvas.
 */
export function parseCssColor(text: string): RGBA | null {
  const srgb = text.match(/^color\(srgb\s+([^)]*)\)$/);
  if (srgb) {
    const [channels, alpha] = srgb[1].split("/");
    const v = channels.trim().split(/\s+/).map(Number);
    const a = alpha === undefined ? 1 : Number(alpha);
    if (v.length !== 3 || [...v, a].some(Number.isNaN)) return null;
    return [v[0] * 255, v[1] * 255, v[2] * 255, a];
  }
  if (text.startsWith("rgb")) {
    const v = (text.match(/-?\d*\.?\d+(e-?\d+)?/g) ?? []).map(Number);
    if (v.length < 3) return null;
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  }
  return paintedColor(text);
}

function paintedColor(text: string): RGBA | null {
  if (typeof document === "undefined" || !text) return null;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return null;
  ctx.fillStyle = text;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}

/** "#rrggbb" of a parsed color (alpha dropped: WebGL and regl-scatterplot want hex). */
function toHex([r, g, b]: RGBA): string {
  return rgbToHex([r, g, b].map((v) => Math.max(0, Math.min(255, Math.round(v)))) as [number, number, number]);
}

/** The element around `node`, across the shadow root it may sit in (marimo's widgets do). */
function parentAcross(node: Element): Element | null {
  if (node.parentElement) return node.parentElement;
  const root = node.getRootNode();
  return root instanceof ShadowRoot ? root.host : null;
}

/**
 * Whether the page around `node` is dark, and its background: the first opaque background
 * among its ancestors (across shadow roots); without one, the page's `color-scheme` (and the
 * system's preference when the page accepts both). For hosts without JupyterLab's variables
 * (marimo, a plain page), whose widgets would otherwise be a white box in a dark page.
 */
export function pageBackdrop(node: HTMLElement): { background: string | null; dark: boolean } {
  for (let n = parentAcross(node); n; n = parentAcross(n)) {
    const color = parseCssColor(getComputedStyle(n).backgroundColor);
    if (color && color[3] >= 0.99) {
      const background = toHex(color);
      return { background, dark: isDark(background) };
    }
  }
  const scheme = getComputedStyle(node).colorScheme || "";
  const prefersDark = typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
  return { background: null, dark: scheme === "dark" || (scheme.includes("dark") && prefersDark) };
}

/**
 * Follow the page's theme, then read the colors views draw with. Outside JupyterLab the
 * root gets the class `miwd-dark` and the page's background (`--miwd-page-bg`) on a dark
 * page, which select styles.css' dark fallbacks; JupyterLab's variables win where defined.
 */
export function readTheme(node: HTMLElement): Theme {
  const page = pageBackdrop(node);
  node.classList.toggle("miwd-dark", page.dark);
  if (page.dark && page.background) node.style.setProperty("--miwd-page-bg", page.background);
  else node.style.removeProperty("--miwd-page-bg");
  // Theme variables may hold any CSS color syntax (names, var() chains): let the browser
  // resolve each one through a probe element, then convert to hex.
  const probe = document.createElement("span");
  probe.style.display = "none";
  node.appendChild(probe);
  const resolve = (name: string, fallback: string) => {
    probe.style.color = fallback;
    probe.style.color = `var(${name}, ${fallback})`;
    const color = parseCssColor(getComputedStyle(probe).color);
    return color ? toHex(color) : fallback;
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
  theme.dark = isDark(theme.background);
  return theme;
}
