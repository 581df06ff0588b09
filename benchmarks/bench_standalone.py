"""Standalone page (``Atlas.save_html``) of the demo library: size, quantization error, speed.

Not a test: prints a table. Run ``.venv/bin/python benchmarks/bench_standalone.py``
(``--browser`` also times the page in Debian's Chromium, software WebGL).

Measured
--------
page size
    The page as before issue 15 (only the saved selection's gallery: ``max_descriptor_bytes=0``)
    and with every descriptor embedded (uint16 codes, deflate, base64), and how long
    ``save_html`` takes each way.
quantization error
    Max abs error of the values, and of the mean and std of random selections (1 to all
    models, 200 selections), dequantized as the page does, against float64 of the float32
    descriptors; for the uint16 codes the page uses and, for the choice, uint8 codes (one
    scale per window row, and one for the whole library). The gallery colours tiles over
    256 levels up to the 99th percentile of the values shown: the error is also given in
    those levels for the whole library's values.
browser (``--browser``)
    Time from opening the file to the first gallery, and from a selection change (set in the
    page by the Clear button: the whole library) to its gallery, which includes the gallery's
    150 ms debounce, the inflate of the codes (first computed request) and the mean/std.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np


def uint8_codes(d: np.ndarray, per_row: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """uint8 codes, their dequantized values, and their size in bytes (codes + float32 scales)."""
    top = 255
    if per_row:
        scale = d.max(axis=-1, keepdims=True) / top
        size = d.size + scale.size * 4
    else:
        scale = np.full((1,) * d.ndim, d.max() / top)
        size = d.size + 4
    codes = np.rint(d / np.where(scale > 0, scale, 1)).astype(np.uint8)
    return codes, codes * scale, size


def errors(exact: np.ndarray, back: np.ndarray, selections: list[np.ndarray]) -> tuple:
    mean = max(np.abs(back[s].mean(0) - exact[s].mean(0)).max() for s in selections)
    std = max(np.abs(back[s].std(0) - exact[s].std(0)).max() for s in selections)
    return float(np.abs(back - exact).max()), float(mean), float(std)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", action="store_true", help="time the page in Chromium")
    args = parser.parse_args()

    import miwd_widget
    from miwd_widget import Atlas
    from miwd_widget.widget.standalone import quantize_descriptors

    lib = miwd_widget.load_demo_library()
    n = len(lib.descriptors)
    print(f"{lib!r}; float32 descriptors {lib.descriptors.nbytes / 1e6:.2f} MB")
    print("machine shared with other jobs: times are indicative\n")
    atlas = Atlas(lib)
    opened = np.arange(0, n, 20)  # the page opens with 100 models selected
    out = Path(tempfile.mkdtemp(prefix="miwd-bench-"))
    sizes = {}
    for name, limit in (("saved selection only", 0), ("all descriptors", 64 * 2**20)):
        path = out / f"{limit}.html"
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the limit-0 page warns by design
            atlas.save_html(path, selection=opened, max_descriptor_bytes=limit)
        seconds = time.perf_counter() - start
        sizes[name] = path.stat().st_size
        print(f"page, {name:<21} {sizes[name] / 1e6:6.2f} MB   save_html {seconds:.2f} s")
    print(
        f"difference                  {(sizes['all descriptors'] - sizes['saved selection only']) / 1e6:6.2f} MB\n"
    )

    exact = lib.descriptors.astype(np.float64)
    rng = np.random.default_rng(0)
    sizes_sel = [1, 2, 5, 20, 100, 500, 1000, n]
    selections = [np.sort(rng.choice(n, k, replace=False)) for k in sizes_sel for _ in range(25)]
    data, offset, step = quantize_descriptors(lib.descriptors)
    codes = np.frombuffer(zlib.decompress(data), "<u2").reshape(lib.descriptors.shape)
    rows = [("uint16, one offset/step (used)", offset + codes * step, codes.nbytes, len(data))]
    for per_row in (True, False):
        codes8, back, size = uint8_codes(exact, per_row)
        packed = len(zlib.compress(codes8.tobytes(), 6))
        label = "uint8, scale per window row" if per_row else "uint8, one scale"
        rows.append((label, back, size, packed))
    level = np.percentile(lib.descriptors, 99) / 255
    print(
        f"{len(selections)} random selections of {sizes_sel} models; 1 colour level = {level:.2g}"
    )
    print(
        f"{'codes':<32} {'value err':>10} {'mean err':>10} {'std err':>10} {'levels':>7} {'raw MB':>7} {'deflate':>8}"
    )
    for label, back, size, packed in rows:
        value, mean, std = errors(exact, back, selections)
        print(
            f"{label:<32} {value:10.2g} {mean:10.2g} {std:10.2g} {value / level:7.3f} "
            f"{size / 1e6:7.2f} {packed / 1e6:8.2f}"
        )
    print("(uint8 deflate column: the codes only, without their scales)")

    if args.browser:
        bench_browser(out / f"{64 * 2**20}.html")
    return 0


def bench_browser(path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
    from lab_harness import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(path.as_uri())
        page.locator(".miwd-gallery .miwd-mean").wait_for(timeout=60_000)
        first = time.perf_counter() - start
        # Clear: the whole library, a selection the page computes itself.
        page.evaluate("document.querySelector('.miwd-gallery .miwd-mean').remove()")
        start = time.perf_counter()
        page.locator(".miwd-clear-selection").click()
        page.locator(".miwd-gallery .miwd-mean").wait_for(timeout=60_000)
        again = time.perf_counter() - start
        print(f"\nbrowser: open -> first gallery {first:.2f} s (the saved selection's, exact)")
        print(
            f"browser: Clear -> gallery of all models {again:.2f} s (inflate + mean/std, 150 ms debounce)"
        )
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
