"""Weight representations behind one fit/transform interface: MI-WD and the paper's baselines.

Eilertsen et al. (2024), section 3 ("Baselines") compares the MI-WD descriptor with four
other ways of turning a model's weights theta into a K-dimensional vector:

``miwd``
    The MI-WD descriptor with S = B = sqrt(K) (64 = 8x8, 256 = 16x16, 1024 = 32x32),
    flattened row by row.
``raw``
    theta resampled to K values by linear interpolation over its normalized position.
``stats``
    16 global statistics (mean, variance, skewness, 1/25/50/75/99th percentiles) of theta
    and of its first differences ``theta[i+1] - theta[i]``; K is always 16.
``pca``
    theta resampled to N-hat = 65,536 values, then the first K principal components.
``random``
    theta resampled to 65,536 values, then a K-dimensional Gaussian random projection.

One more baseline comes from the model-zoo literature rather than the paper:

``layer-quintiles``
    Per tensor (layer), in theta order: mean, variance and the 1/25/50/75/99th percentiles,
    concatenated (7 features per layer). The per-layer statistics of Unterthiner et al.
    (2020) and the baseline of the Model Zoos benchmark (Schürholt et al. 2022). K is 7
    times the number of layers, so every model must have the same number of layers.

Every representation is a scikit-learn estimator: ``fit(models)`` learns what it needs from
the *training* models only (the MI-WD ``"auto"`` value range, the PCA basis, the projection
matrix) and ``transform(models)`` reuses it, so new models never leak into the fitted state.
``models`` is a list of anything :func:`miwd_widget.weights.open_weights` accepts (1-D
arrays, lists of arrays, mappings name -> array, file paths); models of different sizes
are normal.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> models = [rng.normal(size=n) for n in (500, 800, 1200)]
>>> make_representation("raw", 64).fit_transform(models).shape
(3, 64)
>>> make_representation("stats").fit_transform(models).shape
(3, 16)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA, KernelPCA
from sklearn.exceptions import NotFittedError
from sklearn.random_projection import GaussianRandomProjection

from ._progress import progress as progress_bar
from .descriptors.config import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE, DescriptorConfig
from .descriptors.value_range import resolve_value_range
from .weights import WeightSource, flatten_weights, open_weights

__all__ = [
    "Representation",
    "MIWDRepresentation",
    "RawRepresentation",
    "StatsRepresentation",
    "PCARepresentation",
    "RandomProjectionRepresentation",
    "LayerQuintilesRepresentation",
    "LayerCountError",
    "make_representation",
    "model_theta",
    "resample",
    "resample_models",
    "global_statistics",
    "layer_statistics",
    "describe_flat",
    "square_side",
    "REPRESENTATIONS",
    "RESAMPLED_DIM",
    "STATS_FEATURES",
    "LAYER_FEATURES",
]

#: The paper's N-hat: theta is resampled to this many values before PCA / random projection.
RESAMPLED_DIM = 65_536

#: Names of the 16 global statistics, in feature order.
STATS_FEATURES: tuple[str, ...] = tuple(
    f"{stat}({of})"
    for of in ("theta", "diff")
    for stat in ("mean", "var", "skew", "p1", "p25", "p50", "p75", "p99")
)

#: The 7 statistics of each layer of ``layer-quintiles``, in feature order.
LAYER_FEATURES: tuple[str, ...] = ("mean", "var", "p1", "p25", "p50", "p75", "p99")

_PERCENTILES = (1.0, 25.0, 50.0, 75.0, 99.0)


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------


def _as_model_list(models: Any, argname: str = "models") -> list[Any]:
    """Validate ``models`` as a list of models (a 2-D array is n equal-length models)."""
    if isinstance(models, np.ndarray):
        if models.ndim == 2:
            return list(models)
        raise ValueError(
            f"{argname} must be a list of models (or a 2-D array, one model per row); got a "
            f"{models.ndim}-D array. Wrap a single model in a list: [theta]."
        )
    if isinstance(models, (str, bytes)) or not isinstance(models, Iterable):
        raise ValueError(
            f"{argname} must be a list of models, got {type(models).__name__}. "
            f"Wrap a single model in a list: [model]."
        )
    models = list(models)
    if not models:
        raise ValueError(f"{argname} is empty: need at least one model")
    return models


def model_theta(model: Any) -> np.ndarray:
    """One model's theta as a 1-D float array (float32/float64 as stored; a 1-D float
    array is returned as it is, anything else is flattened by
    :func:`~miwd_widget.weights.flatten_weights`).

    Examples
    --------
    >>> model_theta({"w": np.ones((2, 2)), "b": np.zeros(2)}).shape
    (6,)
    """
    if isinstance(model, np.ndarray) and model.ndim == 1 and model.dtype.kind == "f":
        return model
    return flatten_weights(model)


def resample(theta: np.ndarray, n_points: int) -> np.ndarray:
    """Resample a 1-D weight vector to ``n_points`` values by linear interpolation.

    Both theta and the output are placed on normalized positions ``linspace(0, 1, .)``, so
    the first and last weights are kept exactly and a linear ramp stays a linear ramp.

    Examples
    --------
    >>> resample(np.array([0.0, 1.0, 2.0]), 5).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    theta = np.asarray(theta).reshape(-1)
    n = theta.shape[0]
    if n == 0:
        raise ValueError("cannot resample an empty weight vector")
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    if n == 1:
        return np.full(n_points, theta[0], dtype=np.float32)
    out = np.interp(np.linspace(0.0, 1.0, n_points), np.linspace(0.0, 1.0, n), theta)
    return out.astype(np.float32)


def resample_models(
    models: Sequence[Any], n_points: int, *, progress: bool | None = None
) -> np.ndarray:
    """Resample every model's theta to ``n_points`` values: an (n, n_points) float32 matrix.

    Models are read one at a time into a preallocated matrix, so memory is the result
    (2,500 models x 65,536 values = 650 MB) plus one model's theta.

    Examples
    --------
    >>> resample_models([np.arange(3.0), np.arange(5.0)], 3).tolist()
    [[0.0, 1.0, 2.0], [0.0, 2.0, 4.0]]
    """
    models = _as_model_list(models)
    out = np.empty((len(models), n_points), dtype=np.float32)
    for i, m in enumerate(progress_bar(models, desc=f"resample to {n_points}", show=progress)):
        out[i] = resample(model_theta(m), n_points)
    return out


def describe_flat(model: Any, S: int, B: int, value_range: Any, clip: bool = False) -> np.ndarray:
    """The MI-WD descriptor of one model as a flat (S * B,) float32 vector.

    :func:`~miwd_widget.descriptors.describe` of one model, without the result's metadata
    or a progress bar: evaluations describe thousands of small models one by one.

    Examples
    --------
    >>> describe_flat(np.array([-1.0, -0.5, 0.5, 1.0]), 2, 2, (-1, 1)).tolist()
    [1.0, 0.0, 0.0, 1.0]
    """
    from .descriptors.kernel import describe_source  # lazily: numba loads here

    ws = model if isinstance(model, WeightSource) else open_weights(model)
    config = resolve_value_range(DescriptorConfig(S, B, value_range, clip=clip), [ws])
    return describe_source(ws, config).reshape(-1)


def global_statistics(theta: np.ndarray) -> np.ndarray:
    """The 16 global statistics of one weight vector (see :data:`STATS_FEATURES`).

    Mean, variance (population, ``ddof=0``), skewness (third standardized moment, the
    biased estimator of ``scipy.stats.skew``) and the 1/25/50/75/99th percentiles (numpy's
    linear interpolation), first of theta, then of ``diff = theta[1:] - theta[:-1]``. A
    constant vector has skewness 0 (not NaN), so the features stay usable by classifiers.

    Examples
    --------
    >>> global_statistics(np.array([0.0, 1.0, 2.0, 3.0]))[:3].tolist()
    [1.5, 1.25, 0.0]
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    if theta.shape[0] < 2:
        raise ValueError(
            f"global statistics need at least 2 weights (for the differences), got {theta.shape[0]}"
        )
    out = np.empty(16, dtype=np.float64)
    for j, v in enumerate((theta, np.diff(theta))):
        mean = v.mean()
        centered = v - mean
        m2 = np.mean(centered**2)
        m3 = np.mean(centered**3)
        # As scipy.stats.skew: a variance at rounding-error level of the mean is zero.
        constant = m2 <= (np.finfo(np.float64).resolution * mean) ** 2
        skew = 0.0 if constant else m3 / m2**1.5
        out[8 * j : 8 * j + 3] = (mean, m2, skew)
        out[8 * j + 3 : 8 * j + 8] = np.percentile(v, _PERCENTILES)
    return out


def layer_statistics(model: Any) -> np.ndarray:
    """Per tensor (layer) of one model: mean, variance, 1/25/50/75/99th percentiles.

    The tensors are the reader's (:attr:`WeightSource.tensors
    <miwd_widget.weights.WeightSource.tensors>`), in theta order; the result is an
    (n_layers, 7) float64 array, columns as :data:`LAYER_FEATURES` (population variance,
    numpy's linearly interpolated percentiles). A 1-D array is a model of one layer.

    Examples
    --------
    >>> layer_statistics({"w": np.arange(5.0), "b": np.ones(2)})[:, :3].tolist()
    [[2.0, 2.0, 0.04], [1.0, 0.0, 1.0]]
    """
    ws = model if isinstance(model, WeightSource) else open_weights(model)
    out = np.empty((len(ws.tensors), len(LAYER_FEATURES)), dtype=np.float64)
    for i, t in enumerate(ws.tensors):
        if t.size == 0:
            raise ValueError(f"layer statistics: tensor {t.name!r} of {ws.name} is empty")
        v = np.concatenate([np.asarray(c, dtype=np.float64) for c in t.chunks()])
        mean = v.mean()
        out[i, 0] = mean
        out[i, 1] = np.mean((v - mean) ** 2)
        out[i, 2:] = np.percentile(v, _PERCENTILES)
    return out


# --------------------------------------------------------------------------------------
# the interface
# --------------------------------------------------------------------------------------


class Representation(BaseEstimator):
    """Base class: turn a list of models into an (n, K) float32 feature matrix.

    Subclasses set ``name`` and implement ``_fit`` (learn from training models; default:
    nothing to learn) and ``_transform``. ``fit`` returns ``self``; ``fit_transform`` does
    the work once. Stateless representations (raw, stats) transform without ``fit``.

    Examples
    --------
    >>> rep = make_representation("raw", 4)
    >>> rep.fit([np.arange(7.0)]).transform([np.arange(4.0)]).tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    """

    name: str = ""
    #: Whether ``fit`` learns anything from the data (otherwise transform works unfitted).
    stateful: bool = False

    @property
    def n_features_out(self) -> int:
        """K, the number of output features."""
        return int(self.dim)

    def fit(self, models: Sequence[Any], y: Any = None) -> Representation:
        """Learn the representation's state from training ``models`` only; returns self."""
        self._fit(_as_model_list(models))
        self.fitted_ = True
        return self

    def transform(self, models: Sequence[Any]) -> np.ndarray:
        """The (n, K) float32 features of ``models`` with the state learned by ``fit``."""
        if self.stateful and not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(training_models) first"
            )
        return self._transform(_as_model_list(models))

    def fit_transform(self, models: Sequence[Any], y: Any = None) -> np.ndarray:
        """``fit(models).transform(models)``, reading the models once where possible."""
        return self.fit(models).transform(models)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Feature names ``<name>0 .. <name>{K-1}``."""
        return np.array([f"{self.name}{i}" for i in range(self.n_features_out)], dtype=object)

    def _fit(self, models: list[Any]) -> None:
        pass

    def _transform(self, models: list[Any]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_dim(dim: Any, name: str) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"{name}: dim must be a positive integer, got {dim!r}")
    return int(dim)


def square_side(dim: Any, name: str) -> int:
    """S = B = sqrt(K) of a square descriptor grid; a ValueError naming ``name`` otherwise.

    Examples
    --------
    >>> square_side(256, "miwd")
    16
    """
    dim = _check_dim(dim, name)
    side = math.isqrt(dim)
    if side * side != dim:
        raise ValueError(
            f"{name}: dim must be a perfect square K = S*B with S = B (64, 256, 1024), got {dim}"
        )
    return side


class MIWDRepresentation(Representation):
    """MI-WD descriptors flattened to K = S * B features, with S = B = sqrt(K).

    Parameters
    ----------
    dim
        K; a perfect square (64, 256, 1024, ...) for S = B, or a multiple of ``windows``.
    value_range
        ``"auto"`` (default): pooled ``percentiles`` of the *training* models' weights,
        resolved in ``fit`` and reused by ``transform`` (stored as ``value_range_``); or a
        fixed ``(lo, hi)`` such as the paper's ``(-5, 5)``.
    percentiles
        Percentiles for ``value_range="auto"`` (the paper's rationale: 5th and 95th).
    clip
        Fold out-of-range weights into the edge bins instead of dropping them.
    progress
        Progress bar; by default for more than 10 models.
    windows
        S, for a grid that is not square: B = K / S (default None: S = B = sqrt(K)).

    Examples
    --------
    >>> rep = MIWDRepresentation(64, value_range=(-1, 1))
    >>> rep.fit_transform([np.linspace(-1, 1, 640)]).shape
    (1, 64)
    >>> MIWDRepresentation(128, windows=8).grid
    (8, 16)
    """

    name = "miwd"
    stateful = True

    def __init__(
        self,
        dim: int = 1024,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        progress: bool | None = None,
        windows: int | None = None,
    ) -> None:
        self.dim = dim
        self.value_range = value_range
        self.percentiles = percentiles
        self.clip = clip
        self.progress = progress
        self.windows = windows

    @property
    def side(self) -> int:
        """S = B = sqrt(K)."""
        return square_side(self.dim, "miwd")

    @property
    def grid(self) -> tuple[int, int]:
        """(S, B): S = ``windows`` and B = K / S, or S = B = sqrt(K) without ``windows``."""
        if self.windows is None:
            return self.side, self.side
        dim = _check_dim(self.dim, "miwd")
        S = self.windows
        if not isinstance(S, (int, np.integer)) or isinstance(S, bool) or S < 1 or dim % S:
            raise ValueError(
                f"miwd: windows must be a positive integer dividing dim={dim} (K = S * B), "
                f"got {S!r}"
            )
        return int(S), dim // int(S)

    def _config(self) -> DescriptorConfig:
        S, B = self.grid
        return DescriptorConfig(S, B, self.value_range, tuple(self.percentiles), self.clip)

    def _fit(self, models: list[Any]) -> None:
        # Validates dim and the parameters before reading any model.
        self.value_range_ = resolve_value_range(self._config(), models).range

    def _transform(self, models: list[Any]) -> np.ndarray:
        from .descriptors.kernel import describe_source  # lazily: numba loads here

        config = self._config().with_range(self.value_range_)
        out = np.empty((len(models), config.S * config.B), dtype=np.float32)
        # One model at a time (same kernel as describe()), so thousands of files are never
        # open at once.
        for i, m in enumerate(progress_bar(models, desc="MI-WD", show=self.progress)):
            ws = m if isinstance(m, WeightSource) else open_weights(m)
            out[i] = describe_source(ws, config).reshape(-1)
        return out


class RawRepresentation(Representation):
    """theta resampled to K values by linear interpolation (the paper's *raw* baseline).

    Examples
    --------
    >>> RawRepresentation(3).transform([np.array([0.0, 4.0])]).tolist()
    [[0.0, 2.0, 4.0]]
    """

    name = "raw"

    def __init__(self, dim: int = 1024, progress: bool | None = None) -> None:
        self.dim = dim
        self.progress = progress

    def _transform(self, models: list[Any]) -> np.ndarray:
        return resample_models(models, _check_dim(self.dim, "raw"), progress=self.progress)


class StatsRepresentation(Representation):
    """The 16 global statistics of theta and its first differences (dim is always 16).

    Examples
    --------
    >>> StatsRepresentation().transform([np.arange(5.0)])[0, :2].tolist()
    [2.0, 2.0]
    """

    name = "stats"

    def __init__(self, dim: int = 16, progress: bool | None = None) -> None:
        self.dim = dim
        self.progress = progress

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(STATS_FEATURES, dtype=object)

    def _transform(self, models: list[Any]) -> np.ndarray:
        if self.dim != 16:
            raise ValueError(f"stats: the global statistics have dim 16, got dim={self.dim!r}")
        out = np.empty((len(models), 16), dtype=np.float32)
        for i, m in enumerate(progress_bar(models, desc="global statistics", show=self.progress)):
            out[i] = global_statistics(model_theta(m))
        return out


class _ResampledProjection(Representation):
    """Shared by PCA and random projection: resample to ``n_points``, then a fitted map.

    ``fit_resampled``/``transform_resampled`` take the already resampled (n, n_points)
    matrix, so a caller evaluating many folds resamples each model once.
    """

    stateful = True

    def _make(self, X: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_resampled(self, X: np.ndarray) -> _ResampledProjection:
        """Fit on an (n, n_points) matrix from :func:`resample_models`; returns self."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_points:
            raise ValueError(
                f"{self.name}: expected an (n, {self.n_points}) resampled matrix, got {X.shape}"
            )
        _check_dim(self.dim, self.name)
        self.model_ = self._make(X).fit(X)
        self.fitted_ = True
        return self

    def transform_resampled(self, X: np.ndarray) -> np.ndarray:
        """Transform an (n, n_points) matrix from :func:`resample_models` to (n, K) float32."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(training_models) first"
            )
        return np.asarray(self.model_.transform(X), dtype=np.float32)

    def _fit(self, models: list[Any]) -> None:
        self.fit_resampled(resample_models(models, self.n_points, progress=self.progress))

    def _transform(self, models: list[Any]) -> np.ndarray:
        X = resample_models(models, self.n_points, progress=self.progress)
        return self.transform_resampled(X)

    def fit_transform(self, models: Sequence[Any], y: Any = None) -> np.ndarray:
        # Resample once, not once for fit and again for transform.
        X = resample_models(_as_model_list(models), self.n_points, progress=self.progress)
        return self.fit_resampled(X).transform_resampled(X)


class PCARepresentation(_ResampledProjection):
    """theta resampled to 65,536 values, then the first K principal components.

    The PCA basis is learned by ``fit`` from the training models only. K principal
    components need at least K training models: ``fit`` raises ``ValueError`` otherwise
    rather than silently returning fewer features than K (a probe table would then mislabel
    its K).

    With fewer models than ``n_points`` (the usual case: thousands of models, 65,536 values)
    the default solver is ``"gram"``: scikit-learn's
    :class:`~sklearn.decomposition.KernelPCA` with a linear kernel, which eigendecomposes the
    n x n Gram matrix of the centered data. That is exactly PCA (same scores up to the sign of
    each component) and several times faster than a randomized SVD of the n x 65,536 matrix
    for K in the hundreds; its components are also exactly nested (the first 64 of a
    1024-component fit are the 64-component fit).

    Parameters
    ----------
    dim
        K, the number of components.
    n_points
        N-hat, the resampled length (the paper's 65,536).
    svd_solver
        ``"auto"`` (default): ``"gram"`` when there are fewer training models than
        ``n_points``, else ``"randomized"``. ``"gram"``: linear-kernel KernelPCA (above).
        Anything else (``"randomized"``, ``"full"``, ...) is passed to
        :class:`~sklearn.decomposition.PCA`.
    random_state
        Seed of the randomized solver.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = [rng.normal(size=300) for _ in range(10)]
    >>> PCARepresentation(4, n_points=256).fit(train).transform(train[:2]).shape
    (2, 4)
    """

    name = "pca"

    def __init__(
        self,
        dim: int = 1024,
        n_points: int = RESAMPLED_DIM,
        svd_solver: str = "auto",
        random_state: int | None = 0,
        progress: bool | None = None,
    ) -> None:
        self.dim = dim
        self.n_points = n_points
        self.svd_solver = svd_solver
        self.random_state = random_state
        self.progress = progress

    def _make(self, X: np.ndarray) -> PCA | KernelPCA:
        dim = _check_dim(self.dim, "pca")
        if dim > min(X.shape):
            raise ValueError(
                f"pca: K={dim} principal components need at least {dim} training models "
                f"(and n_points >= {dim}); got {X.shape[0]} models resampled to {X.shape[1]} "
                f"values. Use a smaller dim or more training models."
            )
        solver = self.svd_solver
        if solver == "auto":
            solver = "gram" if X.shape[0] < X.shape[1] else "randomized"
        if solver == "gram":
            return KernelPCA(n_components=dim, kernel="linear", eigen_solver="dense")
        return PCA(n_components=dim, svd_solver=solver, random_state=self.random_state)


class RandomProjectionRepresentation(_ResampledProjection):
    """theta resampled to 65,536 values, then a Gaussian random projection to K values.

    Uses scikit-learn :class:`~sklearn.random_projection.GaussianRandomProjection`, whose
    matrix entries are N(0, 1/K) rather than the paper's N(0, 1): a constant scale that
    standardization before a classifier removes. The matrix depends only on ``n_points``,
    ``dim`` and ``random_state``, never on the training data's values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rep = RandomProjectionRepresentation(8, n_points=256)
    >>> rep.fit_transform([rng.normal(size=300) for _ in range(3)]).shape
    (3, 8)
    """

    name = "random"

    def __init__(
        self,
        dim: int = 1024,
        n_points: int = RESAMPLED_DIM,
        random_state: int | None = 0,
        progress: bool | None = None,
    ) -> None:
        self.dim = dim
        self.n_points = n_points
        self.random_state = random_state
        self.progress = progress

    def _make(self, X: np.ndarray) -> GaussianRandomProjection:
        return GaussianRandomProjection(n_components=self.dim, random_state=self.random_state)


class LayerCountError(ValueError):
    """Models with different numbers of layers given to a per-layer representation."""


class LayerQuintilesRepresentation(Representation):
    """Per-layer statistics: each tensor's mean, variance and 1/25/50/75/99th percentiles.

    The baseline of the Model Zoos benchmark (Schürholt et al., NeurIPS 2022), after the
    per-layer statistics of Unterthiner et al. (2020, "Predicting neural network accuracy
    from weights"): the 7 numbers of :func:`layer_statistics` for every tensor, concatenated
    in theta (layer) order, so K = 7 x the number of layers. Learns nothing from data values.

    Layers are the reader's tensors (:attr:`WeightSource.tensors
    <miwd_widget.weights.WeightSource.tensors>`): a source that knows its tensor boundaries
    (a state dict, a weight file) is needed; a bare 1-D theta is a model of one layer.

    Models with different numbers of layers: the benchmark's zoos each share one
    architecture, and the representation is defined only as it is there. Every model must
    have the same number of layers (layers are matched by position, not by name, so layers
    of different widths are fine); otherwise ``fit``/``transform`` raise
    :class:`LayerCountError` naming a model that differs. ``fit`` records the layer count
    (``n_layers_``) and ``transform`` then requires it of new models; unfitted, ``transform``
    requires the models it is given to agree. Select the models of one depth to use it on a
    zoo of mixed architectures.

    Parameters
    ----------
    dim
        ``None`` (default): K follows the layer count. An integer must equal 7 x the layer
        count (checked when the models are read).

    Examples
    --------
    >>> rep = LayerQuintilesRepresentation()
    >>> rep.fit_transform([{"w": np.arange(5.0), "b": np.ones(2)}]).shape
    (1, 14)
    >>> rep.n_features_out
    14
    """

    name = "layer-quintiles"

    def __init__(self, dim: int | None = None, progress: bool | None = None) -> None:
        self.dim = dim
        self.progress = progress

    @property
    def n_features_out(self) -> int:
        """K = 7 x the number of layers (known once models were read, or from ``dim``)."""
        n_layers = getattr(self, "n_layers_", None)
        if n_layers is not None:
            return len(LAYER_FEATURES) * n_layers
        if self.dim is None:
            raise NotFittedError(
                "layer-quintiles: K = 7 x the number of layers; fit or transform models first"
            )
        return int(self.dim)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``layer<i>.<statistic>``, layer by layer."""
        n_layers = self.n_features_out // len(LAYER_FEATURES)
        return np.array(
            [f"layer{i}.{stat}" for i in range(n_layers) for stat in LAYER_FEATURES], dtype=object
        )

    def _statistics(self, models: list[Any], n_layers: int | None) -> np.ndarray:
        """(n, 7 * n_layers) statistics; every model must have ``n_layers`` (or the first's)."""
        if self.dim is not None:
            _check_dim(self.dim, self.name)
        rows: list[np.ndarray] = []
        first = ""
        for i, m in enumerate(progress_bar(models, desc="layer statistics", show=self.progress)):
            ws = m if isinstance(m, WeightSource) else open_weights(m)
            count = len(ws.tensors)
            if n_layers is None:
                n_layers, first = count, f"model 0 ({ws.name!r}) has"
            if count != n_layers:
                against = first or "the fitted models have"
                raise LayerCountError(
                    f"layer-quintiles: model {i} ({ws.name!r}) has {count} layers (tensors), "
                    f"{against} {n_layers}. The per-layer statistics are defined only for "
                    f"models with the same number of layers, as in the Model Zoos benchmark, "
                    f"whose zoos share one architecture: select the models of one depth."
                )
            rows.append(layer_statistics(ws).reshape(-1))
        k = len(LAYER_FEATURES) * int(n_layers or 0)
        if self.dim is not None and int(self.dim) != k:
            raise ValueError(
                f"layer-quintiles: dim={self.dim} but the models have {n_layers} layers, "
                f"K = 7 x {n_layers} = {k}; use dim=None"
            )
        return np.stack(rows).astype(np.float32)

    def _fit(self, models: list[Any]) -> None:
        self.fit_transform(models)

    def _transform(self, models: list[Any]) -> np.ndarray:
        return self._statistics(models, getattr(self, "n_layers_", None))

    def fit_transform(self, models: Sequence[Any], y: Any = None) -> np.ndarray:
        # Read every model once: the fit is the layer count of the same statistics.
        X = self._statistics(_as_model_list(models), None)
        self.n_layers_ = X.shape[1] // len(LAYER_FEATURES)
        self.fitted_ = True
        return X


#: Representation classes by name.
REPRESENTATIONS: dict[str, type[Representation]] = {
    "miwd": MIWDRepresentation,
    "raw": RawRepresentation,
    "stats": StatsRepresentation,
    "pca": PCARepresentation,
    "random": RandomProjectionRepresentation,
    "layer-quintiles": LayerQuintilesRepresentation,
}


def make_representation(name: str, dim: int | None = None, **kw: Any) -> Representation:
    """Create a representation by name: ``"miwd"``, ``"raw"``, ``"stats"``, ``"pca"``,
    ``"random"`` or ``"layer-quintiles"``.

    Parameters
    ----------
    name
        The representation.
    dim
        K, the number of features (default 1024; 16 and only 16 for ``"stats"``; for
        ``"layer-quintiles"`` None, since K is 7 x the models' number of layers).
    **kw
        Passed to the class (e.g. ``value_range``/``percentiles`` for miwd, ``random_state``).

    Examples
    --------
    >>> make_representation("miwd", 256, value_range=(-5, 5)).side
    16
    >>> make_representation("stats").dim
    16
    """
    try:
        cls = REPRESENTATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown representation {name!r}; choose one of {sorted(REPRESENTATIONS)}"
        ) from None
    if name == "stats":
        if dim not in (None, 16):
            raise ValueError(f"stats: the global statistics have dim 16, got dim={dim!r}")
        return cls(**kw)
    if name == "layer-quintiles":
        # K = 7 x the number of layers: known only once models are read
        return cls(dim=None if dim is None else _check_dim(dim, name), **kw)
    dim = 1024 if dim is None else _check_dim(dim, name)
    rep = cls(dim=dim, **kw)
    if isinstance(rep, MIWDRepresentation):
        rep.grid  # noqa: B018 - fail now on a dim that is no grid, not at fit time
    return rep
