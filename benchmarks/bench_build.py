"""Library builds at scale: files/s, rows/s, peak memory and projection time.

Two measurements (run one or both):

- ``files``: ``ModelLibrary.from_files`` on a folder of small safetensors files (made with
  ``--make-files N``: N files of 10,206 float32 weights, a 2-layer MLP) with its defaults
  (``value_range="auto"``, all cores), after a warm-up build of 8 files (numba's cache and
  the worker pool's imports are then excluded only for the kernel; the pool itself is
  started inside the timed build). Then ``project()`` of the result. Issue target:
  >= 2,000 files/s on 2 cores.
- ``rows``: ``ModelLibrary.from_chunks`` of a (rows, N) float32 ``.npy`` matrix (made with
  ``--make-rows R --width N``: rows of 40 groups with their own per-depth scales), written
  chunk by chunk to ``--out`` (descriptors in a memory-mapped sidecar); then a
  metadata-only load, a memory-mapped load, and ``project(fit_sample=...)``. Issue
  target: 1,000,000 rows projected in at most 15 minutes on 2 cores.

Peak memory is the peak resident set size (``resource.getrusage``) of this process and,
separately, of its largest worker process. The machine is shared: figures depend on the
load (printed with them).

    python benchmarks/bench_build.py files --folder /tmp/files10k --make-files 10000
    python benchmarks/bench_build.py rows --matrix /tmp/r1m/weights.npy --out /tmp/r1m/lib.parquet
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np


def peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


class AnonPeak:
    """Peak anonymous memory (RssAnon: heap, not the file pages of memory maps) of this
    process, sampled every 0.1 s: written memory-mapped descriptors count in RSS as
    reclaimable page cache, not as memory the build holds."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.now())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def cpu_seconds() -> float:
    """CPU seconds of this process and of its worker processes, live or exited."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
    try:  # joblib's workers live on between builds: ask them (psutil, if installed)
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    except ImportError:
        pass
    return total


def worker_peak_mb() -> float:
    """Largest peak RSS (VmHWM) among live worker processes."""
    peak = peak_mb(resource.RUSAGE_CHILDREN)
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                with open(f"/proc/{child.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) / 1024)
            except OSError:
                pass
    except ImportError:
        pass
    return peak


def load_text() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.1f} {b:.1f} {c:.1f} on {os.cpu_count() or 1} cores"


def make_files(folder: Path, n: int) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        save_file(
            {
                "l1.weight": rng.normal(0, 0.1, (64, 128)).astype(np.float32),
                "l1.bias": np.zeros(64, np.float32),
                "l2.weight": rng.normal(0, 0.1, (30, 64)).astype(np.float32),
                "l2.bias": np.zeros(30, np.float32),
            },
            folder / f"m{i:05d}.safetensors",
        )


def make_rows(path: Path, rows: int, width: int) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    groups = 40
    scales = rng.uniform(0.02, 0.3, (groups, 4)).astype(np.float32)
    means = rng.normal(0, 0.05, (groups, 4)).astype(np.float32)
    group = rng.integers(0, groups, rows)
    m = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, width))
    depth = np.repeat(np.arange(4), -(-width // 4))[:width]
    for a in range(0, rows, 20000):
        g = group[a : a + 20000]
        block = rng.standard_normal((len(g), width), dtype=np.float32)
        block *= scales[g][:, depth] * rng.uniform(0.8, 1.25, (len(g), 1)).astype(np.float32)
        block += means[g][:, depth]
        m[a : a + len(g)] = block
    m.flush()
    pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(rows)],
            "group": group.astype(np.int16),
            "epoch": (np.arange(rows) % 9).astype(np.int16),
            "test_accuracy": rng.uniform(0.1, 0.9, rows).astype(np.float32),
        }
    ).to_parquet(path.with_name("metadata.parquet"))


def bench_files(args: argparse.Namespace) -> None:
    from miwd_widget import ModelLibrary

    folder = Path(args.folder)
    if args.make_files:
        make_files(folder, args.make_files)
    files = sorted(folder.glob("*.safetensors"))
    ModelLibrary.from_files(files[:8], n_jobs=1, progress=False)  # numba cache
    print(f"files: {len(files)} in {folder} ({load_text()})")
    for rep in range(args.repeats):
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        lib = ModelLibrary.from_files(folder, n_jobs=args.n_jobs, progress=False)
        dt = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        print(
            f"  build {rep + 1}: {dt:.2f} s, {len(lib) / dt:,.0f} files/s; CPU {cpu:.1f} s "
            f"(this process + workers) = {len(lib) / cpu:,.0f} files per CPU-second; "
            f"{len(lib.errors)} errors ({load_text()})"
        )
    print(
        f"  peak RSS: this process {peak_mb(resource.RUSAGE_SELF):,.0f} MB, largest worker "
        f"{worker_peak_mb():,.0f} MB ({load_text()})"
    )
    # What pooling the "auto" range over a stride of RANGE_MODELS models costs in accuracy:
    # the range of a build that samples every model.
    from miwd_widget.descriptors import value_range

    if len(files) > value_range.RANGE_MODELS:
        default, value_range.RANGE_MODELS = value_range.RANGE_MODELS, len(files)
        t0 = time.perf_counter()
        full = ModelLibrary.from_files(folder, n_jobs=args.n_jobs, progress=False).value_range
        value_range.RANGE_MODELS = default
        sub = lib.value_range
        diff = max(abs(a - b) / (full[1] - full[0]) for a, b in zip(sub, full, strict=True))
        print(
            f"  'auto' range over {len(value_range.range_models(len(files)))} of {len(files)} "
            f"models [{sub[0]:.5f}, {sub[1]:.5f}] vs over all [{full[0]:.5f}, {full[1]:.5f}]: "
            f"ends differ by at most {diff:.2%} of the range (that build "
            f"{time.perf_counter() - t0:.1f} s)"
        )
    if args.project:
        t0 = time.perf_counter()
        lib.project()
        print(f"  project() of {len(lib)} rows: {time.perf_counter() - t0:.1f} s ({load_text()})")


def bench_rows(args: argparse.Namespace) -> None:
    import pandas as pd

    from miwd_widget import ModelLibrary
    from miwd_widget.library.chunked import matrix_chunks

    matrix = Path(args.matrix)
    if args.make_rows:
        make_rows(matrix, args.make_rows, args.width)
    meta_path = matrix.with_name("metadata.parquet")
    meta = pd.read_parquet(meta_path) if meta_path.is_file() else None
    chunks = matrix_chunks(matrix, meta, args.chunk_rows)
    rows = sum(len(c) for c in chunks)
    width = chunks[0].n_weights
    out = Path(args.out)
    print(
        f"rows: {rows:,} x {width} float32 ({matrix}), chunks of {args.chunk_rows} ({load_text()})"
    )
    anon = AnonPeak()
    t0 = time.perf_counter()
    lib = ModelLibrary.from_chunks(chunks, out, progress=False)
    dt = time.perf_counter() - t0
    anon_build = anon.stop()
    side = next(out.parent.glob(out.name + ".*.descriptors.npy"))
    print(
        f"  chunked build ('auto' range, S=B=32): {dt:.1f} s, {rows / dt:,.0f} rows/s; "
        f"descriptors {side.stat().st_size / 1e9:.2f} GB in {side.name}"
    )
    print(
        f"  peak memory of the build: {anon_build:,.0f} MB anonymous; peak RSS "
        f"{peak_mb(resource.RUSAGE_SELF):,.0f} MB incl. the written sidecar's page cache "
        f"({load_text()})"
    )
    del lib
    t0 = time.perf_counter()
    meta_only = ModelLibrary.load(out, descriptors=False)
    print(f"  load(descriptors=False): {time.perf_counter() - t0:.2f} s, {len(meta_only):,} rows")
    t0 = time.perf_counter()
    lib = ModelLibrary.load(out)
    print(f"  load (memory-mapped descriptors): {time.perf_counter() - t0:.2f} s")
    if args.fit_sample:
        anon = AnonPeak()
        t0 = time.perf_counter()
        lib.project(fit_sample=args.fit_sample)
        print(
            f"  project(fit_sample={args.fit_sample:,}) of {rows:,} rows: "
            f"{time.perf_counter() - t0:.1f} s, peak {anon.stop():,.0f} MB anonymous "
            f"({load_text()})"
        )
        t0 = time.perf_counter()
        lib.save(out)
        print(f"  save with the atlas: {time.perf_counter() - t0:.1f} s")
    print(f"  peak RSS overall: {peak_mb(resource.RUSAGE_SELF):,.0f} MB ({load_text()})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("files", help="a folder of small safetensors files")
    f.add_argument("--folder", required=True)
    f.add_argument("--make-files", type=int, default=0, help="first write this many files")
    f.add_argument("--n-jobs", type=int, default=-1)
    f.add_argument("--repeats", type=int, default=3)
    f.add_argument("--no-project", dest="project", action="store_false")
    r = sub.add_parser("rows", help="a (rows, N) .npy matrix, chunked")
    r.add_argument("--matrix", required=True)
    r.add_argument("--out", required=True, help="library file to write")
    r.add_argument(
        "--make-rows", type=int, default=0, help="first write a matrix of this many rows"
    )
    r.add_argument("--width", type=int, default=1024, help="weights per row for --make-rows")
    r.add_argument("--chunk-rows", type=int, default=16384)
    r.add_argument("--fit-sample", type=int, default=50_000, help="0: do not project")
    args = p.parse_args()
    bench_files(args) if args.what == "files" else bench_rows(args)


if __name__ == "__main__":
    main()
