"""Regenerate the numbers behind docs/results.md from a zoo directory.

    python scripts/reproduce_results.py /work/zoos/main --out docs/results

Writes probe.csv (Figure 3 analogue, folds grouped by the zoo's ``train_group``), probe.html
(its chart), invariance.csv (means and medians: the independent-pair distances are
heavy-tailed, so the ratio of medians stands beside the ratio of means), optionally
figure4.html (``--figure4``: UMAP small multiples), and prints them as Markdown tables. The
zoo comes from ``miwd zoo train``. For the descriptor variants beyond the paper, see
scripts/select_variant.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from select_variant import accuracy_table, final_models, markdown
from threadpoolctl import threadpool_limits

from miwd_widget import ModelLibrary
from miwd_widget.evaluate import embedding_grid, invariance, probe, probe_chart

REPRESENTATIONS = (
    "miwd",  # value_range="auto": pooled 5th-95th percentiles (the paper's rationale)
    ("miwd[0.1-99.9]", "miwd", {"percentiles": (0.1, 99.9)}),
    ("miwd[-5,5]", "miwd", {"value_range": (-5.0, 5.0)}),  # the paper's fixed range
    "raw",
    "stats",
    "pca",
    "random",
)
INVARIANCE_COLUMNS = [
    "kind",
    "n",
    "distance_mean",
    "distance_median",
    "distance_std",
    "ratio_to_independent",
    "ratio_to_independent_median",
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zoo", help="zoo directory (metadata.csv + models/)")
    p.add_argument("--out", default="docs/results", help="output folder")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument(
        "--groups",
        default=None,
        help="metadata column to group the folds by (default: train_group when recorded); "
        "'none' for ungrouped folds",
    )
    p.add_argument(
        "--by",
        nargs="+",
        default=None,
        help="invariance: columns that define one configuration (default: every "
        "hyper-parameter column that several models share)",
    )
    p.add_argument("--figure4", action="store_true", help="also write figure4.html (UMAP)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = False if args.groups == "none" else args.groups

    t0 = time.perf_counter()
    lib = final_models(ModelLibrary.from_zoo(args.zoo))
    # One BLAS thread: on a small machine the PCA fits are faster single-threaded.
    with threadpool_limits(1):
        result = probe(
            lib, representations=REPRESENTATIONS, folds=args.folds, n_jobs=args.jobs, groups=groups
        )
    result.to_csv(out / "probe.csv", index=False)
    chart = probe_chart(result)
    chart.save(str(out / "probe.html"))
    chart.save(str(out / "probe.png"), scale_factor=1.5)  # needs vl-convert-python (dev extra)
    inv = invariance(lib, by=args.by)
    inv.to_csv(out / "invariance.csv", index=False)
    if args.figure4:
        grid = embedding_grid(lib, color="initialization")
        grid.save(str(out / "figure4.html"))
        grid.save(str(out / "figure4.png"), scale_factor=1.5)
    split = result["split"].iloc[0]
    print(f"{len(lib)} models, folds: {split}, {time.perf_counter() - t0:.0f} s\n")
    print("Accuracy: mean ± std over folds (median)\n")
    print(markdown(accuracy_table(result)))
    print(f"\nInvariance (configurations by {inv.attrs.get('by')})\n")
    print(markdown(inv[INVARIANCE_COLUMNS].round(4)))


if __name__ == "__main__":
    main()
