"""Predict each model's test accuracy from its weights: R² and Kendall's tau, grouped folds.

    python scripts/accuracy_probe.py zoos/main --out docs/results/accuracy

Unterthiner et al. (2020) and the Model Zoos benchmark (Schürholt et al. 2022) predict test
accuracy from weights; their baseline is the per-layer statistics (``layer-quintiles``: each
tensor's mean, variance and 1/25/50/75/99th percentiles). With
:func:`miwd_widget.evaluate.probe_accuracy` (standardized ridge regression, the penalty chosen
inside each training fold; folds grouped by ``train_group``):

1. ``accuracy_all.csv``: every model (the last snapshot of each), MI-WD and the paper's
   baselines plus the chosen variant ``window-moments``.
2. ``accuracy_by_depth.csv``: the per-layer statistics are defined only for models with one
   number of layers (the benchmark's zoos share one architecture), and this zoo draws the
   depth per model. So the models of each number of layers (tensors) with at least
   ``--min-models`` models are probed on their own, every representation and
   ``layer-quintiles`` on the same models (column ``layers``).

Prints Markdown tables: R² and tau as mean ± standard deviation over folds with the median in
brackets, and over the pooled out-of-fold predictions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from select_variant import final_models, markdown
from threadpoolctl import threadpool_limits

from miwd_widget import ModelLibrary
from miwd_widget.evaluate import probe_accuracy
from miwd_widget.evaluate.weights import library_sources
from miwd_widget.weights import open_weights

REPRESENTATIONS = (
    "miwd",  # value_range="auto": pooled 5th-95th percentiles of the training fold
    ("miwd[0.1-99.9]", "miwd", {"percentiles": (0.1, 99.9)}),
    ("miwd[-5,5]", "miwd", {"value_range": (-5.0, 5.0)}),  # the paper's fixed range
    "window-moments",
    "stats",
    "raw",
    "pca",
    "random",
)


def by_depth(lib: ModelLibrary, min_models: int) -> tuple[dict[int, ModelLibrary], pd.Series]:
    """The models of each number of layers (tensors) with at least ``min_models`` models,
    and the number of models per layer count."""
    layers = np.array([len(open_weights(s).tensors) for s in library_sources(lib)])
    counts = pd.Series(layers).value_counts().sort_index()
    subsets = {}
    for n_layers, n_models in counts.items():
        if n_models >= min_models:
            keep = np.flatnonzero(layers == n_layers)
            subsets[int(n_layers)] = ModelLibrary(
                lib.descriptors[keep],
                lib.metadata.iloc[keep].reset_index(drop=True),
                attrs=dict(getattr(lib, "attrs", {}) or {}),
            )
    return subsets, counts


def _cells(mean: pd.Series, std: pd.Series, median: pd.Series) -> list[str]:
    return [
        "n/a" if np.isnan(m) else f"{m:.2f} ± {s:.2f} ({med:.2f})"
        for m, s, med in zip(mean, std, median, strict=True)
    ]


def score_table(result: pd.DataFrame) -> pd.DataFrame:
    """Rows (representation, K): R² and tau over folds as "mean ± std (median)", then both
    over the pooled out-of-fold predictions."""
    return pd.DataFrame(
        {
            "representation": result["representation"],
            "K": result["K"],
            "R² over folds": _cells(result["r2_mean"], result["r2_std"], result["r2_median"]),
            "tau over folds": _cells(result["tau_mean"], result["tau_std"], result["tau_median"]),
            "R² pooled": result["r2_pooled"].round(2),
            "tau pooled": result["tau_pooled"].round(2),
        }
    )


def depth_table(result: pd.DataFrame) -> pd.DataFrame:
    """Rows (representation, K): per layer count the pooled out-of-fold "R² / tau", then the
    means over the layer counts of the pooled R² and tau and of the fold-mean tau.

    ``layer-quintiles`` has K = 7 x the layer count, one row for all depths. The fold-mean
    R² is left out: with a handful of models per test fold it is dominated by single folds.
    """
    order = list(dict.fromkeys(result["representation"]))
    df = result.copy()
    df["K"] = df["K"].astype(str)
    df.loc[df["representation"] == "layer-quintiles", "K"] = "7 per layer"
    df["cell"] = [
        "n/a" if np.isnan(r) else f"{r:.2f} / {t:.2f}"
        for r, t in zip(df["r2_pooled"], df["tau_pooled"], strict=True)
    ]
    table = df.pivot_table(index=["representation", "K"], columns="layers", values="cell",
                           aggfunc="first")  # fmt: skip
    table.columns = [f"{c} layers" for c in table.columns]
    # NaN when any layer count has none, so that every mean is over the same depths
    means = df.groupby(["representation", "K"])[["r2_pooled", "tau_pooled", "tau_mean"]].agg(
        lambda v: v.mean(skipna=False)
    )
    table["mean R² pooled"] = means["r2_pooled"].map(lambda v: f"{v:.2f}")
    table["mean tau pooled"] = means["tau_pooled"].map(lambda v: f"{v:.2f}")
    table["mean tau over folds"] = means["tau_mean"].map(lambda v: f"{v:.2f}")
    table = table.reset_index().replace("nan", "n/a")
    table["_order"] = table["representation"].map({r: i for i, r in enumerate(order)})
    table["_k"] = pd.to_numeric(table["K"], errors="coerce")
    return table.sort_values(["_order", "_k"]).drop(columns=["_order", "_k"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zoo", help="zoo directory (metadata.csv + models/)")
    p.add_argument("--out", default="docs/results/accuracy", help="output folder")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="fold assignment seed")
    p.add_argument("--regressor", default="ridge", choices=("ridge", "gbm"))
    p.add_argument(
        "--min-models", type=int, default=20, help="smallest set of one depth that is probed"
    )
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kw = dict(folds=args.folds, n_jobs=args.jobs, random_state=args.seed, regressor=args.regressor)

    t0 = time.perf_counter()
    lib = final_models(ModelLibrary.from_zoo(args.zoo))
    subsets, counts = by_depth(lib, args.min_models)
    # One BLAS thread: on a small machine the PCA fits are faster single-threaded.
    with threadpool_limits(1):
        everything = probe_accuracy(lib, REPRESENTATIONS, **kw)
        depths = [
            probe_accuracy(sub, ("layer-quintiles", *REPRESENTATIONS), **kw).assign(layers=n)
            for n, sub in subsets.items()
        ]
    by_layers = pd.concat(depths, ignore_index=True)
    everything.to_csv(out / "accuracy_all.csv", index=False)
    by_layers.to_csv(out / "accuracy_by_depth.csv", index=False)

    row = everything.iloc[0]
    print(
        f"{len(lib)} models, {row['n_groups']} groups, folds: {row['split']}, "
        f"{args.regressor}, {time.perf_counter() - t0:.0f} s"
    )
    print(f"models per number of layers: {counts.to_dict()}\n")
    print(f"All {row['n_models']} models with an accuracy\n")
    print(markdown(score_table(everything)))
    sizes = by_layers.groupby("layers")[["n_models", "n_groups"]].first()
    print(f"\nEach number of layers on its own (models, groups): {sizes.to_dict('index')}")
    print("Cells: pooled out-of-fold R² / tau; then means over the layer counts\n")
    print(markdown(depth_table(by_layers)))
    notes = pd.concat([everything, by_layers])
    notes = notes[notes["note"] != ""][["representation", "K", "note"]].drop_duplicates()
    if len(notes):
        print("\nNotes\n")
        print(markdown(notes))


if __name__ == "__main__":
    main()
