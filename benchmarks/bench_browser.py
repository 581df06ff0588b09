"""Browser benchmark of the Atlas widget in a real JupyterLab 4 + headless Chromium.

Not a test: prints a table. Uses the e2e harness (tests/e2e/lab_harness.py): a private
JupyterLab server, Debian's /usr/bin/chromium with WebGL in software (SwiftShader, so numbers
are pessimistic compared to a GPU), one notebook.

Measured
--------
display -> first paint and all points drawn, for 13,000 / 100,000 / 1,000,000 points
    The notebook cell ``atlas = Atlas(lib); atlas`` is executed from the JupyterLab UI; the
    clock starts when the cell is sent to the kernel (so it includes building the widget
    state in Python, the comm transfer of the binary buffers, creating the view and the first
    WebGL frame) and stops at the first animation frame in which the scatter canvas holds
    drawn points (its 2-D canvas is read back with getImageData; regl-scatterplot copies its
    WebGL frame into it). Above 200,000 points the Atlas first draws a 100,000-point spread
    sample (js/src/views/scatter.ts PREVIEW_ABOVE): "all points drawn" is when its full draw is
    done (the scatter's ``data-preview`` is 0); for jupyter-scatter it is its first paint. Also reported: Python-side ``Atlas(lib)`` time, when the cell's
    execution finished ("cell done"), when the canvas element appeared, and the widget's
    initial state size (JSON + binary buffers).
selection round trip, 10,000 of 100,000 points
    In the page: ``model.set("selection", <10,000 int32>)`` + ``save_changes()`` on the Atlas
    model (reached through a tiny probe anywidget's ``widget_manager``), the kernel's
    ``atlas.observe(..., names="selection")`` callback sets ``probe.ack``, and the clock stops
    when the page sees that change. Measured twice: on the displayed atlas (its views redraw
    on every change: scatter highlight, parallel lines, gallery request; in software WebGL
    that competes with the message handling) and on an undisplayed Atlas of the same library
    (transport + kernel only). The widget's 30 ms save debounce after a lasso
    (js/src/wire/sync.ts SAVE_INTERVAL_MS) is not included. One-way page->kernel latency is also
    shown (same machine clock).

gestures, Atlas side by side with jupyter-scatter (issue 11)
    For each size the same library is also shown with ``jscatter.Scatter`` in the same run
    (``pip install jupyter-scatter``, the ``bench`` extra; only for this benchmark). Real
    mouse input (Playwright): a lasso (Atlas: lasso toggle + drag; jupyter-scatter: its
    lasso mouse mode + drag), Clear (Atlas: the Clear button; jupyter-scatter: double-click
    on empty space, its deselect) and, Atlas only, a brush on the accuracy axis. Latency is
    from the page's ``mouseup`` (a capturing listener stamps ``performance.timeOrigin +
    now()``) to the kernel's ``observe(names="selection")`` callback (``time.time()``, same
    machine clock), taken when the kernel holds the gesture's final selection. Also: the
    initial payload (state JSON + buffers) and the tab's JS heap (``performance.memory``).
half lasso, issue 24
    A lasso around the middle (radius HALF_RADIUS of the scatter's height) that selects about
    half of the points, Atlas and jupyter-scatter, and for the Atlas where its time goes
    (STAGES): browser (mouse-up to the view's save: the lasso's rows, the store, listeners),
    send (ipywidgets serializing it, and its throttle), transport (page to the kernel's
    ``_handle_msg``: websocket, server, kernel queue) and kernel (decoding, validation, the
    echo check, up to the observer). The page stamps the Atlas model's ``sync`` and
    ``send_sync_message`` (JS_STAMP_SAVES); the kernel stamps ``Atlas._handle_msg``, patched in
    the setup cell. Instrumentation of the benchmark only: the widget's code is unchanged.
brush rate, Atlas only
    Updates per second while a brush is dragged continuously on the accuracy axis for 3 s:
    one mouse move per animation frame (as Chromium delivers real moves), dispatched in the
    page, back and forth over 35-70 % of the axis; an update is a frame whose count label
    (drawn in the same frame as the parallel coordinates) shows a new selection.

Targets (issue 11): mouse-up to kernel under 100 ms at 100,000 and 300 ms at 1,000,000,
faster than jupyter-scatter; brush >= 20 updates/s at 1,000,000; first paint at 1,000,000 under 3 s and at most half of
jupyter-scatter's.

First paints are measured ``--paint-repeats`` times per size, Atlas and jupyter-scatter
alternately (the cell is run again), and reported as median ± std with the gestures.

Run: ``.venv/bin/python benchmarks/bench_browser.py [--sizes 13000 100000 1000000]
[--repeats 10] [--paint-repeats 3] [--no-jscatter] [--half-lasso-only]``
(``BENCH_TRACE=1`` prints every message the kernel handled around each half lasso).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from lab_harness import (  # noqa: E402 - path set above
    ARTIFACTS,
    HarnessError,
    JupyterLabServer,
    LabNotebook,
    launch_chromium,
)

SETUP_CELL = '''
import time
import numpy as np
import pandas as pd
import anywidget
import traitlets
from ipywidgets.widgets.widget import _remove_buffers
from miwd_widget import Atlas, ModelLibrary


def make_library(n, seed=0, S=8, B=8):
    """n models: 12 Gaussian clusters in the atlas, the paper's hyper-parameter columns."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 12, n)
    centers = rng.uniform(-10, 10, (12, 2))
    embedding = (centers[cluster] + rng.normal(0, 1.0, (n, 2))).astype(np.float32)
    descriptors = rng.random((n, S, B), dtype=np.float32)
    descriptors /= descriptors.sum(axis=2, keepdims=True)
    acc = rng.uniform(0.1, 0.99, n)
    metadata = pd.DataFrame({
        "id": [f"m{i:07d}" for i in range(n)],
        "dataset": rng.choice(["mnist", "cifar10", "svhn", "fashion"], n),
        "lr": 10 ** rng.uniform(-4, -1, n),
        "batch_size": rng.choice([32, 64, 128, 256], n),
        "optimizer": rng.choice(["adam", "rmsprop", "sgd_momentum"], n),
        "activation": rng.choice(["relu", "elu", "sigmoid", "tanh"], n),
        "initialization": rng.choice(["constant", "random_normal", "glorot_uniform"], n),
        "test_accuracy": acc,
        "accuracy_norm": acc,
    })
    return ModelLibrary(descriptors, metadata, embedding=embedding, value_range=(-1.0, 1.0))


def state_size(widget):
    """Bytes of the widget's initial state: (JSON text, binary buffers)."""
    import json
    state, _paths, buffers = _remove_buffers(widget.get_state())
    return len(json.dumps(state)), sum(memoryview(b).nbytes for b in buffers)


class Probe(anywidget.AnyWidget):
    """Exposes its model to the page (window.__probe) and acknowledges from Python."""
    _esm = """
    export default { render({ model, el }) { window.__probe = model; el.textContent = "probe"; } };
    """
    ack = traitlets.Dict().tag(sync=True)


probe = Probe()
libraries = {}
timings = {}
try:
    import jscatter
except ImportError:
    jscatter = None


# Stage stamps of selection updates (kernel side): when ipywidgets' message handler got the
# message and when it returned (after deserializing, validating and the observers).
stage_stamps = []
_handle_msg = Atlas._handle_msg


def _stamped_handle_msg(self, msg):
    data = msg["content"]["data"]
    t_recv = time.time() * 1000
    out = _handle_msg(self, msg)
    kind = data.get("method")
    if kind == "update" and "selection" in data.get("state", {}):
        kind = "selection"
    elif kind == "custom":
        kind = str(data.get("content", {}).get("type"))
    stage_stamps.append({"kind": kind, "recv": t_recv, "done": time.time() * 1000})
    return out


Atlas._handle_msg = _stamped_handle_msg  # before any Atlas: its comm binds the method


def ack_on(widget):
    """Stamp every selection change of `widget` in probe.ack (seq, size, kernel time)."""
    def _ack(change):
        new = change["new"]
        probe.ack = {"seq": probe.ack.get("seq", -1) + 1,
                     "n": 0 if new is None else len(new), "t_kernel_ms": time.time() * 1000}
    widget.observe(_ack, names="selection")
    return _ack


def jscatter_of(lib):
    emb = lib.embedding
    df = pd.DataFrame({"x": emb[:, 0], "y": emb[:, 1],
                       "accuracy_norm": lib.metadata["accuracy_norm"].to_numpy()})
    return jscatter.Scatter(data=df, x="x", y="y", color_by="accuracy_norm")


probe
'''

JSCATTER_CELL = """
_t = time.perf_counter()
sc_{n} = jscatter_of(libraries[{n}])
_w = sc_{n}.show()
timings[("js", {n})] = time.perf_counter() - _t
_w
"""

DISPLAY_CELL = """
_t = time.perf_counter()
atlas_{n} = Atlas(libraries[{n}])
timings[{n}] = time.perf_counter() - _t
atlas_{n}
"""

# Run one cell from the UI and time it until the scatter canvas in that cell's output has
# drawn points. Returns milliseconds relative to the moment the cell was sent.
JS_TIME_DISPLAY = """
async ([index, timeoutMs, selector]) => {
  const panel = window.__e2ePanel;
  const app = window.jupyterapp;
  const cell = panel.content.widgets[index];
  panel.content.activeCellIndex = index;
  const t0 = performance.now();
  let tExecuted = null, tCanvas = null, tPaint = null, tAll = null;
  const run = app.commands.execute('notebook:run-cell').then(() => { tExecuted = performance.now(); });
  const painted = (c) => {
    if (!c.width || !c.height) return false;
    const ctx = c.getContext('2d');
    if (!ctx) return false;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const r0 = d[0], g0 = d[1], b0 = d[2];
    let k = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 40) {
        if (++k > 20) return true;
      }
    }
    return false;
  };
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      let c = null;
      for (const x of cell.node.querySelectorAll(selector)) {
        if (!c || x.width * x.height > c.width * c.height) c = x;
      }
      if (c && tCanvas === null) tCanvas = now;
      if (c && tPaint === null && painted(c)) tPaint = now;
      // The Atlas draws a sample of a large library first (data-preview > 0), then all
      // points; jupyter-scatter draws all points in its first frame.
      const atlas = cell.node.querySelector('.miwd-scatter');
      if (tPaint !== null && (!atlas || atlas.dataset.preview === '0')) { tAll = now; resolve(); return; }
      if (now - t0 > timeoutMs) { resolve(); return; }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await run;
  const rel = (t) => (t === null ? null : t - t0);
  const heap = performance.memory ? performance.memory.usedJSHeapSize : null;
  return {executed: rel(tExecuted), canvas: rel(tCanvas), paint: rel(tPaint), all: rel(tAll), heap};
}
"""

# Brush rate: drag a brush on one axis for `ms` with one mouse move per animation frame (as
# Chromium coalesces real mouse moves to one per frame), back and forth between two heights,
# and count the frames that showed a new selection (the count label changes in the same
# animation frame as the parallel-coordinates redraw). Synthetic events dispatched from the
# page: Playwright's own mouse moves wait for a CDP round trip each and would pace the drag.
JS_BRUSH_RATE = """
async ([cellIndex, axis, ms]) => {
  const cell = window.__e2ePanel.content.widgets[cellIndex].node;
  const overlay = cell.querySelector(`g.miwd-brush[data-axis="${axis}"] rect.overlay`);
  const count = cell.querySelector('.miwd-count');
  const r = overlay.getBoundingClientRect();
  const x = r.left + r.width / 2;
  const at = (f) => r.top + f * r.height;
  const mouse = (type, target, y) => target.dispatchEvent(new MouseEvent(type, {
    bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0,
    buttons: type === 'mouseup' ? 0 : 1 }));
  const changes = [];
  const observer = new MutationObserver(() => changes.push(performance.now()));
  observer.observe(count, {childList: true, characterData: true, subtree: true});
  mouse('mousedown', overlay, at(0.3));
  const t0 = performance.now();
  let moves = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const t = performance.now() - t0;
      if (t >= ms) { resolve(); return; }
      const phase = (t / 1000) % 2;  // 0.3 -> 0.7 of the axis in 1 s, back in the next
      mouse('mousemove', window, at(0.35 + 0.35 * (phase < 1 ? phase : 2 - phase)));
      moves++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const t1 = performance.now();
  mouse('mouseup', window, at(0.6));
  observer.disconnect();
  const during = changes.filter((t) => t > t0 && t <= t1).length;
  return {moves, updates: during, ms: t1 - t0, rate: during / ((t1 - t0) / 1000)};
}
"""

# Stamp the wall-clock time of every mouseup in the page (capturing: before any widget).
JS_STAMP_MOUSEUP = """
() => {
  if (window.__upInstalled) return;
  window.__upInstalled = true;
  window.__ups = [];
  window.addEventListener('mouseup', () => {
    window.__ups.push(performance.timeOrigin + performance.now());
  }, true);
}
"""

# Stamp each selection save of one Atlas model in the page (wall clock): `sync` when the view
# saved it (the lasso's rows computed and normalized), `sent` when ipywidgets handed the
# serialized message to the kernel connection (later if its throttle held it back).
JS_STAMP_SAVES = """
async ([modelId]) => {
  const model = await window.__probe.widget_manager.get_model(modelId);
  window.__saves = [];
  if (model.__stamped) return;
  model.__stamped = true;
  const now = () => performance.timeOrigin + performance.now();
  const sync = model.sync;
  model.sync = function (...args) {
    window.__saves.push({sync: now(), sent: null});
    return sync.apply(this, args);
  };
  const send = model.send_sync_message;
  model.send_sync_message = function (...args) {
    const out = send.apply(this, args);
    const last = window.__saves[window.__saves.length - 1];
    if (last && last.sent === null) last.sent = now();
    return out;
  };
}
"""

BRUSH_RATE_MS = 3000
# The radius (share of the scatter's height) of the lasso around the middle that selects
# about half of the benchmark's points (issue 24: "half of 1,000,000").
HALF_RADIUS = 0.34
# Where a selection's time goes, mouse-up to the kernel's observer (Atlas only).
STAGES = ("browser", "send", "transport", "kernel")


def _last_up_before(ups: list[float], t: float) -> float | None:
    before = [u for u in ups if u <= t]
    return max(before) if before else None


def gesture_latency(
    nb, widget: str, selection: str, gesture, want_empty: bool, stages: dict | None = None
) -> float | None:
    """ms from the gesture's last mouse-up to the kernel observer seeing its final selection
    (None, reported, when the gesture failed: the run goes on). ``stages`` (an Atlas whose
    saves are stamped, JS_STAMP_SAVES) receives the split of that time (STAGES) and the
    number of rows selected."""
    try:
        return _gesture_latency(nb, widget, selection, gesture, want_empty, stages)
    except HarnessError as err:
        print(f"gesture on {widget} failed: {err}", flush=True)
        nb.run_python(f"{widget}.unobserve(_ackf, names='selection')")
        return None


def _gesture_latency(
    nb, widget: str, selection: str, gesture, want_empty: bool, stages: dict | None
) -> float | None:
    nb.run_python(f"probe.ack = {{'seq': -1}}\nstage_stamps.clear()\n_ackf = ack_on({widget})")
    nb.page.evaluate("() => { window.__ups = []; window.__saves = []; }")
    gesture()
    size = f"(0 if {selection} is None else len({selection}))"
    nb.wait_kernel_value(f"{size} == 0" if want_empty else f"{size} > 0", bool, timeout=120)
    time.sleep(0.3)  # a trailing save (brush) lands too
    ack = nb.kernel_value("probe.ack")
    ups = nb.page.evaluate("() => window.__ups")
    nb.run_python(f"{widget}.unobserve(_ackf, names='selection')")
    if ack.get("seq", -1) < 0 or not ups:
        return None
    up = _last_up_before(ups, ack["t_kernel_ms"])
    if stages is not None and up is not None:
        stages.update(_stages(nb, up, ack))
    return 0.0 if up is None else ack["t_kernel_ms"] - up  # 0: there before the mouse-up


def _stages(nb, up: float, ack: dict) -> dict:
    """The split of mouse-up -> observer of the save that reached the kernel last: browser
    (lasso rows, store, views' listeners up to the save), send (serializing, throttle),
    transport (websocket, server, kernel queue), kernel (deserialize, validate, echo check)."""
    observed = ack["t_kernel_ms"]
    saves = [s for s in nb.page.evaluate("() => window.__saves") if s["sent"] is not None]
    saves = [s for s in saves if up <= s["sync"] and s["sent"] <= observed]
    handled = nb.kernel_value("stage_stamps")
    recvs = [r["recv"] for r in handled if r["kind"] == "selection" and r["recv"] <= observed]
    if os.environ.get("BENCH_TRACE"):
        print(
            "  kernel handled:",
            [(r["kind"], round(r["recv"] - up), round(r["done"] - up)) for r in handled],
        )
    if not saves or not recvs:
        return {"n": ack["n"]}
    save, recv = saves[-1], max(recvs)
    return {
        "n": ack["n"],
        "browser": save["sync"] - up,
        "send": save["sent"] - save["sync"],
        "transport": recv - save["sent"],
        "kernel": observed - recv,
    }


def drag(nb, box: dict, polygon, pause_ms: int = 20, shift: bool = False) -> None:
    mouse = nb.page.mouse
    if shift:
        nb.page.keyboard.down("Shift")
    mouse.move(box["x"] + polygon[0][0], box["y"] + polygon[0][1])
    mouse.down()
    # The lasso is left open (both libraries close it): a mouse-up on the mouse-down pixel
    # is also a click, and regl-scatterplot then replaces the lasso by the nearest point.
    for x, y in polygon[1:]:
        mouse.move(box["x"] + x, box["y"] + y)
        nb.page.wait_for_timeout(pause_ms)
    mouse.up()
    if shift:
        nb.page.keyboard.up("Shift")


def circle(box: dict, radius: float, k: int = 16) -> list[tuple[float, float]]:
    import math

    cx, cy = box["width"] / 2, box["height"] / 2
    return [
        (
            round(cx + radius * math.cos(2 * math.pi * i / k)),
            round(cy + radius * math.sin(2 * math.pi * i / k)),
        )
        for i in range(k)
    ]


def largest_canvas_box(cell) -> dict:
    boxes = [c.bounding_box() for c in cell.locator("canvas").all()]
    return max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])


def measure_atlas(nb, index: int, n: int, repeats: int, half_only: bool = False) -> dict[str, list]:
    cell = nb.page.locator(".jp-Cell").nth(index)
    canvas = cell.locator("canvas.miwd-scatter-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    polygon = circle(box, 0.22 * box["height"])
    out: dict[str, list] = {"lasso": [], "clear": [], "brush": []}
    widget, selection = f"atlas_{n}", f"atlas_{n}.selection"
    toggle = cell.locator(".miwd-lasso-toggle")

    def lasso(shape=polygon):
        toggle.click()
        # Where the canvas is now: the click may have scrolled the toolbar into view.
        drag(nb, canvas.bounding_box(), shape)
        toggle.click()

    def brush():
        axis = nb.kernel_value(f"atlas_{n}.axes[-1]")
        line = cell.locator(f'g.miwd-axis[data-axis="{axis}"] > line').first
        line.scroll_into_view_if_needed()
        b = line.bounding_box()
        x = b["x"] + b["width"] / 2
        nb.page.mouse.move(x, b["y"] + 0.3 * b["height"])
        nb.page.mouse.down()
        nb.page.mouse.move(x, b["y"] + 0.6 * b["height"], steps=8)
        nb.page.mouse.up()

    clear_button = cell.locator(".miwd-clear-selection")
    out["lasso_half"], out["stages"] = [], []
    model_id = nb.kernel_value(f"atlas_{n}.model_id")
    nb.page.evaluate(JS_STAMP_SAVES, [model_id])
    half = circle(box, HALF_RADIUS * box["height"])

    for _ in range(repeats):
        canvas.scroll_into_view_if_needed()
        stages: dict = {}
        out["lasso_half"].append(
            gesture_latency(
                nb, widget, selection, lambda: lasso(half), want_empty=False, stages=stages
            )
        )
        out["stages"].append(stages)
        nb.run_python(f"atlas_{n}.select([])")
    if half_only:
        return out
    out["brush_rate"] = []
    for _ in range(repeats):
        axis = nb.kernel_value(f"atlas_{n}.axes[-1]")
        cell.locator(f'g.miwd-axis[data-axis="{axis}"]').first.scroll_into_view_if_needed()
        rate = nb.page.evaluate(JS_BRUSH_RATE, [index, axis, BRUSH_RATE_MS])
        out["brush_rate"].append(rate["rate"])
        nb.wait_kernel_value(
            f"(0 if {selection} is None else len({selection})) > 0", bool, timeout=300
        )
        nb.page.wait_for_timeout(500)
        nb.run_python(f"atlas_{n}.select([])")
        nb.wait_kernel_value(
            f"(0 if {selection} is None else len({selection})) == 0", bool, timeout=300
        )
    for _ in range(repeats):
        canvas.scroll_into_view_if_needed()
        out["lasso"].append(gesture_latency(nb, widget, selection, lasso, want_empty=False))
        out["clear"].append(
            gesture_latency(nb, widget, selection, clear_button.click, want_empty=True)
        )
        out["brush"].append(gesture_latency(nb, widget, selection, brush, want_empty=False))
        nb.run_python(f"atlas_{n}.select([])")
    return out


def measure_jscatter(
    nb, index: int, n: int, repeats: int, half_only: bool = False
) -> dict[str, list]:
    cell = nb.page.locator(".jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    box = largest_canvas_box(cell)
    polygon = circle(box, 0.22 * box["height"])
    out: dict[str, list] = {"lasso": [], "clear": []}
    widget, selection = f"sc_{n}.widget", f"sc_{n}.widget.selection"

    def lasso(shape=polygon):
        nb.run_python(f"sc_{n}.mouse(mode='lasso')")
        # the mode reaches the page first (else the drag pans; a frame takes ~1 s at 1M)
        nb.page.wait_for_timeout(max(500, n // 500))
        drag(nb, box, shape)
        nb.run_python(f"sc_{n}.mouse(mode='panZoom')")

    def clear():  # its deselect: double-click on empty space (a corner)
        nb.page.mouse.dblclick(box["x"] + 4, box["y"] + 4)

    half = circle(box, HALF_RADIUS * box["height"])
    out["lasso_half"], out["stages"] = [], []
    for _ in range(repeats):
        stages: dict = {}
        out["lasso_half"].append(
            gesture_latency(
                nb, widget, selection, lambda: lasso(half), want_empty=False, stages=stages
            )
        )
        out["stages"].append(stages)
        gesture_latency(nb, widget, selection, clear, want_empty=True)
    if half_only:
        return out
    for _ in range(repeats):
        out["lasso"].append(gesture_latency(nb, widget, selection, lasso, want_empty=False))
        out["clear"].append(gesture_latency(nb, widget, selection, clear, want_empty=True))
    return out


def _median(values) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


def _mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 1e6:.1f} MB"


def _cell(a: float | None, j: float | None, fmt=_ms) -> str:
    """'A / js (ratio)' for one measure."""
    return f"{fmt(a)} / {fmt(j)} ({_ratio(a, j)})"


def _sd(values) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.stdev(kept) if len(kept) > 1 else None


def _ms_sd(values) -> str:
    """'median ± std ms' of repeated measures."""
    med, sd = _median(values), _sd(values)
    return _ms(med) if sd is None else f"{med:,.0f} ± {sd:,.0f} ms"


def _cell_sd(a: list, j: list) -> str:
    """'A / js (ratio)' of medians, each with its std."""
    return f"{_ms_sd(a)} / {_ms_sd(j)} ({_ratio(_median(a), _median(j))})"


def _paints(results: list[dict], key: str) -> list:
    return [r.get(key) for r in results]


def readme_table(rows: list[dict]) -> str:
    """The README-ready Markdown tables: Atlas / jupyter-scatter (ratio) per measure, and
    where the half lasso's time goes."""
    lines = [
        "Atlas / jupyter-scatter (ratio of medians, < 1: Atlas faster or smaller), JupyterLab"
        " 4.6, headless Chromium, software WebGL (SwiftShader), median ± std; first paints"
        " interleaved (Atlas, jupyter-scatter, Atlas, ...); lasso, brush and Clear: mouse-up"
        " to the kernel's selection observer; half lasso: rows selected in parentheses.",
        "",
        "| points | load | first paint | all points drawn | `Atlas(lib)` in Python | lasso"
        " | half lasso | Clear | brush | brush updates/s | initial payload | JS heap |",
        "|---:|---:|---|---|---:|---|---|---|---:|---:|---|---|",
    ]
    stage_lines = [
        "",
        "Half lasso, Atlas: where the time goes (median ms; browser: mouse-up to the save,"
        " send: serializing, transport: page to the kernel's handler, kernel: to the observer)",
        "",
        "| points | rows | " + " | ".join(STAGES) + " |",
        "|---:|---:|" + "---:|" * len(STAGES),
    ]
    for row in rows:
        a, j = row["atlas"], row.get("js") or []
        ag, jg = row["atlas_g"], row.get("js_g") or {}
        rate = _median(ag.get("brush_rate", []))
        rows_a = _median([s.get("n") for s in ag.get("stages", [])])
        rows_j = _median([s.get("n") for s in jg.get("stages", [])])
        counts = f" ({rows_a or 0:,.0f} / {rows_j or 0:,.0f} rows)"
        lines.append(
            f"| {row['n']:,} | {row['load']:.1f}"
            f" | {_cell_sd(_paints(a, 'paint'), _paints(j, 'paint'))}"
            f" | {_cell_sd(_paints(a, 'all'), _paints(j, 'all'))}"
            f" | {row['atlas_py'] * 1000:,.0f} ms"
            f" | {_cell_sd(ag['lasso'], jg.get('lasso', []))}"
            f" | {_cell_sd(ag['lasso_half'], jg.get('lasso_half', []))}{counts}"
            f" | {_cell_sd(ag['clear'], jg.get('clear', []))}"
            f" | {_ms_sd(ag['brush'])}"
            f" | {'-' if rate is None else f'{rate:.1f}'}"
            f" | {_cell(row['atlas_bytes'], row.get('js_bytes'), _mb)}"
            f" | {_cell(_median(_paints(a, 'heap')), _median(_paints(j, 'heap')), _mb)} |"
        )
        stages = ag.get("stages", [])
        split = [_ms(_median([s.get(k) for s in stages])) for k in STAGES]
        stage_lines.append(f"| {row['n']:,} | {rows_a or 0:,.0f} | " + " | ".join(split) + " |")
    return "\n".join(lines + stage_lines)


def time_display(nb, index: int, timeout: float, selector: str) -> dict:
    """Run a display cell and time its first paint (JS_TIME_DISPLAY)."""
    return nb.page.evaluate(JS_TIME_DISPLAY, [index, int(timeout * 1000), selector])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[13_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="gesture repetitions")
    parser.add_argument(
        "--paint-repeats", type=int, default=3, help="displays of each, interleaved"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per paint")
    parser.add_argument("--no-jscatter", action="store_true", help="Atlas only")
    parser.add_argument(
        "--half-lasso-only", action="store_true", help="of the gestures, only the half lasso"
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    cells = [SETUP_CELL]
    for n in args.sizes:
        cells += [DISPLAY_CELL.format(n=n), JSCATTER_CELL.format(n=n)]
    rows = []
    with JupyterLabServer() as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        nb = LabNotebook.open(browser, server, "bench.ipynb", cells)
        try:
            nb.run_cell(0)
            nb.page.evaluate(JS_STAMP_MOUSEUP)
            with_js = not args.no_jscatter and nb.kernel_value("jscatter is not None")
            for k, n in enumerate(args.sizes):
                i_atlas, i_js = 1 + 2 * k, 2 + 2 * k
                t = time.perf_counter()
                nb.run_python(f"libraries[{n}] = make_library({n})", timeout=900)
                print(f"built a {n:,}-model library in {time.perf_counter() - t:.1f} s", flush=True)
                row: dict = {"n": n, "load": os.getloadavg()[0], "atlas": [], "js": []}
                # First paints interleaved: each display replaces the cell's previous output.
                for rep in range(args.paint_repeats):
                    res = time_display(nb, i_atlas, args.timeout, ".miwd-scatter-canvas")
                    row["atlas"].append(res)
                    print(f"{n:>9,} Atlas: first paint {_ms(res['paint'])}", flush=True)
                    if with_js:
                        if rep:  # the atlas's gestures run on the last one displayed
                            nb.run_python(f"sc_{n}.widget.close(); del sc_{n}")
                        res = time_display(nb, i_js, args.timeout, "canvas")
                        row["js"].append(res)
                        print(f"{n:>9,} jupyter-scatter: first paint {_ms(res['paint'])}")
                row["atlas_py"] = nb.kernel_value(f"timings[{n}]")
                # The initial state (a fresh widget: the displayed one has since received the
                # columns it asks for after the first paint).
                row["atlas_bytes"] = nb.kernel_value(
                    f"(lambda w: (sum(state_size(w)), w.close()))(Atlas(libraries[{n}]))[0]"
                )
                if with_js:
                    row["js_bytes"] = sum(nb.kernel_value(f"state_size(sc_{n}.widget)"))
                nb.page.screenshot(path=str(ARTIFACTS / f"bench-{n}.png"))
                row["atlas_g"] = measure_atlas(nb, i_atlas, n, args.repeats, args.half_lasso_only)
                print(f"{n:>9,} Atlas gestures: {row['atlas_g']}", flush=True)
                nb.run_python(f"atlas_{n}.close(); del atlas_{n}")
                if with_js:
                    row["js_g"] = measure_jscatter(nb, i_js, n, args.repeats, args.half_lasso_only)
                    print(f"{n:>9,} jupyter-scatter gestures: {row['js_g']}", flush=True)
                    nb.run_python(f"sc_{n}.widget.close(); del sc_{n}")
                nb.run_python(f"libraries.pop({n})")
                rows.append(row)
        except Exception:
            saved = nb.save_artifacts("bench-browser", ARTIFACTS)
            print(f"artifacts: {[str(p) for p in saved]}", file=sys.stderr)
            raise
        finally:
            nb.close()
            browser.close()

    print()
    print(readme_table(rows))
    load = os.getloadavg()
    print()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        " (other jobs running: absolute times are inflated, compare the same-run ratios;"
        " jupyter-scatter has no brush)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
