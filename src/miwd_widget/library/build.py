"""Describe a list of work items: the library's two passes over the models.

1. With ``value_range="auto"`` each worker reads a regular sample of each model's weights
   (an equal share of the sample budget per model; beyond 1,024 models, of 1,024 models
   spread over the list: :func:`~miwd_widget.descriptors.value_range.range_models`);
   the pooled percentiles
   (:func:`~miwd_widget.descriptors.pooled_percentiles`, one equal weight per model, so no
   single huge file decides the range) become the library's histogram range. Degenerate
   models (nearly all one value, e.g. all zeros) are left out of that range and recorded
   in ``errors`` as a warning; they are still described.
2. Each worker computes the descriptors of its models with that one range (and, for the
   models pass 1 did not sample, checks them for degenerate weights).

Both passes run on the same worker processes (:func:`~.executor.worker_pool`): starting
workers (numpy, the readers, numba) is a fixed cost of every parallel build.

Workers open the files themselves (readers read tensors in place, as they are used), so only paths and small
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
    KEEP_SCAN_BYTES,
    pooled_percentiles,
    range_models,
)
from .executor import Runner, run_batches, worker_pool
from .sources import Item
from .workers import describe_batch, sample_batch

__all__ = ["build", "Built", "accuracy_norm", "errors_frame", "KEEP_SCANS_UP_TO"]

log = logging.getLogger(__name__)

#: Pass 1 sends 16-/8-bit models' window counts back (to skip their second read) when the
#: range is pooled over at most this many models; the parent keeps them within
#: KEEP_SCAN_BYTES.
KEEP_SCANS_UP_TO = 64

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
    with worker_pool(runner) as runner:  # both passes run on the same worker processes
        items, resolved, reasons, check_n, counted = _resolve_range(items, config, runner, errors)
        descriptors: list[np.ndarray | None] = [None] * len(items)
        n_params = [0] * len(items)
        failed: dict[int, str] = {}
        if resolved is not None and counted:
            from ..descriptors.kernel import descriptor_from_scan  # lazily: numba loads here

            # 16-/8-bit models counted whole in pass 1 need no second read.
            for i, (n, scan) in counted.items():
                descriptors[i] = descriptor_from_scan(scan, resolved)
                n_params[i] = n
        todo = [i for i in range(len(items)) if descriptors[i] is None]
        if todo and resolved is not None:
            described = run_batches(
                describe_batch,
                [items[i].spec for i in todo],
                {
                    "config": resolved,
                    "degenerate_among": check_n,
                    "max_samples": AUTO_RANGE_SAMPLES,
                },
                runner,
                "MI-WD",
            )
            for i, res in zip(todo, described, strict=True):
                if res[0] == "ok":
                    descriptors[i], n_params[i] = res[1], int(res[2])
                    if check_n is not None:
                        reasons[i] = res[3]
                else:
                    failed[i] = res[1]
    for i, reason in enumerate(reasons):
        if reason is not None and i not in failed:
            label = items[i].label
            errors.append(
                (
                    label,
                    f"{label}: warning: degenerate weights ({reason}); described, but left "
                    "out of the pooled 'auto' value range",
                )
            )
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


def _resolve_range(
    items: list[Item],
    config: DescriptorConfig,
    runner: Runner,
    errors: list[tuple[str, str]],
) -> tuple[list[Item], DescriptorConfig | None, list[str | None], int | None, dict[int, tuple]]:
    """Pass 1: ``config``'s ``"auto"`` range over the items (a fixed range is kept).

    The range is pooled over :func:`~miwd_widget.descriptors.value_range.range_models`
    of the items (all of them up to 1,024; beyond, 1,024 spread over the list; if none of
    those can be read, all the others). Items that fail to be read are recorded in
    ``errors`` and dropped.

    Returns
    -------
    (items, resolved config, degenerate reasons to report, check_n, counted)
        ``resolved`` is None if no item could be sampled. ``check_n`` is None when every
        item was sampled (the reasons are known), or when every sampled model was
        degenerate (then they set the range, and none is reported, as for a library
        sampled whole); otherwise pass 2 checks every item for degenerate weights with the
        stride of a range over ``check_n`` models, the one pass 1 used, so a sampled model
        gets the same verdict twice. ``counted``: kept item index -> (N, window counts)
        of the 16-/8-bit models pass 1 counted whole, within
        :data:`~miwd_widget.descriptors.value_range.KEEP_SCAN_BYTES`.
    """
    if not config.is_auto:
        return items, config, [None] * len(items), None, {}
    bad: set[int] = set()
    samples: list[Any] = []
    reasons: list[str | None] = []
    scans: dict[int, tuple] = {}
    kept_bytes = 0

    def sample(picked: list[int]) -> None:
        nonlocal kept_bytes
        budget = {
            "n_models": len(picked),
            "max_samples": AUTO_RANGE_SAMPLES,
            "config": config,
            "keep_scans": len(picked) <= KEEP_SCANS_UP_TO,
        }
        sampled = run_batches(
            sample_batch, [items[i].spec for i in picked], budget, runner, "value range"
        )
        for i, res in zip(picked, sampled, strict=True):
            if res[0] != "ok":
                errors.append((items[i].label, res[1]))
                bad.add(i)
                continue
            samples.append(res[2])
            reasons.append(res[3])
            scan = res[4]
            if scan is not None and kept_bytes + scan.nbytes <= KEEP_SCAN_BYTES:
                scans[i] = (int(res[1]), scan)
                kept_bytes += scan.nbytes

    picked = [int(i) for i in range_models(len(items))]
    sample(picked)
    if not samples and len(picked) < len(items):
        chosen = set(picked)  # none of them could be read: the range comes from the others
        picked = [i for i in range(len(items)) if i not in chosen]
        sample(picked)
        picked = list(range(len(items)))  # every item has been read once now
    kept = [item for i, item in enumerate(items) if i not in bad]
    new_index = {i: j for j, i in enumerate(i for i in range(len(items)) if i not in bad)}
    counted = {new_index[i]: scan for i, scan in scans.items()}
    if not samples:
        return kept, None, [None] * len(kept), None, {}
    used = [j for j, r in enumerate(reasons) if r is None]
    fallback = not used
    if fallback:  # as split_degenerate: if every model is degenerate, all are used
        used, reasons = list(range(len(samples))), [None] * len(samples)
    lo_hi = pooled_percentiles([samples[j] for j in used], percentiles=config.percentiles)
    log.info(
        "value_range='auto': [%.4g, %.4g] over %d of %d models (%d degenerate left out)",
        *lo_hi,
        len(used),
        len(kept),
        len(samples) - len(used),
    )
    if len(picked) == len(items):
        return kept, config.with_range(lo_hi), reasons, None, counted
    check_n = None if fallback else len(picked)
    return kept, config.with_range(lo_hi), [None] * len(kept), check_n, counted


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
