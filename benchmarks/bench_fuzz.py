"""Run a large fuzz corpus of broken and hostile model files; print counts by outcome.

Outside CI (the CI corpus is tests/fuzz/test_fuzz.py, 160 cases). Cases come from
tests/fuzz/fuzz_corpus.py (same generators and judge). They are read in a worker
subprocess, one after the other, under a memory limit; the parent gives each case a
timeout, so a reader that hangs is recorded as a hang (the worker is killed and a new one
goes on with the next case) and one that kills its process as a crash. Finally the whole
corpus goes through ``ModelLibrary.from_files`` with worker processes, which must describe
or record every file.

Usage::

    nice .venv/bin/python benchmarks/bench_fuzz.py --cases 2000 --seed 0

Then (``--dask``) library builds on a dask LocalCluster that loses a worker, library files
under faults (full disk, kills, two writers) and model files truncated while they are read
(``--truncations``), each by outcome.

Outcomes: code executed, outside read, hang, crash, wrong weights, unnamed error (the five
bad ones and their cases are listed), clean error, correct.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fuzz"))
import fuzz_corpus  # noqa: E402
import read_faults  # noqa: E402
import storage_faults  # noqa: E402


def worker(root: Path, seed: int, start: int, stop: int) -> None:
    """Generate and judge cases start..stop-1, one JSON line per case on stdout."""
    import miwd_widget.weights  # noqa: F401 - imported before the memory limit

    with open("/proc/self/status") as f:
        used = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (used + (4 << 30), resource.RLIM_INFINITY))
    for i in range(start, stop):
        print(json.dumps({"start": i}), flush=True)
        try:
            case = fuzz_corpus.make_case(root, seed, i)
        except Exception as exc:  # noqa: BLE001 - a generator bug must not hide the rest
            print(
                json.dumps(
                    {
                        "case": i,
                        "name": "?",
                        "outcome": "generator failed",
                        "detail": repr(exc)[:200],
                    }
                ),
                flush=True,
            )
            continue
        outcome, detail = fuzz_corpus.judge(case)
        print(
            json.dumps(
                {
                    "case": i,
                    "name": case.name,
                    "path": str(case.path),
                    "outcome": outcome,
                    "detail": detail,
                }
            ),
            flush=True,
        )


def run_corpus(root: Path, seed: int, n: int, timeout: float) -> list[dict]:
    """Judge cases 0..n-1 in worker subprocesses, with a per-case timeout."""
    env = dict(os.environ, **fuzz_corpus.SMALL_LIMITS)
    results: list[dict] = []
    next_case = 0
    while next_case < n:
        command = [
            sys.executable,
            __file__,
            "--worker",
            "--root",
            str(root),
            "--seed",
            str(seed),
            "--start",
            str(next_case),
            "--stop",
            str(n),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
        current, deadline = None, time.monotonic() + 300  # first case: imports on a busy machine
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if not line:  # the worker exited
                    proc.wait()
                    if current is not None:
                        code = proc.returncode
                        results.append(
                            {
                                "case": current,
                                "name": "?",
                                "outcome": "crash",
                                "detail": f"worker exit code {code}",
                            }
                        )
                        next_case = current + 1
                    else:
                        next_case = n
                    break
                record = json.loads(line)
                if "start" in record:
                    current, deadline = record["start"], time.monotonic() + timeout
                else:
                    results.append(record)
                    current = None
                    next_case = record["case"] + 1
                    print(f"\r{len(results)}/{n} cases", end="", file=sys.stderr, flush=True)
            elif time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                results.append(
                    {
                        "case": current,
                        "name": "?",
                        "outcome": "hang",
                        "detail": f"no answer within {timeout:g} s",
                    }
                )
                next_case = (current if current is not None else next_case) + 1
                break
    print(file=sys.stderr)
    return results


def build_over(results: list[dict]) -> str:
    """ModelLibrary.from_files over every case: each file described or recorded."""
    from miwd_widget import ModelLibrary

    paths = [r["path"] for r in results if "path" in r]
    start = time.perf_counter()
    lib = ModelLibrary.from_files(
        paths, S=8, B=8, value_range=(-3.0, 3.0), n_jobs=2, progress=False
    )
    seconds = time.perf_counter() - start
    failed = list(lib.errors["source"])
    described = list(lib.metadata["source"]) if len(lib) else []
    lost = set(paths) - set(failed) - set(described)
    # expand_paths scans a directory for model files (documented): one holding none adds
    # nothing to the build, so it is not "lost" like a file would be.
    empty_dirs = {p for p in lost if os.path.isdir(p) and not os.path.islink(p)}
    unnamed = [
        (s, m)
        for s, m in zip(lib.errors["source"], lib.errors["error"], strict=True)
        if str(Path(s).parent) not in m and s not in m
    ]
    return (
        f"from_files (2 workers): {len(described)} described, {len(failed)} recorded as "
        f"failed, {len(lost - empty_dirs)} lost, {len(empty_dirs)} directories without a "
        f"model skipped, {len(unnamed)} unnamed errors, {seconds:.1f} s"
    )


def miwd_describe_over(results: list[dict]) -> str:
    """``miwd describe`` (2 workers) over every case: exit code, failures reported by name."""
    paths = [r["path"] for r in results if "path" in r]
    miwd = Path(sys.executable).with_name("miwd")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            str(miwd),
            "describe",
            *paths,
            "--jobs",
            "2",
            "-S",
            "4",
            "-B",
            "4",
            "--range=-3,3",
            "--rows",
            "1",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, **fuzz_corpus.SMALL_LIMITS),
    )
    seconds = time.perf_counter() - start
    failed = [line for line in proc.stderr.splitlines() if line.startswith("miwd: failed: ")]
    other = [line for line in proc.stderr.splitlines() if not line.startswith("miwd: failed: ")]
    text = (
        f"miwd describe (2 workers): exit code {proc.returncode}, {len(failed)} failures "
        f"reported, traceback: {'yes' if 'Traceback' in proc.stderr else 'no'}, {seconds:.1f} s"
    )
    return text + "".join(f"\n  stderr: {line[:200]}" for line in other[:5])


# --------------------------------------------------------------------------------------
# Library files under faults: full disk, kills, two writers (tests/fuzz/storage_faults.py)
# --------------------------------------------------------------------------------------


def _tmpfs(folder: Path, size: int) -> bool:
    """Mount a ``size``-byte tmpfs on ``folder`` (a disk that really fills up; root only)."""
    folder.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


def storage_fault_cases(root: Path, kills: int, seed: int) -> list[tuple[str, str, str]]:
    """(case, outcome, detail) of saves, adds and chunked builds that run out of space
    (the file size limit, and a full tmpfs where this runs as root) or are killed at
    random points, and of two writers of one path."""
    import random

    import numpy as np

    rng = random.Random(seed)
    results = []
    writers = storage_faults.Writers()
    try:
        k = 0

        def folder() -> Path:
            nonlocal k
            k += 1
            return root / f"{k}"

        for layout in ("inline", "sidecar"):
            sizes = storage_faults.sizes(folder(), 5, layout)
            for limit in storage_faults.full_disk_limits(sizes):
                job = {"kind": "save", "seed": 5, "layout": layout, "limit": limit}
                results.append(
                    ("full disk: save", *storage_faults.full_disk(writers, folder(), job))
                )
            for limit in (0, max(sizes) // 2, 10 * max(sizes)):
                job = {"kind": "add", "seed": 3, "layout": layout, "limit": limit}
                results.append(
                    ("full disk: add", *storage_faults.full_disk(writers, folder(), job))
                )
        matrix = root / "weights.npy"
        np.save(matrix, np.random.default_rng(seed).normal(size=(4096, 300)).astype(np.float32))
        for limit in (0, 3000, 40_000, 1 << 30):
            job = {"kind": "chunked", "matrix": str(matrix), "chunk_rows": 256, "limit": limit}
            results.append(
                ("full disk: chunked", *storage_faults.full_disk(writers, folder(), job))
            )
        on_tmpfs = [  # a small disk that really fills: the previous library (and the
            # build's parts) fit, the rest does not
            ("full tmpfs: save", {"kind": "save", "seed": 5, "n": 8000, "layout": "inline"}),
            ("full tmpfs: save", {"kind": "save", "seed": 5, "n": 8000, "layout": "sidecar"}),
            ("full tmpfs: chunked", {"kind": "chunked", "matrix": str(matrix), "chunk_rows": 256}),
        ]
        for case, job in on_tmpfs:
            disk = folder()
            if not _tmpfs(disk, 900 << 10):
                print(f"{case}: not run (mounting a tmpfs needs root)")
                continue
            try:
                outcome = storage_faults.full_disk(writers, disk / "lib", {**job, "limit": None})
                results.append((case, *outcome))
            finally:
                subprocess.run(["umount", str(disk)], check=False)
        for layout in ("inline", "sidecar"):
            for _ in range(kills):
                seeds = [rng.randrange(1000, 2000), rng.randrange(2000, 3000)]
                delay = rng.uniform(0.0, 0.3)
                outcome = storage_faults.killed_save(writers, folder(), layout, delay, seeds)
                results.append((f"kill: save ({layout})", *outcome))
        reference, seconds = storage_faults.timed_build(
            writers, matrix, 256, folder() / "ref.parquet"
        )
        for _ in range(max(1, kills // 5)):
            at = rng.uniform(0.0, 0.8) * seconds
            outcome = storage_faults.killed_build(writers, folder(), matrix, 256, at, reference)
            results.append(("kill: chunked build", *outcome))
        for layouts in (("inline", "inline"), ("sidecar", "sidecar"), ("inline", "sidecar")):
            for _ in range(max(1, kills // 10)):
                outcome = storage_faults.two_writers(
                    writers, folder(), layouts, rounds=50, reads=100
                )
                results.append(("two writers, 50 saves each; 100 loads meanwhile", *outcome))
    finally:
        writers.close()
    return results


def storage_fault_report(kills: int, seed: int) -> None:
    """Print the storage fault cases counted by outcome, and the bad ones."""
    root = Path(tempfile.mkdtemp(prefix="miwd-storage-faults-"))
    try:
        start = time.perf_counter()
        results = storage_fault_cases(root, kills, seed)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cases = sorted({case for case, _, _ in results}, key=[c for c, _, _ in results].index)
    outcomes = [o for o in storage_faults.OUTCOMES if any(r[1] == o for r in results)]
    print(f"library files under faults: {len(results)} cases, seed {seed}, {seconds:.0f} s")
    print("| case | " + " | ".join(outcomes) + " |\n|---|" + "---|" * len(outcomes))
    for case in cases:
        counts = collections.Counter(o for c, o, _ in results if c == case)
        print(f"| {case} | " + " | ".join(str(counts.get(o, 0)) for o in outcomes) + " |")
    for case, outcome, detail in results:
        if outcome in storage_faults.BAD:
            print(f"  BAD {case}: {outcome}: {detail}")


def _describe_or_die(specs, *args, **kwargs):
    """The build's reader, but a dask worker given a file named ``dies.npy`` is killed."""
    import signal

    if any(os.path.basename(str(spec)) == "dies.npy" for spec in specs):
        os.kill(os.getpid(), signal.SIGKILL)
    from miwd_widget.library.workers import describe_batch

    return describe_batch(specs, *args, **kwargs)


def dask_worker_lost(files: int = 60, allowed_failures: int = 0, limit: float = 600) -> str:
    """Builds on a LocalCluster (2 worker processes) that lose a worker: killed in the
    middle of a batch, or by a file that kills every worker reading it.

    ``allowed_failures``: dask's ``distributed.scheduler.allowed-failures`` (its default is
    3; each try of a file that kills its workers costs a worker restart). A build that has
    not finished after ``limit`` seconds is reported as a hang and the cases after it are
    not run (dask/distributed#7312: nannies restarting workers that die as they start can
    close for good, leaving a cluster without workers).
    """
    import signal
    import threading

    import dask
    import distributed
    import numpy as np

    import miwd_widget.library.build as build
    from miwd_widget import ModelLibrary

    folder = Path(tempfile.mkdtemp(prefix="miwd-dask-"))
    real = build.describe_batch
    lines = [
        f"dask worker lost (LocalCluster, 2 worker processes, allowed-failures {allowed_failures}):",
        "| case | described | recorded, named | lost | seconds |",
        "|---|---|---|---|---|",
    ]
    try:
        for i in range(files):
            np.save(folder / f"m{i:03d}.npy", np.linspace(-1, 1, 4000 + i, dtype=np.float32))
        with (
            dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}),
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):

            def build_once(case: str) -> bool:
                """One build, one table row; False if it hung."""
                client.wait_for_workers(2, timeout=120)
                out: dict = {}

                def run() -> None:
                    out["lib"] = ModelLibrary.from_files(
                        folder,
                        S=8,
                        B=8,
                        value_range=(-1, 1),
                        client=client,
                        batch_size=8,
                        progress=False,
                    )

                start = time.perf_counter()
                thread = threading.Thread(target=run, daemon=True)
                thread.start()
                thread.join(limit)
                seconds = time.perf_counter() - start
                if "lib" not in out:
                    workers = len(client.scheduler_info()["workers"])
                    lines.append(
                        f"| {case} | hang: no result after {seconds:.0f} s, "
                        f"{workers} workers left | | | |"
                    )
                    return False
                lib = out["lib"]
                errors = dict(zip(lib.errors["source"], lib.errors["error"], strict=True))
                named = sum(s in e and "died" in e for s, e in errors.items())
                lost = len(list(folder.glob("*.npy"))) - len(lib) - len(errors)
                lines.append(f"| {case} | {len(lib)} | {named} | {lost} | {seconds:.1f} |")
                return True

            def kill_a_busy_worker() -> None:
                pids = client.run(os.getpid)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    busy = [w for w, keys in client.processing().items() if keys and w in pids]
                    if busy:
                        os.kill(pids[busy[0]], signal.SIGKILL)
                        return
                    time.sleep(0.05)

            client.wait_for_workers(2, timeout=120)
            threading.Thread(target=kill_a_busy_worker, daemon=True).start()
            if build_once("a worker killed mid-build"):
                np.save(folder / "dies.npy", np.zeros(10, np.float32))
                build.describe_batch = _describe_or_die
                build_once("a file that kills its workers")
    finally:
        build.describe_batch = real
        shutil.rmtree(folder, ignore_errors=True)
    return "\n".join(lines)


def truncation_report(per_format: int, seed: int) -> None:
    """Files truncated at random points while this process's children read them, per format
    (read_faults: each format in its own child process), counted by outcome."""
    import random

    rng = random.Random(seed)
    start = time.perf_counter()
    rows = []
    for fmt in read_faults.FORMATS:
        delays = ["open"] + [round(rng.uniform(0.0, 0.15), 4) for _ in range(per_format - 1)]
        with tempfile.TemporaryDirectory(prefix="miwd-truncations-") as folder:
            rows += [(fmt, *row) for row in read_faults.truncated_reads(fmt, folder, delays)]
    seconds = time.perf_counter() - start
    print(f"files truncated while read: {len(rows)} cases, seed {seed}, {seconds:.0f} s")
    print("| format | " + " | ".join(read_faults.OUTCOMES) + " |")
    print("|---|" + "---|" * len(read_faults.OUTCOMES))
    for fmt in read_faults.FORMATS:
        counts = collections.Counter(outcome for f, _, outcome, _ in rows if f == fmt)
        print(f"| {fmt} | " + " | ".join(str(counts[o]) for o in read_faults.OUTCOMES) + " |")
    for fmt, delay, outcome, message in rows:
        if outcome in read_faults.BAD:
            print(f"  BAD {fmt} at {delay}: {outcome}: {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case (30)")
    parser.add_argument("--no-build", action="store_true", help="skip the from_files pass")
    parser.add_argument(
        "--storage-kills",
        type=int,
        default=40,
        help="kills per save layout in the library file faults (40; 0: skip them)",
    )

    parser.add_argument(
        "--truncations",
        type=int,
        default=40,
        help="files truncated while read, per format (40; 0: skip them)",
    )
    parser.add_argument("--dask", action="store_true", help="dask builds that lose a worker")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.root), args.seed, args.start, args.stop)
        return
    root = Path(tempfile.mkdtemp(prefix="miwd-fuzz-"))
    try:
        start = time.perf_counter()
        results = run_corpus(root, args.seed, args.cases, args.timeout)
        seconds = time.perf_counter() - start
        counts = collections.Counter(r["outcome"] for r in results)
        print(
            f"fuzz corpus: {len(results)} cases, seed {args.seed}, {seconds:.0f} s "
            f"(timeout {args.timeout:g} s per case; machine shared with others)"
        )
        print("| outcome | cases |\n|---|---|")
        for outcome in (*fuzz_corpus.OUTCOMES, "generator failed"):
            print(f"| {outcome} | {counts.get(outcome, 0)} |")
        kinds = collections.Counter(r["name"] for r in results)
        print("cases by generator: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        bad = [r for r in results if r["outcome"] in (*fuzz_corpus.BAD, "generator failed")]
        for r in bad[:30]:
            print(f"  BAD case {r['case']} {r['name']}: {r['outcome']}: {r['detail']}")
        if not args.no_build:
            print(build_over(results))
            print(miwd_describe_over(results))
        if args.dask:
            print(dask_worker_lost())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.storage_kills:
        storage_fault_report(args.storage_kills, args.seed)
    if args.truncations:
        truncation_report(args.truncations, args.seed)


if __name__ == "__main__":
    main()
