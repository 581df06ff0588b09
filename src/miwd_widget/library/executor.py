"""Run a worker function over batches of work items: in this process, joblib or dask.

A batch whose task dies (a crashed worker, a lost dask future) records every model of the
batch as failed; the results of all other batches are kept.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._progress import progress

__all__ = ["Runner", "run_batches", "error_text"]

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong: our own errors' message, else ``Type: message``.

    Examples
    --------
    >>> error_text(KeyError("w"))
    "KeyError: 'w'"
    """
    from ..descriptors.config import DescriptorError
    from ..weights import WeightReadError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (WeightReadError, DescriptorError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class Runner:
    """Where batches run.

    Attributes
    ----------
    n_jobs
        joblib worker processes (-1: all cores; 1: in this process).
    client
        A ``dask.distributed.Client``: batches run on its cluster instead of joblib.
    in_process
        Run here whatever ``n_jobs`` says (in-memory models: shipping them costs more).
    batch_size
        Items per task (default: about 8 tasks per worker, at most 64 items each).
    progress
        Show progress bars (default: for more than 10 items).
    """

    n_jobs: int | None = -1
    client: Any = None
    in_process: bool = False
    batch_size: int | None = None
    progress: bool | None = None

    @property
    def workers(self) -> int:
        """Number of parallel workers."""
        if self.in_process:
            return 1
        if self.client is not None:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        if self.n_jobs is None or self.n_jobs == 0:
            return 1
        if self.n_jobs < 0:
            return max(1, (os.cpu_count() or 1) + 1 + self.n_jobs)
        return self.n_jobs


def run_batches(
    func: Callable[..., list[tuple]],
    specs: list[Any],
    kwargs: dict[str, Any],
    runner: Runner,
    desc: str,
) -> list[tuple]:
    """Run ``func(batch, **kwargs)`` over ``specs`` in batches; one result per spec, in order.

    Worker processes get ``threads=1`` (they already use every core; the kernel's own
    threads would oversubscribe them), this process ``threads=None``.

    Examples
    --------
    >>> def double(batch, threads=None):
    ...     return [("ok", 2 * x) for x in batch]
    >>> run_batches(double, [1, 2, 3], {}, Runner(n_jobs=1), "demo")
    [('ok', 2), ('ok', 4), ('ok', 6)]
    """
    if not specs:
        return []
    workers = runner.workers
    batch_size = runner.batch_size
    if batch_size is None:
        # ~8 tasks per worker balances load; at most 64 files per task keeps progress lively.
        batch_size = max(1, min(64, math.ceil(len(specs) / (8 * workers))))
    batches = [specs[i : i + batch_size] for i in range(0, len(specs), batch_size)]
    results: list[list[tuple] | None] = [None] * len(batches)
    bar = progress(desc=desc, total=len(specs), show=runner.progress)

    def fail(i: int, exc: BaseException) -> None:
        log.warning("a task of %d model(s) failed: %s", len(batches[i]), error_text(exc))
        results[i] = [("error", f"worker task failed: {error_text(exc)}")] * len(batches[i])

    try:
        if runner.client is not None and not runner.in_process:
            from distributed import as_completed

            futures = runner.client.map(func, batches, pure=False, threads=1, **kwargs)
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # noqa: BLE001
                    fail(i, exc)
                bar.update(len(batches[i]))
        elif workers == 1 or len(batches) == 1:
            for i, batch in enumerate(batches):
                try:
                    results[i] = func(batch, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    fail(i, exc)
                bar.update(len(batch))
        else:
            from joblib import Parallel, delayed

            def indexed(i: int, batch: list[Any]) -> tuple[int, list[tuple]]:
                return i, func(batch, threads=1, **kwargs)

            parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
            try:
                for i, res in parallel(delayed(indexed)(i, b) for i, b in enumerate(batches)):
                    results[i] = res
                    bar.update(len(batches[i]))
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by a bad file
                for i, res in enumerate(results):
                    if res is None:
                        fail(i, exc)
    finally:
        bar.close()
    return [r for batch in results for r in (batch or [])]
