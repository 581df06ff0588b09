"""The Atlas widget in a real JupyterLab 4 + headless Chromium (WebGL in software).

One notebook builds a synthetic but structured library (3 well-separated clusters of 100
models in the embedding, plus one outlier whose id is an HTML injection attempt) and shows
``atlas = Atlas(lib)``. Gestures are real mouse input (Playwright); every selection is
checked from the kernel (``atlas.selection`` / ``atlas.selected``), never from the DOM alone.

Screen positions of data points are computed from the widget's documented mapping (see
``screen_positions``) and checked against the canvas pixels first, so a mapping change fails
with a clear message instead of a confusing lasso result.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
import pytest
from lab_harness import ARTIFACTS, HarnessError, LabNotebook, artifacts_on_error
from PIL import Image

pytestmark = pytest.mark.e2e

# Selectors of the widget's DOM (js/src/views/scatter.ts, parallel.ts, gallery.ts).
ROOT = ".miwd-root"
SCATTER_CANVAS = ".miwd-scatter canvas.miwd-scatter-canvas"
LASSO_TOGGLE = ".miwd-lasso-toggle"
COUNT = ".miwd-count"
TOOLTIP = ".miwd-tooltip"
PARALLEL_CANVAS = ".miwd-parallel canvas"
GALLERY = ".miwd-gallery"
GALLERY_ITEM = ".miwd-gallery .miwd-item"

N_PER_CLUSTER = 100
XSS_ROW = 0
XSS_ID = '<img src=x onerror="window.__xss=1">'

LIBRARY_CELL = f"""
import numpy as np
import pandas as pd
import miwd_widget
from miwd_widget import Atlas, ModelLibrary

# 3 clusters of {N_PER_CLUSTER} models, far apart in the embedding, each with its own
# descriptor shape; row {XSS_ROW} is an isolated outlier (cluster -1) whose id is HTML.
rng = np.random.default_rng(7)
S, B = 16, 16
centers = np.array([[-6.0, -3.0], [6.0, -3.0], [0.0, 5.0]])
cluster = np.repeat(np.arange(3), {N_PER_CLUSTER})
n = cluster.size
embedding = centers[cluster] + rng.normal(0.0, 0.7, (n, 2))
embedding[{XSS_ROW}] = (0.0, -3.5)
windows = np.arange(S)[:, None]
bins = np.arange(B)[None, :]
descriptors = np.empty((n, S, B), np.float32)
for i in range(n):
    mu = 3 + 4 * cluster[i] + 0.2 * windows + rng.normal(0.0, 0.5)
    bump = np.exp(-0.5 * ((bins - mu) / (1.0 + 0.3 * cluster[i])) ** 2)
    descriptors[i] = bump / bump.sum(axis=1, keepdims=True)
accuracy = np.clip(rng.uniform(0.1, 0.99, n), 0, 1)
metadata = pd.DataFrame({{
    "id": [f"m{{i:05d}}" for i in range(n)],
    "dataset": np.array(["mnist", "cifar10", "svhn"])[cluster],
    "optimizer": rng.choice(["adam", "rmsprop", "sgd_momentum"], n),
    "lr": 10 ** rng.uniform(-4, -1, n),
    "batch_size": rng.choice([32, 64, 128], n),
    "test_accuracy": accuracy,
    "cluster": cluster,
}})
metadata["accuracy_norm"] = metadata.groupby("dataset")["test_accuracy"].transform(
    lambda a: (a - a.min()) / (a.max() - a.min())
)
metadata.loc[{XSS_ROW}, "id"] = {XSS_ID!r}
metadata.loc[{XSS_ROW}, "cluster"] = -1
lib = ModelLibrary(descriptors, metadata, embedding=embedding.astype(np.float32),
                   value_range=(-1.0, 1.0))
"""

DISPLAY_CELL = "atlas = Atlas(lib)\natlas"


# ----------------------------------------------------------------------------- helpers
def canvas_image(nb: LabNotebook, selector: str) -> np.ndarray:
    """The canvas' own pixels (toDataURL: no overlapping legend/tooltip) as (h, w, 3) uint8.

    regl-scatterplot copies its shared WebGL frame into this 2-D canvas, so it is readable.
    """
    url = nb.page.eval_on_selector(selector, "c => c.toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.float32)
    # Transparent pixels show the page (white) behind them.
    alpha = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)


def non_background(img: np.ndarray, tolerance: int = 40) -> np.ndarray:
    """Mask of pixels that differ from the dominant (background) colour."""
    flat = img.reshape(-1, 3).astype(np.int16)
    colors, counts = np.unique(flat, axis=0, return_counts=True)
    background = colors[np.argmax(counts)]
    return np.abs(img.astype(np.int16) - background).sum(axis=-1) > tolerance


def screen_positions(embedding: np.ndarray, width: float, height: float) -> np.ndarray:
    """CSS-pixel positions of points on the scatter canvas at the initial view.

    Mirrors js/src/views/scatter.ts ``normalizeCoordinates`` (center the bounding box, one scale
    for x and y so the longer side spans [-0.95, 0.95]) and regl-scatterplot's projection
    (x scaled by 1/aspect ratio): x_px = w/2 + nx * h/2, y_px = h/2 - ny * h/2.
    """
    emb = embedding.astype(np.float32).astype(np.float64)
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    center = (lo + hi) / 2
    half = max(float((hi - lo).max()), 1e-9) / 2
    norm = (emb - center) * (0.95 / half)
    return np.column_stack(
        [width / 2 + norm[:, 0] * height / 2, height / 2 - norm[:, 1] * height / 2]
    )


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting (vectorized over points)."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


def near_edges(points: np.ndarray, polygon: np.ndarray, distance: float = 0.5) -> np.ndarray:
    """Points within ``distance`` of the polygon's edges (float rounding may put them either
    side of it)."""
    near = np.zeros(len(points), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        d = np.array([x1 - x0, y1 - y0])
        t = np.clip(((points - [x0, y0]) @ d) / (d @ d), 0, 1)
        near |= np.linalg.norm(points - ([x0, y0] + t[:, None] * d), axis=1) < distance
    return near


def kernel_selection(nb: LabNotebook) -> list[int]:
    return nb.kernel_value("sorted(atlas.selection)")


def wait_selection(nb: LabNotebook, predicate, timeout: float = 15.0) -> list[int]:
    return nb.wait_kernel_value("sorted(atlas.selection)", predicate, timeout=timeout)


def reset_view_state(nb: LabNotebook) -> None:
    """Empty selection (from Python), lasso mode off, nothing hovered."""
    nb.page.mouse.move(1, 1)
    nb.run_python("atlas.select([])")
    toggle = nb.page.locator(f"{ROOT} {LASSO_TOGGLE}")
    if toggle.get_attribute("aria-pressed") == "true":
        toggle.click()
    nb.page.locator(f"{ROOT} {COUNT}").filter(has_text="models").wait_for(timeout=10_000)
    assert wait_selection(nb, lambda v: v == []) == []


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def atlas_nb(open_notebook):
    nb = open_notebook("atlas.ipynb", [LIBRARY_CELL, DISPLAY_CELL])
    with artifacts_on_error(nb, "atlas-notebook-setup"):
        wait_first_paint(nb)
    yield nb
    nb.close()


def wait_first_paint(nb: LabNotebook, timeout: float = 30.0) -> None:
    """Wait (bounded) until the scatter canvas holds drawn points."""
    nb.page.locator(SCATTER_CANVAS).wait_for(state="visible", timeout=timeout * 1000)
    nb.page.wait_for_function(
        """(sel) => {
          const c = document.querySelector(sel);
          if (!c || !c.width || !c.height) return false;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const r0 = d[0], g0 = d[1], b0 = d[2];
          let k = 0;
          for (let i = 0; i < d.length; i += 4 * 7) {
            if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 40) k++;
          }
          return k > 20;
        }""",
        arg=SCATTER_CANVAS,
        timeout=timeout * 1000,
        polling=100,
    )


@pytest.fixture(scope="module")
def truth(atlas_nb):
    """Ground truth from the kernel: embedding, cluster labels, column values."""
    data = atlas_nb.kernel_value(
        "{'embedding': lib.embedding.tolist(), 'cluster': lib.metadata['cluster'].tolist(),"
        " 'axes': atlas.axes, 'n': len(lib)}"
    )
    data["embedding"] = np.asarray(data["embedding"], dtype=np.float32)
    data["cluster"] = np.asarray(data["cluster"])
    return data


@pytest.fixture
def atlas(atlas_nb):
    reset_view_state(atlas_nb)
    yield atlas_nb
    assert atlas_nb.page.evaluate("window.__xss") is None, "injected script ran"


def scatter_geometry(nb: LabNotebook, embedding: np.ndarray):
    canvas = nb.page.locator(SCATTER_CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    screen = screen_positions(embedding, box["width"], box["height"])
    return box, screen


# ----------------------------------------------------------------------------- tests
def test_scatter_canvas_is_painted(atlas, truth, artifacts_dir: Path):
    box, screen = scatter_geometry(atlas, truth["embedding"])
    img = canvas_image(atlas, SCATTER_CANVAS)
    Image.fromarray(img).save(artifacts_dir / "scatter-canvas.png")
    h, w = img.shape[:2]
    mask = non_background(img)
    n_colored = int(mask.sum())
    # 300 points of several px each; a blank or background-only canvas has ~0.
    assert n_colored > 1000, f"only {n_colored} of {w * h} canvas pixels differ from background"
    # Coloured by accuracy (viridis): many distinct colours, not one flat fill.
    distinct = len(np.unique(img[mask].reshape(-1, 3), axis=0))
    assert distinct >= 20, f"only {distinct} distinct point colours"
    # The points are where the data says: every cluster centre has drawn pixels near it,
    # and the empty middle of the atlas is background. (Canvas backing store is CSS px
    # times devicePixelRatio.)
    sx, sy = w / box["width"], h / box["height"]
    for k in range(3):
        cx, cy = screen[truth["cluster"] == k].mean(axis=0)
        px, py = int(cx * sx), int(cy * sy)
        window = mask[max(0, py - 10) : py + 11, max(0, px - 10) : px + 11]
        assert window.mean() > 0.2, f"cluster {k} centre ({px}, {py}) has no drawn points"
    middle = screen[truth["cluster"] >= 0].mean(axis=0)  # between the three clusters
    px, py = int(middle[0] * sx), int(middle[1] * sy)
    assert mask[py - 5 : py + 6, px - 5 : px + 6].mean() < 0.05
    # The parallel coordinates canvas is drawn too (faint library lines).
    pimg = canvas_image(atlas, PARALLEL_CANVAS)
    assert non_background(pimg, tolerance=10).sum() > 500


def lasso_polygon(center: np.ndarray, radius: float, n_vertices: int = 20) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, n_vertices, endpoint=False)
    return np.column_stack(
        [center[0] + radius * np.cos(angles), center[1] + radius * np.sin(angles)]
    )


def drag_path(nb: LabNotebook, box: dict, polygon: np.ndarray) -> None:
    mouse = nb.page.mouse
    x0, y0 = polygon[0]
    mouse.move(box["x"] + x0, box["y"] + y0)
    mouse.down()
    # One mouse event per vertex: each move redraws the lasso (software WebGL, slow on CI).
    for x, y in [*polygon[1:], polygon[0]]:
        mouse.move(box["x"] + x, box["y"] + y)
    mouse.up()


@pytest.mark.parametrize("target", [2, 0])
def test_lasso_selects_a_cluster_in_the_kernel(atlas, truth, artifacts_dir: Path, target: int):
    box, screen = scatter_geometry(atlas, truth["embedding"])
    members = truth["cluster"] == target
    center = screen[members].mean(axis=0)
    radius = float(np.linalg.norm(screen[members] - center, axis=1).max()) + 15
    # Stay clear of the other clusters (the synthetic layout guarantees a wide gap).
    others = screen[~members]
    assert np.linalg.norm(others - center, axis=1).min() > radius + 10
    # A circle around the cluster, kept 3 px inside the canvas (clusters can touch its edge).
    polygon = lasso_polygon(center, radius)
    polygon[:, 0] = polygon[:, 0].clip(3, box["width"] - 3)
    polygon[:, 1] = polygon[:, 1].clip(3, box["height"] - 3)
    expected = np.flatnonzero(points_in_polygon(screen, polygon)).tolist()
    assert expected == np.flatnonzero(members).tolist()  # the geometry does what we think

    toggle = atlas.page.locator(f"{ROOT} {LASSO_TOGGLE}")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    drag_path(atlas, box, polygon)

    selection = wait_selection(atlas, lambda v: len(v) > 0)
    atlas.page.screenshot(path=str(artifacts_dir / f"lasso-cluster{target}.png"))
    missing = sorted(set(expected) - set(selection))
    extra = sorted(set(selection) - set(expected))
    assert selection == expected, f"lasso: missing {missing[:10]}, extra {extra[:10]}"
    # The DataFrame handed back to Python is the same cluster.
    selected = atlas.kernel_value(
        "{'index': atlas.selected.index.tolist(), 'clusters': sorted(set(atlas.selected['cluster']))}"
    )
    assert selected == {"index": expected, "clusters": [target]}
    atlas.page.locator(f"{ROOT} {COUNT}").filter(
        has_text=f"{len(expected)} of {truth['n']} selected"
    ).wait_for(timeout=10_000)


def test_brushing_an_axis_narrows_the_selection(atlas, truth, artifacts_dir: Path):
    page = atlas.page
    axis_name = truth["axes"][-1]  # accuracy, a linear numeric axis
    base = np.flatnonzero(truth["cluster"] == 1)
    atlas.run_python(f"atlas.select({base.tolist()})")
    assert wait_selection(atlas, lambda v: v == base.tolist()) == base.tolist()

    axis_line = page.locator(f'{ROOT} g.miwd-axis[data-axis="{axis_name}"] > line').first
    axis_line.scroll_into_view_if_needed()
    box = axis_line.bounding_box()
    assert box is not None and box["height"] > 100, box
    x = box["x"] + box["width"] / 2
    y_start = box["y"] + 0.30 * box["height"]
    y_end = box["y"] + 0.62 * box["height"]
    page.mouse.move(x, y_start)
    page.mouse.down()
    page.mouse.move(x, (y_start + y_end) / 2, steps=4)
    page.mouse.move(x, y_end, steps=4)
    page.mouse.up()

    page.screenshot(path=str(artifacts_dir / "brush.png"))

    # The brushed pixel interval (d3-brush's selection rect) in the axis' value units.
    brush = page.locator(f'{ROOT} g.miwd-brush[data-axis="{axis_name}"] rect.selection')
    y0 = float(brush.get_attribute("y"))
    y1 = y0 + float(brush.get_attribute("height"))
    top = float(axis_line.get_attribute("y1"))
    bottom = float(axis_line.get_attribute("y2"))
    values = np.asarray(
        atlas.kernel_value(f"lib.metadata[{axis_name!r}].astype('float32').tolist()"),
        dtype=np.float32,
    )
    vmin, vmax = float(values.min()), float(values.max())

    def invert(y: float) -> float:  # d3 scaleLinear().domain([min, max]).range([bottom, top])
        return vmin + (y - bottom) / (top - bottom) * (vmax - vmin)

    lo, hi = sorted([invert(y0), invert(y1)])
    assert 0.2 < (hi - lo) / (vmax - vmin) < 0.45, (lo, hi)
    in_range = (values >= lo) & (values <= hi)
    expected = [int(i) for i in base if in_range[i]]
    assert 0 < len(expected) < len(base)
    # Values within float rounding of the brush edges may go either way.
    edge = np.isclose(values, lo, rtol=0, atol=1e-5) | np.isclose(values, hi, rtol=0, atol=1e-5)

    def matches(selection: list[int]) -> bool:
        return all(edge[i] for i in set(selection) ^ set(expected))

    # The brush updates the selection while dragging: wait for the final one (bounded).
    try:
        selection = wait_selection(atlas, matches)
    except HarnessError:
        selection = kernel_selection(atlas)
        diff = sorted(set(selection) ^ set(expected))
        pytest.fail(f"brush [{lo:.4f}, {hi:.4f}]: kernel selection differs at {diff}")
    assert set(selection) <= set(base.tolist())  # narrowed, never widened
    assert all(lo - 1e-5 <= values[i] <= hi + 1e-5 for i in selection)
    selected = atlas.kernel_value(f"atlas.selected[{axis_name!r}].astype('float32').tolist()")
    assert len(selected) == len(selection)
    assert all(lo - 1e-5 <= v <= hi + 1e-5 for v in selected)


def test_python_selection_fills_the_gallery(atlas, truth):
    page = atlas.page
    chosen = np.flatnonzero(truth["cluster"] == 2)[:5].tolist()
    atlas.run_python(f"atlas.select({chosen})")
    page.locator(f"{ROOT} {COUNT}").filter(has_text=f"5 of {truth['n']} selected").wait_for(
        timeout=10_000
    )
    items = page.locator(f"{ROOT} {GALLERY_ITEM}")
    page.wait_for_function(
        "([sel, k]) => document.querySelectorAll(sel).length === k",
        arg=[f"{ROOT} {GALLERY_ITEM}", len(chosen)],
        timeout=20_000,
    )
    shown = sorted(int(items.nth(i).get_attribute("data-index")) for i in range(items.count()))
    assert shown == chosen
    # Each tile is an S x B image with real content (the descriptors are Gaussian bumps).
    canvases = page.locator(f"{ROOT} {GALLERY} canvas")
    assert canvases.count() >= len(chosen) + 2  # + mean and std
    for i in range(canvases.count()):
        img = canvas_image(atlas, f"{ROOT} {GALLERY} canvas >> nth={i}")
        assert img.shape[:2] == (16, 16)
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 8, f"gallery canvas {i} is flat"
    # Captions are the models' ids.
    first_id = atlas.kernel_value(f"lib.metadata['id'][{chosen[0]}]")
    assert first_id in items.first.inner_text()


def test_html_in_metadata_is_shown_as_text(atlas, truth):
    page = atlas.page
    atlas.run_python(f"atlas.select([{XSS_ROW}])")
    page.wait_for_function(
        "(sel) => { const t = document.querySelectorAll(sel);"
        f" return t.length === 1 && t[0].dataset.index === '{XSS_ROW}'; }}",
        arg=f"{ROOT} {GALLERY_ITEM}",
        timeout=20_000,
    )
    item = page.locator(f"{ROOT} {GALLERY_ITEM}")
    # The caption shows the id as text (a long one shortened in the middle, js/src/draw/labels.ts)
    # and in full on hover.
    assert "<img sr" in item.first.inner_text()
    assert XSS_ID in item.first.locator("figcaption").get_attribute("title")
    # Hover the outlier in the scatter: the tooltip shows the id as text too.
    box, screen = scatter_geometry(atlas, truth["embedding"])
    x, y = screen[XSS_ROW]
    page.mouse.move(box["x"] + x + 20, box["y"] + y + 20)
    page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    tooltip = page.locator(f"{ROOT} {TOOLTIP}")
    tooltip.filter(has_text=XSS_ID).wait_for(state="visible", timeout=10_000)
    assert page.evaluate("window.__xss") is None
    assert page.locator(f'{ROOT} img[src="x"]').count() == 0
    assert page.locator(f"{ROOT} img").count() == 0


def test_readme_screenshot(open_notebook, artifacts_dir: Path):
    """Refresh artifacts/atlas.png: the demo library with one cluster selected."""
    readme_cell = (
        "from sklearn.cluster import KMeans\n"
        "try:\n"
        "    lib = miwd_widget.load_demo_library()\n"
        "    source = 'demo'\n"
        "except FileNotFoundError as err:  # demo data not built: the synthetic one stands in\n"
        "    source = f'synthetic ({err})'\n"
        "k = min(8, max(1, len(lib) // 50))\n"
        "labels = KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(lib.embedding)\n"
        "order = np.argsort(-np.bincount(labels))\n"
        "biggest = order[0]\n"
        "# the three largest regions kept as clusters A, B, C (chips, side-by-side descriptors)\n"
        "clusters = {name: labels == order[i] for i, name in enumerate('ABC') if i < len(order)}\n"
        "atlas = Atlas(lib, clusters=clusters)\n"
        "atlas.select(np.flatnonzero(labels == biggest))\n"
        "atlas"
    )
    cells = [LIBRARY_CELL, readme_cell]
    nb = open_notebook("readme.ipynb", cells, viewport=(1500, 1500))
    try:
        print("README screenshot library:", nb.kernel_value("source"))
        n_selected = nb.kernel_value("len(atlas.selection)")
        k = nb.kernel_value("min(atlas.gallery_size, len(atlas.selection))")
        assert n_selected > 0
        nb.page.locator(f"{ROOT} {COUNT}").filter(has_text="selected").wait_for(timeout=20_000)
        nb.page.wait_for_function(
            "([sel, k]) => document.querySelectorAll(sel).length === k",
            arg=[f"{ROOT} {GALLERY_ITEM}", k],
            timeout=30_000,
        )
        n_clusters = nb.kernel_value("len(atlas.clusters)")
        nb.page.wait_for_function(  # each cluster's mean and std painted side by side
            "([sel, k]) => document.querySelectorAll(sel).length === k",
            arg=[f"{ROOT} [data-testid=miwd-cluster-gallery] canvas", 2 * n_clusters],
            timeout=30_000,
        )
        wait_first_paint(nb)
        root = nb.page.locator(ROOT)
        root.scroll_into_view_if_needed()
        out = ARTIFACTS / "atlas.png"
        root.screenshot(path=str(out))
        with Image.open(out) as img:
            assert img.width > 900 and img.height > 400
    finally:
        nb.close()


def test_no_console_errors(atlas):
    """The page logged no errors while the tests above ran (runs last in this module)."""
    errors = [m for m in atlas.console if m.startswith(("[error]", "[pageerror]"))]
    assert not errors, "\n".join(errors)
