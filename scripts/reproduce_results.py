"""Regenerate the numbers behind docs/results.md from a zoo directory.

    python scripts/reproduce_results.py /work/zoos/zoo-2000 --out docs/results

Writes probe.csv (Figure 3 analogue), probe.html (its chart) and invariance.csv, and prints
them as Markdown tables. The zoo comes from `miwd zoo train -n 2000 -o DIR --seed 0`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from miwd_widget import ModelLibrary
from miwd_widget.evaluate import invariance, probe, probe_chart

REPRESENTATIONS = (
    "miwd",  # value_range="auto": pooled 5th-95th percentiles (the paper's rationale)
    ("miwd[0.1-99.9]", "miwd", {"percentiles": (0.1, 99.9)}),
    ("miwd[-5,5]", "miwd", {"value_range": (-5.0, 5.0)}),  # the paper's fixed range
    "raw",
    "stats",
    "pca",
    "random",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zoo", help="zoo directory (metadata.csv + models/)")
    p.add_argument("--out", default="docs/results", help="output folder")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    lib = ModelLibrary.from_zoo(args.zoo)
    # One BLAS thread: on a small machine the PCA fits are faster single-threaded.
    with threadpool_limits(1):
        result = probe(lib, representations=REPRESENTATIONS, folds=args.folds, n_jobs=args.jobs)
    result.to_csv(out / "probe.csv", index=False)
    probe_chart(result).save(str(out / "probe.html"))
    inv = invariance(lib)
    inv.to_csv(out / "invariance.csv", index=False)
    print(f"{len(lib)} models, {time.perf_counter() - t0:.0f} s\n")
    table = result.pivot_table(
        index=["representation", "K"], columns="target", values="accuracy_mean"
    ).round(3)
    chance = result.groupby("target")["chance"].first().round(3)
    print(table.to_string())
    print("\nchance:", chance.to_dict())
    print()
    print(inv.to_string(index=False))


if __name__ == "__main__":
    main()
