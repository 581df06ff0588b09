"""MI-WD descriptors of one model or of many: :func:`mi_wd` and :func:`describe`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .._progress import progress as progress_bar
from ..weights import open_weights
from .config import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE, DescriptorConfig, ValueRange
from .value_range import pooled_range, range_models

__all__ = ["mi_wd", "describe", "DescriptorArray", "is_single"]


class DescriptorArray(np.ndarray):
    """A float32 descriptor array that remembers how it was computed.

    Attributes
    ----------
    value_range : tuple of float
        The histogram range ``(lo, hi)`` actually used (resolved when ``"auto"``).
    config : DescriptorConfig
        All the parameters, with the value range resolved; ``range_mode`` says whether it
        was ``"auto"`` or ``"fixed"``.
    n_weights : numpy.ndarray
        Number of weights N of each described model.
    names : list of str
        Names of the described models (paths for files).
    """

    value_range: tuple[float, float]
    config: DescriptorConfig | None
    range_mode: str | None
    n_weights: np.ndarray
    names: list[str]

    def __new__(
        cls,
        data: np.ndarray,
        value_range: Sequence[float],
        n_weights: Sequence[int],
        names: Sequence[str],
        config: DescriptorConfig | None = None,
        range_mode: str | None = None,
    ) -> DescriptorArray:
        obj = np.asarray(data, dtype=np.float32).view(cls)
        obj.value_range = (float(value_range[0]), float(value_range[1]))
        obj.n_weights = np.asarray(n_weights, dtype=np.int64)
        obj.names = list(names)
        obj.config = config
        obj.range_mode = range_mode
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        if obj is None:
            return
        for attr in ("value_range", "n_weights", "names", "config", "range_mode"):
            setattr(self, attr, getattr(obj, attr, None))


def is_single(source: Any) -> bool:
    """Whether ``source`` is one model: in :func:`describe` a list or tuple is many models.

    One model given as a list of layer arrays is therefore wrapped: ``describe([layers])``;
    :func:`mi_wd` and :func:`~miwd_widget.weights.flatten_weights` always take one model.
    """
    return not isinstance(source, (list, tuple))


def mi_wd(
    theta: Any,
    S: int = 32,
    B: int = 32,
    value_range: ValueRange = DEFAULT_VALUE_RANGE,
    clip: bool = False,
    *,
    nan_policy: Literal["raise", "omit"] = "raise",
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> DescriptorArray:
    """The MI-WD descriptor of one weight vector: an (S, B) float32 matrix.

    Parameters
    ----------
    theta
        The model's weights in layer order: a 1-D array (any float dtype) or anything
        :func:`describe` accepts for a single model.
    S, B
        Number of windows (rows) and histogram bins (columns).
    value_range
        ``"auto"`` (default): the ``percentiles`` of theta itself; or a fixed ``(lo, hi)``,
        e.g. the paper's ``(-5, 5)`` (:data:`~miwd_widget.descriptors.PAPER_VALUE_RANGE`).
        The range used is ``result.value_range``. Why ``"auto"``: see
        :class:`~miwd_widget.descriptors.DescriptorConfig`.
    clip
        Fold out-of-range weights into the edge bins instead of dropping them.
    nan_policy
        ``"raise"`` (default) on NaN/Inf weights, or ``"omit"`` to leave them out.
    percentiles
        The percentiles used by ``value_range="auto"``.

    Returns
    -------
    DescriptorArray
        Row s is the normalized histogram of window s (sums to 1 over its in-range
        weights; all zeros if it has none).

    Examples
    --------
    >>> d = mi_wd(np.array([-1.0, -0.5, 0.5, 1.0]), S=2, B=2, value_range=(-1, 1))
    >>> d.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return describe(
        [theta],
        S=S,
        B=B,
        value_range=value_range,
        clip=clip,
        nan_policy=nan_policy,
        percentiles=percentiles,
    )[0]


def describe(
    source: Any,
    S: int = 32,
    B: int = 32,
    value_range: ValueRange = DEFAULT_VALUE_RANGE,
    clip: bool = False,
    *,
    nan_policy: Literal["raise", "omit"] = "raise",
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    order: Sequence[str] | None = None,
    include_buffers: bool = False,
    progress: bool | None = None,
) -> DescriptorArray:
    """MI-WD descriptors of one model, (S, B), or of a list of models, (n, S, B).

    Parameters
    ----------
    source
        One model, or a list (or tuple) of models. A model is a numpy array, a mapping
        name -> array, a list of arrays (only inside the list of models: ``[[w1, b1]]``),
        a ``torch.nn.Module`` or state_dict, or a path to a model file (.safetensors,
        .pt/.pth/.bin, .onnx, .npz/.npy, .keras/.h5, NWS .bin). Files are memory-mapped
        where the format allows.
    S, B, value_range, clip, nan_policy, percentiles
        As in :func:`mi_wd`. With ``value_range="auto"`` (the default) the percentiles are
        pooled over all the models described together, so their descriptors share one
        range; a single model gets its own percentiles.
    order
        Explicit tensor order (names) for formats whose keys carry no order.
    include_buffers
        Add torch buffers (BatchNorm running statistics) after the parameters.
    progress
        Show a progress bar; by default only for more than 10 models.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> models = [{"w1": rng.normal(size=(8, 8)), "w2": rng.normal(size=8)} for _ in range(3)]
    >>> d = describe(models, S=4, B=8)
    >>> d.shape, d.range_mode
    ((3, 4, 8), 'auto')
    """
    config = DescriptorConfig(S, B, value_range, percentiles, clip, nan_policy)
    from .kernel import check_describable, describe_source  # lazily: numba loads here

    single = is_single(source)
    sources = [source] if single else list(source)
    if not sources:
        raise ValueError("describe() got an empty list of models")
    opened = [open_weights(s, order=order, include_buffers=include_buffers) for s in sources]
    for ws in opened:
        check_describable(ws, config.S)  # a clear per-model error before the range pass
    resolved, scans = config, {}
    if config.is_auto:
        # One pass over each range model: 16-/8-bit models keep their window counts, so
        # their descriptors need no second read.
        picked = range_models(len(opened))
        lo_hi, kept = pooled_range([opened[i] for i in picked], config, progress=progress)
        resolved = config.with_range(lo_hi)
        scans = {int(picked[j]): scan for j, scan in kept.items()}
    out = np.empty((len(opened), config.S, config.B), dtype=np.float32)
    for i, ws in enumerate(progress_bar(opened, desc="MI-WD", show=progress)):
        out[i] = describe_source(ws, resolved, scan=scans.pop(i, None), progress=progress)
    result = DescriptorArray(
        out,
        resolved.range,
        [ws.n for ws in opened],
        [ws.name for ws in opened],
        config=resolved,
        range_mode="auto" if config.is_auto else "fixed",
    )
    return result[0] if single else result
