"""What a library build runs in worker processes: open, sample and describe models.

Kept apart from :mod:`.build` so that a worker process imports numpy, the readers and
(for pass 2) numba, but not pandas: worker start-up is a fixed cost of every parallel
build, about a second with pandas on this machine's loaded cores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..descriptors.config import DescriptorConfig
from ..descriptors.value_range import (
    AUTO_RANGE_SAMPLES,
    degenerate_reason,
    range_summary,
)
from ..weights import WeightReadError, WeightSource, open_weights
from .executor import TORCH_FILE, error_text

__all__ = ["sample_batch", "describe_batch"]


def _open(spec: Any) -> WeightSource:
    if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "f64":
        # NWS snapshots are headerless float64 vectors; the layout, not the file, says so.
        from ..weights.formats.nws import read_raw_float64

        _, path, expected = spec
        theta = read_raw_float64(path)
        if expected is not None and theta.shape[0] != expected:
            raise WeightReadError(
                f"{path}: holds {theta.shape[0]} float64 values, the CSV says {expected} weights"
            )
        return open_weights(theta, name=path)
    if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "adapter":
        # A PEFT adapter folder read as the updates of its LoRA modules (weights.adapters).
        return open_weights(spec[1], adapter=spec[2])
    if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == TORCH_FILE:
        return _open_torch_file(spec[1], spec[2])
    return open_weights(spec)


def _open_torch_file(path: str, root: str) -> WeightSource:
    """A PyTorch checkpoint the layout names (no suffix to choose its reader by), read with
    the PyTorch reader (``weights_only=True``) if it resolves inside ``root``."""
    from ..weights.formats.pytorch import PYTORCH
    from ..weights.registry import read_path

    resolved = os.path.realpath(path)
    if not Path(resolved).is_relative_to(root):
        raise WeightReadError(
            f"{path}: refused: it resolves to {resolved}, outside the folder read ({root}; "
            "a symlink out of it?)"
        )
    return read_path(Path(path), file_format=PYTORCH)


def sample_batch(
    specs: list[Any],
    n_models: int,
    max_samples: int,
    config: DescriptorConfig,
    keep_scans: bool = False,
    threads: int | None = None,
) -> list[tuple]:
    """Pass 1: per model ("ok", n, range summary, degenerate reason, window counts or None)
    or ("error", message). The summary is :func:`range_summary`'s (the one both passes
    take, so a model's degenerate verdict is the same in either); the window counts of a
    16-/8-bit model come back only with ``keep_scans``. The degenerate check runs here,
    in parallel, not in the parent."""
    out: list[tuple] = []
    for spec in specs:
        try:
            ws = _open(spec)
            n = ws.n
            if n == 0:
                raise ValueError("the model has no floating-point weights")
            summary, scan = range_summary(ws, config, n_models, max_samples, threads=threads)
            # Only a model that is all 16-/8-bit floats is whole in its counts.
            whole = all(t.patterns is not None for t in ws.tensors)
            kept = scan if keep_scans and whole else None
            out.append(("ok", n, summary, degenerate_reason(summary), kept))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, the build goes on
            out.append(("error", error_text(exc)))
    return out


def describe_batch(
    specs: list[Any],
    config: DescriptorConfig,
    degenerate_among: int | None = None,
    max_samples: int = AUTO_RANGE_SAMPLES,
    threads: int | None = None,
) -> list[tuple]:
    """Pass 2: per model ("ok", descriptor (S, B) float32, N, degenerate reason) or
    ("error", message).

    ``degenerate_among``: check for degenerate weights on the sample pass 1 takes of a
    model among that many (None: pass 1 checked every model; the reason is None).
    """
    from ..descriptors.kernel import describe_source  # lazily: numba loads here

    out: list[tuple] = []
    for spec in specs:
        try:
            ws = _open(spec)
            reason, scan = None, None
            if degenerate_among is not None and ws.n:
                summary, scan = range_summary(
                    ws, config, degenerate_among, max_samples, threads=threads
                )
                reason = degenerate_reason(summary)
            descriptor = describe_source(ws, config, threads=threads, scan=scan)
            out.append(("ok", descriptor, ws.n, reason))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, the build goes on
            out.append(("error", error_text(exc)))
    return out
