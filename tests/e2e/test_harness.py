"""The harness itself, proven with a trivial inline anywidget (independent of the Atlas):
a button that counts clicks and a WebGL canvas cleared to a known colour.

If these fail, the browser/JupyterLab setup is broken, not the Atlas widget.
"""

from __future__ import annotations

import pytest
from lab_harness import colored_pixel_count

pytestmark = pytest.mark.e2e

COUNTER_CELL = '''
import anywidget
import traitlets

class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const button = document.createElement("button");
      button.className = "e2e-counter";
      const update = () => { button.textContent = `count is ${model.get("count")}`; };
      button.addEventListener("click", () => {
        model.set("count", model.get("count") + 1);
        model.save_changes();
      });
      model.on("change:count", update);
      update();
      // A white WebGL canvas with a 16 x 8 red rectangle proves WebGL works in this browser
      // and gives the pixel counter a known answer.
      const canvas = document.createElement("canvas");
      canvas.className = "e2e-gl";
      canvas.width = 64;
      canvas.height = 32;
      canvas.style.cssText = "display: block; width: 64px; height: 32px;";
      const gl = canvas.getContext("webgl", { preserveDrawingBuffer: true });
      gl.clearColor(1, 1, 1, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.enable(gl.SCISSOR_TEST);
      gl.scissor(8, 8, 16, 8);
      gl.clearColor(1, 0, 0, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      el.append(button, canvas);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)

counter = Counter()
counter
'''


@pytest.fixture(scope="module")
def counter_nb(open_notebook):
    nb = open_notebook("counter.ipynb", [COUNTER_CELL])
    yield nb
    nb.close()


def test_clicks_reach_the_kernel(counter_nb):
    button = counter_nb.page.locator(".e2e-counter")
    button.wait_for(state="visible")
    for _ in range(3):
        button.click()
    assert counter_nb.wait_kernel_value("counter.count", lambda v: v == 3) == 3


def test_python_changes_reach_the_view(counter_nb):
    counter_nb.run_python("counter.count = 41")
    button = counter_nb.page.locator(".e2e-counter")
    button.filter(has_text="count is 41").wait_for(state="visible", timeout=10_000)
    button.click()
    assert counter_nb.wait_kernel_value("counter.count", lambda v: v == 42) == 42


def test_webgl_canvas_has_pixels(counter_nb):
    canvas = counter_nb.page.locator(".e2e-gl")
    canvas.wait_for(state="visible")
    png = canvas.screenshot()
    from io import BytesIO

    import numpy as np
    from PIL import Image

    img = Image.open(BytesIO(png)).convert("RGB")
    pixels = np.asarray(img)
    n_red = int(np.all(pixels == (255, 0, 0), axis=-1).sum())
    assert n_red == 16 * 8
    # The white background dominates; only the red rectangle differs from it (the element
    # screenshot may include a 1 px rim of the page, which is white too).
    n_colored, n_total = colored_pixel_count(png)
    assert n_colored == 16 * 8
    assert n_total >= 64 * 32


def test_kernel_errors_are_reported(counter_nb):
    from lab_harness import KernelError

    with pytest.raises(KernelError, match="ZeroDivisionError"):
        counter_nb.run_python("1 / 0")
