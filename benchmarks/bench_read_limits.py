"""Where a cached describe() of a 16-bit checkpoint spends its time: the limits of the parts.

Writes one bf16 safetensors file (``--gb``, normal weights, std 0.02), then, in each page-
cache state (*as written*: the pages its writer left; *read from disk*: evicted, then read
once, which Linux 6.16+ may keep in large folios), times on 1 and 2 threads:

- *plain pass*: numpy ``max`` of the uint16 view of a memory map (the issue's reference);
- *count, mapped*: the package's pattern-count kernel over the map (no copy: what counting
  alone costs; the package never counts through a map, see weights/file_array.py);
- *read only*: ``os.preadv`` of the file in 2 MB pieces into one reused buffer per thread;
- *read + count*: both, as the kernel does;
- ``describe()`` with the default ``"auto"`` range, and with a fixed one.

Each figure is the best of ``--repeats`` (GB/s), printed with the load average: the
machine is shared, and a loaded run only bounds from below.

    python benchmarks/bench_read_limits.py --dir /work/bench --gb 2
"""

from __future__ import annotations

import argparse
import functools
import json
import mmap
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PIECE = 1 << 21  # bytes per read, as descriptors.kernel.READ_BYTES


def write_bf16(path: Path, gb: float) -> int:
    """A one-tensor bf16 safetensors file of about ``gb`` GB; its data offset."""
    import ml_dtypes

    n = int(gb * 1e9) // 2 // PIECE * PIECE
    block = (np.random.default_rng(0).standard_normal(1 << 26, dtype=np.float32) * 0.02).astype(
        ml_dtypes.bfloat16
    )
    entry = {"dtype": "BF16", "shape": [n], "data_offsets": [0, 2 * n]}
    header = json.dumps({"w": entry}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        for a in range(0, n, block.size):
            f.write(block[: min(block.size, n - a)].tobytes())
    return 8 + len(header)


def cache_from_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        buf = memoryview(bytearray(16 << 20))
        offset = 0
        while got := os.preadv(fd, [buf], offset):
            offset += got
    finally:
        os.close(fd)


def best_rate(nbytes: int, fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(nbytes / min(times) / 1e9, 2)


def measure(path: Path, start: int, repeats: int) -> dict:
    from miwd_widget import describe
    from miwd_widget.descriptors.kernel import _count_patterns

    nbytes = (path.stat().st_size - start) // PIECE * PIECE
    n = nbytes // 2
    fd = os.open(path, os.O_RDONLY)
    mapped = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    patterns = np.frombuffer(mapped, np.uint16, count=n, offset=start)

    def count(p: np.ndarray) -> None:
        tables = np.zeros((1, 1 << 16), np.uint32)
        _count_patterns(p, 0, 1 << 62, 1, tables, np.zeros(1, np.int64), np.zeros((1, 1), np.int64))

    def read(a: int, b: int, counting: bool) -> None:
        buffer = np.empty(PIECE // 2, np.uint16)
        for offset in range(2 * a, 2 * b, PIECE):
            os.preadv(fd, [buffer], start + offset)
            if counting:
                count(buffer)

    def halves(fn, threads: int) -> None:
        cuts = [(n * k // threads, n * (k + 1) // threads) for k in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda ab: fn(*ab), cuts))

    count(patterns[:10])
    describe(path, progress=False)  # compiled, cached
    parts = {
        "plain pass": lambda a, b: patterns[a:b].max(),
        "count, mapped": lambda a, b: count(patterns[a:b]),
        "read only": lambda a, b: read(a, b, False),
        "read + count": lambda a, b: read(a, b, True),
    }
    out = {}
    for threads in (1, 2):
        for name, part in parts.items():
            out[f"{name} {threads}t"] = best_rate(
                nbytes, functools.partial(halves, part, threads), repeats
            )
    size = path.stat().st_size
    out["describe auto"] = best_rate(size, lambda: describe(path, progress=False), repeats)
    out["describe fixed"] = best_rate(
        size, lambda: describe(path, value_range=(-0.1, 0.1), progress=False), repeats
    )
    patterns = parts = None  # the map's last views, before it closes
    mapped.close()
    os.close(fd)
    out["load"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/miwd-bench")
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "limits-bf16.safetensors"
    try:
        start = write_bf16(path, args.gb)
        for state in ("as written", "read from disk"):
            if state == "read from disk":
                cache_from_disk(path)
            print(json.dumps({"state": state, **measure(path, start, args.repeats)}), flush=True)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
