"""Two default paths of the Atlas front end outside the main notebook test, in real Chromium.

1. A page written by ``Atlas.save_html`` opened from disk (no kernel, no Jupyter): it paints
   the scatter and shows the saved selection; a click and a lasso change the selection, and
   the gallery follows (the page computes it from its embedded descriptors).
2. A view disposed and shown again: the same ``atlas`` displayed in two cells, one output
   re-rendered and the other cleared. The remaining view paints, its gestures still reach
   Python (and Python's selection reaches it), every WebGL context of a disposed view is
   released, and the console stays free of errors.

Gestures are real mouse input; selections are checked in the kernel (test 2) or from the
count the view shows against the geometry of the data (test 1, which has no kernel).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from lab_harness import LabNotebook, artifacts_on_error
from PIL import Image
from test_atlas_browser import (
    COUNT,
    LASSO_TOGGLE,
    LIBRARY_CELL,
    ROOT,
    XSS_ROW,
    drag_path,
    lasso_polygon,
    non_background,
    points_in_polygon,
    screen_positions,
)

pytestmark = pytest.mark.e2e

CANVAS = "canvas.miwd-scatter-canvas"
GALLERY_ITEM = ".miwd-gallery .miwd-item"
GALLERY_STATUS = ".miwd-gallery-status"
CLEAR = ".miwd-clear-selection"

# Counts the WebGL contexts the page creates and loses (installed before any view exists).
WEBGL_COUNTER = """() => {
  if (window.__gl) return;
  window.__gl = { created: 0, lost: 0 };
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = original.call(this, type, ...rest);
    if (ctx && (type === 'webgl' || type === 'webgl2') && !this.__e2eCounted) {
      this.__e2eCounted = true;
      window.__gl.created++;
      this.addEventListener('webglcontextlost', () => window.__gl.lost++);
    }
    return ctx;
  };
}"""


# ----------------------------------------------------------------------------- helpers
def canvas_pixels(canvas) -> np.ndarray:
    """The pixels of a canvas (a Playwright locator) as (h, w, 3) uint8, transparent = white."""
    url = canvas.evaluate("c => c.toDataURL('image/png')")
    rgba = np.asarray(
        Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"),
        dtype=np.float32,
    )
    alpha = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)


def wait_painted(canvas, timeout: float = 30.0) -> None:
    """Wait (bounded) until the canvas holds drawn points, not only its background."""
    canvas.wait_for(state="visible", timeout=timeout * 1000)
    painted = canvas.evaluate(
        """async (c, timeoutMs) => {
          const t0 = performance.now();
          while (performance.now() - t0 < timeoutMs) {
            if (c.width && c.height) {
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let k = 0;
              for (let i = 0; i < d.length; i += 4 * 7) {
                if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) k++;
              }
              if (k > 20) return true;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
          return false;
        }""",
        timeout * 1000,
    )
    assert painted, "the scatter canvas was never painted"


def assert_clusters_drawn(canvas, embedding: np.ndarray, cluster: np.ndarray) -> None:
    """Drawn pixels at every cluster centre, background between the clusters."""
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    img = canvas_pixels(canvas)
    mask = non_background(img)
    assert mask.sum() > 1000, f"only {mask.sum()} canvas pixels differ from the background"
    screen = screen_positions(embedding, box["width"], box["height"])
    sx, sy = img.shape[1] / box["width"], img.shape[0] / box["height"]
    for k in range(3):
        cx, cy = screen[cluster == k].mean(axis=0)
        px, py = int(cx * sx), int(cy * sy)
        window = mask[max(0, py - 10) : py + 11, max(0, px - 10) : px + 11]
        assert window.mean() > 0.2, f"cluster {k} centre ({px}, {py}) has no drawn points"
    mx, my = screen[cluster >= 0].mean(axis=0)
    px, py = int(mx * sx), int(my * sy)
    assert mask[py - 5 : py + 6, px - 5 : px + 6].mean() < 0.05


def cluster_lasso(canvas, embedding: np.ndarray, cluster: np.ndarray, target: int):
    """A lasso polygon around one cluster (CSS px in the canvas) and the rows inside it."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    screen = screen_positions(embedding, box["width"], box["height"])
    members = cluster == target
    center = screen[members].mean(axis=0)
    radius = float(np.linalg.norm(screen[members] - center, axis=1).max()) + 15
    assert np.linalg.norm(screen[~members] - center, axis=1).min() > radius + 10
    polygon = lasso_polygon(center, radius)
    polygon[:, 0] = polygon[:, 0].clip(3, box["width"] - 3)
    polygon[:, 1] = polygon[:, 1].clip(3, box["height"] - 3)
    inside = np.flatnonzero(points_in_polygon(screen, polygon)).tolist()
    assert inside == np.flatnonzero(members).tolist()  # the geometry does what we think
    return box, polygon, inside


def click_row(page, canvas, embedding: np.ndarray, row: int) -> None:
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = screen_positions(embedding, box["width"], box["height"])[row]
    page.mouse.click(box["x"] + x, box["y"] + y)


def console_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if m.startswith(("[error]", "[pageerror]"))]


# ----------------------------------------------------------------------------- 1. save_html
@pytest.fixture(scope="module")
def saved_page(open_notebook, lab_server, browser):
    """atlas.save_html(...) with cluster 1 selected, opened from disk in a fresh page."""
    path = Path(lab_server.root_dir) / "saved-atlas.html"
    save_cell = (
        "atlas = Atlas(lib)\n"
        "atlas.select(np.flatnonzero(lib.metadata['cluster'] == 1))\n"
        f"atlas.save_html({str(path)!r})"
    )
    nb = open_notebook("save-html.ipynb", [LIBRARY_CELL, save_cell])
    with artifacts_on_error(nb, "save-html-setup"):
        truth = nb.kernel_value(
            "{'embedding': lib.embedding.tolist(), 'cluster': lib.metadata['cluster'].tolist(),"
            " 'saved': sorted(atlas.selection), 'gallery_size': atlas.gallery_size}"
        )
    nb.close()
    assert path.exists()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"[pageerror] {e}"))
    page.goto(path.as_uri())
    truth["embedding"] = np.asarray(truth["embedding"], dtype=np.float32)
    truth["cluster"] = np.asarray(truth["cluster"])
    yield page, truth, messages
    page.close()


def test_saved_page_paints_and_responds_to_click_and_lasso(saved_page, artifacts_dir: Path):
    page, truth, messages = saved_page
    n = len(truth["cluster"])
    saved = truth["saved"]
    canvas = page.locator(f"{ROOT} {CANVAS}")
    try:
        wait_painted(canvas)
        assert_clusters_drawn(canvas, truth["embedding"], truth["cluster"])
        count = page.locator(f"{ROOT} {COUNT}")
        # The saved selection is shown, with its descriptors (saved in the page).
        count.filter(has_text=f"{len(saved)} of {n} selected").wait_for(timeout=10_000)
        k = min(truth["gallery_size"], len(saved))
        page.wait_for_function(
            "([sel, k]) => document.querySelectorAll(sel).length === k",
            arg=[f"{ROOT} {GALLERY_ITEM}", k],
            timeout=20_000,
        )
        items = page.locator(f"{ROOT} {GALLERY_ITEM}")
        shown = {int(items.nth(i).get_attribute("data-index")) for i in range(k)}
        assert shown <= set(saved)
        status = page.locator(f"{ROOT} {GALLERY_STATUS}")
        assert "saved selection" not in status.inner_text()

        # A click on the isolated outlier (row 0) selects exactly that model.
        click_row(page, canvas, truth["embedding"], XSS_ROW)
        count.filter(has_text=f"1 of {n} selected").wait_for(timeout=10_000)
        page.locator(f"{ROOT} {GALLERY_ITEM}[data-index='{XSS_ROW}']").wait_for(timeout=10_000)
        assert "saved selection" not in status.inner_text()

        # A lasso around cluster 2 selects its members and nothing else.
        box, polygon, inside = cluster_lasso(canvas, truth["embedding"], truth["cluster"], 2)
        toggle = page.locator(f"{ROOT} {LASSO_TOGGLE}")
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "true"
        drag_path_on(page, box, polygon)
        count.filter(has_text=f"{len(inside)} of {n} selected").wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts_dir / "saved-page-lasso.png"))
        assert page.evaluate("window.__xss") is None
        assert not console_errors(messages), "\n".join(console_errors(messages))
    except BaseException:
        page.screenshot(path=str(artifacts_dir / "saved-page-FAILED.png"))
        (artifacts_dir / "saved-page-console.log").write_text("\n".join(messages) + "\n")
        raise


class _PageOnly:
    """drag_path() wants a LabNotebook; only its page is used."""

    def __init__(self, page) -> None:
        self.page = page


def drag_path_on(page, box: dict, polygon: np.ndarray) -> None:
    drag_path(_PageOnly(page), box, polygon)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- 2. re-display
def roots(nb: LabNotebook):
    return nb.page.locator(ROOT)


def clear_cell_output(nb: LabNotebook, index: int) -> None:
    nb.page.evaluate(
        """async (i) => {
          const panel = window.__e2ePanel;
          panel.content.activeCellIndex = i;
          await window.jupyterapp.commands.execute('notebook:clear-cell-output');
        }""",
        index,
    )


def wait_roots(nb: LabNotebook, k: int) -> None:
    nb.page.wait_for_function(
        "([sel, k]) => document.querySelectorAll(sel).length === k",
        arg=[ROOT, k],
        timeout=20_000,
    )


def test_view_disposed_and_shown_again_still_syncs(open_notebook, artifacts_dir: Path):
    cells = [LIBRARY_CELL, "atlas = Atlas(lib)", "atlas", "atlas"]
    nb = open_notebook("redisplay.ipynb", cells, run=False)
    nb.page.evaluate(WEBGL_COUNTER)
    nb.run_all()
    page = nb.page
    truth = nb.kernel_value(
        "{'embedding': lib.embedding.tolist(), 'cluster': lib.metadata['cluster'].tolist()}"
    )
    embedding = np.asarray(truth["embedding"], dtype=np.float32)
    cluster = np.asarray(truth["cluster"])
    n = len(cluster)

    # Two views of one model: a click in the second reaches Python and the first view.
    wait_roots(nb, 2)
    for i in range(2):
        wait_painted(roots(nb).nth(i).locator(CANVAS))
    click_row(page, roots(nb).nth(1).locator(CANVAS), embedding, XSS_ROW)
    assert nb.wait_kernel_value("sorted(atlas.selection)", lambda v: v == [XSS_ROW]) == [XSS_ROW]
    roots(nb).nth(0).locator(COUNT).filter(has_text=f"1 of {n} selected").wait_for(timeout=10_000)
    assert page.evaluate("window.__gl") == {"created": 2, "lost": 0}

    # Re-render the first output (its old view is disposed), then close the second one.
    nb.run_cell(2)
    clear_cell_output(nb, 3)
    wait_roots(nb, 1)
    view = roots(nb).first
    canvas = view.locator(CANVAS)
    wait_painted(canvas)
    assert_clusters_drawn(canvas, embedding, cluster)
    # The new view starts from the model's selection ...
    view.locator(COUNT).filter(has_text=f"1 of {n} selected").wait_for(timeout=10_000)
    # ... and each disposed view released its WebGL context.
    page.wait_for_function(
        "() => window.__gl.created === 3 && window.__gl.lost === 2", timeout=10_000
    )

    # Gestures in the new view reach Python: a lasso around cluster 2, then Clear.
    box, polygon, inside = cluster_lasso(canvas, embedding, cluster, 2)
    view.locator(LASSO_TOGGLE).click()
    drag_path(nb, box, polygon)
    selection = nb.wait_kernel_value("sorted(atlas.selection)", lambda v: v != [XSS_ROW])
    assert selection == inside
    view.locator(COUNT).filter(has_text=f"{len(inside)} of {n} selected").wait_for(timeout=10_000)
    view.locator(CLEAR).click()
    assert nb.wait_kernel_value("sorted(atlas.selection)", lambda v: v == []) == []

    # And Python's selection reaches the new view (its gallery fetches the descriptors).
    chosen = np.flatnonzero(cluster == 1)[:3].tolist()
    nb.run_python(f"atlas.select({json.dumps(chosen)})")
    view.locator(COUNT).filter(has_text=f"3 of {n} selected").wait_for(timeout=10_000)
    page.wait_for_function(
        "([sel, k]) => document.querySelectorAll(sel).length === k",
        arg=[f"{ROOT} {GALLERY_ITEM}", 3],
        timeout=20_000,
    )
    page.screenshot(path=str(artifacts_dir / "redisplay.png"))
    errors = console_errors(nb.console)
    assert not errors, "\n".join(errors)
    nb.close()
