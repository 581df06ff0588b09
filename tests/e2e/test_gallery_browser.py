"""The descriptor gallery's colour scales in JupyterLab + headless Chromium.

The notebook tests' library (3 clusters of 100 models), with three models of cluster 2 turned
into constant-initialization-like descriptors: every window's weights in one bin (density 1,
against peaks of about 0.3 for the others). A real lasso around cluster 2 shows them in the
gallery, as in the issue's demo-library lasso. Per tile (the default) each descriptor is coloured up to its own 99th percentile, so
the others are not darkened; the header's toggle puts every tile on one shared scale. Checked
on the tiles' ``data-vmax`` (the top of each tile's scale), their canvas pixels and the
colour bar that says which scale is shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lab_harness import artifacts_on_error
from test_atlas_browser import (
    GALLERY,
    GALLERY_ITEM,
    LASSO_TOGGLE,
    LIBRARY_CELL,
    ROOT,
    drag_path,
    wait_first_paint,
)
from test_lifecycle_browser import CANVAS, canvas_pixels, cluster_lasso

from miwd_widget.widget.gallery import spread_sample

pytestmark = pytest.mark.e2e

SCALE_TOGGLE = "[data-testid=miwd-gallery-scale]"
TILES_BAR = ".miwd-gallery-axes .miwd-gallery-colorbar"
# Positions 0, 27 and 54 of cluster 2's 100 rows: among the 12 the gallery spreads over it.
CONSTANT_CELL = """
constant_rows = np.flatnonzero(cluster == 2)[[0, 27, 54]]
descriptors[constant_rows] = 0.0
descriptors[constant_rows, :, 8] = 1.0
lib = ModelLibrary(descriptors, metadata, embedding=embedding.astype(np.float32),
                   value_range=(-1.0, 1.0))
atlas = Atlas(lib)
atlas
"""


def tile_scales(page) -> dict[int, float]:
    """Each gallery tile's row and the top of its colour scale."""
    return page.eval_on_selector_all(
        f"{ROOT} {GALLERY_ITEM}",
        "tiles => Object.fromEntries(tiles.map(t => [t.dataset.index, Number(t.dataset.vmax)]))",
    )


def tile_brightness(page, row: int) -> float:
    """Mean brightness (0..255) of a tile's brightest tenth of pixels: where its histograms
    peak (inferno is dark at the bottom of its scale, light yellow at the top)."""
    canvas = page.locator(f"{ROOT} {GALLERY_ITEM}[data-index='{row}'] canvas")
    brightness = np.sort(canvas_pixels(canvas)[..., :3].mean(axis=-1).ravel())
    return float(brightness[-max(1, brightness.size // 10) :].mean())


def test_each_tile_on_its_own_scale_and_shared_one_click_away(open_notebook, artifacts_dir: Path):
    nb = open_notebook("gallery-scales.ipynb", [LIBRARY_CELL, CONSTANT_CELL])
    page = nb.page
    with artifacts_on_error(nb, "gallery-scales"):
        wait_first_paint(nb)
        truth = nb.kernel_value(
            "{'embedding': lib.embedding.tolist(), 'cluster': lib.metadata['cluster'].tolist(),"
            " 'constant': constant_rows.tolist(), 'k': atlas.gallery_size}"
        )
        embedding = np.asarray(truth["embedding"])
        cluster = np.asarray(truth["cluster"])
        constant = set(truth["constant"])
        box, polygon, inside = cluster_lasso(
            page.locator(f"{ROOT} {CANVAS}"), embedding, cluster, 2
        )
        shown = spread_sample(np.asarray(inside), truth["k"]).tolist()
        assert constant <= set(shown)  # the lasso's gallery holds the constant models

        toggle = page.locator(f"{ROOT} {LASSO_TOGGLE}")
        toggle.click()
        drag_path(nb, box, polygon)
        toggle.click()
        assert nb.wait_kernel_value("sorted(atlas.selection)", lambda v: v == inside) == inside
        page.wait_for_function(
            "([sel, rows]) => [...document.querySelectorAll(sel)].map(t => +t.dataset.index).join() == rows",
            arg=[f"{ROOT} {GALLERY_ITEM}", ",".join(map(str, shown))],
            timeout=20_000,
        )

        # Per tile (the default): the constant models reach 1, the others their own ~0.3.
        gallery = page.locator(f"{ROOT} {GALLERY}")
        assert gallery.get_attribute("data-scale") == "tile"
        assert page.locator(f"{ROOT} {SCALE_TOGGLE}").inner_text() == "Scale: per tile"
        assert page.locator(f"{ROOT} {TILES_BAR}").get_attribute("data-scale") == "tile"
        assert "each its own scale" in page.locator(f"{ROOT} {TILES_BAR}").inner_text()
        per_tile = {int(k): v for k, v in tile_scales(page).items()}
        assert sorted(per_tile) == sorted(shown)
        for row, vmax in per_tile.items():
            if row in constant:
                assert vmax == pytest.approx(1.0)
            else:
                assert 0.1 < vmax < 0.5, (row, vmax)
        assert len({round(v, 6) for v in per_tile.values()}) > 2  # scales differ per tile
        normal = next(row for row in shown if row not in constant)
        bright_own = tile_brightness(page, normal)
        gallery.screenshot(path=str(artifacts_dir / "gallery-per-tile.png"))

        # One click: every tile (and the mean) on one shared scale, set by the constant ones.
        page.locator(f"{ROOT} {SCALE_TOGGLE}").click()
        page.wait_for_function(
            "sel => document.querySelector(sel).dataset.scale === 'shared'",
            arg=f"{ROOT} {GALLERY}",
            timeout=10_000,
        )
        assert page.locator(f"{ROOT} {SCALE_TOGGLE}").inner_text() == "Scale: shared"
        bar = page.locator(f"{ROOT} {TILES_BAR}")
        assert bar.get_attribute("data-scale") == "shared"
        assert "one shared scale" in bar.inner_text()
        shared = {int(k): v for k, v in tile_scales(page).items()}
        assert sorted(shared) == sorted(shown)  # the same tiles, not fetched again
        assert len(set(shared.values())) == 1
        vmax = next(iter(shared.values()))
        assert vmax == pytest.approx(1.0)  # the constant models' bins set it
        # The bar's top label is the shared scale's value (2 significant digits, "+" clipped).
        top = bar.locator(".miwd-colorbar-ticks span").last.inner_text()
        assert float(top.rstrip("+")) == pytest.approx(float(f"{vmax:.2g}"))
        # The same model's tile is much darker on the shared scale: why per tile is the default.
        assert tile_brightness(page, normal) < 0.6 * bright_own
        gallery.screenshot(path=str(artifacts_dir / "gallery-shared.png"))

        page.locator(f"{ROOT} {SCALE_TOGGLE}").click()  # and back
        page.wait_for_function(
            "sel => document.querySelector(sel).dataset.scale === 'tile'",
            arg=f"{ROOT} {GALLERY}",
            timeout=10_000,
        )
        assert {int(k): v for k, v in tile_scales(page).items()} == per_tile
    nb.close()
