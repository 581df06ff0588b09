"""Descriptors of large checkpoints against a plain memory pass over the same bytes.

Generates sharded safetensors checkpoints with llama-style tensor names (shards of at most
``--shard-gb``; weights drawn once per dtype as 256 MB of normal values with a per-layer
scale, then repeated), measures, and deletes them (``--keep`` keeps them).

For each checkpoint, in one run and interleaved:

- *plain pass*: ``max`` of each tensor's raw integer view (uint16/uint8/uint32), one thread,
  from freshly opened memory maps: the speed at which numpy can touch every byte once;
- ``describe(index.json)`` with the default ``value_range="auto"``;
- both again with the files evicted from the page cache
  (``os.posix_fadvise(..., POSIX_FADV_DONTNEED)``), beside a plain ``read()`` of every file
  once (16 MB reads): *uncached*;
- the peak anonymous memory (RssAnon) of this process during ``describe``.

``library``: ``ModelLibrary.from_files`` over a folder of ``--models`` bf16 checkpoints of
``--model-params`` each, against the plain pass over the same files. ``small``: files/s of
``from_files`` over ``--files`` safetensors files of 10,000 float32 weights (best of
``n_jobs`` 1 and 2). The machine is shared: each figure is printed with the load average.

    python benchmarks/bench_checkpoints.py models --dir /work/bench --params 7e9 --dtypes bf16
    python benchmarks/bench_checkpoints.py models --params 1e9 --dtypes fp16 fp8 f32
    python benchmarks/bench_checkpoints.py library --models 20 --model-params 2.5e8
    python benchmarks/bench_checkpoints.py small --files 4000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_build import AnonPeak  # noqa: E402

#: dtype key -> (safetensors dtype, bytes per weight, numpy dtype to draw with)
DTYPES = {
    "bf16": ("BF16", 2, "bfloat16"),
    "fp16": ("F16", 2, "float16"),
    "fp8": ("F8_E4M3", 1, "float8_e4m3fn"),
    "f32": ("F32", 4, "float32"),
}
BLOCK_BYTES = 256 << 20
DTYPE_BYTES = {st: size for st, size, _ in DTYPES.values()}


def numpy_dtype(name: str) -> np.dtype:
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name, None) or name)


def llama_tensors(params: float) -> list[tuple[str, list[int]]]:
    """Names and shapes of a llama-style model of about ``params`` weights (hidden size
    4096 from 3 billion weights on, 2048 from 1 billion, else 1024)."""
    HIDDEN = 4096 if params >= 3e9 else 2048 if params >= 1e9 else 1024  # noqa: N806
    per_layer = 12 * HIDDEN * HIDDEN  # q, k, v, o (4 h^2) + gate, up, down (3 * 2.67 h^2)
    layers = max(1, round((params - 2 * 32000 * HIDDEN) / per_layer))
    out = [("model.embed_tokens.weight", [32000, HIDDEN])]
    inter = (8 * HIDDEN) // 3 // 256 * 256
    for i in range(layers):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out.append((p + f"self_attn.{proj}.weight", [HIDDEN, HIDDEN]))
        out.append((p + "mlp.gate_proj.weight", [inter, HIDDEN]))
        out.append((p + "mlp.up_proj.weight", [inter, HIDDEN]))
        out.append((p + "mlp.down_proj.weight", [HIDDEN, inter]))
        out.append((p + "input_layernorm.weight", [HIDDEN]))
        out.append((p + "post_attention_layernorm.weight", [HIDDEN]))
    out.append(("model.norm.weight", [HIDDEN]))
    out.append(("lm_head.weight", [32000, HIDDEN]))
    return out


@functools.lru_cache(maxsize=4)
def weight_blocks(dtype: str, seed: int) -> list[bytes]:
    """Four 256 MB blocks of normal weights (std 0.01-0.04), the raw bytes of ``dtype``."""
    _, size, name = DTYPES[dtype]
    n = BLOCK_BYTES // size
    rng = np.random.default_rng(seed)
    out = []
    for std in (0.01, 0.02, 0.03, 0.04):
        w = rng.standard_normal(n, dtype=np.float32) * std
        out.append(w.astype(numpy_dtype(name)).tobytes())
    return out


def write_checkpoint(folder: Path, params: float, dtype: str, shard_gb: float, seed: int = 0):
    """A sharded checkpoint (index.json + shards) of about ``params`` weights; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    st_dtype, size, _ = DTYPES[dtype]
    blocks = weight_blocks(dtype, seed)
    tensors = llama_tensors(params)
    shards: list[list[tuple[str, list[int]]]] = [[]]
    used = 0
    for name, shape in tensors:
        nbytes = int(np.prod(shape)) * size
        if used + nbytes > shard_gb * 1e9 and shards[-1]:
            shards.append([])
            used = 0
        shards[-1].append((name, shape))
        used += nbytes
    weight_map = {}
    k = 0
    for s, members in enumerate(shards):
        fname = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {}, 0
        for name, shape in members:
            nbytes = int(np.prod(shape)) * size
            header[name] = {
                "dtype": st_dtype,
                "shape": shape,
                "data_offsets": [offset, offset + nbytes],
            }
            offset += nbytes
            weight_map[name] = fname
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / fname, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for _, shape in members:
                left = int(np.prod(shape)) * size
                while left:
                    chunk = blocks[k % len(blocks)][: min(left, BLOCK_BYTES)]
                    f.write(chunk)
                    left -= len(chunk)
                    k += 1
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}))
    return index


def shard_files(index: Path) -> list[Path]:
    return sorted(index.parent.glob("*.safetensors"))


def evict(files: list[Path]) -> None:
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_once(files: list[Path]) -> None:
    buf = bytearray(16 << 20)
    view = memoryview(buf)
    for p in files:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(view):
                pass


def plain_pass(files: list[Path]) -> None:
    """max of every tensor's raw integer view, freshly memory-mapped (the issue's reference:
    numpy touching every byte once, with no copy)."""
    for p in files:
        with open(p, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data = np.memmap(p, np.uint8, mode="r", offset=8 + n)
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            a, b = entry["data_offsets"]
            size = DTYPE_BYTES[entry["dtype"]]
            data[a:b].view({1: np.uint8, 2: np.uint16, 4: np.uint32}[size]).max()
        del data


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summary(gb: float, seconds: list[float]) -> str:
    rates = [gb / s for s in seconds]
    sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
    return f"{statistics.median(rates):6.2f} GB/s (sd {sd:.2f}, median of {len(rates)})"


def measure(source: Path, files: list[Path], repeats: int, uncached: bool) -> dict:
    """Plain pass and describe() interleaved, in two page-cache states, then uncached.

    *as written*: the pages the writer left in the cache. *read from disk*: evicted, then
    read once, as a checkpoint on disk is after a first read. The kernel may keep a file
    read from disk in large folios (Linux 6.16+ on ext4, xfs), which positional reads
    copy out about twice as fast: both states are reported.
    """
    from miwd_widget import describe

    gb = sum(p.stat().st_size for p in files) / 1e9
    describe(source, progress=False)  # numba compiled and cached
    out: dict = {"GB": gb}
    for state in ("as written", "read from disk"):
        if state == "read from disk":
            evict(files)
        read_once(files)  # into the page cache
        plain, desc, peaks = [], [], []
        for _ in range(repeats):
            plain.append(timed(lambda: plain_pass(files)))
            peak = AnonPeak()
            base = AnonPeak.now()
            desc.append(timed(lambda: describe(source, progress=False)))
            peaks.append(peak.stop() - base)
        out[f"cached ({state}) plain"] = summary(gb, plain)
        out[f"cached ({state}) describe"] = summary(gb, desc)
        out[f"cached ({state}) ratio"] = round(
            statistics.median(p / d for p, d in zip(plain, desc, strict=True)), 3
        )
        out[f"cached ({state}) anon peak MB"] = max(peaks)
        out[f"cached ({state}) load"] = os.getloadavg()[0]
    if uncached:
        reads, udesc = [], []
        for _ in range(max(1, repeats - 1)):
            evict(files)
            reads.append(timed(lambda: read_once(files)))
            evict(files)
            udesc.append(timed(lambda: describe(source, progress=False)))
        out["uncached read once"] = summary(gb, reads)
        out["uncached describe"] = summary(gb, udesc)
        out["uncached ratio"] = round(
            statistics.median(r / d for r, d in zip(reads, udesc, strict=True)), 3
        )
    return out


def cmd_models(args: argparse.Namespace) -> None:
    for dtype in args.dtypes:
        folder = Path(args.dir) / f"ckpt-{dtype}-{args.params:.0e}"
        t0 = time.perf_counter()
        index = write_checkpoint(folder, args.params, dtype, args.shard_gb)
        files = shard_files(index)
        print(
            f"{dtype}: {len(files)} shards, {sum(p.stat().st_size for p in files) / 1e9:.2f} GB "
            f"written in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        try:
            result = measure(index, files, args.repeats, not args.no_uncached)
            print(
                json.dumps({"dtype": dtype, "params": args.params, **result}, indent=1), flush=True
            )
        finally:
            if not args.keep:
                shutil.rmtree(folder)


def cmd_library(args: argparse.Namespace) -> None:
    from miwd_widget import ModelLibrary

    root = Path(args.dir) / "library"
    t0 = time.perf_counter()
    for m in range(args.models):
        # two sets of weight blocks, alternating: drawing 1 GB of normals per model would
        # take longer than the build it feeds
        index = write_checkpoint(
            root / f"model{m:03d}", args.model_params, "bf16", 100.0, seed=m % 2
        )
        # one file per model, beside its folder: from_files reads files
        (index.parent / "model-00001-of-00001.safetensors").rename(
            root / f"model{m:03d}.safetensors"
        )
        shutil.rmtree(index.parent)
    files = sorted(root.glob("*.safetensors"))
    gb = sum(p.stat().st_size for p in files) / 1e9
    print(
        f"library: {len(files)} bf16 files, {gb:.2f} GB, written in {time.perf_counter() - t0:.0f} s"
    )
    try:
        read_once(files)
        for run in range(args.repeats):
            plain = timed(lambda: plain_pass(files))
            peak = AnonPeak()
            base = AnonPeak.now()
            t = timed(
                lambda: ModelLibrary.from_files(
                    root, S=32, B=32, progress=False, n_jobs=args.n_jobs
                )
            )
            print(
                f"cached run {run}: from_files {t:.1f} s ({gb / t:.2f} GB/s), plain pass {plain:.1f} s "
                f"({gb / plain:.2f} GB/s), ratio {plain / t:.2f}, anon peak "
                f"{peak.stop() - base:.0f} MB, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if not args.no_uncached:
            evict(files)
            read = timed(lambda: read_once(files))
            evict(files)
            t = timed(lambda: ModelLibrary.from_files(root, S=32, B=32, progress=False))
            print(
                f"uncached: from_files {t:.1f} s ({gb / t:.2f} GB/s), read once {read:.1f} s "
                f"({gb / read:.2f} GB/s), load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(root)


def cmd_small(args: argparse.Namespace) -> None:
    from safetensors.numpy import save_file

    from miwd_widget import ModelLibrary

    folder = Path(args.dir) / f"small{args.files}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(args.files):
        save_file(
            {"w": (rng.standard_normal(10_000) * 0.1).astype(np.float32)},
            str(folder / f"m{i:05d}.safetensors"),
        )
    ModelLibrary.from_files(folder, S=32, B=32, n_jobs=1, progress=False)  # warm: cache, numba
    try:
        for run in range(args.repeats):
            rates = {}
            for n_jobs in (1, 2):
                t = timed(
                    lambda n=n_jobs: ModelLibrary.from_files(
                        folder, S=32, B=32, n_jobs=n, progress=False
                    )
                )
                rates[n_jobs] = args.files / t
            print(
                f"run {run}: n_jobs=1 {rates[1]:,.0f} files/s, n_jobs=2 {rates[2]:,.0f} files/s, "
                f"best {max(rates.values()):,.0f}, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/miwd-bench", help="where files are written")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--no-uncached", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("models")
    m.add_argument("--params", type=float, default=7e9)
    m.add_argument("--dtypes", nargs="+", default=["bf16"], choices=list(DTYPES))
    m.add_argument("--shard-gb", type=float, default=5.0)
    lib = sub.add_parser("library")
    lib.add_argument("--models", type=int, default=20)
    lib.add_argument("--model-params", type=float, default=2.5e8)
    lib.add_argument("--n-jobs", type=int, default=None, help="from_files' n_jobs")
    small = sub.add_parser("small")
    small.add_argument("--files", type=int, default=4000)
    args = parser.parse_args()
    {"models": cmd_models, "library": cmd_library, "small": cmd_small}[args.cmd](args)


if __name__ == "__main__":
    main()
