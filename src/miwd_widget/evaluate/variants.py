"""Descriptor variants beyond the paper, as representations the probe accepts by name.

Issue 10 asks for a descriptor that honestly beats the 16 global statistics. These are the
candidates; each is a :class:`~miwd_widget.representations.Representation` (``fit`` on the
training models only, ``transform`` anything), so :func:`~miwd_widget.evaluate.probe` fits
them inside each training fold like the paper's representations.

``miwd+stats``
    MI-WD (``"auto"`` range) concatenated with the 16 global statistics. Each block is
    standardized with the training fold's means and standard deviations and then weighted
    so that both blocks carry the same total variance: otherwise the 1,024 MI-WD features
    would outvote the 16 statistics in the SVM's L2 penalty. K is the MI-WD part; the
    vector has K + 16 features.
``window-moments``
    The same S windows as MI-WD, but each summarized by 8 numbers instead of a histogram:
    mean, log standard deviation, skewness, log kurtosis and the 5/25/75/95th percentiles.
    S = K / 8 (8, 32 and 128 windows for K = 64, 256, 1024). Learns nothing from data.
``miwd-asinh``
    MI-WD with bins uniform in ``asinh(w / scale)``: linear for ``|w| << scale``,
    logarithmic beyond, so bins widen geometrically into heavy tails instead of the tails
    being dropped (``clip=False``) or piled into the edge bins. ``scale`` is the pooled
    median ``|w|`` of the training models, the range their pooled 0.1/99.9th percentiles.
``miwd-quantile``
    MI-WD with bin edges at pooled quantiles of the training models' weights: every bin
    holds the same share of the training weights, so no bin is empty library-wide and
    none holds most of the mass.

The range percentiles of plain MI-WD need no new class: ``("miwd[p1-99]", "miwd",
{"percentiles": (1, 99)})``. :data:`CANDIDATES` lists every variant the selection script
tries, in the ``(label, name, kwargs)`` form :func:`~miwd_widget.evaluate.probe` takes.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> models = [rng.standard_t(3, size=2000) * 0.05 for _ in range(4)]
>>> make_variant("miwd-asinh", 64).fit(models).transform(models).shape
(4, 64)
>>> make_variant("window-moments", 64).transform(models).shape
(4, 64)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._progress import progress as progress_bar
from ..descriptors.config import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE
from ..descriptors.value_range import AUTO_RANGE_SAMPLES, pooled_percentiles, sample_weights
from ..representations import (
    MIWDRepresentation,
    Representation,
    StatsRepresentation,
    describe_flat,
    model_theta,
    square_side,
)
from ..weights import open_weights

__all__ = [
    "BlockScaler",
    "MIWDStatsRepresentation",
    "WindowMomentsRepresentation",
    "AsinhMIWDRepresentation",
    "QuantileMIWDRepresentation",
    "VARIANTS",
    "CANDIDATES",
    "make_variant",
    "pooled_weights",
    "window_moments",
    "WINDOW_FEATURES",
]

#: The 8 numbers per window of ``window-moments``, in feature order.
WINDOW_FEATURES = ("mean", "log_std", "skew", "log_kurtosis", "p5", "p25", "p75", "p95")
_WINDOW_QUANTILES = (0.05, 0.25, 0.75, 0.95)


def pooled_weights(models: Sequence[Any], max_samples: int = AUTO_RANGE_SAMPLES) -> np.ndarray:
    """The finite weights of all ``models`` pooled (a regular subsample beyond a cap).

    Sampled with :func:`~miwd_widget.descriptors.value_range.sample_weights` and one
    stride for all models, so each weight counts once and a larger model weighs more (the
    ``"auto"`` value range instead gives every model one vote); the variants want all of
    its quantiles, not two percentiles.

    Examples
    --------
    >>> pooled_weights([np.arange(4.0), np.array([np.nan, 9.0])]).tolist()
    [0.0, 1.0, 2.0, 3.0, 9.0]
    >>> pooled_weights([np.arange(10.0)], max_samples=5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    opened = [open_weights(m) for m in models]
    total = sum(ws.n for ws in opened)
    if total == 0:
        raise ValueError("pooled_weights: the models have no weights")
    stride = max(1, -(-total // max_samples))
    pooled = np.concatenate([sample_weights(ws, stride) for ws in opened]).astype(np.float64)
    if pooled.size == 0:
        raise ValueError("pooled_weights: the models have no finite weights")
    return pooled


# --------------------------------------------------------------------------------------
# (a) MI-WD and the global statistics, each block standardized
# --------------------------------------------------------------------------------------


class BlockScaler:
    """Standardize feature blocks with training statistics, then weight the blocks.

    Parameters
    ----------
    weights
        ``"equal"``: block b of ``d_b`` features is scaled by ``sqrt(D / (n_blocks * d_b))``
        (D the total number of features), so every block has the same total variance and
        the whole vector the total variance D that plain per-feature standardization gives
        (the SVM's C keeps its meaning). ``"features"``: plain per-feature standardization.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(50, 9)), rng.normal(5, 3, size=(50, 1))
    >>> X = BlockScaler().fit([a, b]).transform([a, b])
    >>> [round(float(X[:, part].var(axis=0).sum()), 3) for part in (slice(0, 9), slice(9, 10))]
    [5.0, 5.0]
    """

    def __init__(self, weights: str = "equal") -> None:
        if weights not in ("equal", "features"):
            raise ValueError(f"BlockScaler: weights must be 'equal' or 'features', got {weights!r}")
        self.weights = weights

    def fit(self, blocks: Sequence[np.ndarray]) -> BlockScaler:
        """Learn each feature's mean and standard deviation (ddof=0) from training blocks."""
        blocks = [np.asarray(b, dtype=np.float64) for b in blocks]
        total = sum(b.shape[1] for b in blocks)
        self.means_ = [b.mean(axis=0) for b in blocks]
        # a constant feature stays 0 after centring instead of dividing by zero
        self.stds_ = [np.where((s := b.std(axis=0)) > 0, s, 1.0) for b in blocks]
        if self.weights == "equal":
            self.factors_ = [math.sqrt(total / (len(blocks) * b.shape[1])) for b in blocks]
        else:
            self.factors_ = [1.0] * len(blocks)
        return self

    def transform(self, blocks: Sequence[np.ndarray]) -> np.ndarray:
        """The blocks standardized with the training statistics, weighted and concatenated."""
        if len(blocks) != len(self.means_):
            raise ValueError(f"BlockScaler: fitted on {len(self.means_)} blocks, got {len(blocks)}")
        parts = [
            (np.asarray(b, dtype=np.float64) - m) / s * f
            for b, m, s, f in zip(blocks, self.means_, self.stds_, self.factors_, strict=True)
        ]
        return np.concatenate(parts, axis=1).astype(np.float32)


class MIWDStatsRepresentation(Representation):
    """MI-WD concatenated with the 16 global statistics, each block standardized (``miwd+stats``).

    Its output is already standardized with the training models' statistics (see
    :class:`BlockScaler`), so the probe does not standardize it again: that would undo the
    block weights.

    Parameters
    ----------
    dim
        K of the MI-WD block (a perfect square); the output has ``dim + 16`` features.
    value_range, percentiles, clip
        The MI-WD block's settings (:class:`~miwd_widget.representations.MIWDRepresentation`).
    block_weights
        ``"equal"`` or ``"features"`` (:class:`BlockScaler`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> models = [rng.normal(0, s, size=900) for s in (0.1, 0.2, 0.3)]
    >>> MIWDStatsRepresentation(64).fit_transform(models).shape
    (3, 80)
    """

    name = "miwd+stats"
    stateful = True
    #: The output is standardized by the representation itself.
    standardized = True

    def __init__(
        self,
        dim: int = 1024,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        block_weights: str = "equal",
        progress: bool | None = None,
    ) -> None:
        self.dim = dim
        self.value_range = value_range
        self.percentiles = percentiles
        self.clip = clip
        self.block_weights = block_weights
        self.progress = progress

    @property
    def n_features_out(self) -> int:
        return int(self.dim) + 16

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        stats = StatsRepresentation().get_feature_names_out()
        return np.concatenate([[f"miwd{i}" for i in range(int(self.dim))], stats]).astype(object)

    def _blocks(self, models: list[Any]) -> list[np.ndarray]:
        thetas = [model_theta(m) for m in models]  # read once for both blocks
        return [
            self.miwd_.transform(thetas),
            StatsRepresentation(progress=False).transform(thetas),
        ]

    def _fit(self, models: list[Any]) -> None:
        self.miwd_ = MIWDRepresentation(
            self.dim, self.value_range, tuple(self.percentiles), self.clip, progress=self.progress
        ).fit(models)
        self.scaler_ = BlockScaler(self.block_weights).fit(self._blocks(models))

    def _transform(self, models: list[Any]) -> np.ndarray:
        return self.scaler_.transform(self._blocks(models))


# --------------------------------------------------------------------------------------
# (b) per-window moments
# --------------------------------------------------------------------------------------


def window_moments(theta: np.ndarray, S: int) -> np.ndarray:
    """The 8 :data:`WINDOW_FEATURES` of each of the S MI-WD windows: an (S, 8) float64 array.

    Window s holds ``theta[N*s//S : N*(s+1)//S]``, the descriptor's windows. The standard
    deviation and the kurtosis (``m4 / m2**2``, 3 for a normal law) enter as logarithms:
    both are scale-like and spread over orders of magnitude between layers and models,
    which a linear classifier handles better on a log scale. A constant window has
    skewness 0 and the kurtosis of a normal law, not NaN. Quantiles are numpy's linear
    interpolation.

    Examples
    --------
    >>> out = window_moments(np.arange(8.0), 2)
    >>> out[:, 0].tolist(), out[:, 2].tolist()
    ([1.5, 5.5], [0.0, 0.0])
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    n = theta.shape[0]
    if n < S:
        raise ValueError(f"window_moments: {n} weights are fewer than S={S} windows")
    starts = (np.arange(S) * n) // S
    lengths = np.diff(np.append(starts, n))
    window = np.repeat(np.arange(S), lengths)
    mean = np.add.reduceat(theta, starts) / lengths
    c = theta - mean[window]
    c2 = c * c
    m2 = np.add.reduceat(c2, starts) / lengths
    m3 = np.add.reduceat(c2 * c, starts) / lengths
    m4 = np.add.reduceat(c2 * c2, starts) / lengths
    # as scipy.stats: a variance at rounding-error level of the mean is zero
    constant = m2 <= (np.finfo(np.float64).resolution * np.abs(mean)) ** 2 + 1e-300
    safe = np.where(constant, 1.0, m2)
    skew = np.where(constant, 0.0, m3 / safe**1.5)
    kurt = np.where(constant, 3.0, m4 / safe**2)
    # 1e-12: a floor far below any weight scale, so an all-equal window stays finite
    log_std = np.log(np.sqrt(m2) + 1e-12)
    # quantiles: sort within windows (windows are contiguous, so sort by (window, value))
    order = np.lexsort((theta, window))
    srt = theta[order]
    qs = []
    for q in _WINDOW_QUANTILES:
        pos = starts + q * (lengths - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, starts + lengths - 1)
        frac = pos - low
        qs.append(srt[low] * (1 - frac) + srt[high] * frac)
    return np.column_stack([mean, log_std, skew, np.log(kurt), *qs])


class WindowMomentsRepresentation(Representation):
    """Per-window moments and quantiles (``window-moments``): S = K / 8 windows x 8 numbers.

    Learns nothing from the data (transform works unfitted). Features are ordered window
    by window: window 0's 8 :data:`WINDOW_FEATURES`, then window 1's, ...

    Examples
    --------
    >>> WindowMomentsRepresentation(16).transform([np.linspace(-1, 1, 100)]).shape
    (1, 16)
    """

    name = "window-moments"

    def __init__(self, dim: int = 1024, progress: bool | None = None) -> None:
        self.dim = dim
        self.progress = progress

    @property
    def windows(self) -> int:
        """S = K / 8."""
        f = len(WINDOW_FEATURES)
        if not isinstance(self.dim, (int, np.integer)) or self.dim < f or self.dim % f:
            raise ValueError(
                f"window-moments: dim must be a positive multiple of {f}, got {self.dim!r}"
            )
        return int(self.dim) // f

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"w{s}_{f}" for s in range(self.windows) for f in WINDOW_FEATURES]
        return np.array(names, dtype=object)

    def _transform(self, models: list[Any]) -> np.ndarray:
        S = self.windows
        out = np.empty((len(models), int(self.dim)), dtype=np.float32)
        for i, m in enumerate(progress_bar(models, desc="window moments", show=self.progress)):
            out[i] = window_moments(model_theta(m), S).reshape(-1)
        return out


# --------------------------------------------------------------------------------------
# (c) MI-WD with bins spaced for heavy tails
# --------------------------------------------------------------------------------------


class _MappedMIWD(Representation):
    """MI-WD of ``map(theta)``: uniform bins on a monotone map of the weights.

    A monotone map keeps every weight in its window and its order within the bins, so
    uniform bins on ``map(w)`` are bins at ``map^-1`` of uniform edges on ``w``: the
    descriptor kernel is reused unchanged. ``fit`` learns the map and the range from the
    pooled training weights; neither depends on K, so one fit serves every K
    (:meth:`transform_dims`, which the probe uses).
    """

    stateful = True

    def __init__(
        self,
        dim: int = 1024,
        percentiles: tuple[float, float] = (0.1, 99.9),
        clip: bool = True,
        max_samples: int = AUTO_RANGE_SAMPLES,
        progress: bool | None = None,
    ) -> None:
        self.dim = dim
        self.percentiles = percentiles
        self.clip = clip
        self.max_samples = max_samples
        self.progress = progress

    @property
    def side(self) -> int:
        """S = B = sqrt(K)."""
        return square_side(self.dim, self.name)

    def _fit(self, models: list[Any]) -> None:
        self.side  # noqa: B018 - validates dim before reading any model
        lo_q, hi_q = self.percentiles
        if not 0 <= lo_q < hi_q <= 100:
            raise ValueError(
                f"{self.name}: percentiles must satisfy 0 <= lo < hi <= 100, got "
                f"{self.percentiles!r}"
            )
        self._fit_map(pooled_weights(models, self.max_samples))

    def _fit_map(self, pooled: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def map(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """The weights on the scale whose uniform bins the descriptor uses."""
        raise NotImplementedError

    def _transform(self, models: list[Any]) -> np.ndarray:
        return self.transform_dims(models, [int(self.dim)])[int(self.dim)]

    def transform_dims(self, models: Sequence[Any], dims: Sequence[int]) -> dict[int, np.ndarray]:
        """The features at several K with the fitted map: {K: (n, K) float32}.

        Each model is mapped once for all K (the map costs more than the histograms).

        Examples
        --------
        >>> rep = AsinhMIWDRepresentation(16).fit([np.linspace(-1, 1, 400)])
        >>> {k: x.shape for k, x in rep.transform_dims([np.zeros(400)], [16, 64]).items()}
        {16: (1, 16), 64: (1, 64)}
        """
        if not getattr(self, "fitted_", False):
            raise ValueError(f"{self.name}: call fit(training_models) first")
        sides = {int(k): square_side(k, self.name) for k in dims}
        out = {k: np.empty((len(models), k), dtype=np.float32) for k in sides}
        for i, m in enumerate(progress_bar(list(models), desc=self.name, show=self.progress)):
            mapped = self.map(model_theta(m))
            for k, side in sides.items():
                out[k][i] = describe_flat(mapped, side, side, self.range_, self.clip)
        return out


class AsinhMIWDRepresentation(_MappedMIWD):
    """MI-WD with bins uniform in ``asinh(w / scale)`` (``miwd-asinh``).

    Parameters
    ----------
    dim
        K = S * B, a perfect square.
    percentiles
        Pooled percentiles of the training weights that bound the range (mapped by asinh).
    scale_percentile
        ``scale`` is this percentile of the pooled ``|w|`` (default: the median). Bins are
        about ``scale``-wide-in-``w`` near zero and grow geometrically beyond ``scale``.
    clip
        Fold weights outside the range into the edge bins (default True: the tails are
        the point).

    Examples
    --------
    >>> rep = AsinhMIWDRepresentation(16).fit([np.linspace(-1, 1, 101)])
    >>> round(rep.scale_, 3)
    0.5
    """

    name = "miwd-asinh"

    def __init__(
        self,
        dim: int = 1024,
        percentiles: tuple[float, float] = (0.1, 99.9),
        scale_percentile: float = 50.0,
        clip: bool = True,
        max_samples: int = AUTO_RANGE_SAMPLES,
        progress: bool | None = None,
    ) -> None:
        super().__init__(dim, percentiles, clip, max_samples, progress)
        self.scale_percentile = scale_percentile

    def _fit_map(self, pooled: np.ndarray) -> None:
        scale = float(np.percentile(np.abs(pooled), self.scale_percentile))
        # all-zero weights (a constant-zero initialization) still need a positive scale
        self.scale_ = scale if scale > 0 else 1.0
        # the pooled percentiles (a constant model's range widened), then on the asinh scale
        lo, hi = pooled_percentiles([pooled], [1], self.percentiles)
        self.range_ = (float(np.arcsinh(lo / self.scale_)), float(np.arcsinh(hi / self.scale_)))

    def map(self, theta: np.ndarray) -> np.ndarray:
        return np.arcsinh(np.asarray(theta, dtype=np.float64) / self.scale_)


class QuantileMIWDRepresentation(_MappedMIWD):
    """MI-WD with bin edges at pooled quantiles of the training weights (``miwd-quantile``).

    ``fit`` stores ``grid`` + 1 pooled quantiles (``grid_``) between the ``percentiles``;
    ``map`` is the piecewise linear CDF through them, onto [0, 1]. Uniform B bins on [0, 1]
    then have their edges at the pooled quantiles ``j / B`` exactly when B divides
    ``grid`` (B = 8, 16, 32 with the default 1024); weights beyond the outer quantiles fall
    in the edge bins.

    Examples
    --------
    >>> rep = QuantileMIWDRepresentation(4, percentiles=(0, 100)).fit([np.arange(101.0)])
    >>> rep.transform([np.arange(101.0)]).reshape(2, 2).round(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    name = "miwd-quantile"

    def __init__(
        self,
        dim: int = 1024,
        percentiles: tuple[float, float] = (0.1, 99.9),
        grid: int = 1024,
        clip: bool = True,
        max_samples: int = AUTO_RANGE_SAMPLES,
        progress: bool | None = None,
    ) -> None:
        super().__init__(dim, percentiles, clip, max_samples, progress)
        self.grid = grid

    def _fit_map(self, pooled: np.ndarray) -> None:
        lo_q, hi_q = self.percentiles
        edges = np.percentile(pooled, np.linspace(lo_q, hi_q, int(self.grid) + 1))
        # np.interp needs non-decreasing points; ties (many exact zeros) stay ties, so all
        # of them map to one point and land in one bin
        self.grid_ = np.maximum.accumulate(edges)
        if not self.grid_[0] < self.grid_[-1]:
            # all weights equal: the widened range of the pooled percentiles
            widened = pooled_percentiles([pooled], [1], self.percentiles)
            self.grid_ = np.linspace(*widened, edges.size)
        self.range_ = (0.0, 1.0)

    def map(self, theta: np.ndarray) -> np.ndarray:
        return np.interp(
            np.asarray(theta, dtype=np.float64), self.grid_, np.linspace(0.0, 1.0, self.grid_.size)
        )


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------

#: Variant classes by the name the probe accepts.
VARIANTS: dict[str, type[Representation]] = {
    "miwd+stats": MIWDStatsRepresentation,
    "window-moments": WindowMomentsRepresentation,
    "miwd-asinh": AsinhMIWDRepresentation,
    "miwd-quantile": QuantileMIWDRepresentation,
}

#: Every candidate of the variant selection, as ``(label, name, kwargs)``.
CANDIDATES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("miwd[p1-99]", "miwd", {"percentiles": (1.0, 99.0)}),
    ("miwd[p0.1-99.9]", "miwd", {"percentiles": (0.1, 99.9)}),
    ("miwd[p1-99,clip]", "miwd", {"percentiles": (1.0, 99.0), "clip": True}),
    ("miwd+stats", "miwd+stats", {}),
    ("miwd[p1-99]+stats", "miwd+stats", {"percentiles": (1.0, 99.0)}),
    ("window-moments", "window-moments", {}),
    ("miwd-asinh", "miwd-asinh", {}),
    ("miwd-quantile", "miwd-quantile", {}),
)


def make_variant(name: str, dim: int | None = None, **kw: Any) -> Representation:
    """Create a variant by name (see :data:`VARIANTS`); ``dim`` defaults to 1024.

    Examples
    --------
    >>> make_variant("miwd+stats", 64).n_features_out
    80
    >>> make_variant("window-moments", 256).windows
    32
    """
    try:
        cls = VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose one of {sorted(VARIANTS)}") from None
    rep = cls(dim=1024 if dim is None else dim, **kw)
    # fail now on an impossible K, not at fit time
    if isinstance(rep, WindowMomentsRepresentation):
        rep.windows  # noqa: B018
    else:
        square_side(rep.dim, name)
    return rep
