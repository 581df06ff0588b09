"""Cost of the cluster tools: ``compare`` / ``cluster_accuracy`` and descriptor neighbours.

Usage::

    python benchmarks/bench_clusters.py [--rows 1000000] [--clusters 6] [--neighbors-rows 20000 100000]

``compare``: a synthetic zoo-like table (4 categorical hyper-parameters with 2-5 values, a
continuous ``lr``, ``accuracy_norm``) and ``--clusters`` clusters of 1% of the rows each.
Neighbours: (n, 32, 32) random descriptors; the one-time index set-up (the exact search's
float32 copy) and the median latency of ``neighbor_positions(row, 10)`` over 50 rows, what a
click in the widget costs. The machine
may be shared: report the load (printed) with any figure.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from miwd_widget.library import ModelLibrary
from miwd_widget.library.compare import cluster_accuracy, compare


def table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "optimizer": rng.choice(["adam", "rmsprop", "sgd"], n),
            "activation": rng.choice(["relu", "elu", "tanh", "sigmoid"], n),
            "initialization": rng.choice(["constant", "normal", "glorot_u", "glorot_n", "he"], n),
            "batch_size": rng.choice([32, 64, 128], n),
            "lr": 10 ** rng.uniform(-4, -1, n),
            "accuracy_norm": rng.random(n),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--neighbors-rows", type=int, nargs="*", default=[20_000, 100_000])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rng = np.random.default_rng(0)
    md = table(args.rows, rng)
    size = max(1, args.rows // 100)
    clusters = {
        chr(65 + i): rng.choice(args.rows, size, replace=False) for i in range(args.clusters)
    }
    t = time.perf_counter()
    result = compare(md, clusters)
    t_compare = time.perf_counter() - t
    t = time.perf_counter()
    cluster_accuracy(md, clusters)
    t_acc = time.perf_counter() - t
    print(
        f"compare: {args.rows:,} rows, {args.clusters} clusters of {size:,}: {t_compare:.2f} s "
        f"({len(result)} rows); cluster_accuracy {t_acc * 1e3:.0f} ms"
    )
    for n in args.neighbors_rows:
        lib = ModelLibrary(rng.random((n, 32, 32), dtype=np.float32))
        t = time.perf_counter()
        lib.descriptor_index()
        t_build = time.perf_counter() - t
        times = []
        for row in rng.choice(n, 50, replace=False):
            t = time.perf_counter()
            lib.neighbor_positions(int(row), 10)
            times.append(time.perf_counter() - t)
        print(
            f"neighbors: {n:,} x 1024 (exact): set-up {t_build:.1f} s, "
            f"query median {np.median(times) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
