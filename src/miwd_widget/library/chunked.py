"""Chunked, bounded-memory, resumable library builds (a million rows and more).

A *chunk* is a block of models with equal weight counts, one model per row of a matrix:
anything with ``key`` (a stable name), ``source``, ``metadata`` (one row per model, a
DataFrame), ``theta()`` (the (rows, N) weights, read when called) and ``len()``; optionally
``n_weights`` and ``theta_rows(index)`` (some rows only, for the ``"auto"`` range's sample).
:func:`matrix_chunks` cuts a memory-mapped ``.npy`` matrix into such chunks;
:func:`miwd_widget.library.cnn_zoo.cnn_zoo_chunks` yields the Small CNN Zoo's.

:func:`build_chunked` describes chunk after chunk and writes each chunk's descriptors and
metadata as parts in ``<output>.parts/`` as soon as they are computed: memory holds one
chunk, never the whole library as Python objects. An interrupted build, run again with
the same chunks and output, skips the chunks whose parts are complete (and the
``"auto"`` range, recorded in the parts' manifest). At the end the parts become the
library file (:mod:`.storage` format 2: the descriptors in a memory-mapped sidecar),
copied part by part, and the parts folder is removed. A build holds its parts folder's
lock throughout: a second build of the same output at once is refused
(:class:`BuildInProgressError`, naming the first), and the lock goes with its process.

A chunk that fails (an unreadable file, a worker error) is recorded, not fatal: its part
holds no rows and its error, which reaches ``library.errors``; a re-run tries it again.
Parts are matched to chunks by key (the matrix's absolute path and rows) and a hash of
the chunk's metadata, and the manifest records each source file's size, modification
time, dtype and shape: parts of another matrix, or of one changed since, are never mixed in.

With a ``dask.distributed`` client, chunks are described on its workers (at most two
chunks per worker in flight), giving the same descriptors.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._progress import progress as progress_bar
from ..columns import ID, SOURCE
from ..descriptors.config import DescriptorConfig
from ..weights import WeightReadError
from ..weights.formats.npy import in_place
from .parts import LibraryParts

__all__ = [
    "MatrixChunk",
    "matrix_chunks",
    "build_chunked",
    "BuildInProgressError",
    "chunks_value_range",
    "describe_chunk",
]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: Which process builds into a parts folder, for the message a second build gets.
OWNER = "owner.txt"


class BuildInProgressError(RuntimeError):
    """Another process is building the same library file (it holds the parts folder)."""


@dataclass
class MatrixChunk:
    """Rows ``start:stop`` of a ``.npy`` matrix holding one model's theta per row.

    The matrix is opened when :meth:`theta` is called (so a chunk pickles as a path and two
    numbers, for dask workers) and its rows are read in place by positional reads, never
    through a map (a matrix truncated while it is read is an error, not SIGBUS).
    """

    path: str
    start: int
    stop: int
    metadata: pd.DataFrame

    @property
    def key(self) -> str:
        # the absolute path: two matrices of the same name in other folders never collide
        return f"{os.path.abspath(self.path)}:{self.start}-{self.stop}"

    @property
    def source(self) -> str:
        return self.path

    @property
    def n_weights(self) -> int:
        """Weights per row (from the .npy header)."""
        return int(np.load(self.path, mmap_mode="r").shape[1])

    def _matrix(self) -> Any:
        # numpy parses the header and maps the file; the map itself is never read
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:  # e.g. shorter now than its header says
            raise WeightReadError(f"{self.path}: cannot read it as a .npy matrix: {exc}") from None
        return in_place(Path(self.path), mapped)

    def theta(self) -> np.ndarray:
        block = np.ascontiguousarray(self._matrix()[self.start : self.stop])
        return block if block.dtype in (np.float32, np.float64) else block.astype(np.float32)

    def theta_rows(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (sorted, relative to the chunk) only: the range pass reads these."""
        block = np.asarray(self._matrix()[self.start + np.asarray(index)])
        return block if block.dtype in (np.float32, np.float64) else block.astype(np.float32)

    def __len__(self) -> int:
        return self.stop - self.start


def matrix_chunks(
    path: str | os.PathLike,
    metadata: pd.DataFrame | None = None,
    chunk_rows: int = 8192,
) -> list[MatrixChunk]:
    """Chunks of ``chunk_rows`` rows of a (models, weights) ``.npy`` matrix.

    Parameters
    ----------
    path
        The matrix (float16/32/64), memory-mapped, never loaded whole.
    metadata
        One row per matrix row (default: an ``id`` column ``"<file stem>/<row>"``).
    chunk_rows
        Rows per chunk.

    Examples
    --------
    >>> np.save("w.npy", np.zeros((10, 64), np.float32))  # doctest: +SKIP
    >>> [c.key for c in matrix_chunks("/data/w.npy", chunk_rows=4)]  # doctest: +SKIP
    ['/data/w.npy:0-4', '/data/w.npy:4-8', '/data/w.npy:8-10']
    """
    path = os.path.abspath(path)
    try:
        m = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path}: cannot memory-map it as a .npy matrix: {exc}") from None
    if m.ndim != 2 or not np.issubdtype(m.dtype, np.floating):
        raise ValueError(f"{path}: expected a 2-D float matrix, got {m.dtype} {m.shape}")
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, (int, np.integer))
        or chunk_rows < 1
    ):
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    n = m.shape[0]
    if metadata is None:
        stem = Path(path).stem
        metadata = pd.DataFrame({ID: [f"{stem}/{i}" for i in range(n)]})
    elif len(metadata) != n:
        raise ValueError(f"{path}: {n} rows, but the metadata has {len(metadata)}")
    metadata = metadata.reset_index(drop=True)
    return [
        MatrixChunk(path, a, min(a + int(chunk_rows), n), metadata.iloc[a : a + int(chunk_rows)])
        for a in range(0, n, int(chunk_rows))
    ]


# --------------------------------------------------------------------------------------
# The "auto" range over chunks
# --------------------------------------------------------------------------------------


def chunks_value_range(
    chunks: list[Any],
    percentiles: tuple[float, float],
    budget: int | None = None,
) -> tuple[tuple[float, float], list[tuple[str, str]]]:
    """The pooled ``"auto"`` range of the chunks' rows, one vote per row (model).

    The one ``"auto"`` range of every chunked build (:func:`build_chunked`, and
    :func:`~miwd_widget.library.cnn_zoo.build_cnn_zoo` through its chunks).

    Each row is sampled as a library build samples a model (``model_stride`` among all
    rows, ``sample_index``) and degenerate rows are left out (and reported).
    When all rows' samples exceed ``budget`` values (default:
    :data:`~miwd_widget.descriptors.value_range.RANGE_BUDGET`), every k-th row is sampled
    instead.
    Up to that size this is the range of a build of the same rows as in-memory models.

    Returns
    -------
    ((lo, hi), warnings)
        The range, and ``(label, message)`` of the degenerate rows left out.
    """
    from ..descriptors import value_range as vr
    from ..descriptors.value_range import (
        AUTO_RANGE_SAMPLES,
        degenerate_reason,
        model_stride,
        pooled_percentiles,
        sample_index,
        sample_size,
    )

    budget = vr.RANGE_BUDGET if budget is None else budget  # read now: tests may lower it

    total = sum(len(c) for c in chunks)
    if total == 0:
        raise ValueError("the chunks hold no rows")
    sizes: dict[int, int] = {}
    per_row_total = 0
    for c in chunks:
        n = _row_width(c)
        sizes[id(c)] = n
        per_row_total += len(c) * sample_size(n, model_stride(n, total, AUTO_RANGE_SAMPLES))
    row_step = max(1, math.ceil(per_row_total / budget))
    samples, reasons, labels = [], [], []
    first = 0
    for c in chunks:
        n = sizes[id(c)]
        stride = model_stride(n, total, AUTO_RANGE_SAMPLES)
        picked = np.arange((-first) % row_step, len(c), row_step)
        first += len(c)
        if picked.size == 0:
            continue
        read = getattr(c, "theta_rows", None)
        block = read(picked) if read is not None else c.theta()[picked]
        block = block[:, sample_index(n, stride)]
        if stride > 1:  # a compact copy: the rows' samples must not hold whole rows alive
            block = np.ascontiguousarray(block)
        finite = np.isfinite(block)
        for j, r in enumerate(picked):
            s = block[j] if finite[j].all() else block[j][finite[j]]
            samples.append(s)
            reasons.append(degenerate_reason(s))
            labels.append(f"{c.source}: row {c.start + int(r) if hasattr(c, 'start') else r}")
    used = [i for i, r in enumerate(reasons) if r is None] or list(range(len(samples)))
    dropped = [] if len(used) == len(samples) else [i for i, r in enumerate(reasons) if r]
    warnings = [
        (
            labels[i],
            f"{labels[i]}: warning: degenerate weights ({reasons[i]}); described, but left "
            "out of the pooled 'auto' value range",
        )
        for i in dropped
    ]
    lo_hi = pooled_percentiles([samples[i] for i in used], percentiles=percentiles)
    return lo_hi, warnings


def _row_width(chunk: Any) -> int:
    if hasattr(chunk, "n_weights"):
        return int(chunk.n_weights)
    return int(chunk.theta().shape[1])  # a chunk that cannot say: read it


# --------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------


def describe_chunk(chunk: Any, config: DescriptorConfig, threads: int | None = None) -> tuple:
    """(descriptors of the kept rows, kept mask, N, [(label, error)]) of one chunk.

    The one description of a block of rows (one model per row) of every chunked build:
    :func:`build_chunked` and :func:`~miwd_widget.library.cnn_zoo.build_cnn_zoo`. Rows
    with NaN/Inf weights under ``nan_policy="raise"`` are dropped and reported.

    Examples
    --------
    >>> chunk = matrix_chunks("w.npy")[0]  # doctest: +SKIP
    >>> d, keep, n, errors = describe_chunk(chunk, DescriptorConfig(value_range=(-1, 1)))  # doctest: +SKIP
    """
    from .rows import describe_matrix

    theta = chunk.theta()
    rows, n = theta.shape
    label = chunk.source
    first = getattr(chunk, "start", 0)
    if n < config.S:
        err = f"{label}: the model has N={n} weights, fewer than S={config.S} windows; use a smaller S"
        return (
            np.empty((0, config.S, config.B), np.float32),
            np.zeros(rows, bool),
            n,
            [(f"{label}:{first + i}", err) for i in range(rows)],
        )
    d, bad = describe_matrix(theta, config, threads)
    keep = np.ones(rows, bool)
    errors = []
    if config.nan_policy == "raise" and bad.any():
        for i in np.flatnonzero(bad):
            row = theta[i]
            nan = int(np.isnan(row).sum())
            inf = int(np.isinf(row).sum())
            at = int(np.flatnonzero(~np.isfinite(row))[0])
            errors.append(
                (
                    f"{label}:{first + int(i)}",
                    f"{label}: row {first + int(i)}: theta holds {nan} NaN and {inf} Inf values "
                    f"(first at theta[{at}]); pass nan_policy='omit' to leave them out of the "
                    "histograms",
                )
            )
        keep = bad == 0
        d = d[keep]
    return d, keep, n, errors


def _write_file(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` with ``write(file)`` under a temporary name, then move it into place
    (a killed build leaves no half-written part under a final name). A full disk is an
    ``OSError`` naming the file: the parts written so far stay, for a re-run to resume."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        error = OSError(
            f"{path}: cannot write it: {exc.strerror or exc} (the finished chunks are kept: "
            "run the build again to go on)"
        )
        error.errno = exc.errno
        raise error from exc


def _write_json(path: Path, value: Any) -> None:
    _write_file(path, lambda f: f.write(json.dumps(value).encode()))


def _save_part(parts: Path, i: int, chunk: Any, result: tuple) -> None:
    """Write one chunk's parts; its ``.json`` (written last, atomically) marks it done."""
    d, keep, n, errors = result
    meta = chunk.metadata.reset_index(drop=True)[keep].reset_index(drop=True)
    if SOURCE not in meta.columns:
        meta.insert(1 if ID in meta.columns else 0, SOURCE, chunk.source)
    if "n_params" not in meta.columns:
        meta["n_params"] = np.int64(n)
    stem = f"{i:06d}"
    block = np.ascontiguousarray(d, dtype=np.float32)

    def write_npy(f: Any) -> None:  # np.save's bytes; not its tofile(), whose failed
        # write says "8192 requested and 718 written" instead of why (a full disk)
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(block))
        f.write(block.reshape(-1).view(np.uint8))

    _write_file(parts / f"{stem}.npy", write_npy)
    _write_file(parts / f"{stem}.parquet", lambda f: meta.to_parquet(f, index=False))
    _write_json(
        parts / f"{stem}.json",
        {
            "key": chunk.key,
            "metadata_hash": _metadata_hash(chunk.metadata),
            "rows": int(len(d)),
            "errors": errors,
        },
    )


def _save_failed_part(parts: Path, i: int, chunk: Any, exc: BaseException) -> None:
    """Record that chunk ``i`` failed: a part of no rows with the error (re-run: retried)."""
    from .executor import error_text

    start = int(getattr(chunk, "start", 0))
    label = f"{chunk.source}:{start}-{start + len(chunk)}"
    log.warning("%s: chunk failed: %s", label, error_text(exc))
    _write_json(
        parts / f"{i:06d}.json",
        {
            "key": chunk.key,
            "metadata_hash": _metadata_hash(chunk.metadata),
            "rows": 0,
            "errors": [(label, error_text(exc))],
            "failed": True,
        },
    )


def _metadata_hash(metadata: pd.DataFrame) -> str:
    """A hash of a chunk's metadata (values and column names), to tell its parts apart."""
    try:
        values = int(pd.util.hash_pandas_object(metadata, index=False).sum())
    except TypeError:  # unhashable cells (lists...): their text
        values = int(pd.util.hash_pandas_object(metadata.astype(str), index=False).sum())
    names = int(pd.util.hash_pandas_object(pd.Series([str(c) for c in metadata.columns])).sum())
    return f"{values:x}-{names:x}"


def _fingerprints(chunks: list[Any]) -> dict[str, Any]:
    """Per source file: [size, mtime_ns, dtype, shape] (a matrix edited or replaced in
    place must not resume from parts computed on its old content). Non-file sources: None."""
    out: dict[str, Any] = {}
    for c in chunks:
        src = str(c.source)
        if src in out:
            continue
        try:
            st = os.stat(src)
        except OSError:
            out[src] = None
            continue
        dtype, shape = None, None
        try:
            m = np.load(src, mmap_mode="r", allow_pickle=False)
            dtype, shape = str(m.dtype), list(m.shape)
        except Exception:  # noqa: BLE001, S110 - not a .npy: size and time still tell
            pass
        out[src] = [st.st_size, st.st_mtime_ns, dtype, shape]
    return out


@contextmanager
def _building(path: Path, parts: Path) -> Iterator[None]:
    """Create ``parts`` and hold its lock (:func:`.storage.folder_lock`) while building.

    Two builds of one path would share the parts folder, and the first to end removes it
    under the other: a second build is refused at once, naming the first. The lock goes
    with the process (a killed build's too), so an interrupted build resumes.
    """
    from .storage import folder_lock

    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    owner = f"process {os.getpid()} on {socket.gethostname()}, started {started}".encode()
    for attempt in range(3):
        parts.mkdir(parents=True, exist_ok=True)
        with ExitStack() as held:
            try:
                locked = held.enter_context(folder_lock(parts, wait=False))
            except BlockingIOError:
                raise BuildInProgressError(
                    f"{path}: another build of this library is under way ({_owner(parts)}), "
                    f"writing its parts to {parts}; wait for it to end, or write the library "
                    "elsewhere"
                ) from None
            if locked is not None and attempt < 2 and not _same_folder(parts, locked):
                continue  # a build ending meanwhile removed the folder locked: make a new one
            _write_file(parts / OWNER, lambda f: f.write(owner))
            try:
                yield
            except BaseException:  # interrupted: the parts stay to resume, not its owner
                (parts / OWNER).unlink(missing_ok=True)
                raise
            return


def _same_folder(folder: Path, locked: os.stat_result) -> bool:
    """Whether ``folder`` is still the folder whose ``stat`` is ``locked``."""
    try:
        now = os.stat(folder)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (locked.st_dev, locked.st_ino)


def _owner(parts: Path, wait: float = 1.0) -> str:
    """Who builds into ``parts`` (as :func:`_building` writes it once it holds the lock:
    a build that has just started has not yet, so wait for it up to ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            text = (parts / OWNER).read_text().strip()
        except OSError:
            text = ""
        if text or time.monotonic() > deadline:
            return text or "another process"
        time.sleep(0.01)


def build_chunked(
    chunks: Iterable[Any],
    config: DescriptorConfig,
    path: str | os.PathLike,
    *,
    errors: list[tuple[str, str]] | None = None,
    attrs: dict[str, Any] | None = None,
    threads: int | None = None,
    client: Any = None,
    progress: bool | None = None,
) -> Path:
    """Describe ``chunks`` into the library file ``path``, resumably; returns ``path``.

    Parameters
    ----------
    chunks
        The chunks (see the module docstring), in library row order; their keys must be
        unique and stable between runs.
    config
        Descriptor parameters; an ``"auto"`` range is resolved over all rows first
        (:func:`chunks_value_range`) and recorded, so a resumed build reuses it.
    path
        The library file to write (Parquet + descriptor sidecar); the parts go to
        ``<path>.parts/`` meanwhile.
    errors, attrs
        Failures found before the build (kept in ``library.errors``), library ``attrs``.
    threads
        Kernel threads in this process (default: numba's thread count).
    client
        A ``dask.distributed.Client``: chunks are described on its workers.
    progress
        Show a progress bar (default: for more than 10 chunks).

    Raises
    ------
    ValueError
        ``<path>.parts/`` holds parts of a different build (other chunks or parameters).
    BuildInProgressError
        Another process is building ``path`` (its process, host and start time are named):
        two builds of one path at once would share its parts.
    OSError
        A file could not be written (a full disk): the message names it and says why.
        A library already at ``path`` stays whole, and the finished chunks are kept for
        a re-run to resume.

    Examples
    --------
    >>> build_chunked(matrix_chunks("w.npy"), DescriptorConfig(), "w.parquet")  # doctest: +SKIP
    """
    from .build import accuracy_norm, errors_frame
    from .storage import save, sidecar_writer

    chunks = list(chunks)
    keys = [c.key for c in chunks]
    if len(set(keys)) != len(keys):
        raise ValueError("chunk keys must be unique")
    path = Path(path)
    parts = path.with_name(path.name + ".parts")
    with _building(path, parts):
        manifest_path = parts / MANIFEST
        wanted = {
            "config": config.to_dict(),
            "keys": keys,
            "sources": _fingerprints(chunks),
        }
        if manifest_path.is_file():
            manifest = json.loads(manifest_path.read_text())
            if {k: manifest.get(k) for k in wanted} != wanted:
                raise ValueError(
                    f"{parts}: holds the parts of a different build (other chunks, parameters "
                    "or source files changed since); "
                    "remove it or write the library elsewhere"
                )
            log.info("%s: resuming", parts)
        else:
            manifest = dict(wanted)
        if config.is_auto and "range" not in manifest:
            lo_hi, warnings = chunks_value_range(chunks, config.percentiles)
            manifest.update(range=list(lo_hi), warnings=warnings)
        _write_json(manifest_path, manifest)
        resolved = config.with_range(tuple(manifest["range"])) if config.is_auto else config
        todo = [i for i, c in enumerate(chunks) if not _done(parts, i, c)]
        show = len(chunks) > 10 if progress is None else progress
        bar = progress_bar(desc="MI-WD (chunks)", total=len(chunks), show=show, unit="chunk")
        bar.update(len(chunks) - len(todo))
        try:
            if client is None:
                for i in todo:
                    try:
                        result = describe_chunk(chunks[i], resolved, threads)
                    except Exception as exc:  # noqa: BLE001 - a batch job records it and goes on
                        _save_failed_part(parts, i, chunks[i], exc)
                    else:
                        _save_part(parts, i, chunks[i], result)
                    bar.update(1)
            else:
                _run_on_dask(client, chunks, todo, resolved, parts, bar)
        finally:
            bar.close()
        # Assemble: descriptors part by part into the sidecar, metadata through pandas.
        done = [json.loads((parts / f"{i:06d}.json").read_text()) for i in range(len(chunks))]
        ok = [i for i, p in enumerate(done) if not p.get("failed")]  # failed parts hold no rows
        n = sum(done[i]["rows"] for i in ok)
        all_errors = list(errors or [])
        # errors a chunk's reader found (e.g. CnnZooChunk: runs with unknown epochs)
        all_errors += [tuple(e) for c in chunks for e in getattr(c, "errors", None) or []]
        all_errors += [tuple(w) for w in manifest.get("warnings", [])]
        for p in done:
            all_errors += [tuple(e) for e in p["errors"]]
        if not ok:
            raise ValueError(
                f"{path}: no chunk could be described; the first failure: {done[0]['errors'][0][1]}"
            )
        metadata = pd.concat(
            [pd.read_parquet(parts / f"{i:06d}.parquet") for i in ok], ignore_index=True
        )
        metadata["accuracy_norm"] = accuracy_norm(metadata)
        with sidecar_writer(path, (n, config.S, config.B)) as (out, sidecar):
            pos = 0
            for i in ok:
                block = np.load(parts / f"{i:06d}.npy", mmap_mode="r")
                out[pos : pos + len(block)] = block
                pos += len(block)
            built = LibraryParts(
                out, metadata, resolved, errors=errors_frame(all_errors), attrs=dict(attrs or {})
            )
            save(built, path, descriptors="sidecar", _sidecar=sidecar)
        shutil.rmtree(parts)  # under the lock: no other build writes here
    return path


def _done(parts: Path, i: int, chunk: Any) -> bool:
    """Whether chunk ``i``'s parts are complete, for this chunk (key and metadata)."""
    marker = parts / f"{i:06d}.json"
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        not info.get("failed")  # a failed chunk is tried again by a re-run
        and info.get("key") == chunk.key
        and info.get("metadata_hash") == _metadata_hash(chunk.metadata)
        and (parts / f"{i:06d}.npy").is_file()
        and (parts / f"{i:06d}.parquet").is_file()
    )


def _run_on_dask(
    client: Any, chunks: list[Any], todo: list[int], config: DescriptorConfig, parts: Path, bar: Any
) -> None:
    from distributed import as_completed

    from .executor import sigterm_as_interrupt

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    pending = list(reversed(todo))
    futures: dict[Any, int] = {}

    def submit() -> Any:
        i = pending.pop()
        fut = client.submit(describe_chunk, chunks[i], config, 1, pure=False)
        futures[fut] = i
        return fut

    try:
        with sigterm_as_interrupt():  # SIGTERM as Ctrl-C: either cancels what is in flight
            queue = as_completed([submit() for _ in range(min(2 * workers, len(pending)))])
            for fut in queue:
                i = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - recorded; the build goes on
                    _save_failed_part(parts, i, chunks[i], exc)
                else:
                    _save_part(parts, i, chunks[i], result)
                bar.update(1)
                if pending:
                    queue.add(submit())
    finally:
        if futures:  # interrupted (Ctrl-C, SIGTERM, an error writing a part): stop the rest
            client.cancel(list(futures))
