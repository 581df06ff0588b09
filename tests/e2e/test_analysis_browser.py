"""Cluster analysis in JupyterLab + Chromium: named clusters, axis picker, paths, neighbours.

Every gesture is real mouse/keyboard input; every result is checked in the kernel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lab_harness import artifacts_on_error
from test_atlas_browser import (
    LIBRARY_CELL,
    SCATTER_CANVAS,
    canvas_image,
    non_background,
    screen_positions,
    wait_first_paint,
)

pytestmark = pytest.mark.e2e

ROOT = ".miwd-root"
KEEP = f"{ROOT} [data-testid=miwd-keep-cluster]"
NAME = f"{ROOT} [data-testid=miwd-cluster-name]"
CHIP = f"{ROOT} [data-testid=miwd-cluster-chip]"
CLUSTER_GALLERY = f"{ROOT} [data-testid=miwd-cluster-gallery]"
AXES_ADD = f"{ROOT} [data-testid=miwd-axes-picker-add]"
AXIS_TITLE = f"{ROOT} .miwd-parallel .miwd-axis-title"
COUNT = f"{ROOT} .miwd-count"


@pytest.fixture(scope="module")
def analysis_nb(open_notebook):
    nb = open_notebook("analysis.ipynb", [LIBRARY_CELL, "atlas = Atlas(lib)\natlas"])
    with artifacts_on_error(nb, "analysis-setup"):
        wait_first_paint(nb)
    yield nb
    nb.close()


def clusters_in_kernel(nb) -> dict:
    return nb.kernel_value("{k: v.tolist() for k, v in atlas.clusters.items()}")


def test_a_cluster_kept_with_the_mouse_reaches_python_under_its_name(
    analysis_nb, artifacts_dir: Path
):
    nb, page = analysis_nb, analysis_nb.page
    members = nb.kernel_value("np.flatnonzero(lib.metadata['cluster'] == 2).tolist()")
    nb.run_python("atlas.select(np.flatnonzero(lib.metadata['cluster'] == 2))")
    page.locator(COUNT).filter(has_text=f"{len(members)} of").wait_for(timeout=10_000)
    page.locator(NAME).fill("north")
    page.locator(KEEP).click()
    got = nb.wait_kernel_value(
        "{k: v.tolist() for k, v in atlas.clusters.items()}", lambda v: "north" in v
    )
    assert got == {"north": members}
    assert nb.kernel_value("lib.clusters['north'].tolist()") == members  # saved with the library
    chip = page.locator(CHIP).filter(has_text="north")
    chip.wait_for(timeout=10_000)
    # The side-by-side gallery shows the cluster's mean and std descriptors.
    page.locator(f"{CLUSTER_GALLERY} [data-cluster=north] canvas").nth(1).wait_for(timeout=20_000)

    # A second cluster gets the next default name; a chip click selects its cluster again.
    nb.run_python("atlas.select(np.flatnonzero(lib.metadata['cluster'] == 1))")
    page.locator(COUNT).filter(has_text="100 of").wait_for(timeout=10_000)
    page.locator(KEEP).click()
    got = nb.wait_kernel_value(
        "{k: v.tolist() for k, v in atlas.clusters.items()}", lambda v: len(v) == 2
    )
    assert list(got) == ["north", "A"]
    page.locator(f"{CHIP}[data-cluster=north] .miwd-cluster-label").click()
    selection = nb.wait_kernel_value("sorted(atlas.selection)", lambda v: v == members)
    assert selection == members
    page.screenshot(path=str(artifacts_dir / "clusters.png"))

    # Rename by double-click, then delete with x: both reach Python.
    page.locator(f"{CHIP}[data-cluster=A] .miwd-cluster-label").dblclick()
    rename = page.locator(f"{ROOT} .miwd-cluster-rename")
    rename.fill("east")
    rename.press("Enter")
    got = nb.wait_kernel_value("list(atlas.clusters)", lambda v: v == ["north", "east"], timeout=15)
    assert got == ["north", "east"]
    page.locator(f"{CHIP}[data-cluster=north] .miwd-cluster-remove").click()
    assert nb.wait_kernel_value("list(atlas.clusters)", lambda v: v == ["east"]) == ["east"]


def test_an_axis_chosen_in_the_view_is_drawn(analysis_nb):
    nb, page = analysis_nb, analysis_nb.page
    assert "cluster" not in nb.kernel_value("atlas.axes")
    page.locator(f"{ROOT} [data-testid=miwd-columns] > summary").click()  # unfold the pickers
    page.locator(AXES_ADD).select_option("cluster")
    axes = nb.wait_kernel_value("atlas.axes", lambda v: "cluster" in v)
    assert axes[-1] == "cluster"
    page.locator(AXIS_TITLE).filter(has_text="cluster").wait_for(timeout=10_000)
    # Removing it from the view takes it off in Python too.
    page.locator(f"{ROOT} [data-testid=miwd-axes-picker] [data-column=cluster] button").last.click()
    assert "cluster" not in nb.wait_kernel_value("atlas.axes", lambda v: "cluster" not in v)


def test_a_click_shows_the_models_descriptor_neighbours(analysis_nb):
    nb, page = analysis_nb, analysis_nb.page
    nb.run_python("atlas.select([])")
    embedding = np.asarray(nb.kernel_value("lib.embedding.tolist()"), dtype=np.float32)
    canvas = page.locator(SCATTER_CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    row = 0  # the isolated outlier: a click can only hit it
    x, y = screen_positions(embedding, box["width"], box["height"])[row]
    page.mouse.click(box["x"] + x, box["y"] + y)
    shown = nb.wait_kernel_value("atlas._neighbors.get('row')", lambda v: v == row)
    assert shown == row
    expected = nb.kernel_value(f"atlas.neighbors({row}, k=atlas.neighbors_k).index.tolist()")
    got = nb.kernel_value(
        "miwd_widget.widget.codec.array_from_json(atlas._neighbors['neighbors']).tolist()"
    )
    assert got == expected


SNAPSHOT_CELL = """
import numpy as np
import pandas as pd
from miwd_widget import Atlas, ModelLibrary
# 12 models x 5 epochs: each model walks from the centre outwards along its own direction.
rng = np.random.default_rng(3)
models, epochs = 12, 5
angle = np.repeat(np.linspace(0, 2 * np.pi, models, endpoint=False), epochs)
step = np.tile(np.arange(epochs), models)
embedding = np.column_stack([np.cos(angle), np.sin(angle)]) * (1 + 2 * step[:, None])
meta = pd.DataFrame({"id": [f"m{i}" for i in range(models * epochs)],
                     "model": np.repeat([f"net{j}" for j in range(models)], epochs),
                     "epoch": step, "test_accuracy": step / 4})
desc = rng.random((models * epochs, 8, 8), dtype=np.float32)
snap = ModelLibrary(desc, meta, embedding=embedding.astype(np.float32))
paths = Atlas(snap)
paths
"""


def test_training_paths_are_drawn_and_a_click_selects_a_whole_path(open_notebook, artifacts_dir):
    nb = open_notebook("paths.ipynb", [SNAPSHOT_CELL])
    page = nb.page
    with artifacts_on_error(nb, "paths"):
        wait_first_paint(nb)
        page.locator(f"{ROOT} .miwd-scatter[data-paths='12']").wait_for(timeout=20_000)
        page.wait_for_timeout(1000)  # regl-scatterplot computes the curves asynchronously
        with_paths = int(non_background(canvas_image(nb, SCATTER_CANVAS)).sum())
        page.screenshot(path=str(artifacts_dir / "paths.png"))
        toggle = page.locator(f"{ROOT} [data-testid=miwd-paths-toggle]")
        toggle.click()
        page.locator(f"{ROOT} .miwd-scatter[data-paths='0']").wait_for(timeout=20_000)
        page.wait_for_timeout(500)
        without = int(non_background(canvas_image(nb, SCATTER_CANVAS)).sum())
        # 12 polylines spanning the atlas add many pixels to 60 points.
        assert with_paths > without * 1.3, (with_paths, without)
        toggle.click()
        page.locator(f"{ROOT} .miwd-scatter[data-paths='12']").wait_for(timeout=20_000)
        # A click on a model's last snapshot selects all five of its snapshots.
        embedding = np.asarray(nb.kernel_value("snap.embedding.tolist()"), dtype=np.float32)
        canvas = page.locator(SCATTER_CANVAS)
        box = canvas.bounding_box()
        row = 4  # net0, epoch 4: the outermost point of its path
        x, y = screen_positions(embedding, box["width"], box["height"])[row]
        page.mouse.click(box["x"] + x, box["y"] + y)
        selection = nb.wait_kernel_value("sorted(paths.selection)", lambda v: len(v) > 0)
        assert selection == [0, 1, 2, 3, 4]
    nb.close()
