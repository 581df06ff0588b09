"""Draw NWS-like model configurations, every hyper-parameter per model, and form training groups.

Like NWS's main set, each model draws each hyper-parameter on its own (scaled to the zoo's
16x16x3 tasks):

==============  ============================================  ===================
hyper-parameter values                                        NWS
==============  ============================================  ===================
dataset         digits, glyphs, colour_digits, textures,      5 sets
                gratings
lr              uniform in [2e-4, 5e-3]                       same
batch_size      32, 64, 128, 256                              same
augmentation    False, True (shifts, flips, colour jitter)    same
optimizer       adam, rmsprop, sgd_momentum (0.95)            same
activation      relu, elu, sigmoid, tanh                      same
initialization  constant, random_normal, glorot_uniform,      same
                glorot_normal
filter_size     3, 5                                          3, 5, 7
depth_conv      1, 2, 3                                       3, 4, 5
depth_fc        1, 2 (hidden layers, + output layer)          2, 3, 4 (with output)
width_conv      4, 8, 12 (channels of every conv)             4, 8, 12
width_fc        32, 64                                        64, 128, 192
==============  ============================================  ===================

Models are then partitioned into *training groups* trained together as one stacked network
(:mod:`miwd_widget.zoo.training`). A group shares only what the batching needs, the
architecture and the batch size (:data:`BATCHING_KEYS`); its members never share a dataset,
optimizer, activation or initialization (:data:`NEVER_SHARED`). The partition does not change
any model's hyper-parameters, so every marginal is the search space's. The group is recorded
in the metadata (``train_group``) and the probe keeps each group wholly inside one fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TRAIN_GROUP
from .datasets import DATASETS, dataset_names

__all__ = ["SEARCH_SPACE", "BATCHING_KEYS", "NEVER_SHARED", "GROUP_SIZE", "sample_configs"]

SEARCH_SPACE: dict[str, Any] = {
    "dataset": dataset_names(),
    "lr": (2e-4, 5e-3),  # uniform, as NWS
    "batch_size": [32, 64, 128, 256],
    "augmentation": [False, True],
    "optimizer": ["adam", "rmsprop", "sgd_momentum"],
    "activation": ["relu", "elu", "sigmoid", "tanh"],
    "initialization": ["constant", "random_normal", "glorot_uniform", "glorot_normal"],
    "filter_size": [3, 5],
    "depth_conv": [1, 2, 3],
    "depth_fc": [1, 2],
    "width_conv": [4, 8, 12],
    "width_fc": [32, 64],
}
#: What the models of a training group share: the stacked network needs one architecture and
#: one batch size. None of these is a probe target.
BATCHING_KEYS = ("batch_size", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc")
#: Hyper-parameters no two models of a group share (the probe's targets among them).
NEVER_SHARED = ("dataset", "optimizer", "activation", "initialization")
#: Largest group per batch size. Stacking pays only while one model's step is too small to keep
#: a core busy; with a batch of 128 or more a model trains as fast alone (measured here).
GROUP_SIZE = {32: 3, 64: 2, 128: 1, 256: 1}

_INT_KEYS = ("batch_size", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc")


def sample_configs(
    n: int,
    seed: int = 0,
    datasets: Sequence[str] | None = None,
    group_size: dict[int, int] | int | None = None,
) -> pd.DataFrame:
    """Sample `n` NWS-like model configurations and partition them into training groups.

    Parameters
    ----------
    n
        Number of models.
    seed
        Seed of the sampler; the same arguments give the same table.
    datasets
        Subset of :func:`~miwd_widget.zoo.datasets.dataset_names` (default: all five).
    group_size
        Largest training group, per batch size (default :data:`GROUP_SIZE`) or one number for
        all; 1 trains every model alone.

    Returns
    -------
    pandas.DataFrame
        Columns id, train_group, the hyper-parameters and seed; one row per model.

    Examples
    --------
    >>> cfg = sample_configs(200, seed=1)
    >>> int(cfg.groupby("train_group")["optimizer"].agg(lambda s: s.duplicated().sum()).max())
    0
    >>> sorted(cfg["dataset"].unique())
    ['colour_digits', 'digits', 'glyphs', 'gratings', 'textures']
    """
    if n < 1:
        raise ValueError(f"sample_configs: n must be >= 1, got {n}")
    names = list(datasets) if datasets is not None else dataset_names()
    unknown = [d for d in names if d not in DATASETS]
    if unknown or not names:
        raise ValueError(
            f"sample_configs: unknown datasets {unknown} (choose from {dataset_names()})"
        )
    sizes = _group_sizes(group_size)
    rng = np.random.default_rng(seed)
    lo, hi = SEARCH_SPACE["lr"]
    columns: dict[str, Any] = {"id": [f"m{i:05d}" for i in range(n)]}
    columns["dataset"] = [names[i] for i in rng.integers(len(names), size=n)]
    columns["lr"] = rng.uniform(lo, hi, n)
    for key in SEARCH_SPACE:
        if key in ("dataset", "lr"):
            continue
        values = SEARCH_SPACE[key]
        columns[key] = [values[i] for i in rng.integers(len(values), size=n)]
    columns["seed"] = rng.integers(0, 2**31 - 1, size=n)
    out = pd.DataFrame(columns)
    for key in _INT_KEYS:
        out[key] = out[key].astype(np.int64)
    out["augmentation"] = out["augmentation"].astype(bool)
    out.insert(1, TRAIN_GROUP, _assign_groups(out, sizes))
    return out


def _group_sizes(group_size: dict[int, int] | int | None) -> dict[int, int]:
    if group_size is None:
        return dict(GROUP_SIZE)
    if isinstance(group_size, int):
        if group_size < 1:
            raise ValueError(f"sample_configs: group_size must be >= 1, got {group_size}")
        return {bs: group_size for bs in SEARCH_SPACE["batch_size"]}
    bad = {k: v for k, v in group_size.items() if int(v) < 1}
    if bad:
        raise ValueError(f"sample_configs: group sizes must be >= 1, got {bad}")
    return {int(k): int(v) for k, v in group_size.items()}


def _assign_groups(configs: pd.DataFrame, sizes: dict[int, int]) -> np.ndarray:
    """Greedy partition: a model joins the first open group of its batching key that shares
    none of its :data:`NEVER_SHARED` values; otherwise it opens a new group.

    Group numbers follow the first member's row, so they are stable for a given table.
    """
    group = np.empty(len(configs), np.int64)
    open_groups: dict[tuple, list[list[int]]] = {}
    members: list[list[int]] = []
    values = configs[list(NEVER_SHARED)].to_numpy()
    keys = configs[list(BATCHING_KEYS)].itertuples(index=False, name=None)
    for i, key in enumerate(keys):
        limit = sizes.get(int(key[0]), 1)
        candidates = open_groups.setdefault(key, [])
        chosen = None
        for g in candidates:
            rows = members[g[0]]
            if all((values[r] != values[i]).all() for r in rows):
                chosen = g
                break
        if chosen is None:
            chosen = [len(members)]
            members.append([])
            candidates.append(chosen)
        members[chosen[0]].append(i)
        group[i] = chosen[0]
        if len(members[chosen[0]]) >= limit:
            candidates.remove(chosen)
    return group
