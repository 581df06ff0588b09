"""The Atlas in marimo: ``marimo run notebooks/marimo_atlas.py`` in headless Chromium.

The app wraps the demo library's Atlas in ``mo.ui.anywidget``; a cell reads
``atlas.selection`` (the Atlas's own trait) and writes a line, and a button calls
``atlas.select``. Checked: the atlas renders, a real mouse lasso reaches Python, a selection
made in Python reaches the page, and the gallery shows the selected models' tiles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from front_ends import (
    AppPage,
    DemoTruth,
    check_lasso_reaches_python,
    check_python_select_reaches_page,
    check_renders,
    marimo_server,
    serve,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def truth() -> DemoTruth:
    return DemoTruth()


@pytest.fixture(scope="module")
def marimo_app(browser, artifacts_dir: Path) -> Iterator[AppPage]:
    with serve(marimo_server(log_dir=artifacts_dir), browser) as app:
        yield app


def test_marimo_renders_the_atlas(marimo_app: AppPage, truth: DemoTruth, artifacts_dir: Path):
    check_renders(marimo_app, truth)
    marimo_app.page.screenshot(path=str(artifacts_dir / "marimo.png"))


def test_marimo_lasso_reaches_python(marimo_app: AppPage, truth: DemoTruth):
    check_lasso_reaches_python(marimo_app, truth)


def test_marimo_python_select_reaches_the_page(marimo_app: AppPage, truth: DemoTruth):
    check_python_select_reaches_page(marimo_app, truth)


def test_marimo_no_page_errors(marimo_app: AppPage):
    """Nothing failed in the page while the tests above ran (runs last here)."""
    assert not marimo_app.errors(), "\n".join(marimo_app.errors())
