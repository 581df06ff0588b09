"""The Atlas at 100,000 points in JupyterLab + Chromium: correctness of every gesture, not timing.

One notebook shows the same Atlas twice (two views of one model). A mouse lasso of an
arbitrary polygon over dense points must select exactly the points inside it, computed in
Python from the coordinates and the polygon mapped to data space; a brush on the accuracy axis
exactly the rows in the brushed range; Clear after ``atlas.select(...)`` empties the kernel's
selection and the other view.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from lab_harness import LabNotebook, artifacts_on_error
from test_atlas_browser import (
    COUNT,
    LASSO_TOGGLE,
    ROOT,
    near_edges,
    points_in_polygon,
    screen_positions,
)

pytestmark = pytest.mark.e2e

N = 100_000
LIBRARY_CELL = f"""
import numpy as np
import pandas as pd
from miwd_widget import Atlas, ModelLibrary

rng = np.random.default_rng(11)
n = {N}
cluster = rng.integers(0, 8, n)
centers = rng.uniform(-10, 10, (8, 2))
embedding = (centers[cluster] + rng.normal(0, 1.5, (n, 2))).astype(np.float32)
descriptors = rng.random((n, 4, 4), dtype=np.float32)
accuracy = rng.uniform(0.1, 0.99, n)
metadata = pd.DataFrame({{
    "id": [f"m{{i:06d}}" for i in range(n)],
    "dataset": rng.choice(["mnist", "cifar10", "svhn"], n),
    "optimizer": rng.choice(["adam", "rmsprop", "sgd_momentum"], n),
    "lr": 10 ** rng.uniform(-4, -1, n),
    "test_accuracy": accuracy,
    "accuracy_norm": accuracy,
}})
lib = ModelLibrary(descriptors, metadata, embedding=embedding, value_range=(0.0, 1.0))
atlas = Atlas(lib)
"""
SCATTER = f"{ROOT} canvas.miwd-scatter-canvas"


def wait_painted(nb: LabNotebook, timeout: float = 120.0) -> None:
    """Until the first view's scatter canvas holds drawn points."""
    nb.page.wait_for_function(
        """(sel) => {
          const c = document.querySelector(sel);
          if (!c || !c.width || !c.height) return false;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let k = 0;
          for (let i = 0; i < d.length; i += 4 * 7) {
            if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) k++;
          }
          return k > 20;
        }""",
        arg=SCATTER,
        timeout=timeout * 1000,
        polling=200,
    )


@pytest.fixture(scope="module")
def big(open_notebook):
    nb = open_notebook("scale.ipynb", [LIBRARY_CELL, "atlas", "atlas"], run=False)
    with artifacts_on_error(nb, "scale-notebook-setup"):
        nb.run_all(timeout=300)
        nb.page.wait_for_function(
            "(sel) => document.querySelectorAll(sel).length === 2", arg=ROOT, timeout=120_000
        )
        nb.page.locator(SCATTER).first.wait_for(state="visible", timeout=120_000)
        wait_painted(nb)
    # The same library rebuilt here (a 100,000-row JSON dump would hit the IOPub rate limit),
    # checked against the kernel's.
    local: dict = {}
    exec(LIBRARY_CELL.replace("atlas = Atlas(lib)", ""), local)  # noqa: S102 - our own code
    embedding = local["embedding"]
    checksum = nb.kernel_value("[float(lib.embedding.astype('float64').sum()), len(lib)]")
    assert checksum == [float(embedding.astype("float64").sum()), N]
    global METADATA
    METADATA = local["metadata"]
    yield nb, embedding
    nb.close()


METADATA = None


def kernel_selection(nb: LabNotebook) -> list[int]:
    return nb.kernel_value("np.asarray(atlas.selection).tolist()", timeout=120)


def wait_for(nb: LabNotebook, size_predicate, timeout: float = 60.0) -> list[int]:
    """Poll the selection's size (cheap) until it satisfies the predicate, let trailing
    saves land, then fetch the selection once."""
    nb.wait_kernel_value("len(atlas.selection)", size_predicate, timeout, interval=0.3)
    time.sleep(1.0)
    return kernel_selection(nb)


def first_view(nb: LabNotebook):
    return nb.page.locator(ROOT).first


def clear_from_python(nb: LabNotebook) -> None:
    nb.page.mouse.move(1, 1)
    nb.run_python("atlas.select([])")
    assert wait_for(nb, lambda size: size == 0) == []


def test_mouse_lasso_selects_exactly_the_points_inside_the_polygon(big):
    nb, embedding = big
    clear_from_python(nb)
    canvas = first_view(nb).locator("canvas.miwd-scatter-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 200
    w, h = box["width"], box["height"]
    screen = screen_positions(embedding, w, h)
    # An irregular polygon (a star: concave) through the dense middle, integer pixels,
    # vertices > 3 px apart (regl-scatterplot's lasso keeps every mouse position then).
    k = 14
    angles = np.linspace(0, 2 * np.pi, 2 * k, endpoint=False)
    radii = np.where(np.arange(2 * k) % 2 == 0, 0.32 * h, 0.16 * h)
    cx, cy = w / 2 + 0.05 * h, h / 2 - 0.04 * h
    polygon = np.round(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]))
    inside = points_in_polygon(screen, polygon)
    # Points within half a pixel of an edge may go either way (float rounding in the mapping).
    edge_band = near_edges(screen, polygon)
    assert inside.sum() > 5000, inside.sum()

    first_view(nb).locator(LASSO_TOGGLE).click()
    mouse = nb.page.mouse
    mouse.move(box["x"] + polygon[0, 0], box["y"] + polygon[0, 1])
    mouse.down()
    for x, y in [*polygon[1:], polygon[0]]:
        mouse.move(box["x"] + x, box["y"] + y)
        nb.page.wait_for_timeout(25)  # > the lasso's 10 ms throttle: every vertex is kept
    mouse.up()
    first_view(nb).locator(LASSO_TOGGLE).click()  # back to pan/zoom

    selection = np.asarray(wait_for(nb, lambda size: size > 0), dtype=np.int64)
    # The polygon in data space, and the points inside it computed from the coordinates.
    lo, hi = embedding.min(0).astype(np.float64), embedding.max(0).astype(np.float64)
    half = float((hi - lo).max()) / 2
    scale = 0.95 / half
    data_polygon = np.column_stack(
        [
            (polygon[:, 0] - w / 2) / (h / 2) / scale + (lo[0] + hi[0]) / 2,
            (h / 2 - polygon[:, 1]) / (h / 2) / scale + (lo[1] + hi[1]) / 2,
        ]
    )
    expected = points_in_polygon(embedding.astype(np.float64), data_polygon)
    # The mapping is what we think: screen-space and data-space membership agree.
    assert not ((inside != expected) & ~edge_band).any()
    got = np.zeros(len(embedding), dtype=bool)
    got[selection] = True
    wrong = np.flatnonzero((got != expected) & ~edge_band)
    assert wrong.size == 0, (
        f"lasso: {wrong.size} of {expected.sum()} points differ away from the polygon's edge: "
        f"{wrong[:10].tolist()}"
    )
    assert abs(int(got.sum()) - int(expected.sum())) <= int(edge_band.sum())
    # The other view shows the same selection.
    other = nb.page.locator(f"{ROOT} >> nth=1").locator(COUNT)
    other.filter(has_text=f"{int(got.sum()):,} of {N:,} selected").wait_for(timeout=30_000)


def test_brush_selects_exactly_the_rows_in_range(big):
    nb, _ = big
    clear_from_python(nb)
    page = nb.page
    axis_name = nb.kernel_value("atlas.axes[-1]")
    view = first_view(nb)
    axis_line = view.locator(f'g.miwd-axis[data-axis="{axis_name}"] > line').first
    axis_line.scroll_into_view_if_needed()
    box = axis_line.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 0.25 * box["height"])
    page.mouse.down()
    page.mouse.move(x, box["y"] + 0.55 * box["height"], steps=6)
    page.mouse.up()
    rect = view.locator(f'g.miwd-brush[data-axis="{axis_name}"] rect.selection')
    y0 = float(rect.get_attribute("y"))
    y1 = y0 + float(rect.get_attribute("height"))
    top, bottom = float(axis_line.get_attribute("y1")), float(axis_line.get_attribute("y2"))
    values = METADATA[axis_name].to_numpy(np.float32)
    vmin, vmax = float(values.min()), float(values.max())
    lo, hi = sorted(vmin + (y - bottom) / (top - bottom) * (vmax - vmin) for y in (y0, y1))
    expected = set(np.flatnonzero((values >= lo) & (values <= hi)).tolist())
    edge = np.isclose(values, lo, atol=1e-5) | np.isclose(values, hi, atol=1e-5)

    selection = wait_for(nb, lambda size: size > 0)
    diff = sorted(i for i in set(selection) ^ expected if not edge[i])
    if diff:
        pytest.fail(f"brush [{lo:.4f}, {hi:.4f}]: {len(diff)} rows differ: {diff[:10]}")
    assert 10_000 < len(selection) < 60_000


def test_clear_after_python_select_syncs_kernel_and_the_other_view(big):
    nb, _ = big
    chosen = list(range(0, N, 201))  # 498 rows, row 0 included
    nb.run_python(f"atlas.select({chosen})")
    views = nb.page.locator(ROOT)
    for i in range(2):
        views.nth(i).locator(COUNT).filter(has_text=f"{len(chosen)} of {N:,} selected").wait_for(
            timeout=30_000
        )
    views.nth(0).locator(".miwd-clear-selection").click()
    assert wait_for(nb, lambda size: size == 0) == []
    for i in range(2):
        views.nth(i).locator(COUNT).filter(has_text=f"{N:,} models").wait_for(timeout=30_000)
    # And the other way round: Clear in the second view after a new Python selection.
    nb.run_python("atlas.select([0, 5])")
    views.nth(0).locator(COUNT).filter(has_text="2 of").wait_for(timeout=30_000)
    views.nth(1).locator(".miwd-clear-selection").click()
    assert wait_for(nb, lambda size: size == 0) == []
    views.nth(0).locator(COUNT).filter(has_text=f"{N:,} models").wait_for(timeout=30_000)
    errors = [m for m in nb.console if m.startswith(("[error]", "[pageerror]"))]
    assert not errors, "\n".join(errors)
