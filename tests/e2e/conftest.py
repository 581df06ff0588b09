"""Fixtures for the browser end-to-end tests: one JupyterLab server and one headless Chromium
per test session, notebooks opened in their own pages, artifacts saved on failure.

Run: ``.venv/bin/pytest tests/e2e -m e2e`` (needs /usr/bin/chromium; the tests fail, not skip,
without it). Screenshots go to ``artifacts/e2e/``; on any failure the page screenshot, the
browser console and the server log are saved there as ``<test>-FAILED.png`` / ``-console.log``
/ ``-server.log``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from lab_harness import (
    ARTIFACTS,
    OPEN_NOTEBOOKS,
    HarnessError,
    JupyterLabServer,
    LabNotebook,
    launch_chromium,
    require_chromium,
)

E2E_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test in tests/e2e is an e2e test, whether or not its module marks it.
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_e2e_rep_{report.when}", report)


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ARTIFACTS / "e2e"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def lab_server(artifacts_dir: Path) -> Iterator[JupyterLabServer]:
    """A JupyterLab 4 server on a free localhost port in a temporary root (removed after)."""
    server = JupyterLabServer(log_dir=artifacts_dir)
    failure = None
    try:
        server.start()
    except HarnessError as err:
        failure = str(err)
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    missing = None
    try:
        require_chromium()
    except HarnessError as err:
        missing = str(err)
    if missing:  # fail (never skip): CI installs chromium, so its absence is an error
        pytest.fail(missing, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def open_notebook(
    browser: Any, lab_server: JupyterLabServer, artifacts_dir: Path
) -> Iterator[Callable[..., LabNotebook]]:
    """Factory: ``open_notebook(name, cells, run=True)`` -> an open, executed LabNotebook.

    If opening or running fails, the page screenshot and console are saved and the test fails
    with the kernel traceback / harness message. Close it with ``nb.close()`` (or leave it to
    the end of the session).
    """

    def _open(name: str, cells: Sequence[str], run: bool = True, **kwargs: Any) -> LabNotebook:
        nb = None
        try:
            nb = LabNotebook.open(browser, lab_server, name, cells, **kwargs)
            OPEN_NOTEBOOKS.append(nb)
            if run:
                nb.run_all()
        except HarnessError as err:
            saved = nb.save_artifacts(_stem(f"open-{name}"), artifacts_dir) if nb else []
            pytest.fail(f"{err}\nartifacts: {[str(p) for p in saved]}", pytrace=False)
        return nb

    yield _open
    while OPEN_NOTEBOOKS:
        OPEN_NOTEBOOKS.pop().close()


@pytest.fixture(autouse=True)
def _save_artifacts_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "_e2e_rep_call", None)
    if report is not None and report.failed:
        for i, nb in enumerate(OPEN_NOTEBOOKS):
            stem = _stem(request.node.name) + (f"-{i}" if i else "")
            saved = nb.save_artifacts(stem, ARTIFACTS / "e2e")
            print(f"e2e artifacts for {request.node.nodeid}: {[str(p) for p in saved]}")
