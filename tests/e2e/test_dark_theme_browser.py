"""The Atlas in JupyterLab's and marimo's dark themes: dark itself, and legible there.

The light theme's rule is a WCAG contrast of at least 3:1 against the background for points,
lines and swatches (js/src/draw/colormaps.ts). Here, in each dark theme, the page itself
measures (getComputedStyle) every visible text of the widget against the background behind
it, the colour bars' outlines and the scatter legend's ends (the points' colormap), and the
test reads the scatter canvas for the colour of points without a colour column, at rest and
faded by a selection. The tooltip's text, shown by hovering a point, is held to 4.5:1 (WCAG's
rule for text). Screenshots: artifacts/e2e/dark-lab.png and dark-marimo.png.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from front_ends import (
    ROOT,
    SCATTER_CANVAS,
    SELECT_BEST,
    AppPage,
    gallery_rows,
    marimo_server,
    serve,
    wait_painted,
)
from lab_harness import HarnessError, LabNotebook, artifacts_on_error
from PIL import Image

pytestmark = pytest.mark.e2e

MIN_CONTRAST = 3.0
MIN_TEXT_CONTRAST = 4.5  # WCAG AA for text: the tooltip's
COLOR_SELECT = f"{ROOT} select.miwd-color-select"
TOOLTIP = f"{ROOT} .miwd-tooltip"

SELECT_BEST_CODE = 'atlas.select(np.argsort(-lib.metadata["test_accuracy"].to_numpy())[:20])'
ATLAS_CELL = f"""
import numpy as np
import miwd_widget as mw

lib = mw.load_demo_library()
atlas = mw.Atlas(lib, color="accuracy_norm")
{SELECT_BEST_CODE}
atlas
"""

# Colours as the page computes them ("rgb()", "rgba()", "color(srgb ...)"; anything else is
# painted on a canvas to read it), alpha composited over what is behind, WCAG 2 contrast.
_JS_CONTRAST = """
(root) => {
  const paint = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  const parse = (text) => {
    let m = text.match(/^color\\(srgb\\s+([^)\\/]*)(?:\\/\\s*([\\d.]+))?\\)$/);
    if (m) {
      const v = m[1].trim().split(/\\s+/).map(Number);
      return [v[0] * 255, v[1] * 255, v[2] * 255, m[2] === undefined ? 1 : Number(m[2])];
    }
    if (text.startsWith('rgb')) {
      const v = text.match(/-?[\\d.]+(e-?\\d+)?/g).map(Number);
      return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    }
    paint.clearRect(0, 0, 1, 1);
    paint.fillStyle = text;
    paint.fillRect(0, 0, 1, 1);
    const d = paint.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3]));
  const lin = (c) => { const v = c / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const contrast = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const up = (n) => n.parentElement || (n.getRootNode() instanceof ShadowRoot ? n.getRootNode().host : null);
  // What is painted behind `el`: its and its ancestors' backgrounds down to the first opaque.
  const backdrop = (el) => {
    const layers = [];
    for (let n = el; n; n = up(n)) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 0.99) break;
    }
    let color = [255, 255, 255];
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  };
  const opacity = (el) => { let o = 1; for (let n = el; n; n = up(n)) o *= Number(getComputedStyle(n).opacity); return o; };
  const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';

  const texts = [];
  for (const el of [root, ...root.querySelectorAll('*')]) {
    if (el.tagName === 'OPTION' || !visible(el)) continue;
    if (el.closest(':disabled')) continue;  // WCAG exempts disabled controls
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
    if (!own) continue;
    const cs = getComputedStyle(el);
    const color = parse(el instanceof SVGElement ? cs.fill : cs.color);
    color[3] *= opacity(el);
    const bg = backdrop(el);
    const fg = over(color, bg);
    texts.push({text: own.slice(0, 40), tag: el.tagName, cls: String(el.className.baseVal ?? el.className),
                fg: hex(fg), bg: hex(bg), contrast: contrast(fg, bg), tooltip: !!el.closest('.miwd-tooltip')});
  }
  const bars = [];
  for (const bar of root.querySelectorAll('.miwd-colorbar')) {
    if (!visible(bar)) continue;
    const cs = getComputedStyle(bar);
    const stops = (cs.backgroundImage.match(/(rgba?\\([^)]*\\)|color\\([^)]*\\))/g) || []).map(parse);
    const bg = backdrop(bar.parentElement);
    const outline = cs.outlineStyle === 'none' || parseFloat(cs.outlineWidth) < 1
      ? null : over(parse(cs.outlineColor), bg);
    bars.push({legend: !!bar.closest('.miwd-legend'), bg: hex(bg),
               ends: stops.length ? [stops[0], stops[stops.length - 1]].map((c) => contrast(over(c, bg), bg)) : [],
               outline: outline ? contrast(outline, bg) : 0});
  }
  const rootBg = backdrop(root);
  return {texts, bars, background: hex(rootBg), backgroundLuminance: lum(rootBg)};
}
"""


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def canvas_pixels(page: Any) -> np.ndarray:
    """The scatter canvas as seen: its transparent pixels show the widget's background."""
    url = page.locator(SCATTER_CANVAS).evaluate("c => c.toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.float64)
    behind = page.locator(ROOT).evaluate(
        "(r) => getComputedStyle(r).backgroundColor.match(/[\\d.]+/g).slice(0, 3).map(Number)"
    )
    alpha = rgba[..., 3:] / 255
    return (rgba[..., :3] * alpha + np.asarray(behind) * (1 - alpha)).round().astype(np.int16)


def default_point_colour(page: Any, timeout: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """Colour the points by "(none)" (every point in the default colour) and return (the
    most common point colour, the canvas background) as drawn."""
    page.locator(COLOR_SELECT).select_option("")
    deadline = time.monotonic() + timeout
    while True:
        img = canvas_pixels(page).reshape(-1, 3)
        colors, counts = np.unique(img, axis=0, return_counts=True)
        background = colors[np.argmax(counts)]
        points = np.abs(colors - background).sum(axis=1) > 60
        if points.any():
            mode = colors[points][np.argmax(counts[points])]
            # one colour dominates once the points are redrawn (viridis spreads over many)
            if counts[points].max() > 0.3 * counts[points].sum():
                return mode, background
        if time.monotonic() > deadline:
            raise HarnessError("the points did not take one default colour")
        time.sleep(0.2)


def hover_a_point(page: Any) -> Any:
    """Move the pointer onto the drawn point nearest the scatter's centre; its tooltip, shown."""
    canvas = page.locator(SCATTER_CANVAS)
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100, box
    img = canvas_pixels(page)
    colors, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    drawn = np.abs(img - colors[np.argmax(counts)]).sum(axis=2) > 60
    ys, xs = np.nonzero(drawn)
    assert len(xs), "no point drawn"
    height, width = drawn.shape
    i = int(np.argmin((xs - width / 2) ** 2 + (ys - height / 2) ** 2))
    x = box["x"] + (xs[i] + 0.5) * box["width"] / width
    y = box["y"] + (ys[i] + 0.5) * box["height"] / height
    page.mouse.move(x + 25, y + 25)
    page.mouse.move(x, y, steps=5)
    tooltip = page.locator(TOOLTIP)
    tooltip.wait_for(state="visible", timeout=10_000)
    return tooltip


def check_tooltip(page: Any, name: str) -> None:
    """Hover a point: every text of its tooltip (column names and values), as the page
    measures it, has 4.5:1 on the tooltip's panel."""
    hover_a_point(page)
    tips = [t for t in page.locator(ROOT).first.evaluate(_JS_CONTRAST)["texts"] if t["tooltip"]]
    page.mouse.move(1, 1)
    assert len(tips) >= 4, tips  # names and values of at least two rows
    low = [t for t in tips if t["contrast"] < MIN_TEXT_CONTRAST]
    assert not low, f"{name}: tooltip text below {MIN_TEXT_CONTRAST}:1: {low}"


def check_legible(page: Any, name: str, artifacts_dir: Path, dark: bool = True) -> dict:
    """Assert the theme's contrasts; save the screenshot; return the measurements."""
    root = page.locator(ROOT)
    root.evaluate("(r) => r.scrollIntoView({block: 'start'})")  # toolbar, scatter and gallery
    page.screenshot(path=str(artifacts_dir / f"{name}.png"))
    toggle = page.locator(f"{ROOT} .miwd-lasso-toggle")
    toggle.click()  # measured pressed too: its text on the accent colour
    assert toggle.get_attribute("aria-pressed") == "true"
    report = root.evaluate(_JS_CONTRAST)
    toggle.click()
    # In a dark theme the widget is dark itself, not a light box in a dark page.
    widget_dark = report["backgroundLuminance"] < 0.05
    assert widget_dark == dark, f"{name}: widget background {report['background']}"
    scatter_bg = canvas_pixels(page).reshape(-1, 3)
    colors, counts = np.unique(scatter_bg, axis=0, return_counts=True)
    assert (relative_luminance(colors[np.argmax(counts)]) < 0.05) == dark, "scatter background"

    low = [t for t in report["texts"] if t["contrast"] < MIN_CONTRAST]
    assert len(report["texts"]) > 30, report["texts"]
    assert not low, f"{name}: text below {MIN_CONTRAST}:1: {low}"
    bars = report["bars"]
    assert any(b["legend"] for b in bars) and len(bars) >= 3, bars  # legend, mean, std
    for bar in bars:
        assert bar["outline"] >= MIN_CONTRAST, f"{name}: colour bar without a 3:1 frame: {bar}"
        if bar["legend"]:  # the points' own colormap: both ends readable on the background
            assert min(bar["ends"]) >= MIN_CONTRAST, f"{name}: legend ends {bar}"
    # Points faded by the selection: greyed, and no more transparent than 3:1 allows.
    point, background = default_point_colour(page)
    ratio = float(contrast(point, background))
    assert ratio >= MIN_CONTRAST, (
        f"{name}: faded default point colour {point} on {background}: {ratio:.2f}"
    )
    # Points at rest.
    page.locator(f"{ROOT} button", has_text="Clear").click()
    page.locator(f"{ROOT} .miwd-count").filter(has_text="2,000 models").wait_for()
    point, background = default_point_colour(page)
    ratio = float(contrast(point, background))
    assert ratio >= MIN_CONTRAST, (
        f"{name}: default point colour {point} on {background}: {ratio:.2f}"
    )
    page.locator(COLOR_SELECT).select_option("accuracy_norm")
    check_tooltip(page, name)
    return report


# ------------------------------------------------------------------------ JupyterLab Dark
def set_lab_theme(nb: LabNotebook, theme: str, light: bool) -> None:
    nb.page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    nb.page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)", arg=light
    )


@pytest.fixture(scope="module")
def lab(open_notebook) -> Iterator[LabNotebook]:
    nb = open_notebook("dark.ipynb", [ATLAS_CELL])
    with artifacts_on_error(nb, "dark-lab-setup"):
        wait_painted(nb.page.locator(SCATTER_CANVAS))
    try:
        yield nb
    finally:
        # The theme is a user setting of the shared server: back to light for other tests.
        set_lab_theme(nb, "JupyterLab Light", light=True)
        nb.close()


def test_jupyterlab_light_then_dark_theme_is_legible(lab: LabNotebook, artifacts_dir: Path):
    page = lab.page
    assert len(gallery_rows(lab, 12)) == 12
    check_legible(page, "light-lab", artifacts_dir, dark=False)  # the rule the dark one follows
    set_lab_theme(lab, "JupyterLab Dark", light=False)
    lab.run_python(SELECT_BEST_CODE)  # selected again (the light check cleared it)
    page.locator(f"{ROOT} .miwd-count").filter(has_text="20 of 2,000 selected").wait_for()
    # The widget followed the switch (its theme watcher), scatter and all.
    page.locator(ROOT).evaluate(
        """(root) => new Promise((resolve, reject) => {
          const t0 = performance.now();
          const poll = () => {
            const c = getComputedStyle(root).backgroundColor.match(/\\d+/g).map(Number);
            if (c[0] + c[1] + c[2] < 150) resolve(true);
            else if (performance.now() - t0 > 15000) reject(new Error('still ' + c));
            else setTimeout(poll, 100);
          };
          poll();
        })"""
    )
    assert len(gallery_rows(lab, 12)) == 12
    check_legible(page, "dark-lab", artifacts_dir)


# --------------------------------------------------------------------------- marimo dark
@pytest.fixture(scope="module")
def marimo_dark(browser, artifacts_dir: Path) -> Iterator[AppPage]:
    with serve(marimo_server(theme="dark", log_dir=artifacts_dir), browser) as app:
        yield app


def test_marimo_dark_theme_is_legible(marimo_dark: AppPage, artifacts_dir: Path):
    page = marimo_dark.page
    assert "dark" in page.evaluate("document.body.className")
    wait_painted(page.locator(SCATTER_CANVAS))
    page.get_by_role("button", name=SELECT_BEST).click()
    page.locator(f"{ROOT} .miwd-count").filter(has_text="20 of 2,000 selected").wait_for()
    assert len(gallery_rows(marimo_dark, 12)) == 12
    report = check_legible(page, "dark-marimo", artifacts_dir)
    # The widget sits on marimo's own background, not a box of another dark.
    page_bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('.marimo-cell') || document.body)"
        ".backgroundColor"
    )
    assert page_bg.startswith(("rgb", "color(")), page_bg
    assert report["background"] != "#ffffff"
