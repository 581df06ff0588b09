"""Atlas projection: PCA(50) + UMAP (the default) against UMAP on the raw 1024-d descriptors.

Measures, in one run on 13,000 descriptors (S = B = 32): the wall time of
``miwd_widget.projection.project`` with its default (PCA to 50 components, then UMAP) and
with ``pca_components=None`` (UMAP on the raw 1024-d vectors), both with ``random_state=0``
(UMAP then runs single-threaded), after a warm-up run of both on 4,500 points so numba's
first compilation (of the NN-descent path too, used from 4,096 points) is excluded; and the
scikit-learn trustworthiness (n_neighbors=15) of both embeddings. Issue targets: default
>= 3x faster than raw UMAP, trustworthiness within 0.02 of it, and < 10 s.

Descriptors: the real ones of a zoo's models (``--zoo``, described with
``ModelLibrary.from_zoo``) or of a saved library (``--library``). A zoo of 2,000 models
has 2,000 real descriptors; to reach ``--n`` points the rest are bootstrap copies of real
descriptors with Gaussian noise (std = ``--noise`` x the median nearest-neighbour distance
/ sqrt(K) per value; clipped at 0 and renormalized per window), so that copies are about as
far from their original as real neighbours are from each other. The output says how many
points are real.

Trustworthiness needs all pairwise distances and ranks; on 13,000 points that is slow and
memory hungry, so it is computed on a random subsample (``--trust-sample``, 3,000 by
default; 0 = all points) of the points and their embedding coordinates, and the output
says so.

    python benchmarks/bench_projection.py --zoo /work/zoos/zoo-2000 [--n 13000]
    python benchmarks/bench_projection.py --library lib.parquet

``--scale 100000`` (with ``--library``, e.g. the 1M-row library of bench_build.py) measures
instead what fitting on a subsample costs: on ``--scale`` rows drawn at random from the
library, a full fit against ``project(fit_sample=f)`` (the fit on f random rows, the rest
placed by their nearest fitted rows) for each ``--fractions`` f/rows, with the wall time
and the trustworthiness of each on the same ``--trust-sample`` points.

    python benchmarks/bench_projection.py --library lib1m.parquet --scale 100000
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

from miwd_widget import ModelLibrary
from miwd_widget.projection import project, vectorize


def real_descriptors(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    if args.library:
        lib = ModelLibrary.load(args.library)
        return vectorize(lib.descriptors), f"library {args.library}"
    lib = ModelLibrary.from_zoo(args.zoo, n_jobs=-1, progress=False)
    return vectorize(lib.descriptors), f"zoo {args.zoo}"


def bootstrap(real: np.ndarray, n: int, noise: float, S: int, B: int, seed: int) -> np.ndarray:
    """``n`` points: the real ones, then noisy copies of randomly drawn real ones."""
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    nn = NearestNeighbors(n_neighbors=2).fit(real)
    d, _ = nn.kneighbors(real)
    sigma = noise * float(np.median(d[:, 1])) / np.sqrt(real.shape[1])
    picks = rng.integers(0, len(real), n - len(real))
    copies = real[picks] + rng.normal(0, sigma, (len(picks), real.shape[1])).astype(np.float32)
    copies = np.clip(copies, 0, None).reshape(-1, S, B)
    totals = copies.sum(axis=2, keepdims=True)
    copies = np.where(totals > 0, copies / np.where(totals > 0, totals, 1), 0)
    return np.concatenate([real, copies.reshape(len(picks), -1).astype(np.float32)])


def timed(x: np.ndarray, **kwargs) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    emb, _ = project(x, random_state=0, **kwargs)
    return time.perf_counter() - t0, emb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--zoo", help="zoo directory (metadata.csv + models/)")
    src.add_argument("--library", help="saved library (.parquet)")
    p.add_argument("--n", type=int, default=13000, help="points to project (13000)")
    p.add_argument("--noise", type=float, default=0.5, help="bootstrap noise scale (0.5)")
    p.add_argument("--trust-sample", type=int, default=3000, help="0: all points")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=0, help="subsample-fit cost on this many rows")
    p.add_argument("--fractions", default="0.05,0.1", help="fit_sample / rows for --scale")
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.scale:
        scale(args)
        return

    real, origin = real_descriptors(args)
    K = real.shape[1]
    S = B = int(round(np.sqrt(K)))
    x = bootstrap(real, args.n, args.noise, S, B, args.seed)
    n_real = min(len(real), len(x))
    print(
        f"descriptors: {len(x):,} x {K} from {origin}: {n_real:,} real, "
        f"{len(x) - n_real:,} bootstrap copies with noise {args.noise} x median NN distance"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    warm = x[np.random.default_rng(1).choice(len(x), min(len(x), 4500), replace=False)]
    t0 = time.perf_counter()
    project(warm, random_state=0)
    project(warm, random_state=0, pca_components=None)
    print(
        f"warm-up (numba compilation, 2 x {len(warm):,} points): {time.perf_counter() - t0:.1f} s"
    )

    t_default, emb_default = timed(x)
    print(f"default  PCA 50 + UMAP : {t_default:6.1f} s")
    t_raw, emb_raw = timed(x, pca_components=None)
    print(f"raw      UMAP on {K}-d: {t_raw:6.1f} s")

    if args.trust_sample and args.trust_sample < len(x):
        idx = np.sort(np.random.default_rng(2).choice(len(x), args.trust_sample, replace=False))
        note = f"on a random subsample of {len(idx):,} of {len(x):,} points"
    else:
        idx = np.arange(len(x))
        note = f"on all {len(x):,} points"
    tw_default = trustworthiness(x[idx], emb_default[idx], n_neighbors=15)
    tw_raw = trustworthiness(x[idx], emb_raw[idx], n_neighbors=15)
    print(f"trustworthiness (n_neighbors=15, {note}):")
    print(f"  default {tw_default:.4f}   raw {tw_raw:.4f}   difference {tw_default - tw_raw:+.4f}")

    speedup = t_raw / t_default
    ok = [speedup >= 3, abs(tw_default - tw_raw) <= 0.02, t_default < 10]
    print(
        f"speed-up {speedup:.1f}x (target >= 3x: {'met' if ok[0] else 'NOT met'}); "
        f"trustworthiness within 0.02: {'met' if ok[1] else 'NOT met'}; "
        f"default < 10 s: {'met' if ok[2] else 'NOT met'}"
    )


def scale(args: argparse.Namespace) -> None:
    """Full fit vs fit on a subsample + neighbour placement, on ``args.scale`` rows."""
    if not args.library:
        raise SystemExit("--scale needs --library")
    lib = ModelLibrary.load(args.library)  # descriptors memory-mapped
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(len(lib), size=min(args.scale, len(lib)), replace=False))
    x = vectorize(lib.descriptors[rows])
    print(
        f"{len(x):,} of {len(lib):,} rows of {args.library} ({os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, shared machine)"
    )
    idx = np.sort(rng.choice(len(x), size=min(args.trust_sample or len(x), len(x)), replace=False))
    project(x[:5000], random_state=0)  # numba compilation
    runs = [("full fit", None)] + [
        (f"fit_sample={int(f * len(x)):,} ({f:.0%})", int(f * len(x)))
        for f in (float(v) for v in args.fractions.split(","))
    ]
    trust = {}
    for name, sample in runs:
        t0 = time.perf_counter()
        emb, _ = project(x, random_state=0, fit_sample=sample)
        dt = time.perf_counter() - t0
        trust[name] = trustworthiness(x[idx], emb[idx], n_neighbors=15)
        print(f"  {name:26s} {dt:7.1f} s   trustworthiness {trust[name]:.4f}", flush=True)
    base = trust["full fit"]
    for name, t in trust.items():
        if name != "full fit":
            print(
                f"  cost of {name}: {t - base:+.4f} trustworthiness (n_neighbors=15, {len(idx):,} points)"
            )


if __name__ == "__main__":
    main()
