"""Faults while a library is written: a full disk, a killed process, two writers at once
(two saves, or two chunked builds, of one path).

Shared by tests/fuzz/test_faults_storage.py (a few cases of each, in CI) and
benchmarks/bench_fuzz.py (more, counted by outcome). Each fault happens in a child
process (this file run as a script): a full disk is the file size limit
(``RLIMIT_FSIZE``; Python ignores SIGXFSZ, so a write past it raises ``EFBIG``), a kill
is SIGKILL after a random delay. The parent then judges what is on disk:

- the file at the library's path loads whole, as one of the libraries that were saved
  there (the previous one after a failure), with its clusters: never a mix;
- a failure is an ``OSError`` whose message starts with the library's path (or its
  build's parts) and says why ("File too large");
- leftover temporary files are never loadable as an incomplete library, and
  ``remove_stale_files`` removes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Outcomes, the bad ones first.
OUTCOMES = (
    "mixed",  # the file loads, but as none of the libraries saved there
    "lost",  # the file at the path does not load any more
    "unnamed error",  # the failure does not name the path and the reason
    "leftover",  # files left that are loadable as a library or that cleaning leaves
    "crash",  # the writer died of something else than the fault (a SIGBUS...)
    "previous whole",  # the save failed or was killed; the previous library is there
    "new whole",  # the save finished; the new library is there
    "one of the two whole",  # two writers: one of their libraries entirely
    "one built, one refused",  # two builds of one path: one ran, the other was told why
    "both built",  # two builds of one path, one after the other
)
BAD = OUTCOMES[:5]

S, B = 4, 8


# --------------------------------------------------------------------------------------
# Libraries and the judge
# --------------------------------------------------------------------------------------


def library(seed: int, n: int = 300) -> Any:
    """A library with everything a file holds: text metadata, atlas, clusters, attrs."""
    import pandas as pd

    from miwd_widget.library import ModelLibrary

    rng = np.random.default_rng(seed)
    d = rng.random((n, S, B)).astype(np.float32)
    d /= d.sum(axis=2, keepdims=True)
    notes = [rng.bytes(60).hex() for _ in range(n)]  # incompressible: a large Parquet file
    meta = pd.DataFrame({"id": [f"s{seed}/m{i}" for i in range(n)], "notes": notes})
    return ModelLibrary(
        d,
        meta,
        embedding=rng.normal(size=(n, 2)).astype(np.float32),
        value_range=(-0.5, 0.5),
        attrs={"seed": seed},
        clusters={f"cluster of {seed}": rng.choice(n, 7, replace=False)},
    )


def same(a: Any, b: Any) -> bool:
    """Whether two libraries hold the same rows, descriptors, atlas, clusters and attrs."""
    import pandas as pd

    if len(a) != len(b) or a.attrs != b.attrs or a.value_range != b.value_range:
        return False
    try:
        pd.testing.assert_frame_equal(a.metadata, b.metadata)
    except AssertionError:
        return False
    return (
        np.array_equal(a.descriptors, b.descriptors)
        and np.array_equal(a.embedding, b.embedding)
        and a.clusters.keys() == b.clusters.keys()
        and all(np.array_equal(a.clusters[k], b.clusters[k]) for k in a.clusters)
    )


def which(path: Path, candidates: dict[str, Any]) -> str:
    """The name of the candidate the file at ``path`` loads as, else "mixed" or "lost"."""
    from miwd_widget.library import ModelLibrary

    try:
        loaded = ModelLibrary.load(path)
    except (OSError, ValueError):
        return "lost"
    return next((name for name, lib in candidates.items() if same(loaded, lib)), "mixed")


def leftovers(path: Path, candidates: dict[str, Any]) -> str | None:
    """What is wrong with the files next to ``path`` besides the library (None: nothing).

    Every other file must be refused by :func:`load` by name (an incomplete file) or
    load as one of the candidates whole; after ``remove_stale_files`` (the writers are
    dead) only the library and the sidecar it names may stay.
    """
    from miwd_widget.library import ModelLibrary, storage

    for other in sorted(path.parent.iterdir()):
        if other == path or other.suffix == ".npy" or other.is_dir():
            continue  # sidecars are judged through the file naming them
        try:
            loaded = ModelLibrary.load(other)
        except ValueError as exc:
            if not str(exc).startswith(str(other)):
                return f"{other.name}: refused without its name: {exc}"
            continue
        if not any(same(loaded, lib) for lib in candidates.values()):
            return f"{other.name}: loads as an incomplete or mixed library"
    storage.remove_stale_files(path)
    left = {p.name for p in path.parent.iterdir() if not p.is_dir()} - {path.name}
    left -= {sidecar_name(path)}
    return f"left after cleaning: {sorted(left)}" if left else None


def sidecar_name(path: Path) -> str | None:
    """The name of the descriptor sidecar the library file ``path`` names (None: inline)."""
    import pyarrow.parquet as pq

    info = json.loads(pq.read_schema(path).metadata[b"miwd"])
    side = info.get("descriptors")
    return side["file"] if isinstance(side, dict) else None


def judge_failure(path: Path, message: str, errno_: int | None) -> str | None:
    """What is wrong with a failed save's message (None: it names the path and why)."""
    reason = os.strerror(errno_) if errno_ else None
    if not message.startswith(str(path)):
        return f"does not start with the path: {message}"
    if reason is None or reason not in message:
        return f"does not say why ({reason!r}): {message}"
    return None


# --------------------------------------------------------------------------------------
# The writers: forked from one child process
# --------------------------------------------------------------------------------------
#
# A fresh Python process per fault would spend a second or more importing pyarrow and
# numba: the child process (this file run as a script) imports and warms them up once,
# then forks a writer per job (a save under a file size limit, a save loop to be killed,
# two writers at once). The parent sends each job as a JSON line and reads back each
# writer's answer and, last, how each writer ended.


def _say(record: dict[str, Any]) -> None:
    """One JSON line on stdout in one ``write`` (two writers' lines never interleave)."""
    os.write(1, (json.dumps(record)[:3000] + "\n").encode())


def _under_limit(limit: int | None, write: Any) -> dict[str, Any]:
    """Run ``write()`` under the file size limit ``limit``: its outcome as a JSON record."""
    import resource

    if limit is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        write()
    except OSError as exc:
        return {"error": str(exc), "errno": exc.errno}
    return {"saved": True}


def _matrix_build(matrix: str, chunk_rows: int, path: Path) -> None:
    from miwd_widget.descriptors.config import DescriptorConfig
    from miwd_widget.library.chunked import build_chunked, matrix_chunks

    chunks = matrix_chunks(matrix, chunk_rows=chunk_rows)
    config = DescriptorConfig(S=S, B=B, value_range=(-3.0, 3.0))
    build_chunked(chunks, config, path, threads=1, progress=False)


def added(lib: Any, seed: int) -> Any:
    """``lib`` with three new models added (what ``miwd add`` does before saving)."""
    import warnings

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():  # new rows drop the atlas: said, and expected here
        warnings.filterwarnings("ignore", "added .* the embedding was dropped")
        return lib.add({f"added/{i}": rng.normal(size=400).astype(np.float32) for i in range(3)})


def _write(job: dict[str, Any], writer: int) -> dict[str, Any]:
    """One writer's work (in a forked process)."""
    from miwd_widget.library import ModelLibrary

    kind, path, layout = job["kind"], Path(job["path"]), job.get("layout", "auto")
    layout = job["layouts"][writer] if "layouts" in job else layout
    limit = job.get("limit")
    if kind == "save":
        lib = library(job["seed"], job.get("n", 300))
        return _under_limit(limit, lambda: lib.save(path, layout))
    if kind == "add":
        lib = added(ModelLibrary.load(path), job["seed"])
        return _under_limit(limit, lambda: lib.save(path, layout))
    if kind == "chunked":
        from miwd_widget.library.chunked import BuildInProgressError

        _say({"saving": True})
        try:
            return _under_limit(
                limit, lambda: _matrix_build(job["matrix"], job["chunk_rows"], path)
            )
        except BuildInProgressError as exc:  # another writer builds the same path
            return {"refused": str(exc)}
    if kind == "loop":  # one library per writer, or all in turn; rounds None: until killed
        seeds = job["seeds"]
        libs = (
            [library(seeds[writer])] if job.get("writers", 1) > 1 else [library(s) for s in seeds]
        )
        rounds, i = job.get("rounds"), 0
        _say({"saving": True})
        while rounds is None or i < rounds:
            libs[i % len(libs)].save(path, layout)
            i += 1
        return {"saved": True}
    raise ValueError(f"unknown job {kind!r}")


def _warm_up(kinds: set[str]) -> None:
    """Import and compile what the writers use, once, before forking them."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for layout in ("inline", "sidecar"):
            library(0, n=10).save(Path(folder) / "warm.parquet", layout)
        if kinds & {"add", "chunked"}:
            np.save(Path(folder) / "w.npy", np.zeros((4, 64), np.float32))
            _matrix_build(str(Path(folder) / "w.npy"), 2, Path(folder) / "c.parquet")


def serve() -> None:
    """The child process: one job a line on stdin, forked writers, answers on stdout."""
    warm: set[str] = set()
    for line in sys.stdin:
        job = json.loads(line)
        if job["kind"] not in warm:
            _warm_up({job["kind"]} - warm)
            warm.add(job["kind"])
            warm |= {"save", "loop"}
        pids = []
        for writer in range(job.get("writers", 1)):
            pid = os.fork()
            if pid == 0:  # the writer: answer, and never return into this loop
                import faulthandler

                faulthandler.dump_traceback_later(60, exit=True)  # a hang: where, on stderr
                code = 0
                try:
                    _say(_write(job, writer))
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    _say({"failed": repr(exc)[:500]})
                    code = 1
                os._exit(code)
            pids.append(pid)
        _say({"pids": pids})
        ends = []
        for pid in pids:
            status = os.waitpid(pid, 0)[1]
            ends.append(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
        _say({"ends": ends})


class Writers:
    """The child process that forks writers (see :func:`serve`)."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout, self.pending = timeout, b""
        self.proc = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def start(self, job: dict[str, Any]) -> list[int]:
        """Send ``job``; the writers' pids (answers come through :meth:`finish`)."""
        self.answers: list[dict[str, Any]] = []
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        while "pids" not in (record := self._read()):
            self.answers.append(record)
        return record["pids"]

    def wait_saving(self, writers: int = 1) -> None:
        """Wait until the writers of a save loop are saving (imports done)."""
        while sum("saving" in a for a in self.answers) < writers:
            self.answers.append(self._read())

    def finish(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The writers' answers and how they ended (exit code, or -signal)."""
        while "ends" not in (record := self._read()):
            self.answers.append(record)
        return [a for a in self.answers if "saving" not in a], record["ends"]

    def run(self, job: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
        self.start(job)
        return self.finish()

    def _read(self) -> dict[str, Any]:
        """The next line, read from the pipe itself (a buffered reader could hold lines
        that ``select`` does not see)."""
        import select

        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            chunk = os.read(fd, 1 << 16) if ready else b""
            if not chunk:
                raise RuntimeError(f"the writers' process gave no answer ({self.proc.poll()})")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


# --------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------


def sizes(folder: Path, seed: int, layout: str) -> list[int]:
    """The sizes of the files a save of ``library(seed)`` writes (limits are cut from them)."""
    folder.mkdir(parents=True, exist_ok=True)
    library(seed).save(folder / "sizes.parquet", layout)
    found = sorted(p.stat().st_size for p in folder.iterdir())
    for p in folder.iterdir():
        p.unlink()
    return found


def full_disk_limits(file_sizes: list[int]) -> list[int]:
    """File size limits hitting every file a save writes: at its start, middle and end,
    and one the largest fits under (the save succeeds)."""
    cuts = {0, 4096}
    for size in file_sizes:
        cuts |= {size // 2, size - 1}
    cuts.add(max(file_sizes))
    return sorted(cuts)


def full_disk(writers: Writers, folder: Path, job: dict[str, Any]) -> tuple[str, str]:
    """A save, add or chunked build (``job``) under a file size limit, over a previous
    library: (outcome, detail)."""
    folder.mkdir(parents=True)
    path = folder / "lib.parquet"
    old = library(100)
    old.save(path, job.get("layout", "auto"))
    job = {**job, "path": str(path)}
    label = f"{job['kind']} ({job.get('layout', 'auto')}) under {job['limit']} bytes"
    answers, ends = writers.run(job)
    if ends != [0] or len(answers) != 1:
        return "crash", f"{label}: {answers}, ended {ends}"
    answer = answers[0]
    if "error" in answer:
        wrong = judge_failure(path, answer["error"], answer["errno"])
        if wrong:
            return "unnamed error", f"{label}: {wrong}"
        outcome = "previous whole" if which(path, {"old": old}) == "old" else "lost"
    elif job["kind"] == "save":
        new = library(job["seed"], job.get("n", 300))
        outcome = "new whole" if which(path, {"new": new}) == "new" else "mixed"
    elif job["kind"] == "add":
        outcome = "new whole" if which(path, {"new": added(old, job["seed"])}) == "new" else "mixed"
    else:  # a build that went through: the file loads (its content: other tests)
        outcome = "lost" if which(path, {}) == "lost" else "new whole"
    problem = leftovers(path, {"old": old})
    if problem and outcome in ("previous whole", "new whole"):
        return "leftover", f"{label}: {problem}"
    return outcome, f"{label}: {answer.get('error', 'saved')}"


def previous_by_writer(writers: Writers, path: Path, layout: str) -> None:
    """Save ``library(7)`` at ``path`` by a writer, a process that has ended when the
    next writer is killed, as a library's writer usually has.

    A save killed between replacing the file and deleting the sidecar it replaced leaves
    that sidecar; it goes with the next save once its writer has ended (a sidecar of a
    live process could be a save under way).
    """
    answers, ends = writers.run({"kind": "save", "seed": 7, "layout": layout, "path": str(path)})
    if ends != [0] or answers != [{"saved": True}]:
        raise RuntimeError(f"saving the previous library failed: {answers}, ended {ends}")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # done already (and reaped by the writers' process)
        pass


def killed_save(
    writers: Writers, folder: Path, layout: str, delay: float, seeds: list[int]
) -> tuple[str, str]:
    """A writer saving two libraries in turn over a previous one, killed after ``delay``."""
    folder.mkdir(parents=True)
    path = folder / "lib.parquet"
    candidates = {"previous": library(7), "first": library(seeds[0])}
    candidates["second"] = library(seeds[1])
    previous_by_writer(writers, path, layout)
    (pid,) = writers.start({"kind": "loop", "seeds": seeds, "layout": layout, "path": str(path)})
    writers.wait_saving()
    time.sleep(delay)
    _kill(pid)
    _, ends = writers.finish()
    label = f"killed after {delay * 1000:.0f} ms ({layout})"
    if ends != [-signal.SIGKILL]:
        return "crash", f"{label}: ended {ends}"
    found = which(path, candidates)
    if found in ("mixed", "lost"):
        return found, label
    if problem := leftovers(path, candidates):
        return "leftover", f"{label}: {problem}"
    return ("previous whole" if found == "previous" else "new whole"), label


def two_writers(
    writers: Writers, folder: Path, layouts: tuple[str, str], rounds: int, reads: int = 0
) -> tuple[str, str]:
    """Two writers saving their own library (in ``layouts``) to one path ``rounds`` times
    at once, while this process loads it ``reads`` times: every load is one whole library."""
    folder.mkdir(parents=True)
    path = folder / "lib.parquet"
    seeds = [11, 22]
    candidates = {"first": library(seeds[0]), "second": library(seeds[1])}
    job = {"kind": "loop", "seeds": seeds, "layouts": list(layouts), "path": str(path)}
    writers.start({**job, "rounds": rounds, "writers": 2})
    writers.wait_saving(2)
    deadline = time.monotonic() + 30
    while reads and not path.exists() and time.monotonic() < deadline:
        time.sleep(0.002)  # the first save is under way
    seen = [which(path, candidates) for _ in range(reads)]
    answers, ends = writers.finish()
    label = f"two writers ({' and '.join(layouts)}), {rounds} saves each"
    if ends != [0, 0]:
        return "crash", f"{label}: {answers}, ended {ends}"
    if bad := [s for s in seen if s in ("mixed", "lost")]:
        return bad[0], f"{label}: {len(bad)} of {reads} loads while they saved"
    found = which(path, candidates)
    if found in ("mixed", "lost"):
        return found, label
    # each save deleted the sidecar it replaced, even when the other writer had written
    # it: only the library and its own sidecar are left, before any cleaning
    left = {p.name for p in folder.iterdir()} - {path.name, sidecar_name(path)}
    if left:
        return "leftover", f"{label}: {sorted(left)}"
    if problem := leftovers(path, candidates):
        return "leftover", f"{label}: {problem}"
    return "one of the two whole", f"{label}: the {found} writer's"


def matrix_build(matrix: Path, chunk_rows: int, path: Path) -> Any:
    """The chunked build of ``matrix`` the writers run, here: the library it gives."""
    from miwd_widget.library import ModelLibrary

    _matrix_build(str(matrix), chunk_rows, path)
    return ModelLibrary.load(path)


def timed_build(writers: Writers, matrix: Path, chunk_rows: int, path: Path) -> tuple[Any, float]:
    """An uninterrupted chunked build by a writer: the library, and the seconds it took
    (kills are timed from it)."""
    from miwd_widget.library import ModelLibrary

    job = {"kind": "chunked", "matrix": str(matrix), "chunk_rows": chunk_rows, "path": str(path)}
    writers.start(job)
    writers.wait_saving()
    start = time.perf_counter()
    answers, ends = writers.finish()
    if ends != [0] or answers != [{"saved": True}]:
        raise RuntimeError(f"the chunked build failed: {answers}, ended {ends}")
    return ModelLibrary.load(path), time.perf_counter() - start


def killed_build(
    writers: Writers, folder: Path, matrix: Path, chunk_rows: int, delay: float, reference: Any
) -> tuple[str, str]:
    """A chunked build over a previous library killed after ``delay``, then run again
    here: it must resume to the ``reference`` library."""
    folder.mkdir(parents=True)
    path = folder / "lib.parquet"
    previous = library(7)
    previous_by_writer(writers, path, "sidecar")
    job = {"kind": "chunked", "matrix": str(matrix), "chunk_rows": chunk_rows, "path": str(path)}
    (pid,) = writers.start(job)
    writers.wait_saving()
    time.sleep(delay)
    _kill(pid)
    _, ends = writers.finish()
    label = f"chunked build killed after {delay * 1000:.0f} ms"
    if ends == [0]:
        label = f"chunked build done before a kill after {delay * 1000:.0f} ms"
    if ends not in ([-signal.SIGKILL], [0]):
        return "crash", f"{label}: ended {ends}"
    found = which(path, {"previous": previous, "new": reference})
    if found in ("mixed", "lost"):
        return found, label
    if problem := leftovers(path, {"previous": previous, "new": reference}):
        return "leftover", f"{label}: {problem}"
    resumed = matrix_build(matrix, chunk_rows, path)
    if not same(resumed, reference) or path.with_name(path.name + ".parts").exists():
        return "mixed", f"{label}: the build run again differs from an uninterrupted one"
    return ("previous whole" if found == "previous" else "new whole"), label


def two_builds(
    writers: Writers, folder: Path, matrix: Path, chunk_rows: int, reference: Any
) -> tuple[str, str]:
    """Two writers starting the same chunked build over a previous library at once: each
    builds the library whole or is refused by a message naming the path and the other
    writer; the file at the path is the built library, and no parts are left."""
    folder.mkdir(parents=True)
    path = folder / "lib.parquet"
    previous_by_writer(writers, path, "sidecar")
    job = {"kind": "chunked", "matrix": str(matrix), "chunk_rows": chunk_rows, "path": str(path)}
    pids = writers.start({**job, "writers": 2})
    answers, ends = writers.finish()
    label = f"two chunked builds of one path: {answers}"
    if ends != [0, 0] or len(answers) != 2:
        return "crash", f"{label}, ended {ends}"
    saved = [a for a in answers if a.get("saved")]
    for refused in (a["refused"] for a in answers if "refused" in a):
        if not refused.startswith(f"{path}: ") or not any(f"process {p}" in refused for p in pids):
            return "unnamed error", f"{label}: the refusal names neither the path nor the other"
    if not saved or len(saved) + sum("refused" in a for a in answers) != 2:
        return "unnamed error", label  # a build failed otherwise
    found = which(path, {"previous": library(7), "new": reference})
    if found != "new":
        return ("mixed" if found == "previous" else found), label
    if path.with_name(path.name + ".parts").exists():
        return "leftover", f"{label}: the parts folder is left"
    if problem := leftovers(path, {"new": reference}):
        return "leftover", f"{label}: {problem}"
    return ("one built, one refused" if len(saved) == 1 else "both built"), label


if __name__ == "__main__":
    serve()
