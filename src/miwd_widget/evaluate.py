"""Check the paper's claims on a model library: hyper-parameter probes, embeddings, invariance.

Eilertsen et al. (2024), section 3:

- :func:`probe` and :func:`probe_chart` -- "Untangling hyper-parameters" (Figure 3): linear
  SVMs predict each training hyper-parameter from a weight representation (MI-WD and the
  baselines of :mod:`miwd_widget.representations`) under stratified k-fold cross-validation.
- :func:`embedding_grid` -- Figure 4: one UMAP embedding per representation, colored by a
  hyper-parameter.
- :func:`invariance` -- how far the MI-WD descriptor moves under function-preserving changes
  of a model (hidden neurons permuted, weight matrices stored column-major) compared with
  the distance between independently trained models of the same configuration.

Weights are read from the files in ``library.metadata["source"]`` (the zoo's safetensors
files), or given explicitly with ``weights=``.

Examples
--------
>>> from miwd_widget.evaluate import probe, probe_chart  # doctest: +SKIP
>>> result = probe(ModelLibrary.from_zoo("zoo"))  # doctest: +SKIP
>>> probe_chart(result).save("figure3.html")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .descriptors import auto_value_range
from .readers import flatten_weights, natural_key
from .representations import (
    MIWDRepresentation,
    PCARepresentation,
    RandomProjectionRepresentation,
    describe_flat,
    make_representation,
    resample_models,
)

__all__ = [
    "probe",
    "probe_chart",
    "embedding_grid",
    "invariance",
    "balanced_indices",
    "library_weights",
    "permute_hidden_neurons",
    "column_major",
    "LibraryWeightsError",
    "DEFAULT_TARGETS",
    "DEFAULT_REPRESENTATIONS",
]

DEFAULT_TARGETS = ("dataset", "optimizer", "activation", "initialization", "batch_size")
DEFAULT_REPRESENTATIONS = ("miwd", "raw", "stats", "pca", "random")
PROBE_COLUMNS = [
    "target",
    "representation",
    "K",
    "accuracy_mean",
    "accuracy_std",
    "chance",
    "n_models",
    "n_classes",
    "folds",
    "note",
]

#: Columns that identify a model or describe its outcome rather than its configuration.
_NOT_HYPERPARAMETERS = {
    "id",
    "source",
    "path",
    "seed",
    "query_name",
    "cohort",
    "test_accuracy",
    "train_accuracy",
    "val_accuracy",
    "accuracy_norm",
    "best_epoch",
    "epochs",
    "n_params",
    "diverged",
}


class LibraryWeightsError(ValueError):
    """The library does not give access to its models' weights."""


# --------------------------------------------------------------------------------------
# weights of a library
# --------------------------------------------------------------------------------------


def _tqdm(iterable: Iterable, total: int, desc: str, show: bool | None, unit: str = "model"):
    from tqdm.auto import tqdm  # lazily: importing tqdm.auto probes for notebooks

    disable = not (show or (show is None and total > 10))
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable)


def _sources(library: Any) -> list[str]:
    """The weight file of every library row, or a clear error saying the weights are missing."""
    md = library.metadata
    n = len(md)
    if "source" not in md.columns:
        raise LibraryWeightsError(
            "the library has no weights: its metadata has no 'source' column (the path of each "
            "model's weight file). Build it with ModelLibrary.from_zoo/from_files, or pass "
            "weights=[...] with one model per library row."
        )
    missing = []
    for i, src in enumerate(md["source"]):
        if not isinstance(src, (str, os.PathLike)) or not os.path.isfile(src):
            missing.append((i, md["id"].iloc[i] if "id" in md.columns else i, src))
    if missing:
        examples = "; ".join(f"row {i} (id {mid!r}): {src!r}" for i, mid, src in missing[:3])
        raise LibraryWeightsError(
            f"the library has no weights for {len(missing)} of {n} models: metadata['source'] "
            f"is empty or the file does not exist ({examples}). Rebuild the library where the "
            f"files are, or pass weights=[...] with one model per library row."
        )
    return [os.fspath(s) for s in md["source"]]


def library_weights(
    library: Any, weights: Sequence[Any] | None = None, progress: bool | None = None
) -> list[np.ndarray]:
    """Every library model's theta as a float32 1-D array, in library row order.

    Parameters
    ----------
    library
        A :class:`~miwd_widget.library.ModelLibrary` whose ``metadata["source"]`` holds
        each model's weight file.
    weights
        Optional models (anything :func:`~miwd_widget.readers.flatten_weights` reads), one
        per library row, used instead of ``metadata["source"]``.
    progress
        Progress bar; by default for more than 10 models.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> lib = ModelLibrary(np.zeros((2, 4, 4), np.float32))
    >>> [t.shape for t in library_weights(lib, weights=[np.ones(8), np.ones(9)])]
    [(8,), (9,)]
    """
    n = len(library.metadata)
    if weights is not None:
        models = list(weights)
        if len(models) != n:
            raise ValueError(f"weights has {len(models)} models but the library has {n} rows")
    else:
        models = _sources(library)
    return [
        np.asarray(flatten_weights(m), dtype=np.float32)
        for m in _tqdm(models, n, "reading weights", progress)
    ]


# --------------------------------------------------------------------------------------
# probe (Figure 3)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """One representation in a probe: a label for the tables, a factory name, its kwargs."""

    label: str
    name: str
    kw: tuple = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.kw)

    def dims(self, dims: Sequence[int]) -> list[int]:
        return [16] if self.name == "stats" else [int(k) for k in dims]

    @property
    def fold_dependent(self) -> bool:
        """Whether the representation must be fit on each training fold (data-dependent fit)."""
        if self.name == "pca":
            return True
        if self.name == "miwd":
            return isinstance(self.kwargs.get("value_range", "auto"), str)
        return False


def _parse_specs(representations: Sequence[Any]) -> list[_Spec]:
    specs = []
    for r in representations:
        if isinstance(r, str):
            spec = _Spec(r, r)
        elif isinstance(r, tuple) and len(r) in (2, 3) and all(isinstance(x, str) for x in r[:2]):
            kw = r[2] if len(r) == 3 else {}
            if not isinstance(kw, Mapping):
                raise ValueError(f"representations: the kwargs of {r[0]!r} must be a dict")
            spec = _Spec(r[0], r[1], tuple(sorted(kw.items())))
        else:
            raise ValueError(
                f"representations: each item is a name ('miwd', 'raw', 'stats', 'pca', "
                f"'random') or a tuple (label, name, kwargs), got {r!r}"
            )
        make_representation(spec.name, 16 if spec.name == "stats" else 64, **spec.kwargs)
        specs.append(spec)
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"representations: labels must be unique, got {labels}")
    return specs


def balanced_indices(labels: Sequence[Any], random_state: int | None = 0) -> np.ndarray:
    """Row positions of a class-balanced subsample: every class cut to the smallest class size.

    NWS (Eilertsen et al. 2020) balances its hyper-parameter classification the same way,
    so chance level is ``1 / n_classes``. Missing labels (NaN/None) are left out.

    Examples
    --------
    >>> balanced_indices(["a", "a", "a", "b", "b", None], random_state=0).size
    4
    """
    y = pd.Series(list(labels))
    present = y.notna().to_numpy()
    rng = np.random.default_rng(random_state)
    rows = np.flatnonzero(present)
    codes, _ = pd.factorize(y[present])
    counts = np.bincount(codes)
    if counts.size == 0:
        return np.empty(0, dtype=np.int64)
    smallest = counts.min()
    keep = [rng.choice(rows[codes == c], size=smallest, replace=False) for c in range(counts.size)]
    return np.sort(np.concatenate(keep))


class _FeatureCache:
    """Features of all library models, computed once where the fit does not see the data."""

    def __init__(self, thetas: list[np.ndarray], progress: bool | None) -> None:
        self.thetas = thetas
        self.progress = progress
        self._global: dict[tuple[str, int], np.ndarray] = {}  # (label, K); labels are unique
        self._resampled: dict[int, np.ndarray] = {}

    def resampled(self, n_points: int) -> np.ndarray:
        if n_points not in self._resampled:
            self._resampled[n_points] = resample_models(
                self.thetas, n_points, progress=self.progress
            )
        return self._resampled[n_points]

    def global_features(self, spec: _Spec, dim: int) -> np.ndarray:
        key = (spec.label, dim)
        if key not in self._global:
            kw = spec.kwargs
            rep = make_representation(spec.name, dim, progress=False, **kw)
            if isinstance(rep, RandomProjectionRepresentation):
                # The Gaussian matrix depends only on (n_points, K, random_state), never on
                # the training values, so the fit on any fold gives this same matrix.
                X = self.resampled(rep.n_points)
                self._global[key] = rep.fit_resampled(X).transform_resampled(X)
            else:
                # raw, stats and fixed-range MI-WD learn nothing from the data.
                self._global[key] = rep.fit(self.thetas[:1]).transform(self.thetas)
        return self._global[key]

    def fold_features(
        self, spec: _Spec, dims: list[int], train: np.ndarray, test: np.ndarray
    ) -> dict[int, tuple[np.ndarray, np.ndarray] | str]:
        """Per K: (X_train, X_test), or a note why this K cannot be computed."""
        out: dict[int, tuple[np.ndarray, np.ndarray] | str] = {}
        if not spec.fold_dependent:
            for k in dims:
                X = self.global_features(spec, k)
                out[k] = (X[train], X[test])
            return out
        rows = np.concatenate([train, test])
        n_train = train.size
        kw = spec.kwargs
        if spec.name == "miwd":
            # The "auto" range comes from the training fold only, then describes both parts.
            percentiles = tuple(kw.get("percentiles", (5.0, 95.0)))
            value_range = auto_value_range([self.thetas[i] for i in train], percentiles)
            for k in dims:
                rep = MIWDRepresentation(k, **{**kw, "value_range": value_range, "progress": False})
                X = rep.fit([self.thetas[0]]).transform([self.thetas[i] for i in rows])
                out[k] = (X[:n_train], X[n_train:])
            return out
        # PCA: fit once with the largest feasible K on the training fold; components are
        # nested, so the first k columns are the k-component PCA (exactly with the default
        # "gram" solver, to its accuracy with a randomized one).
        feasible = [k for k in dims if k <= n_train]
        for k in dims:
            if k > n_train:
                out[k] = f"pca: K={k} needs at least {k} training models, the fold has {n_train}"
        if feasible:
            rep = PCARepresentation(max(feasible), **{**kw, "progress": False})
            X_all = self.resampled(rep.n_points)
            rep.fit_resampled(X_all[train])
            Z = rep.transform_resampled(X_all[rows])
            for k in feasible:
                out[k] = (Z[:n_train, :k], Z[n_train:, :k])
        return out


def _fit_score(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    svm: str,
    C: float,
    max_iter: int | None,
    random_state: int | None,
) -> tuple[float, bool]:
    """Accuracy of a standardized linear SVM; and whether its solver converged."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    if svm == "svc":
        limit = -1 if max_iter is None else max_iter
        clf = SVC(kernel="linear", C=C, max_iter=limit, random_state=random_state)
    else:
        limit = 10_000 if max_iter is None else max_iter
        # dual: with K close to the number of models the primal solver can take minutes
        clf = LinearSVC(C=C, dual=True, max_iter=limit, random_state=random_state)
    model = make_pipeline(StandardScaler(), clf)
    model.fit(X_train, y_train)
    # n_iter_ rather than catching ConvergenceWarning: warning filters are not thread-safe.
    converged = limit < 0 or int(np.max(model[-1].n_iter_)) < limit
    return float(np.mean(model.predict(X_test) == y_test)), converged


def probe(
    library: Any,
    targets: Sequence[str] = DEFAULT_TARGETS,
    representations: Sequence[Any] = DEFAULT_REPRESENTATIONS,
    dims: Sequence[int] = (64, 256, 1024),
    folds: int = 5,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    *,
    weights: Sequence[Any] | None = None,
    svm: str = "svc",
    C: float = 1.0,
    max_iter: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Predict hyper-parameters from weight representations with linear SVMs (Figure 3).

    For each target, classes are balanced by subsampling every class to the smallest class
    size (as NWS does), so chance is ``1 / n_classes``; then a stratified ``folds``-fold
    cross-validation fits a standardized linear SVM (``StandardScaler -> SVC(kernel="linear")``)
    on each representation.
    Everything fitted is fitted on the training fold only: the MI-WD ``"auto"`` value range,
    the PCA basis and the scaler (the Gaussian random projection does not depend on the data
    values). Representations that learn nothing from data (raw, stats, fixed-range MI-WD,
    random projection) are computed once for the whole library and reused by every target
    and fold; the resampled 65,536-value matrix behind PCA and the random projection is also
    computed once.

    Parameters
    ----------
    library
        A :class:`~miwd_widget.library.ModelLibrary` whose ``metadata["source"]`` are weight
        files (built with ``from_zoo``/``from_files``), with the ``targets`` as columns.
    targets
        Metadata columns to predict.
    representations
        Names (``"miwd"``, ``"raw"``, ``"stats"``, ``"pca"``, ``"random"``) or tuples
        ``(label, name, kwargs)``, e.g. ``("miwd[-5,5]", "miwd", {"value_range": (-5, 5)})``
        to compare the paper's fixed range with the default ``"auto"`` one.
    dims
        The K to test (``stats`` always has K = 16).
    folds
        Number of stratified folds.
    random_state
        Seed of the balancing subsample, the fold split and the SVMs.
    n_jobs
        Parallel SVM fits (joblib threads; libsvm releases the GIL); 1 runs them in turn.
    weights
        One model per library row, instead of reading ``metadata["source"]``.
    svm
        ``"svc"`` (default): libsvm's ``SVC(kernel="linear")``, one-vs-one, which stays fast
        when K is close to the number of models; ``"linearsvc"``: liblinear's ``LinearSVC``
        (dual, one-vs-rest).
    C, max_iter
        SVM parameters; ``max_iter=None`` means no limit for SVC and 10,000 for LinearSVC.
    progress
        Progress bars (by default for long lists).

    Returns
    -------
    pandas.DataFrame
        One row per (target, representation, K): ``target``, ``representation``, ``K``,
        ``accuracy_mean``, ``accuracy_std`` (over folds, ddof=0), ``chance``, ``n_models``
        (after balancing), ``n_classes``, ``folds``, ``note`` (why a row is NaN, or that
        the SVM did not converge within ``max_iter`` in some folds; empty otherwise).

    Examples
    --------
    >>> result = probe(ModelLibrary.from_zoo("zoo"), dims=(64,))  # doctest: +SKIP
    >>> result.pivot_table("accuracy_mean", "target", "representation")  # doctest: +SKIP
    """
    from joblib import Parallel, delayed
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    md = library.metadata
    targets = [targets] if isinstance(targets, str) else list(targets)
    unknown = [t for t in targets if t not in md.columns]
    if unknown:
        raise ValueError(
            f"probe: targets {unknown} are not metadata columns (have {list(md.columns)})"
        )
    if isinstance(representations, str):
        representations = [representations]
    specs = _parse_specs(representations)
    if svm not in ("svc", "linearsvc"):
        raise ValueError(f"probe: svm must be 'svc' or 'linearsvc', got {svm!r}")
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"probe: folds must be an integer >= 2, got {folds!r}")
    dims = [int(k) for k in dims]
    thetas = library_weights(library, weights, progress)
    cache = _FeatureCache(thetas, progress)

    rows: list[dict[str, Any]] = []

    def add_rows(target, accs, conv, n_models, n_classes, note=""):
        for spec in specs:
            for k in spec.dims(dims):
                a = accs.get((spec.label, k), [])
                why = note or (a if isinstance(a, str) else "")
                ok = not why and len(a) == folds
                not_conv = folds - sum(conv.get((spec.label, k), [])) if ok else 0
                if ok and not_conv:
                    why = f"the SVM did not converge in {not_conv} of {folds} folds"
                rows.append(
                    {
                        "target": target,
                        "representation": spec.label,
                        "K": k,
                        "accuracy_mean": float(np.mean(a)) if ok else np.nan,
                        "accuracy_std": float(np.std(a)) if ok else np.nan,
                        "chance": 1.0 / n_classes if n_classes else np.nan,
                        "n_models": n_models,
                        "n_classes": n_classes,
                        "folds": folds,
                        "note": why,
                    }
                )

    for target in _tqdm(targets, len(targets), "probe", progress, unit="target"):
        idx = balanced_indices(md[target].tolist(), random_state)
        codes, classes = pd.factorize(md[target].iloc[idx])
        n_classes = len(classes)
        per_class = idx.size // n_classes if n_classes else 0
        if n_classes < 2:
            add_rows(target, {}, {}, int(idx.size), n_classes, f"{target}: fewer than 2 classes")
            continue
        if per_class < folds:
            add_rows(
                target,
                {},
                {},
                int(idx.size),
                n_classes,
                f"{target}: the smallest class has {per_class} models, fewer than {folds} folds",
            )
            continue
        y = np.asarray(codes)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        tasks, keys = [], []
        accs: dict[tuple[str, int], Any] = {}
        for tr, te in splitter.split(idx, y):
            for spec in specs:
                feats = cache.fold_features(spec, spec.dims(dims), idx[tr], idx[te])
                for k, f in feats.items():
                    if isinstance(f, str):
                        accs[(spec.label, k)] = f
                        continue
                    tasks.append(
                        delayed(_fit_score)(
                            f[0], y[tr], f[1], y[te], svm, C, max_iter, random_state
                        )
                    )
                    keys.append((spec.label, k))
        with warnings.catch_warnings():
            # non-convergence is reported in the 'note' column instead
            warnings.simplefilter("ignore", ConvergenceWarning)
            # threads: libsvm/liblinear release the GIL, and nothing is copied to processes
            results = Parallel(n_jobs=n_jobs, prefer="threads")(tasks)
        conv: dict[tuple[str, int], list[bool]] = {}
        for key, (acc, converged) in zip(keys, results, strict=True):
            if isinstance(accs.get(key), str):
                continue
            accs.setdefault(key, []).append(acc)
            conv.setdefault(key, []).append(converged)
        add_rows(target, accs, conv, int(idx.size), n_classes)
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)


# --------------------------------------------------------------------------------------
# charts (Figures 3 and 4)
# --------------------------------------------------------------------------------------


def probe_chart(result: pd.DataFrame, width_per_target: int = 170, height: int = 260) -> Any:
    """Figure 3 as an Altair chart: grouped accuracy bars with error bars, chance marked.

    One group per target; within a group one bar per (representation, K), colored by
    representation, darker for larger K; error bars are +-1 standard deviation over folds;
    a black tick marks chance level (1 / number of classes). Rows with NaN accuracy (e.g.
    PCA with more components than training models) are left out.

    Examples
    --------
    >>> result = pd.DataFrame({"target": ["optimizer"] * 2, "representation": ["miwd", "stats"],
    ...     "K": [64, 16], "accuracy_mean": [0.6, 0.5], "accuracy_std": [0.05, 0.04],
    ...     "chance": [1 / 3] * 2})
    >>> probe_chart(result).to_dict()["layer"][0]["mark"]["type"]
    'bar'
    """
    import altair as alt

    need = {"target", "representation", "K", "accuracy_mean", "accuracy_std", "chance"}
    missing = need - set(result.columns)
    if missing:
        raise ValueError(f"probe_chart: result lacks columns {sorted(missing)} (use probe())")
    df = result.dropna(subset=["accuracy_mean"]).copy()
    if df.empty:
        raise ValueError("probe_chart: the result has no accuracies to plot")
    reps = list(dict.fromkeys(df["representation"]))
    df["rep_order"] = df["representation"].map({r: i for i, r in enumerate(reps)})
    df = df.sort_values(["rep_order", "K"])
    df["series"] = df["representation"] + " K=" + df["K"].astype(int).astype(str)
    df["K"] = df["K"].astype(int)
    df["low"] = (df["accuracy_mean"] - df["accuracy_std"]).clip(lower=0)
    df["high"] = (df["accuracy_mean"] + df["accuracy_std"]).clip(upper=1)
    series = list(dict.fromkeys(df["series"]))
    targets = list(dict.fromkeys(df["target"]))
    cols = ["target", "representation", "K", "series", "accuracy_mean", "accuracy_std"]
    cols += ["chance", "low", "high"]
    data = alt.InlineData(values=json.loads(df[cols].to_json(orient="records")))
    x = alt.X("target:N", sort=targets, title=None, axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("series:N", sort=series)
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=x,
        xOffset=offset,
        y=alt.Y("accuracy_mean:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("representation:N", sort=reps, title="representation"),
        opacity=alt.Opacity("K:O", scale=alt.Scale(range=[0.45, 1.0]), title="K"),
        tooltip=[
            alt.Tooltip("target:N"),
            alt.Tooltip("representation:N"),
            alt.Tooltip("K:O"),
            alt.Tooltip("accuracy_mean:Q", format=".3f", title="accuracy"),
            alt.Tooltip("accuracy_std:Q", format=".3f", title="std"),
            alt.Tooltip("chance:Q", format=".3f"),
        ],
    )
    errors = base.mark_errorbar(ticks=True).encode(
        x=x, xOffset=offset, y=alt.Y("low:Q", title="accuracy"), y2="high:Q"
    )
    chance_data = df.groupby("target", sort=False)["chance"].first().reset_index()
    chance = (
        alt.Chart(alt.InlineData(values=json.loads(chance_data.to_json(orient="records"))))
        .mark_tick(color="black", thickness=2, size=width_per_target - 20)
        .encode(x=x, y="chance:Q", tooltip=[alt.Tooltip("chance:Q", format=".3f")])
    )
    return alt.layer(bars, errors, chance).properties(
        width=width_per_target * len(targets),
        height=height,
        title="Hyper-parameter classification by linear SVMs (chance: black tick)",
    )


def _color_type(values: pd.Series) -> str:
    """Vega-Lite type for a color column: nominal for labels and few-valued integers."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "N"
    if pd.api.types.is_integer_dtype(values) and values.nunique() <= 12:
        return "N"
    return "Q"


def embedding_grid(
    library: Any,
    color: str = "initialization",
    representations: Sequence[Any] = DEFAULT_REPRESENTATIONS,
    dim: int = 1024,
    random_state: int | None = 0,
    *,
    weights: Sequence[Any] | None = None,
    standardize: Sequence[str] = ("stats",),
    method: str = "umap",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    pca_components: int | None = 50,
    columns: int | None = None,
    progress: bool | None = None,
) -> Any:
    """Figure 4 as Altair small multiples: one UMAP embedding per representation.

    Every representation is fitted on the whole library (a visualization, not a test) and
    projected with :func:`miwd_widget.projection.project` (the atlas' own UMAP, with its PCA
    pre-reduction), so the MI-WD panel is what the atlas shows for the same range.

    Parameters
    ----------
    library
        A library with weight files in ``metadata["source"]`` (or pass ``weights``).
    color
        Metadata column that colors the points (the paper: ``"initialization"``).
    representations
        Names or ``(label, name, kwargs)`` tuples, as in :func:`probe`.
    dim
        K for every representation but ``stats`` (16). PCA is capped at the number of models.
    random_state
        Seed of PCA, random projection and UMAP.
    standardize
        Representations whose features are standardized before UMAP: by default only the
        global statistics, whose 16 features have different units.
    method
        ``"umap"`` (the paper's) or ``"pca"`` (two principal components: a fast, linear look).
    n_neighbors, min_dist, pca_components
        Passed to :func:`~miwd_widget.projection.project`.
    columns
        Panels per row (default: all in one row up to 5).

    Returns
    -------
    altair.FacetChart
        Faceted by ``panel`` ("<representation> (K=<k>)"), independent x/y scales.

    Examples
    --------
    >>> embedding_grid(lib, color="optimizer", dim=256).save("figure4.html")  # doctest: +SKIP
    """
    import altair as alt
    from sklearn.preprocessing import StandardScaler

    from .projection import project

    md = library.metadata
    if color not in md.columns:
        raise ValueError(
            f"embedding_grid: color {color!r} is not a metadata column (have {list(md.columns)})"
        )
    specs = _parse_specs([representations] if isinstance(representations, str) else representations)
    thetas = library_weights(library, weights, progress)
    n = len(thetas)
    resampled: dict[int, np.ndarray] = {}
    frames = []
    panels = []
    for spec in specs:
        kw = spec.kwargs
        k = 16 if spec.name == "stats" else int(dim)
        if spec.name == "pca" and k > n:
            k = n
        kw.setdefault("progress", progress)
        rep = make_representation(spec.name, None if spec.name == "stats" else k, **kw)
        if spec.name in ("pca", "random"):
            kw.setdefault("random_state", random_state)
            rep.set_params(random_state=kw["random_state"])
            X_hat = resampled.get(rep.n_points)
            if X_hat is None:
                X_hat = resampled[rep.n_points] = resample_models(
                    thetas, rep.n_points, progress=progress
                )
            X = rep.fit_resampled(X_hat).transform_resampled(X_hat)
        else:
            X = rep.fit_transform(thetas)
        if spec.label in standardize or spec.name in standardize:
            X = StandardScaler().fit_transform(X).astype(np.float32)
        xy, _ = project(
            X,
            method=method,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            pca_components=pca_components,
            random_state=random_state,
        )
        panel = f"{spec.label} (K={k})"
        panels.append(panel)
        frames.append(
            pd.DataFrame(
                {
                    "panel": panel,
                    "representation": spec.label,
                    "x": xy[:, 0].astype(float),
                    "y": xy[:, 1].astype(float),
                    "id": md["id"].astype(str).to_numpy() if "id" in md else np.arange(n),
                    color: md[color].to_numpy(),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    ctype = _color_type(md[color])
    data = alt.InlineData(values=json.loads(df.to_json(orient="records")))
    chart = (
        alt.Chart(data)
        .mark_circle(size=14, opacity=0.7)
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False)),
            color=alt.Color(f"{color}:{ctype}", title=color),
            tooltip=[alt.Tooltip("id:N"), alt.Tooltip(f"{color}:{ctype}")],
        )
        .properties(width=200, height=200)
    )
    return (
        chart.facet(
            facet=alt.Facet("panel:N", sort=panels, title=None),
            columns=columns or min(len(panels), 5),
        )
        .resolve_scale(x="independent", y="independent")
        .properties(title=f"UMAP embeddings of weight representations, colored by {color}")
    )


# --------------------------------------------------------------------------------------
# invariance
# --------------------------------------------------------------------------------------


@dataclass
class _Layer:
    weight: str
    out: int
    inp: int
    ndim: int
    per_neuron: list[str] = field(default_factory=list)


def _as_state_dict(model: Any, name: str) -> dict[str, np.ndarray]:
    if not isinstance(model, Mapping):
        raise ValueError(
            f"{name}: invariance needs a state-dict-like mapping name -> array (Linear weights "
            f"(out, in), Conv weights (out, in, kh, kw)), got {type(model).__name__}"
        )
    return {str(k): np.asarray(v) for k, v in model.items()}


def _layers(state: Mapping[str, np.ndarray], name: str) -> list[_Layer]:
    """The chain of weight layers, each with the per-neuron 1-D tensors that follow it."""
    layers: list[_Layer] = []
    for key, a in state.items():
        if a.dtype.kind != "f":
            continue  # counters such as num_batches_tracked are not weights
        if a.ndim >= 2:
            layers.append(_Layer(key, a.shape[0], a.shape[1], a.ndim))
        elif a.ndim == 1:
            if not layers:
                raise ValueError(f"{name}: 1-D tensor {key!r} comes before any weight matrix")
            if a.shape[0] != layers[-1].out:
                raise ValueError(
                    f"{name}: 1-D tensor {key!r} has {a.shape[0]} values but the layer before "
                    f"it ({layers[-1].weight!r}) has {layers[-1].out} outputs; only per-neuron "
                    f"tensors (bias, BatchNorm) may follow a weight"
                )
            layers[-1].per_neuron.append(key)
    if len(layers) < 2:
        raise ValueError(f"{name}: needs at least two weight layers to have hidden neurons")
    return layers


def permute_hidden_neurons(
    state_dict: Mapping[str, Any], random_state: Any = None, *, name: str = "model"
) -> dict[str, np.ndarray]:
    """The same function with the neurons of every hidden layer randomly permuted.

    Supported: a plain feed-forward chain, in order, of Linear weights ``(out, in)`` and Conv
    weights ``(out, in, *kernel)``, each followed by its per-neuron 1-D tensors of length
    ``out`` (bias, BatchNorm weight/bias/running statistics). Hidden layer l's output rows
    (and its per-neuron tensors) are permuted and layer l+1's input columns follow; a Linear
    layer after a Conv layer reads the channel-major flattened feature map, so its columns
    are permuted in blocks of ``in // channels``. The last layer's outputs stay in place.
    Not supported (a clear ``ValueError``): skip connections, grouped/depthwise convolutions,
    attention -- any layer whose input size does not match the previous layer's output.

    Examples
    --------
    >>> sd = {"w0": np.arange(6.0).reshape(3, 2), "b0": np.arange(3.0), "w1": np.ones((1, 3))}
    >>> out = permute_hidden_neurons(sd, random_state=0)
    >>> sorted(out["b0"].tolist()) == [0.0, 1.0, 2.0]
    True
    """
    state = _as_state_dict(state_dict, name)
    layers = _layers(state, name)
    rng = np.random.default_rng(random_state)
    out = {k: v.copy() for k, v in state.items()}
    for l_idx, (layer, nxt) in enumerate(zip(layers[:-1], layers[1:], strict=True)):
        perm = rng.permutation(layer.out)
        out[layer.weight] = out[layer.weight][perm]
        for key in layer.per_neuron:
            out[key] = out[key][perm]
        w = out[nxt.weight]
        if nxt.inp == layer.out:
            out[nxt.weight] = w[:, perm]
        elif nxt.ndim == 2 and layer.ndim > 2 and nxt.inp % layer.out == 0:
            block = nxt.inp // layer.out
            out[nxt.weight] = w.reshape(nxt.out, layer.out, block)[:, perm].reshape(w.shape)
        else:
            raise ValueError(
                f"{name}: layer {l_idx + 1} ({nxt.weight!r}) takes {nxt.inp} inputs but layer "
                f"{l_idx} ({layer.weight!r}) has {layer.out} outputs; only plain feed-forward "
                f"chains of Linear/Conv layers are supported"
            )
    return out


def column_major(state_dict: Mapping[str, Any], *, name: str = "model") -> dict[str, np.ndarray]:
    """The same weights with every matrix / kernel stored column-major (Fortran order).

    Each array of 2 or more dimensions becomes its full transpose (axes reversed), whose
    C-order flattening is the original's column-major flattening; 1-D tensors are unchanged.

    Examples
    --------
    >>> column_major({"w": np.array([[1.0, 2.0], [3.0, 4.0]])})["w"].ravel().tolist()
    [1.0, 3.0, 2.0, 4.0]
    """
    state = _as_state_dict(state_dict, name)
    return {k: np.ascontiguousarray(v.T) if v.ndim >= 2 else v.copy() for k, v in state.items()}


def _load_state_dict(path: str) -> dict[str, np.ndarray]:
    """A weight file as an ordered mapping of shaped arrays (safetensors or .npz)."""
    p = Path(path)
    if p.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(p), framework="numpy") as f:
            keys = list(f.keys())
            meta = f.metadata() or {}
            order = json.loads(meta["order"]) if "order" in meta else sorted(keys, key=natural_key)
            if sorted(order) != sorted(keys):
                order = sorted(keys, key=natural_key)
            return {k: f.get_tensor(k) for k in order}
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    raise ValueError(
        f"{path}: invariance needs the weights' shapes; it reads .safetensors and .npz files. "
        f"Pass state dicts (mappings name -> array) for other formats."
    )


def _default_by(md: pd.DataFrame) -> list[str]:
    """Hyper-parameter columns: not identifiers/outcomes, and shared by several models.

    A continuous column such as ``lr`` (every model its own value) is left out: grouped on,
    no two models would ever share a configuration.
    """
    by = []
    for c in md.columns:
        if c in _NOT_HYPERPARAMETERS:
            continue
        values = md[c]
        if pd.api.types.is_float_dtype(values) and values.nunique() > max(20, len(md) // 2):
            continue
        by.append(c)
    return by


def invariance(
    models: Any,
    groups: Sequence[Hashable] | None = None,
    *,
    by: Sequence[str] | None = None,
    transforms: Sequence[str] = ("permute_hidden", "column_major", "permute_hidden+column_major"),
    n_repeats: int = 3,
    S: int = 32,
    B: int = 32,
    value_range: tuple[float, float] | str = "auto",
    percentiles: tuple[float, float] = (5.0, 95.0),
    metric: str = "euclidean",
    max_pairs: int = 2000,
    random_state: int | None = 0,
    summary: bool = True,
    progress: bool | None = None,
) -> pd.DataFrame:
    """How far MI-WD descriptors move under function-preserving changes of a model.

    Each model is changed without changing the function it computes -- its hidden neurons
    permuted (:func:`permute_hidden_neurons`), its weight matrices stored column-major
    (:func:`column_major`), or both -- and the descriptor distance to the original is
    compared with the distance between independently trained models of the same
    configuration (all pairs within each group). All descriptors share one value range
    (``"auto"``: pooled percentiles of the original models).

    Parameters
    ----------
    models
        A list of state-dict-like ordered mappings name -> numpy array (Linear weights
        ``(out, in)``, Conv weights ``(out, in, kh, kw)``, see :func:`permute_hidden_neurons`),
        or a :class:`~miwd_widget.library.ModelLibrary` whose ``metadata["source"]`` are
        .safetensors/.npz files.
    groups
        For a list: one label per model; models with the same label are independently trained
        models of one configuration. ``None``: all models are one configuration.
    by
        For a library: the columns that define a configuration. Default: every
        hyper-parameter column (identifiers, seed and outcomes left out, and continuous
        columns such as ``lr`` that no two models share).
    transforms
        Any of ``"permute_hidden"``, ``"column_major"``, ``"permute_hidden+column_major"``.
    n_repeats
        Random permutations per model (column-major storage is deterministic: one).
    S, B, value_range, percentiles
        Descriptor settings (as :func:`~miwd_widget.descriptors.describe`).
    metric
        ``"euclidean"`` (the atlas' metric, on vectorized descriptors) or ``"l1"``.
    max_pairs
        At most this many independent pairs (a random sample beyond it).
    summary
        Return one row per kind (default) instead of one row per compared pair.

    Returns
    -------
    pandas.DataFrame
        ``summary=True``: ``kind``, ``n``, ``distance_mean``, ``distance_std``,
        ``distance_median``, ``ratio_to_independent`` (mean distance / mean distance between
        independent same-configuration models). ``summary=False``: ``kind``, ``model``,
        ``other``, ``group``, ``repeat``, ``distance``. ``df.attrs`` holds ``by``,
        ``value_range`` and ``metric``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mlps = [{"w0": rng.normal(size=(16, 8)), "b0": rng.normal(size=16),
    ...          "w1": rng.normal(size=(4, 16))} for _ in range(4)]
    >>> table = invariance(mlps, S=4, B=8)
    >>> list(table["kind"])  # doctest: +NORMALIZE_WHITESPACE
    ['permute_hidden', 'column_major', 'permute_hidden+column_major', 'independent_same_config']
    """
    known = ("permute_hidden", "column_major", "permute_hidden+column_major")
    bad = [t for t in transforms if t not in known]
    if bad:
        raise ValueError(f"invariance: unknown transforms {bad}; choose from {list(known)}")
    if metric not in ("euclidean", "l1"):
        raise ValueError(f"invariance: metric must be 'euclidean' or 'l1', got {metric!r}")
    if n_repeats < 1:
        raise ValueError(f"invariance: n_repeats must be >= 1, got {n_repeats}")

    used_by: list[str] | None = None
    if hasattr(models, "metadata") and hasattr(models, "descriptors"):
        md = models.metadata
        sources = _sources(models)
        used_by = list(by) if by is not None else _default_by(md)
        missing = [c for c in used_by if c not in md.columns]
        if missing:
            raise ValueError(f"invariance: by columns {missing} are not metadata columns")
        names = (
            md["id"].astype(str).tolist()
            if "id" in md.columns
            else [str(i) for i in range(len(md))]
        )
        labels = (
            [tuple(r) for r in md[used_by].astype(str).itertuples(index=False)]
            if used_by
            else [()] * len(md)
        )
        states = [
            _load_state_dict(s) for s in _tqdm(sources, len(sources), "reading weights", progress)
        ]
    else:
        if isinstance(models, Mapping):
            raise ValueError("invariance: pass a list of models (state dicts), not one model")
        states = [_as_state_dict(m, f"models[{i}]") for i, m in enumerate(models)]
        names = [str(i) for i in range(len(states))]
        if groups is None:
            labels = [0] * len(states)
        else:
            labels = list(groups)
            if len(labels) != len(states):
                raise ValueError(
                    f"invariance: groups has {len(labels)} labels for {len(states)} models"
                )
    if not states:
        raise ValueError("invariance: no models given")

    rng = np.random.default_rng(random_state)
    if isinstance(value_range, str):
        if value_range != "auto":
            raise ValueError(
                f"invariance: value_range must be 'auto' or (lo, hi), got {value_range!r}"
            )
        value_range = auto_value_range(states, percentiles=percentiles)

    def vec(state: Mapping[str, np.ndarray]) -> np.ndarray:
        return describe_flat(state, S, B, value_range).astype(np.float64)

    def dist(a: np.ndarray, b: np.ndarray) -> float:
        diff = a - b
        return float(np.sqrt(diff @ diff) if metric == "euclidean" else np.abs(diff).sum())

    base = [vec(s) for s in _tqdm(states, len(states), "MI-WD", progress)]
    records = []
    for i, state in enumerate(_tqdm(states, len(states), "invariance", progress)):
        for kind in transforms:
            reps = 1 if kind == "column_major" else n_repeats
            for r in range(reps):
                changed = state
                if kind.startswith("permute_hidden"):
                    changed = permute_hidden_neurons(changed, rng, name=names[i])
                if kind.endswith("column_major"):
                    changed = column_major(changed, name=names[i])
                records.append(
                    (kind, names[i], names[i], labels[i], r, dist(base[i], vec(changed)))
                )
    by_group: dict[Hashable, list[int]] = {}
    for i, g in enumerate(labels):
        by_group.setdefault(g, []).append(i)
    pairs = [p for members in by_group.values() for p in combinations(members, 2)]
    if len(pairs) > max_pairs:
        pairs = [pairs[j] for j in np.sort(rng.choice(len(pairs), max_pairs, replace=False))]
    if not pairs:
        hint = f" (grouped by {used_by}; pass by=[...] with fewer columns)" if used_by else ""
        warnings.warn(
            f"invariance: no two models share a configuration{hint}; the independent "
            f"baseline is missing",
            stacklevel=2,
        )
    for i, j in pairs:
        records.append(
            ("independent_same_config", names[i], names[j], labels[i], 0, dist(base[i], base[j]))
        )
    detail = pd.DataFrame(
        records, columns=["kind", "model", "other", "group", "repeat", "distance"]
    )
    attrs = {"by": used_by, "value_range": tuple(value_range), "metric": metric}
    detail.attrs.update(attrs)
    if not summary:
        return detail
    kinds = list(transforms) + ["independent_same_config"]
    stats = detail.groupby("kind")["distance"].agg(["count", "mean", "std", "median"])
    stats = stats.reindex(kinds)
    reference = stats.loc["independent_same_config", "mean"]
    out = pd.DataFrame(
        {
            "kind": kinds,
            "n": stats["count"].fillna(0).astype(int).to_numpy(),
            "distance_mean": stats["mean"].to_numpy(),
            "distance_std": stats["std"].to_numpy(),
            "distance_median": stats["median"].to_numpy(),
            "ratio_to_independent": (stats["mean"] / reference).to_numpy()
            if reference and np.isfinite(reference)
            else np.nan,
        }
    )
    out.attrs.update(attrs)
    return out
