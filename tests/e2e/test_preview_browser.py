"""A library above the preview threshold (js/src/views/scatter.ts PREVIEW_ABOVE, 200,000 points).

The scatter's first frames draw a spread sample, then every point. Checked in JupyterLab +
Chromium: the first painted frame is the preview (``data-preview`` > 0), the full draw
follows (``data-preview`` 0), and a mouse lasso made right after the first paint, whether
the full draw has finished or not, selects exactly the points inside it: the lasso works on
all coordinates, not on the sample regl-scatterplot holds meanwhile.
"""

from __future__ import annotations

import numpy as np
import pytest
from lab_harness import artifacts_on_error
from test_atlas_browser import (
    LASSO_TOGGLE,
    ROOT,
    near_edges,
    points_in_polygon,
    screen_positions,
)

pytestmark = pytest.mark.e2e

N = 250_000
LIBRARY_CELL = f"""
import numpy as np
import pandas as pd
from miwd_widget import Atlas, ModelLibrary

rng = np.random.default_rng(5)
n = {N}
cluster = rng.integers(0, 6, n)
centers = rng.uniform(-10, 10, (6, 2))
embedding = (centers[cluster] + rng.normal(0, 2.0, (n, 2))).astype(np.float32)
descriptors = rng.random((n, 2, 2), dtype=np.float32)
accuracy = rng.uniform(0.1, 0.99, n)
metadata = pd.DataFrame({{"id": [f"m{{i:06d}}" for i in range(n)], "accuracy_norm": accuracy}})
lib = ModelLibrary(descriptors, metadata, embedding=embedding, value_range=(0.0, 1.0))
atlas = Atlas(lib)
"""

# Every animation frame, record the scatter's data-preview and whether its canvas holds
# drawn points, from before the view exists until the full draw is done.
JS_WATCH_PREVIEW = """
([root, timeoutMs]) => { window.__previewFrames = new Promise((resolve) => {
  const frames = [];
  const t0 = performance.now();
  const painted = (c) => {
    if (!c || !c.width || !c.height) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let k = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) k++;
    }
    return k > 20;
  };
  const tick = () => {
    const view = document.querySelector(`${root} .miwd-scatter`);
    if (view) {
      const preview = Number(view.dataset.preview);
      frames.push([preview, painted(view.querySelector('canvas.miwd-scatter-canvas'))]);
      if (preview === 0 && frames.some(([, p]) => p)) { resolve(frames); return; }
    }
    if (performance.now() - t0 > timeoutMs) { resolve(frames); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}); }
"""


def test_first_frames_are_a_preview_then_all_points_and_the_lasso_is_exact(open_notebook):
    nb = open_notebook("preview.ipynb", [LIBRARY_CELL, "atlas"], run=False)
    with artifacts_on_error(nb, "preview"):
        nb.run_cell(0, timeout=300)
        nb.page.evaluate(JS_WATCH_PREVIEW, [ROOT, 120_000])
        nb.run_cell(1, timeout=120)
        frames = nb.page.evaluate("() => window.__previewFrames")
        first_painted = next(i for i, (_, p) in enumerate(frames) if p)
        step = -(-N // 100_000)  # scatter.ts PREVIEW_POINTS: every 3rd row
        assert frames[first_painted][0] == -(-N // step)  # the first paint is the preview
        assert frames[-1][0] == 0  # then every point
        # The lasso, right after: screen and data space as in test_scale_browser.
        local: dict = {}
        exec(LIBRARY_CELL.replace("atlas = Atlas(lib)", ""), local)  # noqa: S102 - our own code
        embedding = local["embedding"]
        canvas = nb.page.locator(f"{ROOT} canvas.miwd-scatter-canvas").first
        box = canvas.bounding_box()
        w, h = box["width"], box["height"]
        angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        polygon = np.round(
            np.column_stack([w / 2 + 0.3 * h * np.cos(angles), h / 2 + 0.25 * h * np.sin(angles)])
        )
        screen = screen_positions(embedding, w, h)
        expected = points_in_polygon(screen, polygon)
        edge = near_edges(screen, polygon)  # within half a pixel of an edge: either way
        nb.page.locator(f"{ROOT} {LASSO_TOGGLE}").first.click()
        mouse = nb.page.mouse
        mouse.move(box["x"] + polygon[0, 0], box["y"] + polygon[0, 1])
        mouse.down()
        for x, y in [*polygon[1:], polygon[0]]:
            mouse.move(box["x"] + x, box["y"] + y)
        mouse.up()
        nb.wait_kernel_value("len(atlas.selection)", lambda size: size > 0, timeout=60)
        got = np.zeros(N, dtype=bool)
        got[nb.kernel_value("np.asarray(atlas.selection).tolist()", timeout=120)] = True
        differ = np.flatnonzero((got != expected) & ~edge)
        assert differ.size == 0, differ[:10]
        assert expected.sum() > 20_000
    nb.close()
