"""Deferred id columns in JupyterLab + Chromium: asked for after the first paint, shown after.

A small library with ``DEFERRED_TEXT_ROWS`` lowered in the kernel stands in for a million
models. The first view asks for the ids by itself once it has drawn; they arrive in
``_text_columns``. The second view's kernel holds its answer back, so the tooltip shows "…",
a CSV download waits ``DEFERRED_WAIT_MS`` (10 s) for the ids and is then saved without them,
and the next click asks again and gets them. A third view's kernel answers while a tooltip
is open: the tooltip shows the id without another hover.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from lab_harness import LabNotebook, artifacts_on_error
from test_atlas_browser import ROOT, SCATTER_CANVAS, TOOLTIP, screen_positions

pytestmark = pytest.mark.e2e

LIBRARY_CELL = """
import numpy as np
import pandas as pd
import miwd_widget.widget.column_transport as column_transport
from miwd_widget import Atlas, ModelLibrary

column_transport.DEFERRED_TEXT_ROWS = 10  # a small library behaves as a million-model one
rng = np.random.default_rng(3)
n = 40
# An 8 x 5 grid, far apart on screen: a hover finds exactly one point.
embedding = np.column_stack([np.arange(n) % 8, np.arange(n) // 8]).astype(np.float32) * 3
accuracy = rng.uniform(0.1, 0.99, n)
metadata = pd.DataFrame({
    "id": [f"net-{i:03d}" for i in range(n)],
    "dataset": rng.choice(["mnist", "svhn"], n),
    "lr": 10 ** rng.uniform(-4, -1, n),
    "test_accuracy": accuracy,
    "accuracy_norm": accuracy,
})
lib = ModelLibrary(rng.random((n, 4, 4), dtype=np.float32), metadata, embedding=embedding,
                   value_range=(0.0, 1.0))
"""
FIRST_CELL = """
atlas = Atlas(lib)
first_state = {"deferred": list(atlas._deferred_columns), "columns": sorted(atlas._columns)}
atlas
"""
# The second view's request is recorded and answered only when the test says so.
HELD_CELL = """
asked = []
class HeldAtlas(Atlas):  # its handler of "columns" requests only records them
    def _on_columns_request(self, message, buffers):
        asked.append(message)
held = HeldAtlas(lib)
held.select([5, 6, 7])
held
"""
# A third view, answered by the test while a tooltip is open on it.
RESTING_CELL = """
asked_resting = []
class RestingAtlas(Atlas):
    def _on_columns_request(self, message, buffers):
        asked_resting.append(message)
resting = RestingAtlas(lib)
resting
"""
HOVERED = 19


@pytest.fixture(scope="module")
def nb(open_notebook):
    cells = [LIBRARY_CELL, FIRST_CELL, HELD_CELL, RESTING_CELL]
    notebook = open_notebook("deferred.ipynb", cells)
    with artifacts_on_error(notebook, "deferred-notebook-setup"):
        notebook.page.wait_for_function(
            "(sel) => document.querySelectorAll(sel).length === 3", arg=ROOT, timeout=60_000
        )
        for i in range(3):
            view(notebook, i).locator(SCATTER_CANVAS).wait_for(state="visible", timeout=60_000)
    yield notebook
    notebook.close()


def view(nb: LabNotebook, i: int):
    return nb.page.locator(ROOT).nth(i)


def hover_tooltip(nb: LabNotebook, i: int, row: int) -> dict[str, str]:
    """Hover ``row`` in view ``i``; its tooltip as {column: text}."""
    canvas = view(nb, i).locator(SCATTER_CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100, box
    embedding = np.asarray(nb.kernel_value("lib.embedding.tolist()"), dtype=np.float32)
    x, y = screen_positions(embedding, box["width"], box["height"])[row]
    nb.page.mouse.move(1, 1)
    nb.page.mouse.move(box["x"] + x + 25, box["y"] + y + 25)
    nb.page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    tooltip = view(nb, i).locator(TOOLTIP)
    tooltip.wait_for(state="visible", timeout=10_000)
    cells = tooltip.locator("tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])"
    )
    return dict(cells)


def test_ids_come_after_the_first_paint_and_show_in_the_tooltip(nb):
    first = nb.kernel_value("first_state")
    assert first["deferred"] == ["id"] and "id" not in first["columns"]
    # No gesture: the view asks once it has drawn, and Python has sent them.
    nb.wait_kernel_value("atlas._deferred_columns", lambda v: v == [], timeout=30)
    assert nb.kernel_value("atlas._text_columns['id']['kind']") == "text"
    assert nb.kernel_value("'id' in atlas._columns") is False  # `_columns` was not sent again
    cells = hover_tooltip(nb, 0, HOVERED)
    assert cells["id"] == f"net-{HOVERED:03d}"


def read_csv(download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


def test_pending_ids_show_an_ellipsis_and_the_csv_waits_for_them(nb):
    asked = nb.wait_kernel_value("asked", lambda v: len(v) == 1, timeout=30)
    assert asked[0]["names"] == ["id"]
    assert nb.kernel_value("held._deferred_columns") == ["id"]
    cells = hover_tooltip(nb, 1, HOVERED)
    assert cells["id"] == "…"
    button = view(nb, 1).locator(".miwd-export-csv")
    note = view(nb, 1).locator(".miwd-export-note")
    # No answer (as without a kernel): after 10 s the CSV is saved without the ids, and says so.
    with nb.page.expect_download(timeout=30_000) as info:
        button.click()
        nb.page.wait_for_function(
            "(b) => b.disabled && /ids/.test(b.title)", arg=button.element_handle(), timeout=5_000
        )
    rows = read_csv(info.value)
    assert rows[0][0] == "row" and "id" not in rows[0]
    assert [r[0] for r in rows[1:]] == ["5", "6", "7"]
    nb.page.wait_for_function("(b) => !b.disabled", arg=button.element_handle(), timeout=5_000)
    assert "without id" in note.text_content()
    assert nb.kernel_value("len(asked)") == 1  # the click did not ask twice meanwhile
    # The next click asks again; this time the kernel answers while the CSV waits.
    with nb.page.expect_download(timeout=30_000) as info:
        button.click()
        asked = nb.wait_kernel_value("asked", lambda v: len(v) == 2, timeout=5)
        assert asked[1]["names"] == ["id"]
        nb.run_python("Atlas._on_columns_request(held, asked[1], [])")
    rows = read_csv(info.value)
    assert rows[0][0] == "id"
    assert [r[0] for r in rows[1:]] == ["net-005", "net-006", "net-007"]
    assert nb.kernel_value("held._deferred_columns") == []
    assert nb.kernel_value("sorted(held._text_columns)") == ["id"]
    nb.page.wait_for_function("(b) => !b.disabled", arg=button.element_handle(), timeout=5_000)
    assert note.text_content() == ""
    assert hover_tooltip(nb, 1, HOVERED)["id"] == f"net-{HOVERED:03d}"


def test_an_open_tooltip_shows_the_ids_when_they_arrive(nb):
    asked = nb.wait_kernel_value("asked_resting", lambda v: len(v) == 1, timeout=30)
    assert asked[0]["names"] == ["id"]
    assert hover_tooltip(nb, 2, HOVERED)["id"] == "…"
    # The pointer rests on the point (no move, no other hover) while the kernel answers.
    nb.run_python("Atlas._on_columns_request(resting, asked_resting[0], [])")
    tooltip = view(nb, 2).locator(TOOLTIP)
    nb.page.wait_for_function(
        """(t) => !t.hidden && [...t.querySelectorAll('tr')].some(
             r => r.querySelector('th').textContent === 'id'
               && r.querySelector('td').textContent === arguments[1])""".replace(
            "arguments[1]", repr(f"net-{HOVERED:03d}")
        ),
        arg=tooltip.element_handle(),
        timeout=10_000,
    )
