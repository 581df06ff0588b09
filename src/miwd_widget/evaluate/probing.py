"""The paper's Figure 3 probe: linear SVMs predict hyper-parameters from weight representations.

Eilertsen et al. (2024), section 3, "Untangling hyper-parameters": for each target, classes
are balanced by subsampling and a standardized linear SVM is cross-validated on each
representation. Models trained together (``metadata["train_group"]``, recorded by the zoo)
share what the batching needs; the folds keep every such group on one side, so a
representation cannot score by recognizing a training group. :func:`probe_accuracy` does the
same for a continuous target, test accuracy, with regression instead of classification.

Examples
--------
>>> from miwd_widget.library import ModelLibrary
>>> rng = np.random.default_rng(0)
>>> scale = np.repeat([0.05, 0.2], 20)
>>> lib = ModelLibrary(np.zeros((40, 4, 4), np.float32),
...                    pd.DataFrame({"scale": scale, "train_group": np.arange(40) // 2}))
>>> thetas = [rng.normal(0, s, 500) for s in scale]
>>> out = probe(lib, ["scale"], ["stats"], folds=4, weights=thetas, progress=False)
>>> float(out.loc[0, "accuracy_mean"]), out.loc[0, "split"]
(1.0, 'StratifiedGroupKFold(train_group)')
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._progress import progress as progress_bar
from ..columns import TRAIN_GROUP
from .weights import library_sources, library_weights

if TYPE_CHECKING:
    from ..representations import Representation

__all__ = [
    "probe",
    "probe_accuracy",
    "balanced_indices",
    "make_any_representation",
    "parse_representations",
    "DEFAULT_TARGETS",
    "DEFAULT_REPRESENTATIONS",
    "PROBE_COLUMNS",
    "ACCURACY_PROBE_COLUMNS",
    "REGRESSORS",
    "RIDGE_ALPHAS",
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
    "accuracy_median",
    "n_classes",
    "folds",
    "split",
    "n_groups",
    "note",
]
_UNGROUPED = "StratifiedKFold"


def make_any_representation(name: str, dim: int | None = None, **kw: Any) -> Representation:
    """A paper representation (``"miwd"``, ``"raw"``, ...) or a variant (``"miwd+stats"``, ...).

    Examples
    --------
    >>> type(make_any_representation("miwd-asinh", 64)).__name__
    'AsinhMIWDRepresentation'
    >>> make_any_representation("stats").dim
    16
    """
    from ..representations import REPRESENTATIONS, make_representation
    from .variants import VARIANTS, make_variant

    if name in VARIANTS:
        return make_variant(name, dim, **kw)
    try:
        return make_representation(name, dim, **kw)
    except ValueError as exc:
        if "unknown representation" in str(exc):
            known = sorted(set(REPRESENTATIONS) | set(VARIANTS))
            raise ValueError(f"unknown representation {name!r}; choose one of {known}") from None
        raise


@dataclass(frozen=True)
class _Spec:
    """One representation in a probe: a label for the tables, a factory name, its kwargs."""

    label: str
    name: str
    kw: tuple = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.kw)

    def dims(self, dims: Sequence[int]) -> list[int | None]:
        """The K to test; None for layer-quintiles, whose K follows the layer count."""
        if self.name == "layer-quintiles":
            return [None]
        return [16] if self.name == "stats" else [int(k) for k in dims]

    @property
    def fold_dependent(self) -> bool:
        """Whether the representation must be fit on each training fold (data-dependent fit)."""
        if self.name in ("pca", "miwd+stats", "miwd-asinh", "miwd-quantile"):
            return True
        if self.name == "miwd":
            return isinstance(self.kwargs.get("value_range", "auto"), str)
        return False

    @property
    def standardized(self) -> bool:
        """Whether the representation standardizes its own output (no scaler before the SVM)."""
        return self.name == "miwd+stats"


def parse_representations(representations: Sequence[Any]) -> list[_Spec]:
    """The representations a probe compares, checked: names, or (label, name, kwargs).

    Each is built once on a small size, so an unknown name or bad kwargs fail before any
    model is read; labels must be unique.

    Examples
    --------
    >>> [s.label for s in parse_representations(["miwd", ("wide", "miwd", {"value_range": (-1, 1)})])]
    ['miwd', 'wide']
    """
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
                f"'random', 'layer-quintiles', or a variant such as 'miwd+stats') or a tuple "
                f"(label, name, kwargs), got {r!r}"
            )
        # fail now on an unknown name or bad kwargs, not after reading every model
        make_any_representation(spec.name, spec.dims([64])[0], **spec.kwargs)
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


def _group_column(md: pd.DataFrame, groups: str | bool | None) -> str | None:
    """The metadata column the folds group by, or None for ungrouped folds."""
    if groups is False:
        return None
    if groups is None or groups is True:
        if TRAIN_GROUP in md.columns and md[TRAIN_GROUP].notna().any():
            return TRAIN_GROUP
        if groups is True:
            raise ValueError(
                f"probe: groups=True needs a {TRAIN_GROUP!r} metadata column (the zoo records it)"
            )
        return None
    if not isinstance(groups, str):
        raise ValueError(f"probe: groups must be None, False or a column name, got {groups!r}")
    if groups not in md.columns:
        raise ValueError(
            f"probe: groups column {groups!r} is not a metadata column (have {list(md.columns)})"
        )
    return groups


def _group_codes(values: pd.Series) -> np.ndarray:
    """Integer group codes; a model with no group (NaN) is a group of its own."""
    codes, _ = pd.factorize(values)
    codes = codes.astype(np.int64)
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return codes


class _FeatureCache:
    """Features of all library models, computed once where the fit does not see the data."""

    def __init__(
        self, thetas: list[np.ndarray], progress: bool | None, sources: Sequence[Any] = ()
    ) -> None:
        self.thetas = thetas
        self.progress = progress
        # the models as given (files, state dicts): per-layer representations need their
        # tensor boundaries, which theta has lost
        self.sources = list(sources)
        self._global: dict[tuple[str, int | None], np.ndarray] = {}  # labels are unique
        self._resampled: dict[int, np.ndarray] = {}
        # MI-WD blocks of the current fold, by (kwargs, K): "miwd" and "miwd+stats" with the
        # same MI-WD settings share them
        self._fold_key: tuple[bytes, bytes] | None = None
        self._fold_miwd: dict[tuple[tuple, int], np.ndarray] = {}

    def resampled(self, n_points: int) -> np.ndarray:
        from ..representations import resample_models

        if n_points not in self._resampled:
            self._resampled[n_points] = resample_models(
                self.thetas, n_points, progress=self.progress
            )
        return self._resampled[n_points]

    def global_features(self, spec: _Spec, dim: int | None) -> np.ndarray:
        from ..representations import LayerQuintilesRepresentation, RandomProjectionRepresentation

        key = (spec.label, dim)
        if key not in self._global:
            rep = make_any_representation(spec.name, dim, progress=False, **spec.kwargs)
            if isinstance(rep, LayerQuintilesRepresentation):
                # learns nothing from data; raises LayerCountError on mixed depths
                self._global[key] = rep.fit_transform(self.sources or self.thetas)
            elif isinstance(rep, RandomProjectionRepresentation):
                # The Gaussian matrix depends only on (n_points, K, random_state), never on
                # the training values, so the fit on any fold gives this same matrix.
                X = self.resampled(rep.n_points)
                self._global[key] = rep.fit_resampled(X).transform_resampled(X)
            else:
                # raw, stats, window moments and fixed-range MI-WD learn nothing from data.
                self._global[key] = rep.fit(self.thetas[:1]).transform(self.thetas)
        return self._global[key]

    def _miwd_fold(
        self, kw: dict[str, Any], dims: list[int], train: np.ndarray, rows: np.ndarray
    ) -> dict[int, np.ndarray]:
        """MI-WD of ``rows`` (train first) with the range fitted on ``train``, per K."""
        from ..descriptors import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE, auto_value_range
        from ..representations import MIWDRepresentation

        fold = (train.tobytes(), rows.tobytes())
        if fold != self._fold_key:
            self._fold_key, self._fold_miwd = fold, {}
        settings = tuple(sorted(kw.items()))
        todo = [k for k in dims if (settings, k) not in self._fold_miwd]
        if todo:
            value_range = kw.get("value_range", DEFAULT_VALUE_RANGE)
            if isinstance(value_range, str):
                # The "auto" range comes from the training fold only, then describes both parts.
                percentiles = tuple(kw.get("percentiles", DEFAULT_PERCENTILES))
                value_range = auto_value_range([self.thetas[i] for i in train], percentiles)
            for k in todo:
                rep = MIWDRepresentation(k, **{**kw, "value_range": value_range, "progress": False})
                X = rep.fit([self.thetas[0]]).transform([self.thetas[i] for i in rows])
                self._fold_miwd[(settings, k)] = X
        return {k: self._fold_miwd[(settings, k)] for k in dims}

    def n_features(self, spec: _Spec, dim: int | None) -> int:
        """K of a representation: ``dim``, or the feature count when K follows the models."""
        return int(dim) if dim is not None else self.global_features(spec, dim).shape[1]

    def fold_features(
        self, spec: _Spec, dims: list[Any], train: np.ndarray, test: np.ndarray
    ) -> dict[Any, tuple[np.ndarray, np.ndarray] | str]:
        """Per K: (X_train, X_test), or a note why this K cannot be computed."""
        from ..representations import PCARepresentation

        out: dict[Any, tuple[np.ndarray, np.ndarray] | str] = {}
        if not spec.fold_dependent:
            for k in dims:
                X = self.global_features(spec, k)
                out[k] = (X[train], X[test])
            return out
        rows = np.concatenate([train, test])
        n_train = train.size
        kw = spec.kwargs
        if spec.name == "miwd":
            for k, X in self._miwd_fold(kw, dims, train, rows).items():
                out[k] = (X[:n_train], X[n_train:])
            return out
        if spec.name == "miwd+stats":
            from .variants import BlockScaler

            weights = kw.pop("block_weights", "equal")
            stats = self.global_features(_Spec("stats", "stats"), 16)[rows]
            for k, X in self._miwd_fold(kw, dims, train, rows).items():
                # standardized with the training fold's statistics only
                scaler = BlockScaler(weights).fit([X[:n_train], stats[:n_train]])
                Z = scaler.transform([X, stats])
                out[k] = (Z[:n_train], Z[n_train:])
            return out
        if spec.name in ("miwd-asinh", "miwd-quantile"):
            # The map and range are fitted on the training fold once; they do not depend on
            # K, so the fitted representation describes every K (see variants._MappedMIWD).
            rep = make_any_representation(spec.name, dims[0], **{**kw, "progress": False})
            rep.fit([self.thetas[i] for i in train])
            features = rep.transform_dims([self.thetas[i] for i in rows], dims)
            for k, X in features.items():
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


def _library_features(
    library: Any, specs: list[_Spec], weights: Sequence[Any] | None, progress: bool | None
) -> _FeatureCache:
    """The feature cache of a library's models; per-layer features are computed now, so
    models of different depths fail before any classifier is fitted."""
    thetas = library_weights(library, weights, progress)
    sources = list(weights) if weights is not None else library_sources(library)
    cache = _FeatureCache(thetas, progress, sources)
    for spec in specs:
        if spec.name == "layer-quintiles":
            cache.global_features(spec, None)
    return cache


def _fit_score(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    svm: str,
    C: float,
    max_iter: int | None,
    random_state: int | None,
    standardize: bool = True,
) -> tuple[float, bool]:
    """Accuracy of a (standardized) linear SVM; and whether its solver converged."""
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
    # The scaler is part of the pipeline, so it too is fitted on the training fold only.
    model = make_pipeline(StandardScaler(), clf) if standardize else make_pipeline(clf)
    model.fit(X_train, y_train)
    # n_iter_ rather than catching ConvergenceWarning: warning filters are not thread-safe.
    converged = limit < 0 or int(np.max(model[-1].n_iter_)) < limit
    return float(np.mean(model.predict(X_test) == y_test)), converged


def _splits(
    idx: np.ndarray,
    y: np.ndarray,
    group_codes: np.ndarray | None,
    folds: int,
    random_state: int | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold positions into ``idx``: grouped (StratifiedGroupKFold) or StratifiedKFold."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if group_codes is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        return list(splitter.split(idx, y))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # a class in fewer groups than folds: reported in the 'note' column instead
        warnings.filterwarnings("ignore", message="The least populated class")
        return list(splitter.split(idx, y, groups=group_codes[idx]))


def probe(
    library: Any,
    targets: Sequence[str] = DEFAULT_TARGETS,
    representations: Sequence[Any] = DEFAULT_REPRESENTATIONS,
    dims: Sequence[int] = (64, 256, 1024),
    folds: int = 5,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    *,
    groups: str | bool | None = None,
    weights: Sequence[Any] | None = None,
    svm: str = "svc",
    C: float = 1.0,
    max_iter: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Predict hyper-parameters from weight representations with linear SVMs (Figure 3).

    For each target, classes are balanced by subsampling every class to the smallest class
    size (as NWS does), so chance is ``1 / n_classes``; the kept models are then split into
    ``folds`` stratified folds -- grouped, when a group column is used, so that every group
    lies wholly in one fold -- and a standardized linear SVM
    (``StandardScaler -> SVC(kernel="linear")``) is fitted on each representation.
    Everything fitted is fitted on the training fold only: the MI-WD ``"auto"`` value range,
    the variants' ranges, maps and block scalers, the PCA basis and the SVM's scaler (the
    Gaussian random projection does not depend on the data values). Representations that
    learn nothing from data (raw, stats, window moments, fixed-range MI-WD, random
    projection) are computed once for the whole library and reused by every target and
    fold; the resampled 65,536-value matrix behind PCA and the random projection is also
    computed once.

    Parameters
    ----------
    library
        A :class:`~miwd_widget.library.ModelLibrary` whose ``metadata["source"]`` are weight
        files (built with ``from_zoo``/``from_files``), with the ``targets`` as columns.
    targets
        Metadata columns to predict.
    representations
        Names (``"miwd"``, ``"raw"``, ``"stats"``, ``"pca"``, ``"random"``,
        ``"layer-quintiles"`` -- which needs models of one depth and raises
        :class:`~miwd_widget.representations.LayerCountError` otherwise -- or a variant of
        :mod:`miwd_widget.evaluate.variants`: ``"miwd+stats"``, ``"window-moments"``,
        ``"miwd-asinh"``, ``"miwd-quantile"``) or tuples ``(label, name, kwargs)``, e.g.
        ``("miwd[-5,5]", "miwd", {"value_range": (-5, 5)})`` to compare the paper's fixed
        range with the default ``"auto"`` one.
    dims
        The K to test (``stats`` always has K = 16, ``layer-quintiles`` 7 per layer;
        ``miwd+stats`` has K + 16 features).
    folds
        Number of stratified folds.
    random_state
        Seed of the balancing subsample, the fold split and the SVMs.
    n_jobs
        Parallel SVM fits (joblib threads; libsvm releases the GIL); 1 runs them in turn.
    groups
        ``None`` (default): group the folds by ``metadata["train_group"]`` when the library
        has it (a zoo records which models were trained together), else ungrouped.
        A column name: group by that column (a model with a missing value is a group of
        its own). ``False``: ungrouped ``StratifiedKFold`` even when groups are recorded.
        Class balancing comes first; the kept models are then split by their groups.
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
        (after balancing), ``accuracy_median`` (over folds), ``n_classes``, ``folds``,
        ``split`` (``"StratifiedGroupKFold(<column>)"`` or ``"StratifiedKFold"``),
        ``n_groups`` (groups among the balanced models; for ungrouped folds every model is
        its own), ``note`` (why a row is NaN, that the SVM did not converge within
        ``max_iter`` in some folds, or that a class spans fewer groups than folds; empty
        otherwise).

    Examples
    --------
    >>> result = probe(ModelLibrary.from_zoo("zoo"), dims=(64,))  # doctest: +SKIP
    >>> result.pivot_table("accuracy_mean", "target", "representation")  # doctest: +SKIP
    >>> probe(lib, groups=False)  # doctest: +SKIP
    """
    from joblib import Parallel, delayed
    from sklearn.exceptions import ConvergenceWarning

    md = library.metadata
    targets = [targets] if isinstance(targets, str) else list(targets)
    unknown = [t for t in targets if t not in md.columns]
    if unknown:
        raise ValueError(
            f"probe: targets {unknown} are not metadata columns (have {list(md.columns)})"
        )
    if isinstance(representations, str):
        representations = [representations]
    specs = parse_representations(representations)
    if svm not in ("svc", "linearsvc"):
        raise ValueError(f"probe: svm must be 'svc' or 'linearsvc', got {svm!r}")
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"probe: folds must be an integer >= 2, got {folds!r}")
    group_col = _group_column(md, groups)
    codes_by_row = _group_codes(md[group_col]) if group_col else None
    split = f"StratifiedGroupKFold({group_col})" if group_col else _UNGROUPED
    dims = [int(k) for k in dims]
    cache = _library_features(library, specs, weights, progress)

    rows: list[dict[str, Any]] = []

    def add_rows(target, accs, conv, n_models, n_classes, n_groups, note="", warn=""):
        for spec in specs:
            for k in spec.dims(dims):
                a = accs.get((spec.label, k), [])
                why = note or (a if isinstance(a, str) else "")
                ok = not why and len(a) == folds
                not_conv = folds - sum(conv.get((spec.label, k), [])) if ok else 0
                if ok and not_conv:
                    why = f"the SVM did not converge in {not_conv} of {folds} folds"
                if ok and warn:
                    why = f"{why}; {warn}" if why else warn
                rows.append(
                    {
                        "target": target,
                        "representation": spec.label,
                        "K": cache.n_features(spec, k),
                        "accuracy_mean": float(np.mean(a)) if ok else np.nan,
                        "accuracy_std": float(np.std(a)) if ok else np.nan,
                        "chance": 1.0 / n_classes if n_classes else np.nan,
                        "n_models": n_models,
                        "accuracy_median": float(np.median(a)) if ok else np.nan,
                        "n_classes": n_classes,
                        "folds": folds,
                        "split": split,
                        "n_groups": n_groups,
                        "note": why,
                    }
                )

    for target in progress_bar(targets, desc="probe", show=progress, unit="target"):
        idx = balanced_indices(md[target].tolist(), random_state)
        codes, classes = pd.factorize(md[target].iloc[idx])
        y = np.asarray(codes)
        n_classes = len(classes)
        per_class = idx.size // n_classes if n_classes else 0
        n_groups = int(idx.size) if codes_by_row is None else len(np.unique(codes_by_row[idx]))
        summary = (target, {}, {}, int(idx.size), n_classes, n_groups)
        if n_classes < 2:
            add_rows(*summary, f"{target}: fewer than 2 classes")
            continue
        if per_class < folds:
            add_rows(
                *summary,
                f"{target}: the smallest class has {per_class} models, fewer than {folds} folds",
            )
            continue
        warn = ""
        if codes_by_row is not None:
            if n_groups < folds:
                add_rows(
                    *summary,
                    f"{target}: the models fall in {n_groups} {group_col} groups, fewer than "
                    f"{folds} folds",
                )
                continue
            groups_per_class = [len(np.unique(codes_by_row[idx[y == c]])) for c in range(n_classes)]
            if min(groups_per_class) < folds:
                warn = (
                    f"a class spans only {min(groups_per_class)} {group_col} groups, fewer "
                    f"than {folds} folds: some test folds lack it"
                )
        tasks, keys = [], []
        accs: dict[tuple[str, int], Any] = {}
        for tr, te in _splits(idx, y, codes_by_row, folds, random_state):
            if np.unique(y[tr]).size < 2:
                for spec in specs:
                    for k in spec.dims(dims):
                        accs[(spec.label, k)] = "a training fold holds a single class"
                continue
            for spec in specs:
                feats = cache.fold_features(spec, spec.dims(dims), idx[tr], idx[te])
                for k, f in feats.items():
                    if isinstance(accs.get((spec.label, k)), str):
                        continue
                    if isinstance(f, str):
                        accs[(spec.label, k)] = f
                        continue
                    tasks.append(
                        delayed(_fit_score)(
                            f[0],
                            y[tr],
                            f[1],
                            y[te],
                            svm,
                            C,
                            max_iter,
                            random_state,
                            not spec.standardized,
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
        add_rows(*summary[:1], accs, conv, *summary[3:], warn=warn)
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)


# --------------------------------------------------------------------------------------
# predicting test accuracy (regression)
# --------------------------------------------------------------------------------------

#: Columns of :func:`probe_accuracy`'s table.
ACCURACY_PROBE_COLUMNS = [
    "target",
    "representation",
    "K",
    "r2_mean",
    "r2_std",
    "r2_median",
    "tau_mean",
    "tau_std",
    "tau_median",
    "r2_pooled",
    "tau_pooled",
    "n_models",
    "folds",
    "split",
    "n_groups",
    "regressor",
    "note",
]
REGRESSORS = ("ridge", "gbm")
#: The ridge penalties tried inside each training fold (standardized features).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


def _accuracy_column(md: pd.DataFrame, target: str | None) -> str:
    """The accuracy column to predict: ``target``, or the first of ACCURACY_COLUMNS present."""
    from ..columns import ACCURACY_COLUMNS

    if target is not None:
        if target not in md.columns:
            raise ValueError(
                f"probe_accuracy: target {target!r} is not a metadata column "
                f"(have {list(md.columns)})"
            )
        return target
    for col in ACCURACY_COLUMNS:
        if col in md.columns:
            return col
    raise ValueError(
        f"probe_accuracy: no accuracy column ({', '.join(ACCURACY_COLUMNS)}) in the metadata; "
        f"name one with target="
    )


def _regression_splits(
    n: int, group_codes: np.ndarray | None, folds: int, random_state: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold positions into ``range(n)``: GroupKFold, or KFold for ungrouped models.

    GroupKFold balances fold sizes deterministically; the groups are renumbered at random
    first (``random_state``), so that ties between equal-sized groups depend on the seed and
    not on the order of the table.
    """
    from sklearn.model_selection import GroupKFold, KFold

    if group_codes is None:
        return list(KFold(n_splits=folds, shuffle=True, random_state=random_state).split(range(n)))
    _, codes = np.unique(group_codes, return_inverse=True)
    renumbered = np.random.default_rng(random_state).permutation(codes.max() + 1)[codes]
    return list(GroupKFold(n_splits=folds).split(np.zeros(n), groups=renumbered))


def _fit_regress(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    regressor: str,
    random_state: int | None,
    standardize: bool = True,
) -> np.ndarray:
    """A regressor's predictions of the test fold, fitted on the training fold."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if regressor == "ridge":
        # the penalty is chosen by leave-one-out on the training fold only
        steps: list[Any] = [RidgeCV(alphas=RIDGE_ALPHAS)]
        if standardize:
            steps.insert(0, StandardScaler())
    else:
        steps = [HistGradientBoostingRegressor(random_state=random_state)]
    return np.asarray(make_pipeline(*steps).fit(X_train, y_train).predict(X_test), np.float64)


def _r2_tau(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """R² and Kendall's tau of predictions (tau is NaN for constant predictions)."""
    from scipy.stats import kendalltau
    from sklearn.metrics import r2_score

    tau = kendalltau(y, pred).statistic if np.ptp(pred) > 0 else np.nan
    return float(r2_score(y, pred)), float(tau)


def probe_accuracy(
    library: Any,
    representations: Sequence[Any] = DEFAULT_REPRESENTATIONS,
    dims: Sequence[int] = (64, 256, 1024),
    folds: int = 5,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    *,
    target: str | None = None,
    groups: str | bool | None = None,
    weights: Sequence[Any] | None = None,
    regressor: str = "ridge",
    progress: bool | None = None,
) -> pd.DataFrame:
    """Predict each model's test accuracy from its weight representation (regression).

    Unterthiner et al. (2020, "Predicting neural network accuracy from weights") report R²
    and Kendall's tau of predicted against true test accuracy on the Small CNN Zoo; the Model
    Zoos benchmark (Schürholt et al. 2022) does the same for its zoos. Here, for each
    representation, the models with a known accuracy are split into ``folds`` folds --
    grouped, as :func:`probe` does, so that the models of one training group (or any
    ``groups`` column) are always on the same side -- and a regressor is fitted on each
    training fold: by default ``StandardScaler -> RidgeCV`` (the penalty chosen among
    :data:`RIDGE_ALPHAS` by leave-one-out within the training fold), the regression
    counterpart of the probe's standardized linear SVM. Everything fitted (MI-WD ``"auto"``
    range, variants, PCA basis, scaler, regressor) sees the training fold only.

    Parameters
    ----------
    library
        A :class:`~miwd_widget.library.ModelLibrary` with an accuracy column and weights
        (``metadata["source"]``, or ``weights=``).
    representations, dims, weights, progress
        As in :func:`probe`; add ``"layer-quintiles"`` for the benchmark's per-layer
        statistics (models of one depth only).
    folds
        Number of folds (at least 2).
    random_state
        Seed of the fold assignment and of the gradient-boosting regressor.
    n_jobs
        Parallel fits (joblib threads).
    target
        The column to predict; default the first of ``test_accuracy``, ``accuracy``,
        ``test_acc`` present. Models with a missing value are left out.
    groups
        As in :func:`probe`: ``None`` groups by ``train_group`` when recorded, a column
        name groups by it, ``False`` gives ungrouped ``KFold``.
    regressor
        ``"ridge"`` (default, above) or ``"gbm"``: scikit-learn's
        ``HistGradientBoostingRegressor`` with default settings and ``random_state``.

    Returns
    -------
    pandas.DataFrame
        One row per (representation, K), columns :data:`ACCURACY_PROBE_COLUMNS`: R² and
        Kendall's tau on the test folds as mean, standard deviation (ddof=0) and median over
        folds; ``r2_pooled`` and ``tau_pooled`` over the out-of-fold predictions of all
        models at once (steadier than per-fold scores when test folds hold few models);
        ``n_models``, ``split`` (``"GroupKFold(<column>)"`` or ``"KFold"``),
        ``n_groups``, ``regressor`` and ``note`` (why a row is NaN; empty otherwise). R² is
        0 for a constant prediction of the test fold's mean and negative for worse.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> rng = np.random.default_rng(0)
    >>> scale = rng.uniform(0.05, 0.5, 60)
    >>> lib = ModelLibrary(np.zeros((60, 4, 4), np.float32),
    ...                    pd.DataFrame({"test_accuracy": 1 - scale, "train_group": np.arange(60) // 3}))
    >>> thetas = [rng.normal(0, s, 500) for s in scale]
    >>> out = probe_accuracy(lib, ["stats"], folds=4, weights=thetas, progress=False)
    >>> bool(out.loc[0, "r2_mean"] > 0.9), bool(out.loc[0, "tau_mean"] > 0.8), out.loc[0, "split"]
    (True, True, 'GroupKFold(train_group)')
    """
    from joblib import Parallel, delayed

    md = library.metadata
    column = _accuracy_column(md, target)
    if isinstance(representations, str):
        representations = [representations]
    specs = parse_representations(representations)
    if regressor not in REGRESSORS:
        raise ValueError(
            f"probe_accuracy: regressor must be one of {REGRESSORS}, got {regressor!r}"
        )
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"probe_accuracy: folds must be an integer >= 2, got {folds!r}")
    group_col = _group_column(md, groups)
    codes_by_row = _group_codes(md[group_col]) if group_col else None
    split = f"GroupKFold({group_col})" if group_col else "KFold"
    dims = [int(k) for k in dims]
    values = pd.to_numeric(md[column], errors="coerce").to_numpy(dtype=np.float64)
    idx = np.flatnonzero(np.isfinite(values))
    y = values[idx]
    n_groups = int(idx.size) if codes_by_row is None else len(np.unique(codes_by_row[idx]))
    cache = _library_features(library, specs, weights, progress)

    note = ""
    if idx.size < 2 * folds:
        note = f"{column}: {idx.size} models with a value, too few for {folds} folds"
    elif n_groups < folds:
        note = f"the models fall in {n_groups} {group_col} groups, fewer than {folds} folds"
    scores: dict[tuple[str, Any], Any] = {}
    if not note:
        codes = None if codes_by_row is None else codes_by_row[idx]
        tasks, keys = [], []
        for tr, te in progress_bar(
            _regression_splits(idx.size, codes, folds, random_state),
            desc="probe accuracy",
            show=progress,
            unit="fold",
        ):
            for spec in specs:
                feats = cache.fold_features(spec, spec.dims(dims), idx[tr], idx[te])
                for k, f in feats.items():
                    if isinstance(scores.get((spec.label, k)), str):
                        continue
                    if isinstance(f, str):
                        scores[(spec.label, k)] = f
                        continue
                    tasks.append(
                        delayed(_fit_regress)(
                            f[0], y[tr], f[1], regressor, random_state, not spec.standardized
                        )
                    )
                    keys.append(((spec.label, k), te))
        results = Parallel(n_jobs=n_jobs, prefer="threads")(tasks)
        for (key, te), pred in zip(keys, results, strict=True):
            if not isinstance(scores.get(key), str):
                scores.setdefault(key, []).append((te, pred))

    rows = []
    for spec in specs:
        for k in spec.dims(dims):
            got = scores.get((spec.label, k), [])
            why = note or (got if isinstance(got, str) else "")
            ok = not why and len(got) == folds
            per_fold = [_r2_tau(y[te], pred) for te, pred in got] if ok else [(np.nan,) * 2]
            r2, tau = (np.array(v) for v in zip(*per_fold, strict=True))
            pooled = (np.nan, np.nan)
            if ok:
                tested = np.concatenate([te for te, _ in got])
                pooled = _r2_tau(y[tested], np.concatenate([pred for _, pred in got]))
            if ok and np.isnan(tau).any():
                why = f"constant predictions in {int(np.isnan(tau).sum())} folds: no tau there"
            rows.append(
                {
                    "target": column,
                    "representation": spec.label,
                    "K": cache.n_features(spec, k),
                    "r2_mean": float(np.mean(r2)),
                    "r2_std": float(np.std(r2)),
                    "r2_median": float(np.median(r2)),
                    "tau_mean": float(np.nanmean(tau)) if not np.isnan(tau).all() else np.nan,
                    "tau_std": float(np.nanstd(tau)) if not np.isnan(tau).all() else np.nan,
                    "tau_median": float(np.nanmedian(tau)) if not np.isnan(tau).all() else np.nan,
                    "r2_pooled": pooled[0],
                    "tau_pooled": pooled[1],
                    "n_models": int(idx.size),
                    "folds": folds,
                    "split": split,
                    "n_groups": n_groups,
                    "regressor": regressor,
                    "note": why,
                }
            )
    return pd.DataFrame(rows, columns=ACCURACY_PROBE_COLUMNS)
