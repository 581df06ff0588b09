"""Benchmark: train an NWS-like zoo; print models/s and how well the models learned.

Usage::

    .venv/bin/python benchmarks/bench_zoo.py -n 2000 -o /work/zoos/main --seed 0
    .venv/bin/python benchmarks/bench_zoo.py -o /work/zoos/main --report-only

Prints the wall time and models per second of this run (a resumed run counts only what it
trained), the machine's load, and the quality figures of issue 10: the share of models at or
above 2x chance, the best tenth (90th percentile) of test accuracy per task, and the median of
the well-configured models (Adam or RMSprop, ReLU/ELU/Tanh, non-constant initialization) per
task, with the standard deviation beside each median.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from miwd_widget.zoo import train_zoo
from miwd_widget.zoo.datasets import N_CLASSES

WELL_CONFIGURED = {
    "optimizer": ["adam", "rmsprop"],
    "activation": ["relu", "elu", "tanh"],
    "initialization": ["random_normal", "glorot_uniform", "glorot_normal"],
}


def quality(meta: pd.DataFrame) -> pd.DataFrame:
    """Per task: 90th percentile, median and std of test accuracy; same for well-configured."""
    good = meta
    for col, values in WELL_CONFIGURED.items():
        good = good[good[col].isin(values)]
    acc = meta.groupby("dataset")["test_accuracy"]
    out = pd.DataFrame(
        {
            "models": acc.size(),
            "p90": acc.quantile(0.9),
            "median": acc.median(),
            "std": acc.std(),
            "share_2x_chance": meta.assign(ok=meta["test_accuracy"] >= 2 / N_CLASSES)
            .groupby("dataset")["ok"]
            .mean(),
            "well_configured": good.groupby("dataset").size(),
            "well_median": good.groupby("dataset")["test_accuracy"].median(),
            "well_std": good.groupby("dataset")["test_accuracy"].std(),
        }
    )
    return out.round(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="number of models (default 2000)")
    parser.add_argument("-o", "--out", required=True, help="zoo directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--report-only", action="store_true", help="only print the figures")
    args = parser.parse_args()

    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()}", flush=True)
    if args.report_only:
        meta = pd.read_csv(Path(args.out) / "metadata.csv")
    else:
        t0 = time.perf_counter()
        meta = train_zoo(args.n, args.out, seed=args.seed, n_jobs=args.jobs)
        wall = time.perf_counter() - t0
        print(f"\nmodels on disk: {len(meta)}  wall (this run): {wall:.1f} s  "
              f"load_avg={os.getloadavg()}")  # fmt: skip
    info = json.loads((Path(args.out) / "zoo.json").read_text())
    for run in info["runs"]:
        print(f"run: {run['trained']} models in {run['wall_seconds']:.0f} s = "
              f"{run['models_per_second']:.3f} models/s (n_jobs={run['n_jobs']})")  # fmt: skip
    print("\ntest accuracy per task:")
    print(quality(meta).to_string())
    share = (meta["test_accuracy"] >= 2 / N_CLASSES).mean()
    print(f"\nshare of models >= 2x chance ({2 / N_CLASSES:.2f}): {share:.3f}")
    print(f"diverged: {meta['diverged'].mean():.3f}   mean epochs: {meta['epochs'].mean():.1f}")
    for col in ("initialization", "activation", "optimizer", "batch_size"):
        print(f"\nmedian test accuracy by {col}:")
        print(meta.groupby(col)["test_accuracy"].median().round(3).to_string())


if __name__ == "__main__":
    main()
