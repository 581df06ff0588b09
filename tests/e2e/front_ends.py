"""The Atlas outside JupyterLab: marimo and Voilà servers, and driving their pages.

``AppServer`` runs one server (``marimo run`` of notebooks/marimo_atlas.py, ``voila`` of
notebooks/voila_atlas.ipynb) on a port chosen free at start, in a temporary directory, and
kills it with every kernel it started. ``AppPage`` is one browser page on it that keeps its
console. Both example apps show the demo library's Atlas, a line written by Python from
``atlas.selection`` (class ``python-selection``: "N models selected in Python · mean test
accuracy X") and a button "Select the 20 most accurate" that calls ``atlas.select``.

marimo renders the widget in a shadow root: Playwright's CSS locators pierce it, while
``document.querySelector`` does not, so everything here goes through locators.

Examples
--------
>>> with marimo_server(theme="dark") as server, sync_playwright() as pw:  # doctest: +SKIP
...     app = AppPage.open(launch_chromium(pw), server.url)
...     wait_painted(app.page.locator(SCATTER_CANVAS))
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lab_harness import (
    OPEN_NOTEBOOKS,
    REPO_ROOT,
    VENV_BIN,
    BrowserPage,
    HarnessError,
    colored_pixel_count,
    kill_process_tree,
    launch_on_free_port,
    read_tail,
)
from test_atlas_browser import (
    drag_path,
    lasso_polygon,
    near_edges,
    points_in_polygon,
    screen_positions,
)

NOTEBOOKS = REPO_ROOT / "notebooks"
MARIMO_APP = NOTEBOOKS / "marimo_atlas.py"
VOILA_NOTEBOOK = NOTEBOOKS / "voila_atlas.ipynb"

ROOT = ".miwd-root"
SCATTER_CANVAS = f"{ROOT} canvas.miwd-scatter-canvas"
COUNT = f"{ROOT} .miwd-count"
GALLERY_ITEM = f"{ROOT} .miwd-gallery .miwd-item"
PYTHON_SELECTION = ".python-selection"
SELECT_BEST = "Select the 20 most accurate"


class AppServer:
    """A web server started by ``command(port)`` in a temporary directory (its cwd).

    Parameters
    ----------
    name
        Names the log (``<name>-server.log`` in ``log_dir`` after stop).
    command
        The argv for a given port.
    files
        Files written into the temporary directory first (name -> text), e.g. a config.
    ready_path
        Polled until it answers 200.
    """

    def __init__(
        self,
        name: str,
        command: Callable[[int], Sequence[str]],
        files: dict[str, str] | None = None,
        ready_path: str = "/",
        startup_timeout: float | None = None,
        log_dir: Path | None = None,
    ) -> None:
        if startup_timeout is None:
            startup_timeout = float(os.environ.get("MIWD_E2E_STARTUP_TIMEOUT", "90"))
        self.name = name
        self.command = command
        self.files = files or {}
        self.ready_path = ready_path
        self.startup_timeout = startup_timeout
        self.log_dir = log_dir
        self.tmp = Path(tempfile.mkdtemp(prefix=f"miwd-{name}-"))
        self.log_path = self.tmp / "server.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> AppServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n_chars: int = 4000) -> str:
        return read_tail(self.log_path, n_chars)

    def start(self) -> None:
        for name, text in self.files.items():
            (self.tmp / name).write_text(text)
        env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_CONFIG_HOME=str(self.tmp / "config"))
        try:
            self.proc, self.port = launch_on_free_port(
                self.command,
                lambda port: f"http://127.0.0.1:{port}/{self.ready_path.lstrip('/')}",
                cwd=self.tmp,
                env=env,
                log_path=self.log_path,
                timeout=self.startup_timeout,
                what=self.name,
            )
        except HarnessError:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server and its kernels, keep the log if asked, remove the temp dir."""
        if self.proc is not None:
            kill_process_tree(self.proc)
            self.proc = None
        if self.log_dir is not None and self.log_path.exists():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, self.log_dir / f"{self.name}-server.log")
        shutil.rmtree(self.tmp, ignore_errors=True)


def marimo_server(theme: str = "light", log_dir: Path | None = None) -> AppServer:
    """``marimo run notebooks/marimo_atlas.py`` in marimo's ``theme`` ("light" or "dark").

    The theme is a user setting in marimo: a ``.marimo.toml`` in the server's cwd (found
    before the user's own) sets it, and XDG_CONFIG_HOME points away from the user's config.
    """
    return AppServer(
        f"marimo-{theme}",
        lambda port: [
            str(VENV_BIN / "marimo"),
            "run",
            str(MARIMO_APP),
            "--headless",
            "--no-token",
            "--no-sandbox",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        files={".marimo.toml": f'[display]\ntheme = "{theme}"\n'},
        log_dir=log_dir,
    )


def voila_server(log_dir: Path | None = None) -> AppServer:
    """``voila notebooks/voila_atlas.ipynb`` (no token: the server listens on localhost)."""
    return AppServer(
        "voila",
        lambda port: [
            str(VENV_BIN / "voila"),
            str(VOILA_NOTEBOOK),
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
            f"--Voila.root_dir={NOTEBOOKS}",
        ],
        # The notebook's own page would run the notebook: the static files answer as soon as
        # the server listens.
        ready_path="/voila/static/voila.js",
        log_dir=log_dir,
    )


class AppPage(BrowserPage):
    """One page of an app server in its own browser page; console messages in ``console``."""

    @classmethod
    def open(
        cls, browser: Any, server: AppServer, viewport: tuple[int, int] = (1400, 1000)
    ) -> AppPage:
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.set_default_timeout(30_000)
        app = cls(page, server)
        OPEN_NOTEBOOKS.append(app)  # conftest saves its artifacts when a test fails
        page.goto(server.url, wait_until="domcontentloaded", timeout=90_000)
        return app

    def errors(self) -> list[str]:
        """Page errors, and console errors other than resources the offline machine cannot
        reach (the servers' pages link fonts and MathJax from CDNs)."""
        return [
            m
            for m in self.console
            if m.startswith("[pageerror]")
            or (m.startswith("[error]") and "net::ERR_NAME_NOT_RESOLVED" not in m)
        ]


@contextlib.contextmanager
def serve(server: AppServer, browser: Any) -> Iterator[AppPage]:
    """Start ``server`` and open a page on it; close the page and stop the server after."""
    server.start()
    try:
        app = AppPage.open(browser, server)
        try:
            yield app
        finally:
            app.close()
    finally:
        server.stop()


def wait_painted(canvas: Any, timeout: float = 60.0) -> None:
    """Wait (bounded) until the scatter canvas (a locator) holds drawn points."""
    canvas.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        drawn = canvas.evaluate(
            """(c) => {
              if (!c.width || !c.height) return 0;
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let k = 0;
              for (let i = 0; i < d.length; i += 4 * 7) {
                if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) k++;
              }
              return k;
            }"""
        )
        if drawn > 20:
            return
        if time.monotonic() > deadline:
            raise HarnessError(f"the scatter canvas shows no points after {timeout:.0f} s")
        time.sleep(0.1)


def clear_lasso(
    screen: np.ndarray, width: float, height: float, margin: float = 3.0, n_range=(20, 300)
) -> tuple[np.ndarray, np.ndarray]:
    """A 20-gon around a group of points with no point within ``margin`` px of its edges (so
    rounding cannot change which side a point is on), inside the canvas; returns it and the
    sorted rows inside. Deterministic: the first fit, scanning centres over the points."""
    for center in screen[:: max(1, len(screen) // 200)]:
        for radius in range(25, 90, 3):
            if not (
                margin + radius < center[0] < width - radius - margin
                and margin + radius < center[1] < height - radius - margin
            ):
                continue
            polygon = lasso_polygon(center, radius)
            inside = points_in_polygon(screen, polygon)
            if (
                n_range[0] <= inside.sum() <= n_range[1]
                and not near_edges(screen, polygon, margin).any()
            ):
                return polygon, np.flatnonzero(inside)
    raise HarnessError("no lasso with clear edges found on this layout")


def python_line(rows: Sequence[int], accuracy: np.ndarray) -> str:
    """The line the example apps write from ``atlas.selection``."""
    rows = list(rows)
    if not rows:
        return "0 models selected in Python"
    mean = float(np.mean(accuracy[rows]))
    return f"{len(rows)} models selected in Python · mean test accuracy {mean:.3f}"


# ------------------------------------------------------------------ checks on either app
class DemoTruth:
    """The demo library as the app's kernel sees it, loaded in the test process."""

    def __init__(self) -> None:
        import miwd_widget

        lib = miwd_widget.load_demo_library()
        self.n = len(lib)
        self.embedding = np.asarray(lib.embedding, dtype=np.float32)
        self.accuracy = lib.metadata["test_accuracy"].to_numpy()
        # The apps' "Select the 20 most accurate" (same numpy, same order).
        self.best = np.argsort(-self.accuracy)[:20]


def wait_python_line(app: AppPage, rows: Sequence[int], truth: DemoTruth) -> None:
    """Wait until Python's line (written from ``atlas.selection``) says ``rows``."""
    expected = python_line(rows, truth.accuracy)
    line = app.page.locator(PYTHON_SELECTION)
    try:
        line.filter(has_text=expected).wait_for(timeout=20_000)
    except Exception as err:  # noqa: BLE001 - Playwright's TimeoutError: say what was shown
        raise AssertionError(
            f"Python wrote {line.all_inner_texts()}, expected {expected!r}"
        ) from err


def gallery_rows(app: AppPage, k: int) -> list[int]:
    """Wait until the gallery shows ``k`` tiles, each painted; return their rows."""
    items = app.page.locator(GALLERY_ITEM)
    deadline = time.monotonic() + 30
    while items.count() != k:
        if time.monotonic() > deadline:
            raise AssertionError(f"the gallery shows {items.count()} tiles, expected {k}")
        time.sleep(0.1)
    for i in range(k):  # every tile is a painted descriptor image, not a blank canvas
        colors = (
            items.nth(i)
            .locator("canvas")
            .evaluate(
                """(c) => {
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              const seen = new Set();
              for (let j = 0; j < d.length; j += 4) seen.add((d[j] << 16) | (d[j + 1] << 8) | d[j + 2]);
              return seen.size;
            }"""
            )
        )
        # (a constant-initialized model's tile can hold only a few colours; a blank one has 1)
        assert colors >= 2, f"gallery tile {i} is blank"
    return sorted(int(items.nth(i).get_attribute("data-index")) for i in range(k))


def gallery_rows_within(app: AppPage, k: int, allowed: list[int], what: str) -> list[int]:
    """Wait until the gallery's ``k`` painted tiles all show ``allowed`` rows: the gallery asks
    the kernel for a new selection's descriptors, so the previous tiles stay until the reply."""
    deadline = time.monotonic() + 30
    while True:
        shown = gallery_rows(app, k)
        if set(shown) <= set(allowed):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"gallery shows rows {what}: {shown}")
        time.sleep(0.2)


def check_renders(app: AppPage, truth: DemoTruth) -> None:
    """The Atlas is drawn: points on the canvas, the count, and gallery tiles."""
    canvas = app.page.locator(SCATTER_CANVAS)
    wait_painted(canvas)
    url = canvas.evaluate("c => c.toDataURL('image/png')")
    drawn, total = colored_pixel_count(base64.b64decode(url.split(",", 1)[1]))
    assert drawn > 1000, f"only {drawn} of {total} canvas pixels show points"
    app.page.locator(COUNT).filter(has_text=f"{truth.n:,} models").wait_for(timeout=10_000)
    wait_python_line(app, [], truth)
    # Without a selection the gallery samples the whole library.
    assert len(gallery_rows(app, 12)) == 12


def check_lasso_reaches_python(app: AppPage, truth: DemoTruth) -> list[int]:
    """A real mouse lasso selects exactly the rows inside it, in Python; returns them."""
    page = app.page
    page.locator(f"{ROOT} button", has_text="Clear").click()
    wait_python_line(app, [], truth)
    canvas = page.locator(SCATTER_CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200, box
    screen = screen_positions(truth.embedding, box["width"], box["height"])
    polygon, expected = clear_lasso(screen, box["width"], box["height"])
    toggle = page.locator(f"{ROOT} .miwd-lasso-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    drag_path(app, box, polygon)
    wait_python_line(app, expected.tolist(), truth)
    page.locator(COUNT).filter(has_text=f"{len(expected)} of {truth.n:,} selected").wait_for(
        timeout=10_000
    )
    gallery_rows_within(app, min(12, len(expected)), expected.tolist(), "outside the lasso")
    toggle.click()  # lasso mode off again
    return expected.tolist()


def check_python_select_reaches_page(app: AppPage, truth: DemoTruth) -> None:
    """The app's button calls ``atlas.select`` in Python: the page shows that selection."""
    app.page.get_by_role("button", name=SELECT_BEST).click()
    app.page.locator(COUNT).filter(has_text=f"20 of {truth.n:,} selected").wait_for(timeout=20_000)
    wait_python_line(app, truth.best.tolist(), truth)
    gallery_rows_within(app, 12, truth.best.tolist(), "not selected")
