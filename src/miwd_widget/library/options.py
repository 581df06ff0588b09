"""The options of every ``ModelLibrary`` constructor, checked in one place.

Descriptor options: ``config=`` (a :class:`~miwd_widget.descriptors.config.DescriptorConfig`,
default ``DescriptorConfig()``) and its keyword shortcuts ``S``, ``B``, ``value_range``,
``percentiles``, ``clip``, ``nan_policy``, which replace the config's field of that name.

Worker options (a :class:`~.executor.Runner`): ``n_jobs`` (-1: all cores; 1: this process;
for the chunked builders, the histogram kernel's threads), ``client`` (a
``dask.distributed.Client``), ``batch_size`` (models per task) and ``progress``.

``threads`` and ``chunk_rows``, the former names of ``n_jobs`` and ``batch_size`` in
``from_chunks`` and ``from_cnn_zoo``, still work with a DeprecationWarning. Any other keyword
is a TypeError naming it and the valid ones.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

from ..descriptors.config import DescriptorConfig
from .executor import Runner

__all__ = [
    "DESCRIPTOR_OPTIONS",
    "WORKER_OPTIONS",
    "DEPRECATED_OPTIONS",
    "build_options",
    "kernel_threads",
]

#: Keyword shortcuts for the fields of ``config=``.
DESCRIPTOR_OPTIONS = ("S", "B", "value_range", "percentiles", "clip", "nan_policy")
#: Where and how a build runs (the fields of :class:`~.executor.Runner` a caller sets).
WORKER_OPTIONS = ("n_jobs", "client", "batch_size", "progress")
#: Former names: {old: new}.
DEPRECATED_OPTIONS = {"threads": "n_jobs", "chunk_rows": "batch_size"}


def build_options(
    where: str,
    config: DescriptorConfig | None = None,
    options: dict[str, Any] | None = None,
    *,
    descriptor_options: bool = True,
    worker_options: bool = True,
) -> tuple[DescriptorConfig, Runner]:
    """The descriptor config and the runner that ``where``'s keyword ``options`` ask for.

    Parameters
    ----------
    where
        The caller's name, for messages (e.g. ``"from_files"``).
    config
        The caller's ``config=`` (None: the defaults).
    options
        The caller's other keywords: descriptor shortcuts and worker options.
    descriptor_options
        False: no descriptor options (``add`` describes on the library's config).
    worker_options
        False: no worker options (``from_dataframe`` describes nothing).

    Raises
    ------
    TypeError
        An unknown keyword (named, with the valid ones), or ``config`` not a DescriptorConfig.
    ValueError
        A bad value (from :class:`~miwd_widget.descriptors.config.DescriptorConfig`).

    Examples
    --------
    >>> config, runner = build_options("from_files", None, {"S": 8, "n_jobs": 1})
    >>> config.S, config.B, runner.n_jobs
    (8, 32, 1)
    >>> build_options("from_files", None, {"bins": 8})
    Traceback (most recent call last):
    ...
    TypeError: from_files() got an unexpected keyword argument 'bins'; valid: config, S, B, value_range, percentiles, clip, nan_policy, n_jobs, client, batch_size, progress
    """
    options = dict(options or {})
    for old, new in DEPRECATED_OPTIONS.items():
        if old in options:
            warnings.warn(
                f"{where}({old}=...) is deprecated; use {new}=", DeprecationWarning, stacklevel=3
            )
            value = options.pop(old)
            if new in options:
                raise TypeError(f"{where}() got both {old}= and {new}=; pass {new}= only")
            options[new] = value
    shortcuts = DESCRIPTOR_OPTIONS if descriptor_options else ()
    workers = WORKER_OPTIONS if worker_options else ()
    valid = (("config",) if descriptor_options else ()) + shortcuts + workers
    unknown = [k for k in options if k not in valid]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        names = ", ".join(repr(k) for k in unknown)
        raise TypeError(
            f"{where}() got an unexpected keyword argument{plural} {names}; "
            f"valid: {', '.join(valid)}"
        )
    if config is None:
        config = DescriptorConfig()
    elif not isinstance(config, DescriptorConfig):
        raise TypeError(f"config: expected a DescriptorConfig, got {type(config).__name__}")
    fields = {k: options.pop(k) for k in shortcuts if k in options}
    if fields:
        config = replace(config, **fields)  # validated again by DescriptorConfig
    runner = Runner(
        n_jobs=options.get("n_jobs", -1),
        client=options.get("client"),
        batch_size=options.get("batch_size"),
        progress=options.get("progress"),
    )
    return config, runner


def kernel_threads(runner: Runner) -> int | None:
    """Threads for a build that runs the kernel in this process: None (the kernel's
    default, all cores) for ``n_jobs=-1``, else the runner's worker count.

    Examples
    --------
    >>> kernel_threads(Runner(n_jobs=-1)), kernel_threads(Runner(n_jobs=2))
    (None, 2)
    """
    return None if runner.n_jobs in (-1, None) else runner.workers
