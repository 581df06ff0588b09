"""Describe a list of work items: the library's two passes over the models.

1. With ``value_range="auto"`` each worker reads a strided sample of each model's weights
   (an equal share of the sample budget per model); the pooled percentiles
   (:func:`~miwd_widget.descriptors.pooled_percentiles`, one equal weight per model, so no
   single huge file decides the range) become the library's histogram range. Degenerate
   models (nearly all one value, e.g. all zeros) are left out of that range and recorded
   in ``errors`` as a warning; they are still described.
2. Each worker computes the descriptors of its models with that one range.

Workers open the files themselves (readers return memory maps), so only paths and small
results travel between processes. A model that fails is recorded with its reason and the
build goes on.

Worker processes import :mod:`.workers` (numpy, the readers, numba for pass 2), never
pandas, so a parallel build's start-up stays short; the degenerate check of pass 1 runs
in the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..columns import ACCURACY_COLUMNS, ID, SOURCE
from ..descriptors.config import DescriptorConfig
from ..descriptors.value_range import (
    AUTO_RANGE_SAMPLES,
    pooled_percentiles,
)
from .executor import Runner, run_batches
from .sources import Item
from .workers import _describe_batch, _sample_batch

__all__ = ["build", "Built", "accuracy_norm", "errors_frame"]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# The two passes
# --------------------------------------------------------------------------------------


@dataclass
class Built:
    """What :func:`build` returns."""

    descriptors: np.ndarray  # (n, S, B) float32
    metadata: pd.DataFrame  # one row per described model
    config: DescriptorConfig | None  # resolved; None if no model could be sampled
    errors: list[tuple[str, str]]  # (source, message)


def build(
    items: list[Item],
    config: DescriptorConfig,
    runner: Runner,
    errors: list[tuple[str, str]] | None = None,
) -> Built:
    """Describe ``items`` on ``config`` (resolving an ``"auto"`` range over all of them).

    Examples
    --------
    >>> items = [Item(np.linspace(-1, 1, 64), "a", None, {"lr": 0.1})]
    >>> built = build(items, DescriptorConfig(S=4, B=4), Runner(in_process=True))
    >>> built.descriptors.shape, built.metadata.columns.tolist()
    ((1, 4, 4), ['id', 'lr', 'n_params'])
    """
    errors = list(errors or [])
    if runner.progress is None:
        runner = replace(runner, progress=len(items) > 10)
    if config.is_auto:
        budget = {"n_models": len(items), "max_samples": AUTO_RANGE_SAMPLES}
        sampled = run_batches(
            _sample_batch, [it.spec for it in items], budget, runner, "value range"
        )
        kept, samples, reasons = [], [], []
        for item, res in zip(items, sampled, strict=True):
            if res[0] != "ok":
                errors.append((item.label, res[1]))
                continue
            kept.append(item)
            samples.append(res[3])
            reasons.append(res[4])
        items = kept
        resolved = None
        if kept:
            used = [i for i, r in enumerate(reasons) if r is None]
            if used:  # as split_degenerate: if every model is degenerate, all are used
                for i, reason in enumerate(reasons):
                    if reason is not None:
                        label = kept[i].label
                        errors.append(
                            (
                                label,
                                f"{label}: warning: degenerate weights ({reason}); described, "
                                "but left out of the pooled 'auto' value range",
                            )
                        )
            else:
                used = list(range(len(kept)))
            lo_hi = pooled_percentiles([samples[i] for i in used], percentiles=config.percentiles)
            resolved = config.with_range(lo_hi)
            log.info(
                "value_range='auto': [%.4g, %.4g] over %d models (%d degenerate left out)",
                *lo_hi,
                len(used),
                len(kept) - len(used),
            )
        del samples
    else:
        resolved = config
    descriptors: list[np.ndarray | None] = [None] * len(items)
    n_params = [0] * len(items)
    failed: dict[int, str] = {}
    if items and resolved is not None:
        described = run_batches(
            _describe_batch, [it.spec for it in items], {"config": resolved}, runner, "MI-WD"
        )
        for i, res in enumerate(described):
            if res[0] == "ok":
                descriptors[i], n_params[i] = res[1], int(res[2])
            else:
                failed[i] = res[1]
    rows = []
    for i, item in enumerate(items):
        if i in failed:
            errors.append((item.label, failed[i]))
            continue
        row: dict[str, Any] = {ID: item.id}
        if item.source is not None:
            row[SOURCE] = item.source
        row.update(item.meta)
        row.setdefault("n_params", int(n_params[i]))
        rows.append(row)
    if errors:
        log.warning(
            "%d model(s) could not be described (see library.errors), e.g. %s",
            len(errors),
            errors[0][1],
        )
    good = [d for d in descriptors if d is not None]
    if good:
        d = np.empty((len(good), config.S, config.B), np.float32)
        for j, one in enumerate(good):
            d[j] = one
    else:
        d = np.empty((0, config.S, config.B), np.float32)
    return Built(d, pd.DataFrame(rows), resolved, errors)


def errors_frame(records: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    """The ``library.errors`` table: columns ``source`` and ``error``.

    Examples
    --------
    >>> errors_frame([("/m/a.npy", "a.npy: empty file")]).to_dict("records")
    [{'source': '/m/a.npy', 'error': 'a.npy: empty file'}]
    """
    records = list(records)
    return pd.DataFrame(
        {
            "source": pd.Series([str(r[0]) for r in records], dtype=object),
            "error": pd.Series([str(r[1]) for r in records], dtype=object),
        }
    )


def accuracy_norm(metadata: pd.DataFrame) -> pd.Series:
    """Test accuracy normalized per dataset: (p - min p_d) / (max p_d - min p_d) (paper, sec. 3).

    A dataset whose models all have the same accuracy gets 0.5 (neither best nor worst).

    Examples
    --------
    >>> md = pd.DataFrame({"dataset": ["a", "a", "b"], "test_accuracy": [0.5, 0.9, 0.7]})
    >>> accuracy_norm(md).tolist()
    [0.0, 1.0, 0.5]
    """
    column = next((c for c in ACCURACY_COLUMNS if c in metadata.columns), None)
    if column is None or len(metadata) == 0:
        return pd.Series(np.nan, index=metadata.index, dtype=float)
    p = pd.to_numeric(metadata[column], errors="coerce").astype(float)
    if "dataset" in metadata.columns:
        groups = metadata["dataset"].astype(object).where(metadata["dataset"].notna(), "")
    else:
        groups = pd.Series("", index=metadata.index)
    lo = p.groupby(groups).transform("min")
    hi = p.groupby(groups).transform("max")
    span = hi - lo
    norm = (p - lo) / span.where(span > 0)
    return norm.where(~((span == 0) & p.notna()), 0.5)
