"""Run a worker function over batches of work items: in this process, worker processes or dask.

Worker processes (loky, joblib's process pool) isolate the files they read:

- **A worker that dies costs only its file.** A native library can crash, the kernel's OOM
  killer can strike (model files are read in place, never mapped: a file truncated while
  it is read is an error, not SIGBUS). Each worker notes, in a
  marker file, which item it is working on; when one dies, the item every running task
  was on becomes a *suspect*, the rest of those tasks is retried on fresh workers, and
  each suspect is then run alone: the one that dies alone is recorded as failed (with the
  worker's exit signal, and whether the file changed size since it was listed), the others
  are read normally.
- **SIGTERM stops a build as Ctrl-C does**: while batches run, SIGTERM (as a job scheduler
  sends it) raises ``KeyboardInterrupt`` in the main thread, and the workers are killed.
- **Workers exit when their parent dies**, however it dies (even SIGKILL): each worker runs
  a watchdog thread that exits the process within a second once its parent process is
  gone (the descriptor kernels release the GIL, so the thread runs during long work).
  ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the *thread* that spawned the
  worker exits, which for a reused pool is not the parent's death.

On dask, a lost worker costs likewise only the files it held. dask itself reruns the tasks
of a lost worker elsewhere until ``distributed.scheduler.allowed-failures`` + 1 workers
have died running one (``KilledWorker``); a batch it gives up on so (or whose worker's
connection closed) is retried one file per task, each with dask's same budget, and a file
whose own task dask gives up on is run once more alone (dask blames every task a dying
worker held, queued ones too): given up on alone, it is recorded as failed (its worker
died). Every other file's result is kept. A lower ``allowed-failures`` gives up sooner on
a file that kills its workers: each try costs a worker restart, 3 * (allowed-failures + 1)
in all for such a file.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .._progress import progress

__all__ = [
    "Runner",
    "run_batches",
    "worker_pool",
    "error_text",
    "spec_path",
    "sigterm_as_interrupt",
    "TORCH_FILE",
]

log = logging.getLogger(__name__)

#: The tag of a ``(TORCH_FILE, path, root)`` spec: a PyTorch checkpoint whose name has no
#: model suffix (the Model Zoos' ``checkpoint_<e>/checkpoints``), read only if it resolves
#: inside ``root`` (:mod:`.workers` opens it).
TORCH_FILE = "torch"


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


def spec_path(spec: Any) -> str | None:
    """The file a work item reads (a path, an NWS ``("f64", path, n)`` spec, a PEFT adapter
    ``("adapter", folder, mode)`` spec or a ``(TORCH_FILE, path, root)`` spec), else None.

    Examples
    --------
    >>> spec_path(("f64", "/nws/net/weights/020.bin", 10)), spec_path(3.0)
    ('/nws/net/weights/020.bin', None)
    """
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec)
    if isinstance(spec, tuple) and len(spec) == 3 and spec[0] in ("f64", "adapter", TORCH_FILE):
        return os.fspath(spec[1])
    return None


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
    pool
        The worker processes to run on (:func:`worker_pool`), shared by several
        :func:`run_batches` calls; None: each call starts and stops its own.
    """

    n_jobs: int | None = -1
    client: Any = None
    in_process: bool = False
    batch_size: int | None = None
    progress: bool | None = None
    pool: WorkerPool | None = None

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
            per_item: list[Any] = [None] * len(specs)
            for i, res in _run_on_dask(func, specs, batches, kwargs, runner.client):
                per_item[i] = res
                bar.update(1)
            return per_item
        elif workers == 1 or len(batches) == 1:
            for i, batch in enumerate(batches):
                try:
                    results[i] = func(batch, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    fail(i, exc)
                bar.update(len(batch))
        else:  # worker processes: answers come per item (see _run_isolated)
            per_item = [None] * len(specs)
            with contextlib.ExitStack() as stack:
                pool = runner.pool or stack.enter_context(WorkerPool(workers))
                for i, res in _run_isolated(func, specs, batches, kwargs, pool):
                    per_item[i] = res
                    bar.update(1)
            return per_item
    finally:
        bar.close()
    return [r for batch in results for r in (batch or [])]


# --------------------------------------------------------------------------------------
# Worker processes: crash isolation, SIGTERM, parent death
# --------------------------------------------------------------------------------------


def _watch_parent(parent: int, interval: float = 0.5) -> None:
    """Worker initializer: exit this worker as soon as ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(3)  # the parent is gone: nobody will collect what this worker computes

    threading.Thread(target=watch, name="miwd-parent-watchdog", daemon=True).start()


def _marked(marker: str) -> int | None:
    """The item a task was working on (None: it had not started)."""
    try:
        with open(marker, "rb") as f:
            raw = f.read(8)
    except OSError:
        return None
    return int.from_bytes(raw, "little") if len(raw) == 8 else None


def _tracked(
    func: Callable[..., list[tuple]], batch: list[Any], kwargs: dict[str, Any], marker: str
) -> list[tuple]:
    """Run ``func`` item by item in a worker, noting each item before it is read.

    The marker is opened once per task and overwritten in place (8 bytes, one ``pwrite``
    per item): reopening it per item cost about as much as reading a small model file.
    """
    out: list[tuple] = []
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for j, spec in enumerate(batch):
            os.pwrite(fd, j.to_bytes(8, "little"), 0)
            out += func([spec], threads=1, **kwargs)
    finally:
        os.close(fd)
    return out


def _size(spec: Any) -> int | None:
    path = spec_path(spec)
    try:
        return os.stat(path).st_size if path is not None else None
    except OSError:
        return None


def _how_it_died(exc: BaseException) -> str:
    """``exit code SIGBUS(-7)`` from loky's error, else the error's first line."""
    codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    return f"exit code {codes.group(1)}" if codes else error_text(exc)


def _size_note(spec: Any, listed: int | None) -> str:
    """``"; the file changed size since it was listed (...)"``, or "" if it did not."""
    now = _size(spec)
    if spec_path(spec) is None or listed is None or now == listed:
        return ""
    if now is None:
        return "; the file is gone since it was listed"
    return (
        f"; the file changed size since it was listed ({listed:,} -> {now:,} bytes): was it "
        "rewritten while the library was built?"
    )


def _death_message(spec: Any, how: str, listed: int | None) -> str:
    """Why an item is recorded as failed after its worker died reading it alone."""
    path = spec_path(spec)
    label = path if path is not None else f"model {spec!r}"[:80]
    return f"{label}: the worker process reading it died ({how}){_size_note(spec, listed)}"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """In the main thread, let SIGTERM raise KeyboardInterrupt (as Ctrl-C does) meanwhile.

    Used by every build that waits on workers (:func:`run_batches`, the chunked builder on
    dask); a SIGTERM handler someone else installed is left alone.

    Examples
    --------
    >>> with sigterm_as_interrupt():
    ...     pass  # a SIGTERM here would raise KeyboardInterrupt
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield  # someone else handles SIGTERM: leave it to them
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class WorkerPool:
    """Worker processes of our own, not loky's process-wide reusable pool, shared by the
    :func:`run_batches` calls of one build (its two passes start the workers once).

    joblib's ``Parallel`` (the zoo's training) picks up loky's shared pool when its
    arguments match and then fails on attributes only its own pools have; one build's
    broken pool must not be anyone else's either. A pool whose worker died is replaced
    (:meth:`replace`) before its next task.

    Examples
    --------
    >>> with WorkerPool(2) as pool:
    ...     pool.executor().submit(abs, -3).result()
    3
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: Any = None
        self._broken = False

    def executor(self) -> Any:
        """The live executor, started (or restarted after a death) on first use."""
        if self._executor is None or self._broken:
            from joblib.externals.loky import ProcessPoolExecutor

            self.close(kill=True)
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_watch_parent, initargs=(os.getpid(),)
            )
            self._broken = False
        return self._executor

    def replace(self) -> None:
        """A worker died: start new ones before the next task."""
        self._broken = True

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: without waiting for running tasks)."""
        if self._executor is not None:
            # wait=True: the pool's manager thread is joined, so it logs no stray errors
            self._executor.shutdown(wait=True, kill_workers=kill)
            self._executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        self.close(kill=kind is not None)


@contextlib.contextmanager
def worker_pool(runner: Runner) -> Iterator[Runner]:
    """``runner`` with one :class:`WorkerPool` for all the batches run in this block.

    Runners that run in this process, on dask or already with a pool come back unchanged.

    Examples
    --------
    >>> with worker_pool(Runner(n_jobs=1)) as runner:
    ...     runner.pool is None
    True
    """
    if runner.pool is not None or runner.client is not None or runner.workers == 1:
        yield runner
        return
    from dataclasses import replace

    with WorkerPool(runner.workers) as pool:
        yield replace(runner, pool=pool)


def _run_isolated(
    func: Callable[..., list[tuple]],
    specs: list[Any],
    batches: list[list[Any]],
    kwargs: dict[str, Any],
    pool: WorkerPool,
) -> Iterator[tuple[int, tuple]]:
    """Yield ``(spec index, result)`` for every spec, a dead worker costing only its item."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky.process_executor import BrokenProcessPool

    workers = pool.workers
    listed = [_size(s) for s in specs]
    starts = itertools.accumulate([0] + [len(b) for b in batches])
    queue = [list(range(a, a + len(b))) for a, b in zip(starts, batches, strict=False)]
    suspects: list[int] = []
    died: dict[int, str] = {}  # suspect -> how the worker died when it was reading it
    task_ids = itertools.count()
    markers = tempfile.mkdtemp(prefix="miwd-tasks-")

    def submit(items: list[int]) -> tuple[Any, str]:
        marker = os.path.join(markers, str(next(task_ids)))
        args = (_tracked, func, [specs[i] for i in items], kwargs, marker)
        try:
            future = pool.executor().submit(*args)
        except BrokenProcessPool:  # a worker died idle (between two passes): new workers
            pool.replace()
            future = pool.executor().submit(*args)
        return future, marker

    try:
        with sigterm_as_interrupt():
            while queue or suspects:
                if not queue:  # a suspect alone: if its worker dies, it was the one
                    i = suspects.pop(0)
                    future, _ = submit([i])
                    try:
                        res = future.result()[0]
                    except BrokenProcessPool as exc:
                        pool.replace()
                        res = ("error", _death_message(specs[i], _how_it_died(exc), listed[i]))
                    except Exception as exc:  # noqa: BLE001 - recorded, the build goes on
                        res = ("error", f"worker task failed: {error_text(exc)}")
                    else:
                        note = _size_note(specs[i], listed[i])
                        if res[0] == "error" and note:
                            # It failed cleanly now, but its first reading killed a worker.
                            res = (
                                "error",
                                f"{res[1]} (an earlier reading killed its worker process: "
                                f"{died[i]}{note})",
                            )
                    yield i, res
                    continue
                # At most workers + 1 tasks are handed to the pool at a time (loky's call
                # queue holds that many): the rest wait here, not in loky's own queue, whose
                # entries a kill-on-shutdown leaves dangling (a KeyError in its manager thread).
                pending, queue = queue, []
                running: dict[Any, tuple[list[int], str]] = {}
                crashed, broken = [], None
                while pending or running:
                    while pending and broken is None and len(running) <= workers:
                        items = pending.pop(0)
                        future, marker = submit(items)
                        running[future] = (items, marker)
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        items, marker = running.pop(future)
                        try:
                            for i, res in zip(items, future.result(), strict=True):
                                yield i, res
                        except BrokenProcessPool as exc:
                            broken = exc
                            pool.replace()
                            crashed.append((items, _marked(marker)))
                        except Exception as exc:  # noqa: BLE001 - recorded, the build goes on
                            for i in items:
                                yield i, ("error", f"worker task failed: {error_text(exc)}")
                queue += pending  # never handed out before the pool broke: retried as they are
                if not crashed:
                    continue
                if all(j is None for _, j in crashed):
                    # Workers died before any item started: no file to blame, none to retry.
                    for items, _ in crashed:
                        for i in items:
                            yield i, ("error", f"worker task failed: {error_text(broken)}")
                    continue
                log.warning(
                    "a worker process died (%s); the files it and the other running tasks "
                    "were reading are retried one by one, the rest of their batches on new "
                    "workers",
                    _how_it_died(broken),
                )
                for items, j in crashed:
                    if j is None or not 0 <= j < len(items):
                        queue.append(items)
                        continue
                    suspects.append(items[j])
                    died[items[j]] = _how_it_died(broken)
                    if items[:j] + items[j + 1 :]:
                        queue.append(items[:j] + items[j + 1 :])
    except BaseException:
        pool.close(kill=True)  # Ctrl-C or SIGTERM: no worker goes on with them
        raise
    finally:
        shutil.rmtree(markers, ignore_errors=True)


# --------------------------------------------------------------------------------------
# dask: a lost worker costs only the files it held
# --------------------------------------------------------------------------------------


def _run_on_dask(
    func: Callable[..., list[tuple]],
    specs: list[Any],
    batches: list[list[Any]],
    kwargs: dict[str, Any],
    client: Any,
) -> Iterator[tuple[int, tuple]]:
    """Yield ``(spec index, result)`` for every spec, run on ``client``'s workers.

    A task that dask gives up on because its workers died (``KilledWorker``, after
    ``allowed-failures`` + 1 deaths) or whose worker's connection closed is retried one
    spec per task. dask blames every task a dying worker held, queued ones too, so a spec
    whose own task is given up on is then run alone: if dask gives up on it alone, it is
    recorded as failed.
    """
    from distributed import KilledWorker, as_completed
    from distributed.comm import CommClosedError

    listed = [_size(s) for s in specs]
    starts = itertools.accumulate([0] + [len(b) for b in batches])
    held: dict[Any, tuple[Any, list[int]]] = {}  # key -> (future, indices of its specs)

    def submit(items: list[int]) -> Any:
        future = client.submit(func, [specs[i] for i in items], pure=False, threads=1, **kwargs)
        held[future.key] = (future, items)
        return future

    def outcome(future: Any) -> tuple[list[int], list[tuple] | None, BaseException | None]:
        """The task's specs and their results, or None and why dask lost its worker."""
        _, items = held.pop(future.key)
        try:
            return items, future.result(), None
        except (KilledWorker, CommClosedError) as exc:
            return items, None, exc
        except Exception as exc:  # noqa: BLE001 - recorded, the build goes on
            return items, [("error", f"worker task failed: {error_text(exc)}")] * len(items), None
        finally:
            future.release()  # its result leaves the worker's memory

    firsts = [list(range(a, a + len(b))) for a, b in zip(starts, batches, strict=False)]
    tasks = as_completed([submit(items) for items in firsts])
    suspects: list[int] = []
    try:
        with sigterm_as_interrupt():
            for future in tasks:
                items, results, lost = outcome(future)
                if results is not None:
                    yield from zip(items, results, strict=True)
                elif len(items) > 1:
                    log.warning(
                        "dask lost the worker of a task of %d model(s) (%s); they are retried "
                        "one per task",
                        len(items),
                        type(lost).__name__,
                    )
                    for i in items:
                        tasks.add(submit([i]))
                else:
                    suspects += items
            for i in suspects:  # alone: if its worker dies now, it was the one
                _, results, lost = outcome(submit([i]))
                if results is None:
                    how = error_text(lost)
                    if isinstance(lost, KilledWorker):
                        n = lost.allowed_failures + 1
                        how = f"dask's KilledWorker: {n} worker{'s' * (n > 1)} died running it"
                    results = [("error", _death_message(specs[i], how, listed[i]))]
                yield i, results[0]
    except BaseException:  # Ctrl-C or SIGTERM: the cluster must not go on with them
        client.cancel([future for future, _ in held.values()])
        raise
