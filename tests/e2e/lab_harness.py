"""Drive a real JupyterLab 4 in headless Chromium: server, browser, notebook and kernel helpers.

Used by the end-to-end tests (tests/e2e/conftest.py) and by benchmarks/bench_browser.py.
Nothing here is specific to the Atlas widget: the server runs in a temporary root with its
own settings (no news/update toasts, no kernel chooser, no notebook windowing), the browser is
Debian's /usr/bin/chromium with WebGL in software (SwiftShader), and Python state is read from
the notebook's own kernel via ``LabNotebook.run_python`` (an execute request on the same kernel
connection the notebook uses, so it sees exactly the objects the notebook cells created).

Examples
--------
>>> with JupyterLabServer() as server, sync_playwright() as pw:  # doctest: +SKIP
...     browser = launch_chromium(pw)
...     nb = LabNotebook.open(browser, server, "demo.ipynb", ["x = 1 + 1"])
...     nb.run_all()
...     assert nb.kernel_value("x") == 2
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nbformat
import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "artifacts"

# --headless etc. as the CI brief asks; WebGL runs in software through ANGLE + SwiftShader
# (without --enable-unsafe-swiftshader Chromium 12x+ refuses the software WebGL fallback).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]

# User settings written into the server's private JUPYTERLAB_SETTINGS_DIR.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # No "would you like to receive news?" toast and no update check.
    "@jupyterlab/apputils-extension/notification": {"checkForUpdates": False, "fetchNews": "false"},
    # Render every cell (JupyterLab 4 virtualizes off-screen cells by default) and start the
    # notebook's kernel without asking.
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    # The extension manager would query PyPI.
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
    # Never write the notebook back while a test runs.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


# Notebooks (and other app pages) opened by the test fixtures and not closed yet (failure
# artifacts are taken of each); BrowserPage.close() removes itself.
OPEN_NOTEBOOKS: list[BrowserPage] = []


class HarnessError(RuntimeError):
    """The browser, server or kernel did not do what the test needed (message says what)."""


class KernelError(HarnessError):
    """Code run in the notebook's kernel raised; the message holds the traceback."""


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_chromium() -> Path:
    """Return /usr/bin/chromium or raise with instructions (the e2e tests fail, never skip)."""
    if not CHROMIUM.exists():
        raise HarnessError(
            f"{CHROMIUM} not found: the browser end-to-end tests need Debian's chromium "
            "(`make chromium` or `apt-get install -y chromium`; .ci/run installs it). "
            "Playwright's own browser downloads are not used."
        )
    return CHROMIUM


def launch_chromium(playwright: Any, headless: bool = True) -> Any:
    """Launch /usr/bin/chromium through Playwright with software WebGL."""
    exe = require_chromium()
    return playwright.chromium.launch(
        executable_path=str(exe), headless=headless, args=CHROMIUM_ARGS, timeout=60_000
    )


def wait_for_http(
    proc: subprocess.Popen[bytes], url: str, timeout: float, log_tail: Callable[[], str]
) -> None:
    """Poll ``url`` until it answers 200; raise HarnessError (with the server log's tail)
    when ``proc`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"server exited with code {proc.returncode}; log:\n{log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise HarnessError(f"no answer from {url} in {timeout:.0f} s; log:\n{log_tail()}")


def read_tail(path: Path, n_chars: int = 4000) -> str:
    """The last characters of a log file ("(no log)" when there is none)."""
    try:
        return path.read_text(errors="replace")[-n_chars:]
    except OSError:
        return "(no log)"


def launch_on_free_port(
    command: Callable[[int], Sequence[str]],
    ready_url: Callable[[int], str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    timeout: float,
    what: str,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command(port)`` on a port free right now, in its own session, its output
    appended to ``log_path``, and wait until ``ready_url(port)`` answers; return the process
    and the port. free_port() can race with another process: three tries, then HarnessError."""
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(command(port)),
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_http(proc, ready_url(port), timeout, lambda: read_tail(log_path))
            return proc, port
        except HarnessError as err:
            last_error = str(err)
            kill_process_tree(proc)
    raise HarnessError(f"{what} did not start: {last_error}")


def kill_process_tree(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it started
    (kernels run in their own sessions, so a process-group kill would miss them): SIGTERM to
    its group, SIGKILL to whatever is left after 8 s."""
    try:
        parent = psutil.Process(proc.pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _gone, alive = psutil.wait_procs(family, timeout=8)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class JupyterLabServer:
    """A JupyterLab 4 server in a temporary root directory, killed (with its kernels) on stop.

    Parameters
    ----------
    startup_timeout
        Seconds to wait for ``/api/status`` to answer before giving up (default 90, or
        ``$MIWD_E2E_STARTUP_TIMEOUT``).
    log_dir
        Where the server log is copied on stop (e.g. ``artifacts/e2e``); None keeps it only in
        the temporary directory (which is removed).
    """

    def __init__(self, startup_timeout: float | None = None, log_dir: Path | None = None) -> None:
        # A loaded machine (tests run under `nice -n 19` next to other jobs) can need far
        # longer: MIWD_E2E_STARTUP_TIMEOUT overrides the default 90 s.
        if startup_timeout is None:
            startup_timeout = float(os.environ.get("MIWD_E2E_STARTUP_TIMEOUT", "90"))
        self.startup_timeout = startup_timeout
        self.log_dir = log_dir
        self.token = secrets.token_hex(16)
        self.port = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="miwd-e2e-"))
        self.root_dir = self.tmp / "root"
        self.log_path = self.tmp / "jupyter-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> JupyterLabServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_settings(self, settings_dir: Path) -> None:
        for plugin, values in LAB_SETTINGS.items():
            path = settings_dir / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self) -> None:
        jupyter = VENV_BIN / "jupyter"
        if not jupyter.exists():
            raise HarnessError(f"{jupyter} not found: create the venv first (`make setup`)")
        self.root_dir.mkdir(parents=True)
        settings_dir = self.tmp / "lab-settings"
        self._write_settings(settings_dir)
        env = dict(os.environ)
        env.update(
            JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(self.tmp / "lab-workspaces"),
            JUPYTER_CONFIG_DIR=str(self.tmp / "jupyter-config"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "jupyter-runtime"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        try:
            self.proc, self.port = launch_on_free_port(
                lambda port: [
                    str(jupyter),
                    "lab",
                    "--no-browser",
                    f"--IdentityProvider.token={self.token}",
                    "--ServerApp.ip=127.0.0.1",
                    f"--port={port}",
                    "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={self.root_dir}",
                    "--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                    "--LabApp.expose_app_in_browser=True",
                    "--ServerApp.disable_check_xsrf=True",
                    # CI containers run as root; the server refuses root without this.
                    *(["--allow-root"] if os.geteuid() == 0 else []),
                ],
                lambda port: f"http://127.0.0.1:{port}/api/status?token={self.token}",
                cwd=self.root_dir,
                env=env,
                log_path=self.log_path,
                timeout=self.startup_timeout,
                what="JupyterLab",
            )
        except HarnessError:
            self.stop()
            raise

    def log_tail(self, n_chars: int = 4000) -> str:
        return read_tail(self.log_path, n_chars)

    def write_notebook(self, name: str, cells: Sequence[str]) -> Path:
        """Write a Python 3 notebook with these code cells into the server root."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        path = self.root_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    def _kill(self) -> None:
        if self.proc is not None:
            kill_process_tree(self.proc)
            self.proc = None

    def stop(self) -> None:
        """Kill the server and its kernels, keep the log if asked, remove the temp dir."""
        self._kill()
        if self.log_dir is not None and self.log_path.exists():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, self.log_dir / "jupyter-server.log")
        shutil.rmtree(self.tmp, ignore_errors=True)


# JavaScript run in the page. `window.jupyterapp` exists because of expose_app_in_browser.
_JS_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext) return w;
  }
  return null;
}
"""

_JS_READY = (
    """
async ([path, timeoutMs]) => {
  const find = """
    + _JS_FIND_PANEL
    + """;
  const t0 = performance.now();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let panel = null;
  while (!(panel = find(path))) {
    if (performance.now() - t0 > timeoutMs) return 'notebook panel never appeared';
    await sleep(100);
  }
  await panel.context.ready;
  await panel.sessionContext.ready;
  while (!(panel.sessionContext.session && panel.sessionContext.session.kernel &&
           panel.sessionContext.session.kernel.connectionStatus === 'connected' &&
           panel.sessionContext.session.kernel.status === 'idle')) {
    if (performance.now() - t0 > timeoutMs) {
      const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
      return 'kernel not ready: ' + (k ? k.connectionStatus + '/' + k.status : 'no kernel');
    }
    await sleep(100);
  }
  // More room for the output and a stable layout: no file browser / property inspector.
  const shell = window.jupyterapp.shell;
  if (shell.collapseLeft) shell.collapseLeft();
  if (shell.collapseRight) shell.collapseRight();
  window.__e2ePanel = panel;
  return 'ok';
}
"""
)

_JS_RUN = """
async ([command, index, timeoutMs]) => {
  const app = window.jupyterapp;
  const panel = window.__e2ePanel;
  if (index !== null) panel.content.activeCellIndex = index;
  const run = app.commands.execute(command);
  const timeout = new Promise((r) => setTimeout(() => r('__timeout__'), timeoutMs));
  const res = await Promise.race([run, timeout]);
  if (res === '__timeout__') return {timeout: true, errors: []};
  const errors = [];
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (const out of cell.outputs.toJSON()) {
      if (out.output_type === 'error') {
        errors.push({cell: i, text: out.ename + ': ' + out.evalue + '\\n' +
                     (out.traceback || []).join('\\n')});
      }
    }
  }
  return {timeout: false, errors};
}
"""

_JS_EXEC = """
async ([code, timeoutMs]) => {
  const kernel = window.__e2ePanel.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false, stop_on_error: false});
  let out = '';
  let err = null;
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === 'stream') out += msg.content.text;
    else if (t === 'error') {
      err = msg.content.ename + ': ' + msg.content.evalue + '\\n' +
            msg.content.traceback.join('\\n');
    }
  };
  const timeout = new Promise((r) => setTimeout(() => r('__timeout__'), timeoutMs));
  const reply = await Promise.race([future.done, timeout]);
  if (reply === '__timeout__') return {out, err: 'timed out after ' + timeoutMs + ' ms'};
  if (reply.content.status !== 'ok' && err === null) err = 'status ' + reply.content.status;
  return {out, err};
}
"""

_MARK = "__e2e_value__:"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain(text: str) -> str:
    """Kernel tracebacks without terminal colour codes."""
    return _ANSI.sub("", text)


class BrowserPage:
    """A browser page on one of the test servers (anything with ``log_tail(n_chars)``); its
    console messages and page errors are collected in ``console``."""

    def __init__(self, page: Any, server: Any) -> None:
        self.page = page
        self.server = server
        self.console: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}\n{e.stack or ''}"))

    def _on_console(self, message: Any) -> None:
        text = f"[{message.type}] {message.text}"
        if message.type == "error":
            # The text of console.error(msg, err) omits err's stack: fetch it.
            for arg in message.args[1:]:
                try:
                    stack = arg.evaluate("e => (e && e.stack) ? String(e.stack) : null")
                except Exception:  # noqa: BLE001 - the page may be gone
                    stack = None
                if stack:
                    text += f"\n{stack}"
        self.console.append(text)

    def save_artifacts(self, stem: str, directory: Path | None = None) -> list[Path]:
        """Save a full-page screenshot, the browser console log and the server log tail."""
        directory = directory or ARTIFACTS / "e2e"
        directory.mkdir(parents=True, exist_ok=True)
        saved = []
        shot = directory / f"{stem}-FAILED.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True, timeout=15_000)
            saved.append(shot)
        except Exception as err:  # noqa: BLE001 - best effort while reporting a failure
            self.console.append(f"[harness] screenshot failed: {err}")
        log = directory / f"{stem}-console.log"
        log.write_text("\n".join(self.console) + "\n")
        saved.append(log)
        server_log = directory / f"{stem}-server.log"
        server_log.write_text(self.server.log_tail(20_000))
        saved.append(server_log)
        return saved

    def close(self) -> None:
        if self in OPEN_NOTEBOOKS:
            OPEN_NOTEBOOKS.remove(self)
        try:
            self.page.close()
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass


class LabNotebook(BrowserPage):
    """One notebook open in JupyterLab in its own browser page, with its kernel.

    Use :meth:`open`; console messages and page errors are collected in ``console``.
    """

    def __init__(self, page: Any, server: JupyterLabServer, path: str) -> None:
        super().__init__(page, server)
        self.path = path

    @classmethod
    def open(
        cls,
        browser: Any,
        server: JupyterLabServer,
        name: str,
        cells: Sequence[str],
        viewport: tuple[int, int] = (1400, 1000),
        timeout: float = 90.0,
    ) -> LabNotebook:
        """Write the notebook, open it in a new page and wait until its kernel is idle."""
        server.write_notebook(name, cells)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.set_default_timeout(30_000)
        nb = cls(page, server, name)
        url = f"{server.base_url}/lab/tree/{name}?token={server.token}&reset"
        page.goto(url, wait_until="domcontentloaded", timeout=int(timeout * 1000))
        state = page.evaluate(_JS_READY, [name, int(timeout * 1000)])
        if state != "ok":
            raise HarnessError(f"opening {name} in JupyterLab failed: {state}")
        return nb

    def run_all(self, timeout: float = 120.0) -> None:
        """Run all cells (as the user would) and wait until they finished; raise on errors."""
        self._run("notebook:run-all-cells", None, timeout)

    def run_cell(self, index: int, timeout: float = 120.0) -> None:
        """Run one cell in the notebook UI (its outputs render in the page)."""
        self._run("notebook:run-cell", index, timeout)

    def _run(self, command: str, index: int | None, timeout: float) -> None:
        res = self.page.evaluate(_JS_RUN, [command, index, int(timeout * 1000)])
        if res["timeout"]:
            raise HarnessError(f"{command} in {self.path} did not finish in {timeout:.0f} s")
        if res["errors"]:
            text = "\n\n".join(f"cell {e['cell']}:\n{_plain(e['text'])}" for e in res["errors"])
            raise KernelError(f"notebook {self.path} raised:\n{text}")

    def run_python(self, code: str, timeout: float = 60.0) -> str:
        """Execute code in the notebook's kernel; return its stdout, raise KernelError."""
        res = self.page.evaluate(_JS_EXEC, [code, int(timeout * 1000)])
        if res["err"] is not None:
            raise KernelError(f"kernel raised running:\n{code}\n---\n{_plain(res['err'])}")
        return res["out"]

    def kernel_value(self, expr: str, timeout: float = 60.0) -> Any:
        """Evaluate a JSON-serializable Python expression in the kernel and return it."""
        code = f"import json as __j\nprint({_MARK!r} + __j.dumps({expr}))"
        out = self.run_python(code, timeout)
        for line in out.splitlines():
            if line.startswith(_MARK):
                return json.loads(line[len(_MARK) :])
        raise HarnessError(f"no value printed for {expr!r}; stdout was {out!r}")

    def wait_kernel_value(
        self, expr: str, predicate: Any, timeout: float = 15.0, interval: float = 0.1
    ) -> Any:
        """Poll ``expr`` in the kernel until ``predicate(value)`` holds; return the value."""
        deadline = time.monotonic() + timeout
        value = self.kernel_value(expr)
        while not predicate(value):
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"kernel value {expr!r} did not reach the expected state in {timeout} s; "
                    f"last value: {value!r}"
                )
            time.sleep(interval)
            value = self.kernel_value(expr)
        return value


@contextlib.contextmanager
def artifacts_on_error(nb: LabNotebook, stem: str, directory: Path | None = None) -> Iterator[None]:
    """Save screenshot + console + server log if the block raises, then re-raise (for fixture
    setup, where pytest's per-test failure hook does not run)."""
    try:
        yield
    except BaseException:
        saved = nb.save_artifacts(re.sub(r"[^A-Za-z0-9_.-]+", "_", stem), directory)
        print(f"e2e artifacts ({stem}): {[str(p) for p in saved]}")
        raise


def colored_pixel_count(png: bytes, tolerance: int = 40) -> tuple[int, int]:
    """Count pixels that differ from the image's dominant (background) colour.

    Returns ``(n_different, n_total)``. A pixel counts when the sum of absolute RGB
    differences to the most common colour exceeds ``tolerance``.
    """
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    flat = img.reshape(-1, 3)
    colors, counts = np.unique(flat, axis=0, return_counts=True)
    background = colors[np.argmax(counts)]
    diff = np.abs(flat - background).sum(axis=1)
    return int((diff > tolerance).sum()), int(flat.shape[0])
