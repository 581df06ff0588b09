"""The Atlas in Voilà: ``voila notebooks/voila_atlas.ipynb`` in headless Chromium.

The notebook shows the demo library's Atlas next to an ipywidgets Label that an observer of
``atlas.selection`` writes, and a Button that calls ``atlas.select``. Checked: the atlas
renders, a real mouse lasso reaches Python, a selection made in Python reaches the page,
and the gallery shows the selected models' tiles.
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
    serve,
    voila_server,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def truth() -> DemoTruth:
    return DemoTruth()


@pytest.fixture(scope="module")
def voila_app(browser, artifacts_dir: Path) -> Iterator[AppPage]:
    with serve(voila_server(log_dir=artifacts_dir), browser) as app:
        yield app


def test_voila_renders_the_atlas(voila_app: AppPage, truth: DemoTruth, artifacts_dir: Path):
    check_renders(voila_app, truth)
    voila_app.page.screenshot(path=str(artifacts_dir / "voila.png"))


def test_voila_lasso_reaches_python(voila_app: AppPage, truth: DemoTruth):
    check_lasso_reaches_python(voila_app, truth)


def test_voila_python_select_reaches_the_page(voila_app: AppPage, truth: DemoTruth):
    check_python_select_reaches_page(voila_app, truth)


def test_voila_no_page_errors(voila_app: AppPage):
    """Nothing failed in the page while the tests above ran (runs last here)."""
    assert not voila_app.errors(), "\n".join(voila_app.errors())
