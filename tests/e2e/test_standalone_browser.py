"""A page written by ``Atlas.save_html``, opened from disk in Chromium: no kernel, no Jupyter.

The library is the one of the notebook tests (3 clusters, an HTML-injection id), built in
this process. Gestures are real mouse input. The page computes every selection's gallery
itself: a lasso changes the mean image, the count and the examples (the spread sample
Python would show), and "Download selection" gives a CSV of exactly the selected ids; the
PNG export is an image of the scatter with the located model's marker.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_atlas_browser import COUNT, LASSO_TOGGLE, LIBRARY_CELL, ROOT, XSS_ID, XSS_ROW
from test_dark_theme_browser import check_tooltip
from test_lifecycle_browser import (
    CANVAS,
    GALLERY_ITEM,
    GALLERY_STATUS,
    canvas_pixels,
    click_row,
    cluster_lasso,
    console_errors,
    drag_path_on,
    wait_painted,
)

from miwd_widget import Atlas
from miwd_widget.widget.gallery import spread_sample

pytestmark = pytest.mark.e2e

MEAN_CANVAS = ".miwd-gallery .miwd-mean canvas"
MEAN_CAPTION = ".miwd-gallery .miwd-mean figcaption"
CSV_BUTTON = "[data-testid=miwd-export-csv]"
PNG_BUTTON = "[data-testid=miwd-export-png]"
# A located model in empty space above cluster 0, with lines to two rows of cluster 2 (far
# from the centre: a wrong aspect ratio in the overlay would move it).
LOCATED_XY = (-6.0, 2.0)


@pytest.fixture(scope="module")
def library():
    namespace: dict = {}
    exec(LIBRARY_CELL, namespace)  # the notebook tests' library, built here
    return namespace["lib"]


@pytest.fixture
def standalone(library, browser, tmp_path_factory, artifacts_dir: Path):
    """The page with cluster 1 saved as the selection and one located model, in Chromium:
    a fresh page for each test, so that one test's gestures never move another's view."""
    cluster = library.metadata["cluster"].to_numpy()
    atlas = Atlas(library)
    atlas.select(np.flatnonzero(cluster == 1))
    atlas.show_located(
        pd.DataFrame(
            {
                "query": [0, 0],
                "query_name": ["probe.pt", "probe.pt"],
                "x": [LOCATED_XY[0]] * 2,
                "y": [LOCATED_XY[1]] * 2,
                "rank": [1, 2],
                "neighbor": np.flatnonzero(cluster == 2)[:2],
            }
        )
    )
    path = tmp_path_factory.mktemp("standalone") / "atlas.html"
    atlas.save_html(path)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"[pageerror] {e}"))
    page.goto(path.as_uri())
    truth = {
        "embedding": library.embedding.astype(np.float32),
        "cluster": cluster,
        "ids": library.metadata["id"].tolist(),
        "saved": sorted(atlas.selection),
        "gallery_size": atlas.gallery_size,
    }
    try:
        wait_painted(page.locator(f"{ROOT} {CANVAS}"))
        yield page, truth, messages
    except BaseException:
        page.screenshot(path=str(artifacts_dir / "standalone-FAILED.png"))
        (artifacts_dir / "standalone-console.log").write_text("\n".join(messages) + "\n")
        raise
    finally:
        page.close()


def mean_pixels(page) -> bytes:
    return bytes(
        page.eval_on_selector(
            f"{ROOT} {MEAN_CANVAS}",
            "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
        )
    )


def wait_gallery(page, count: int, n: int, shown: list[int]) -> None:
    """Until the gallery describes `count` selected models and shows exactly `shown`."""
    page.locator(f"{ROOT} {MEAN_CAPTION}").filter(
        has_text=f"{count} selected" if count else f"all {n} models"
    ).wait_for(timeout=20_000)
    page.wait_for_function(
        """([sel, rows]) => {
          const items = [...document.querySelectorAll(sel)].map((e) => Number(e.dataset.index));
          return items.length === rows.length && items.every((r, i) => r === rows[i]);
        }""",
        arg=[f"{ROOT} {GALLERY_ITEM}", shown],
        timeout=20_000,
    )


def download(page, selector: str) -> Path:
    with page.expect_download(timeout=20_000) as info:
        page.locator(f"{ROOT} {selector}").click()
    return Path(info.value.path())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_lasso_updates_the_gallery_and_the_csv_has_the_selected_ids(standalone, artifacts_dir):
    page, truth, messages = standalone
    n = len(truth["ids"])
    k = truth["gallery_size"]
    canvas = page.locator(f"{ROOT} {CANVAS}")
    count = page.locator(f"{ROOT} {COUNT}")
    saved = truth["saved"]
    count.filter(has_text=f"{len(saved)} of {n} selected").wait_for(timeout=10_000)
    wait_gallery(page, len(saved), n, spread_sample(np.asarray(saved), k).tolist())
    before = mean_pixels(page)

    # A lasso around cluster 2: the page computes its gallery (no kernel, not "saved").
    box, polygon, inside = cluster_lasso(canvas, truth["embedding"], truth["cluster"], 2)
    toggle = page.locator(f"{ROOT} {LASSO_TOGGLE}")
    toggle.click()
    drag_path_on(page, box, polygon)
    toggle.click()  # back to pan/zoom: the clicks below select points
    count.filter(has_text=f"{len(inside)} of {n} selected").wait_for(timeout=10_000)
    wait_gallery(page, len(inside), n, spread_sample(np.asarray(inside), k).tolist())
    status = page.locator(f"{ROOT} {GALLERY_STATUS}").inner_text()
    assert f"{len(inside)} selected" in status and "saved selection" not in status
    # Cluster 2's descriptors peak in other bins than cluster 1's: the mean image changed.
    assert mean_pixels(page) != before
    page.screenshot(path=str(artifacts_dir / "standalone-lasso.png"))

    rows = read_csv(download(page, CSV_BUTTON))
    assert [r["id"] for r in rows] == [truth["ids"][i] for i in inside]
    assert {"dataset", "optimizer"} <= set(rows[0])
    assert all(r["dataset"] == "svhn" for r in rows)  # cluster 2's dataset

    # One click on the outlier: its id (quotes, <, >) comes back exactly.
    click_row(page, canvas, truth["embedding"], XSS_ROW)
    count.filter(has_text=f"1 of {n} selected").wait_for(timeout=10_000)
    wait_gallery(page, 1, n, [XSS_ROW])
    assert [r["id"] for r in read_csv(download(page, CSV_BUTTON))] == [XSS_ID]
    assert page.evaluate("window.__xss") is None
    assert not console_errors(messages), "\n".join(console_errors(messages))


def test_png_export_is_the_scatter_with_the_located_marker(standalone):
    page, truth, messages = standalone
    canvas = page.locator(f"{ROOT} {CANVAS}")
    size = canvas.evaluate("c => [c.width, c.height]")
    image = np.asarray(Image.open(io.BytesIO(download(page, PNG_BUTTON).read_bytes())))
    assert image.shape[1::-1] == tuple(size) and image.shape[2] in (3, 4)
    rgb = image[..., :3].astype(np.int16)
    background = rgb[0, 0]
    drawn = np.abs(rgb - background).sum(axis=-1) > 40
    assert drawn.mean() > 0.005, "the PNG holds no points"
    # The located marker (accent colour, from the overlay canvas) at its atlas position.
    emb = truth["embedding"].astype(np.float64)
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    scale = 0.95 / (max(float((hi - lo).max()), 1e-9) / 2)
    nx, ny = (np.asarray(LOCATED_XY) - (lo + hi) / 2) * scale
    w, h = size
    px, py = int(w / 2 + nx * h / 2), int(h / 2 - ny * h / 2)
    window = drawn[max(0, py - 12) : py + 12, max(0, px - 12) : px + 12]
    assert window.mean() > 0.1, f"no located marker at ({px}, {py}) in the PNG"
    # The marker itself (a triangle in the accent colour, 14 px wide, drawn from 8 px above
    # its position to 5 px below; its lines go up, to cluster 2) is where the points'
    # projection puts that position, also right after the first layout.
    overlay = canvas_pixels(page.locator(f"{ROOT} canvas.miwd-overlay"))
    accent = np.abs(overlay.astype(np.int16) - [0xE6, 0x55, 0x0D]).sum(axis=-1) < 60
    below = accent[py : py + 4, px - 10 : px + 11]
    assert below.sum() >= 15, f"no marker at ({px}, {py}) on the overlay"
    assert not console_errors(messages), "\n".join(console_errors(messages))


def horizontal_shift(before: np.ndarray, after: np.ndarray, limit: int = 500) -> int:
    """The x shift (px) that best lays the drawn columns of `before` onto those of `after`."""

    def profile(image: np.ndarray) -> np.ndarray:
        drawn = np.abs(image.astype(np.int16) - image[0, 0].astype(np.int16)).sum(axis=-1) > 40
        return drawn.sum(axis=0).astype(np.float64)

    a, b = profile(before), profile(after)
    width = a.size
    scores = {
        s: float(np.dot(a[max(0, -s) : width - max(0, s)], b[max(0, s) : width - max(0, -s)]))
        for s in range(-limit, limit + 1)
    }
    return max(scores, key=scores.__getitem__)


def test_a_pan_right_after_a_shift_lasso_moves_the_view_by_the_drag(standalone):
    """The camera of regl-scatterplot does not see the lasso's moves: a pan pressed where the
    lasso ended, without a move first, jumped by the lasso's extent (issue 24)."""
    page, truth, messages = standalone
    n = len(truth["ids"])
    canvas = page.locator(f"{ROOT} {CANVAS}")
    box, polygon, _ = cluster_lasso(canvas, truth["embedding"], truth["cluster"], 2)
    mouse = page.mouse
    # A shift-lasso around cluster 2 that starts at its left and ends 1/3 of the way round.
    start = int(np.argmin(polygon[:, 0]))
    path = np.roll(polygon, -start, axis=0)
    mouse.move(box["x"] + path[0, 0], box["y"] + path[0, 1])
    page.keyboard.down("Shift")
    mouse.down()
    for x, y in [*path[1:], path[0]]:
        mouse.move(box["x"] + x, box["y"] + y)
    end = path[len(path) // 3]
    mouse.move(box["x"] + end[0], box["y"] + end[1])
    mouse.up()
    page.keyboard.up("Shift")
    # Cluster 2 added to the saved cluster 1 (a vertex on the circle may fall either side).
    page.wait_for_function(
        "([sel, n]) => /^(19\\d|200) of /.test(document.querySelector(sel).textContent)",
        arg=[f"{ROOT} {COUNT}", n],
        timeout=10_000,
    )
    page.wait_for_timeout(500)  # the highlight drawn
    before = canvas_pixels(canvas)
    before_url = canvas.evaluate("c => c.toDataURL()")
    # A pan from where the lasso ended, 40 px to the right, with no move before the press.
    mouse.down()
    mouse.move(box["x"] + end[0] + 40, box["y"] + end[1], steps=4)
    mouse.up()
    page.wait_for_function(
        "([sel, url]) => document.querySelector(sel).toDataURL() !== url",
        arg=[f"{ROOT} {CANVAS}", before_url],
        timeout=10_000,
    )
    page.wait_for_timeout(500)  # the last frame of the pan
    shift = horizontal_shift(before, canvas_pixels(canvas))
    scale = canvas.evaluate("c => c.width") / box["width"]  # device px per CSS px
    assert abs(shift / scale - 40) <= 4, f"the view moved {shift / scale:.0f} px for a 40 px drag"
    assert not console_errors(messages), "\n".join(console_errors(messages))


def test_the_tooltip_text_is_legible_without_jupyterlabs_colours(standalone):
    # The page has no JupyterLab variables: the tooltip is in styles.css' own light colours.
    page, _, _ = standalone
    check_tooltip(page, "standalone")
