"""The gallery's mean/std descriptors of a large selection: exact against the sample.

Usage::

    python benchmarks/bench_gallery.py [--rows 1000000] [--selected 500000] [--S 32] [--B 32]

A (rows, S, B) float32 library (rows x S x B x 4 bytes: 4 GB at the defaults), a random
sorted selection; ``library.summary.mean_std`` exact and with the widget's
``GALLERY_EXACT_ROWS`` sample (best of 3 each), the widget's whole ``descriptor_reply``, and
the sample's largest error per bin as a share of that bin's standard deviation. The machine
may be shared: the load is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--selected", type=int, default=500_000)
    parser.add_argument("--S", type=int, default=32)
    parser.add_argument("--B", type=int, default=32)
    args = parser.parse_args()

    import pandas as pd

    from miwd_widget import Atlas, ModelLibrary
    from miwd_widget.library.summary import mean_std
    from miwd_widget.widget.gallery import GALLERY_EXACT_ROWS

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rng = np.random.default_rng(0)
    descriptors = rng.random((args.rows, args.S, args.B), dtype=np.float32)
    positions = np.sort(rng.choice(args.rows, args.selected, replace=False))
    t_exact, (mean, std, _) = best_of(lambda: mean_std(descriptors, positions))
    t_sample, (m2, s2, used) = best_of(
        lambda: mean_std(descriptors, positions, max_rows=GALLERY_EXACT_ROWS)
    )
    err_mean = float(np.max(np.abs(m2 - mean) / std))
    err_std = float(np.max(np.abs(s2 - std) / std))
    print(
        f"{args.selected:,} of {args.rows:,} x {args.S}x{args.B}: exact {t_exact * 1e3:.0f} ms, "
        f"sample of {used:,} {t_sample * 1e3:.0f} ms; largest error / std: mean {err_mean:.4f}, "
        f"std {err_std:.4f}"
    )
    meta = pd.DataFrame({"id": np.arange(args.rows).astype(str)})
    embedding = rng.normal(size=(args.rows, 2)).astype(np.float32)
    atlas = Atlas(ModelLibrary(descriptors, meta, embedding=embedding))
    t_reply, _ = best_of(lambda: atlas.descriptor_reply(positions))
    print(f"descriptor_reply (gallery request) of the selection: {t_reply * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
