"""The hyper-parameter probe (Figure 3's protocol) with the per-layer statistics, per depth.

    python scripts/layer_quintiles_probe.py zoos/main --out docs/results/layer_quintiles

``layer-quintiles`` (each tensor's mean, variance and 1/25/50/75/99th percentiles) needs
models of one number of layers, so the models of each depth are probed on their own, beside
MI-WD, the window moments and the global statistics on the same models:
:func:`miwd_widget.evaluate.probe`, linear SVMs, classes balanced by subsampling, 5 stratified
folds grouped by ``train_group``. Writes ``by_depth.csv``; prints the mean accuracy over the
depths per target and representation (mean over depths of the fold means, with the standard
deviation over depths).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from accuracy_probe import by_depth
from select_variant import final_models, markdown
from threadpoolctl import threadpool_limits

from miwd_widget import ModelLibrary
from miwd_widget.evaluate import probe

REPRESENTATIONS = ("layer-quintiles", "miwd", "window-moments", "stats")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zoo", help="zoo directory (metadata.csv + models/)")
    p.add_argument("--out", default="docs/results/layer_quintiles", help="output folder")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--dim", type=int, default=256, help="K of MI-WD and the window moments")
    p.add_argument("--min-models", type=int, default=100)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lib = final_models(ModelLibrary.from_zoo(args.zoo))
    subsets, _ = by_depth(lib, args.min_models)
    with threadpool_limits(1):
        parts = [
            probe(
                sub, representations=REPRESENTATIONS, dims=(args.dim,), groups="train_group",
                n_jobs=args.jobs, progress=False,
            ).assign(layers=n)
            for n, sub in subsets.items()
        ]  # fmt: skip
    result = pd.concat(parts, ignore_index=True)
    result.to_csv(out / "by_depth.csv", index=False)
    print(f"{len(lib)} models, depths {sorted(subsets)}, {time.perf_counter() - t0:.0f} s")
    score = "accuracy_mean" if "accuracy_mean" in result.columns else "accuracy"
    table = result.groupby(["representation", "target"])[score].agg(["mean", "std"])
    cells = table.apply(lambda r: f"{r['mean']:.2f} ± {r['std']:.2f}", axis=1).unstack("target")
    print(markdown(cells.reset_index()))


if __name__ == "__main__":
    main()
