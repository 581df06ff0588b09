"""Invariance of MI-WD under function-preserving changes of a model.

Eilertsen et al. (2024) argue the descriptor is robust to different parameterizations of
the same model. :func:`invariance` measures it: each model is changed without changing its
function -- hidden neurons permuted (:func:`permute_hidden_neurons`), matrices stored
column-major (:func:`column_major`), or both -- and the descriptor's move is compared with
the distance between independently trained models of one configuration. Those distances
are heavy-tailed, so the table gives medians beside means.

Examples
--------
>>> sd = {"w0": np.ones((3, 2)), "b0": np.arange(3.0), "w1": np.ones((1, 3))}
>>> sorted(permute_hidden_neurons(sd, random_state=0)["b0"].tolist())
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .._progress import progress as progress_bar
from ..columns import hyperparameter_columns
from ..descriptors.config import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE
from .weights import library_sources, state_dict

__all__ = ["invariance", "permute_hidden_neurons", "column_major"]


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


def _default_by(md: pd.DataFrame) -> list[str]:
    """Hyper-parameter columns: not identifiers/outcomes, and shared by several models.

    A continuous column such as ``lr`` (every model its own value) is left out: grouped on,
    no two models would ever share a configuration.
    """
    by = []
    for c in hyperparameter_columns(md.columns):
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
    value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
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
        independent same-configuration models), ``ratio_to_independent_median`` (the same
        for medians: the independent distances are heavy-tailed, and a few far pairs make
        the ratio of means look better than the typical pair). ``summary=False``: ``kind``, ``model``,
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
        sources = library_sources(models)
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
            state_dict(s) for s in progress_bar(sources, desc="reading weights", show=progress)
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

    from ..descriptors import DescriptorConfig
    from ..descriptors.value_range import resolve_value_range
    from ..representations import describe_flat

    rng = np.random.default_rng(random_state)
    # one range for every descriptor ("auto": pooled percentiles of the original models)
    config = DescriptorConfig(S, B, value_range, percentiles)
    value_range = resolve_value_range(config, states).range

    def vec(state: Mapping[str, np.ndarray]) -> np.ndarray:
        return describe_flat(state, S, B, value_range).astype(np.float64)

    def dist(a: np.ndarray, b: np.ndarray) -> float:
        diff = a - b
        return float(np.sqrt(diff @ diff) if metric == "euclidean" else np.abs(diff).sum())

    base = [vec(s) for s in progress_bar(states, desc="MI-WD", show=progress)]
    records = []
    for i, state in enumerate(progress_bar(states, desc="invariance", show=progress)):
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

    def ratio(column: str) -> Any:
        reference = stats.loc["independent_same_config", column]
        return (
            (stats[column] / reference).to_numpy()
            if reference and np.isfinite(reference)
            else np.nan
        )

    out = pd.DataFrame(
        {
            "kind": kinds,
            "n": stats["count"].fillna(0).astype(int).to_numpy(),
            "distance_mean": stats["mean"].to_numpy(),
            "distance_std": stats["std"].to_numpy(),
            "distance_median": stats["median"].to_numpy(),
            "ratio_to_independent": ratio("mean"),
            # the independent distances are heavy-tailed: a few far pairs inflate their mean,
            # so the ratio of means alone overstates the invariance
            "ratio_to_independent_median": ratio("median"),
        }
    )
    out.attrs.update(attrs)
    return out
