/**
 * The scatter's lasso, drawn on a 2-D canvas of its own and resolved over typed arrays.
 *
 * regl-scatterplot has a lasso, but it redraws every point on each lasso move (a second
 * per move at a million points in software WebGL) and, at mouse-up, tests each candidate
 * point as a small JS array and uploads the selection to the GPU before it reports it: about
 * 60 ms at 50,000 selected points, 0.3 s at 500,000. Here the path is a 2-D polyline over
 * the points, the selection a scan of the Float32Array coordinates (a few ms at a million),
 * and it reaches the store (and Python) before regl-scatterplot draws the highlight.
 *
 * A drag in lasso mode, or with shift or alt in pan mode, lassos; shift adds to the
 * selection and alt removes from it (as regl-scatterplot's action keys did). A click there
 * (no drag) picks the nearest point within a few pixels, as regl-scatterplot's click does.
 *
 * Every other press on the points (a pan, a click) goes to regl-scatterplot one animation
 * frame late: its camera pans, on each frame, by the pointer's move since its previous frame,
 * and takes the pointer's position from window mousemoves only, never from the press. A
 * press that reaches it before a frame has seen the pointer where it is (moves withheld
 * during a lasso; or, under load, a move and a press within one frame, as a quick click far
 * from the last position) made the camera pan by the whole distance at once: the view jumped
 * and the click's point was no longer under the pointer. So the camera first gets a move to
 * the press position and a frame to take it (later moves wait), then the press (at once if
 * the release comes first).
 */
import { fitCanvas, listen } from "../draw/dom";

/** A vertex is kept when it is at least this far (px) from the previous one. */
export const LASSO_MIN_DIST_PX = 3;
/** A click picks the nearest point within this many px of the pointer (beyond its radius). */
export const PICK_RADIUS_PX = 4;
/** A path enclosing less than this many px² is a click with a wobble, not a lasso. */
export const MIN_LASSO_AREA_PX2 = 24;

/** The area (px²) a closed polygon (flat [x0, y0, ...]) encloses (shoelace formula). */
export function polygonArea(polygon: ArrayLike<number>): number {
  const k = Math.floor(polygon.length / 2);
  let twice = 0;
  for (let a = 0, b = k - 1; a < k; b = a++) {
    twice += polygon[2 * b] * polygon[2 * a + 1] - polygon[2 * a] * polygon[2 * b + 1];
  }
  return Math.abs(twice) / 2;
}

/**
 * Rows whose (x[i], y[i]) lie inside `polygon` (flat [x0, y0, x1, y1, ...], closed
 * implicitly), in row order: even-odd ray casting, after a bounding-box test.
 *
 * The edges are first sorted into horizontal bands of the bounding box, so a point is
 * tested against the few edges that span its band, not all of a long lasso's edges (a
 * lasso over half of a million points took about 250 ms with every edge). An edge outside
 * a point's band cannot cross the point's ray, and the crossings' parity does not depend
 * on their order: the result is the same as testing every edge.
 *
 * Hand-written: no maintained library tests a million typed-array points against a
 * polygon without first copying them into arrays of pairs.
 */
export function pointsInPolygon(x: Float32Array, y: Float32Array, polygon: ArrayLike<number>): Int32Array {
  const k = Math.floor(polygon.length / 2);
  if (k < 3) return new Int32Array(0);
  let xmin = Number.POSITIVE_INFINITY;
  let xmax = Number.NEGATIVE_INFINITY;
  let ymin = Number.POSITIVE_INFINITY;
  let ymax = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) {
    const px = polygon[2 * j];
    const py = polygon[2 * j + 1];
    if (px < xmin) xmin = px;
    if (px > xmax) xmax = px;
    if (py < ymin) ymin = py;
    if (py > ymax) ymax = py;
  }
  const bands = edgeBands(polygon, k, ymin, ymax);
  const n = Math.min(x.length, y.length);
  const hits = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const px = x[i];
    const py = y[i];
    if (px < xmin || px > xmax || py < ymin || py > ymax) continue;
    const band = bands.of(py);
    let inside = false;
    for (let e = bands.start[band], end = bands.start[band + 1]; e < end; e++) {
      const a = bands.edges[e];
      const b = a === 0 ? k - 1 : a - 1;
      const ay = polygon[2 * a + 1];
      const by = polygon[2 * b + 1];
      if (ay > py !== by > py) {
        const ax = polygon[2 * a];
        const bx = polygon[2 * b];
        if (px < ax + ((py - ay) * (bx - ax)) / (by - ay)) inside = !inside;
      }
    }
    if (inside) hits[count++] = i;
  }
  return hits.slice(0, count);
}

/** The edges (by end vertex a, from vertex a - 1) that span each horizontal band of
 * [ymin, ymax], as compressed rows: band j's edges are edges[start[j]..start[j + 1]). */
function edgeBands(polygon: ArrayLike<number>, k: number, ymin: number, ymax: number) {
  const n = Math.max(1, Math.min(1024, k));
  const scale = ymax > ymin ? n / (ymax - ymin) : 0;
  // floor is monotone, so a y inside an edge's span falls in one of the edge's bands
  const of = (y: number) => Math.min(n - 1, Math.max(0, Math.floor((y - ymin) * scale)));
  const start = new Int32Array(n + 1);
  for (let a = 0; a < k; a++) {
    const b = a === 0 ? k - 1 : a - 1;
    const lo = of(Math.min(polygon[2 * a + 1], polygon[2 * b + 1]));
    const hi = of(Math.max(polygon[2 * a + 1], polygon[2 * b + 1]));
    for (let j = lo; j <= hi; j++) start[j + 1]++;
  }
  for (let j = 0; j < n; j++) start[j + 1] += start[j];
  const edges = new Int32Array(start[n]);
  const fill = start.slice(0, n);
  for (let a = 0; a < k; a++) {
    const b = a === 0 ? k - 1 : a - 1;
    const lo = of(Math.min(polygon[2 * a + 1], polygon[2 * b + 1]));
    const hi = of(Math.max(polygon[2 * a + 1], polygon[2 * b + 1]));
    for (let j = lo; j <= hi; j++) edges[fill[j]++] = a;
  }
  return { of, start, edges };
}

/** The row nearest to (px, py) within `radius` (data units), or -1. */
export function nearestPoint(x: Float32Array, y: Float32Array, px: number, py: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const dx = x[i] - px;
    if (dx > radius || dx < -radius) continue;
    const dy = y[i] - py;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Sorted union (`merge`) or difference (`remove`) of two sorted row lists. */
export function combineSorted(current: Int32Array, change: Int32Array, mode: "merge" | "remove"): Int32Array {
  const out = new Int32Array(mode === "merge" ? current.length + change.length : current.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < current.length || j < change.length) {
    const a = i < current.length ? current[i] : Number.POSITIVE_INFINITY;
    const b = j < change.length ? change[j] : Number.POSITIVE_INFINITY;
    if (a === b) {
      if (mode === "merge") out[k++] = a;
      i++;
      j++;
    } else if (a < b) {
      out[k++] = a;
      i++;
    } else {
      if (mode === "merge") out[k++] = b;
      j++;
    }
  }
  return out.slice(0, k);
}

export type LassoMode = "replace" | "merge" | "remove";

interface LassoOptions {
  /** Receives the mouse-down (capture phase): the element holding the scatter canvas. */
  stage: HTMLElement;
  /** The scatter canvas: positions are taken relative to it. */
  frame: HTMLElement;
  /** The 2-D canvas the path is drawn on (sized with the stage, no pointer events). */
  canvas: HTMLCanvasElement;
  /** Lasso mode is on (else only shift-drags lasso). */
  active: () => boolean;
  /** Pixels relative to the scatter canvas -> data coordinates of the points. */
  toData: (sx: number, sy: number) => [number, number];
  /** Data units per screen pixel (for the pick radius). */
  unitsPerPixel: () => number;
  /** The point radius in px (a click within it, plus PICK_RADIUS_PX, picks the point). */
  pointRadius: () => number;
  color: () => string;
  /** A lasso starts (hide what hovering showed). */
  onStart?: () => void;
  /** A finished lasso: the polygon in data coordinates (flat), and how to combine it. */
  onLasso: (polygon: Float64Array, mode: LassoMode) => void;
  /** A click without a drag: the data position, the pick radius in data units, how to combine. */
  onClick: (x: number, y: number, radius: number, mode: LassoMode) => void;
}

/** A copy of a mouse event (type, position, buttons, modifiers), to dispatch later. */
function copyMouse(type: string, e: MouseEvent, buttons = e.buttons): MouseEvent {
  return new MouseEvent(type, {
    bubbles: true,
    cancelable: true,
    clientX: e.clientX,
    clientY: e.clientY,
    screenX: e.screenX,
    screenY: e.screenY,
    button: e.button,
    buttons,
    shiftKey: e.shiftKey,
    altKey: e.altKey,
    ctrlKey: e.ctrlKey,
    metaKey: e.metaKey,
  });
}

function modeOf(event: MouseEvent): LassoMode {
  if (event.altKey) return "remove";
  if (event.shiftKey) return "merge";
  return "replace";
}

/**
 * Wire the lasso to the stage; returns the cleanup (every listener, a drag in progress).
 * `win` receives the moves and the release (the page's window; a stand-in in tests).
 */
export function bindLasso(opts: LassoOptions, win: Window = window): () => void {
  const { stage, canvas } = opts;
  let path: number[] | null = null; // px relative to the scatter canvas, flat
  let swallowClick = false;
  let clickTimer: ReturnType<typeof setTimeout> | undefined;
  // A press for regl-scatterplot, held until its camera had a frame with the pointer there.
  let held: MouseEvent | null = null;
  let heldFrame: number | undefined;
  let forwarding: MouseEvent | null = null; // the copy of `held` being dispatched
  const forward = () => {
    if (heldFrame !== undefined) win.cancelAnimationFrame(heldFrame);
    heldFrame = undefined;
    if (!held) return;
    forwarding = copyMouse("mousedown", held);
    held = null;
    opts.frame.dispatchEvent(forwarding);
    forwarding = null;
  };
  const drop = () => {
    if (heldFrame !== undefined) win.cancelAnimationFrame(heldFrame);
    heldFrame = undefined;
    held = null;
  };
  const local = (e: MouseEvent): [number, number] => {
    const r = opts.frame.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const clear = () => {
    const ctx = canvas.getContext("2d");
    ctx?.clearRect(0, 0, canvas.width, canvas.height);
  };
  const paint = () => {
    if (!path) return;
    const ctx = fitCanvas(canvas, stage.clientWidth, stage.clientHeight, win.devicePixelRatio || 1);
    if (!ctx) return;
    ctx.beginPath();
    for (let j = 0; j < path.length; j += 2) {
      if (j === 0) ctx.moveTo(path[0], path[1]);
      else ctx.lineTo(path[j], path[j + 1]);
    }
    ctx.closePath();
    ctx.strokeStyle = opts.color();
    ctx.lineWidth = 2;
    ctx.globalAlpha = 0.15;
    ctx.fillStyle = opts.color();
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.stroke();
  };
  const extend = (sx: number, sy: number) => {
    if (!path) return;
    const lx = path[path.length - 2];
    const ly = path[path.length - 1];
    if ((sx - lx) ** 2 + (sy - ly) ** 2 >= LASSO_MIN_DIST_PX ** 2) path.push(sx, sy);
  };
  const cancel = () => {
    if (!path) return;
    path = null;
    clear();
  };
  const onDown = (e: MouseEvent) => {
    if (e === forwarding || e.button !== 0 || e.target !== opts.frame) return;
    // On the points only (not the legend over them), in lasso mode or with shift (add) or
    // alt (remove): the store's selection is combined here, never regl-scatterplot's own.
    if (!(opts.active() || e.shiftKey || e.altKey)) {
      // A pan or a click: regl-scatterplot's, after its camera has seen the pointer here.
      e.stopPropagation();
      forward(); // an older press still held (two presses within a frame)
      win.dispatchEvent(copyMouse("mousemove", e, 0));
      held = e;
      heldFrame = win.requestAnimationFrame(() => {
        heldFrame = undefined;
        forward();
      });
      return;
    }
    // regl-scatterplot (its pan, its click bookkeeping) never sees this gesture.
    e.stopPropagation();
    e.preventDefault();
    path = local(e);
    opts.onStart?.();
  };
  const onMove = (e: MouseEvent) => {
    if (!path) return;
    if ((e.buttons & 1) === 0) {
      cancel(); // released where no mouse-up reached us (outside the frame, a lost focus)
      return;
    }
    e.stopPropagation(); // no hover (each would redraw every point), no pan meanwhile
    const events =
      typeof (e as PointerEvent).getCoalescedEvents === "function" ? (e as PointerEvent).getCoalescedEvents() : [];
    for (const one of events.length ? events : [e]) extend(...local(one));
    paint();
  };
  const onUp = (e: MouseEvent) => {
    if (held && e.button === 0) forward(); // released within the frame: the press first
    if (!path || e.button !== 0) return;
    const screen = path;
    path = null;
    clear();
    // The click that follows this mouse-up must not reach regl-scatterplot (it would pick
    // a point by the position of an older mouse-down).
    swallowClick = true;
    clickTimer = setTimeout(() => {
      swallowClick = false;
    }, 0);
    const mode = modeOf(e);
    if (screen.length >= 6 && polygonArea(screen) >= MIN_LASSO_AREA_PX2) {
      const polygon = new Float64Array(screen.length);
      for (let j = 0; j < screen.length; j += 2) {
        const [dx, dy] = opts.toData(screen[j], screen[j + 1]);
        polygon[j] = dx;
        polygon[j + 1] = dy;
      }
      opts.onLasso(polygon, mode);
    } else {
      const [sx, sy] = local(e);
      const [dx, dy] = opts.toData(sx, sy);
      opts.onClick(dx, dy, (opts.pointRadius() + PICK_RADIUS_PX) * opts.unitsPerPixel(), mode);
    }
  };
  const onClick = (e: MouseEvent) => {
    if (!swallowClick) return;
    swallowClick = false;
    e.stopPropagation();
    e.preventDefault();
  };
  const removers = [
    listen(stage, "mousedown", onDown, { capture: true }),
    // pointermove carries the coalesced moves of a busy frame; mousemove is stopped too.
    listen(win, "pointermove", onMove, { capture: true }),
    // While a press is held, the camera keeps the press position for its frame (a drag's
    // first moves are not lost: it pans to the latest position once it has the press).
    listen(win, "mousemove", (e) => (path || held) && e.stopPropagation(), { capture: true }),
    listen(win, "mouseup", onUp, { capture: true }),
    listen(win, "pointercancel", cancel, { capture: true }),
    listen(win, "blur", cancel),
    listen(win, "blur", drop),
    listen(stage, "click", onClick, { capture: true }),
    // The path is in screen space: no zoom under it while it is drawn.
    listen(
      stage,
      "wheel",
      (e) => {
        if (!path) return;
        e.preventDefault();
        e.stopPropagation();
      },
      { capture: true, passive: false },
    ),
  ];
  return () => {
    for (const remove of removers) remove();
    if (clickTimer !== undefined) clearTimeout(clickTimer);
    drop();
    path = null;
  };
}
