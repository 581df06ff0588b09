"""Benchmark: train an NWS-like zoo and report wall time, throughput and accuracy spread.

Usage::

    .venv/bin/python benchmarks/bench_zoo.py -n 2000 -o /work/zoos/zoo-2000

Prints the wall time, models per second, per-dataset test-accuracy quantiles and the fraction of
models near chance (test accuracy below 1.5 x chance). Re-running on the same directory resumes
(finished cohorts are skipped), so the time printed is for the work done in this run.
"""

from __future__ import annotations

import argparse
import os
import time

from miwd_widget.datasets import DATASETS
from miwd_widget.zoo import train_zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="number of models (default 2000)")
    parser.add_argument("-o", "--out", required=True, help="zoo directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--cohort-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=10)
    args = parser.parse_args()

    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()}", flush=True)
    t0 = time.perf_counter()
    meta = train_zoo(
        args.n,
        args.out,
        seed=args.seed,
        n_jobs=args.jobs,
        cohort_size=args.cohort_size,
        max_epochs=args.max_epochs,
    )
    wall = time.perf_counter() - t0
    print(
        f"\nmodels on disk: {len(meta)}  wall (this run): {wall:.1f} s  "
        f"= {len(meta) / wall:.2f} models/s (counting resumed ones)  load_avg={os.getloadavg()}"
    )
    chance = meta["dataset"].map(lambda d: 1.0 / DATASETS[d].n_classes)
    meta["near_chance"] = meta["test_accuracy"] < 1.5 * chance
    stats = meta.groupby("dataset")["test_accuracy"].describe(percentiles=[0.1, 0.5, 0.9])
    stats["near_chance"] = meta.groupby("dataset")["near_chance"].mean()
    stats["chance"] = [1.0 / DATASETS[d].n_classes for d in stats.index]
    print("\ntest accuracy per dataset:")
    print(stats.round(3).to_string())
    print(f"\nfraction near chance (< 1.5 x chance): {meta['near_chance'].mean():.3f}")
    print(f"diverged: {meta['diverged'].mean():.3f}   mean epochs: {meta['epochs'].mean():.1f}")
    for col in ("initialization", "activation", "optimizer"):
        print(f"\nnear-chance fraction by {col}:")
        print(meta.groupby(col)["near_chance"].mean().round(3).to_string())


if __name__ == "__main__":
    main()
