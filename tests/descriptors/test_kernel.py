"""The descriptor kernels against a float64 reference of the paper's formula, per dtype.

The reference: theta decoded to float64, window s = theta[floor(N s / S) : floor(N (s+1) / S)],
``numpy.histogram(window, bins=B, range=(lo, hi))`` (edges ``linspace(lo, hi, B + 1)``, hi in
the last bin), out-of-range values dropped (or, with ``clip``, put in the edge bins), NaN/Inf
left out, each row divided by its count, then float32.
"""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest
import safetensors.torch
import torch

import miwd_widget.descriptors.kernel as kernel
from miwd_widget.descriptors import DescriptorConfig, describe
from miwd_widget.descriptors.kernel import _count_patterns, describe_source, scan_source
from miwd_widget.weights import open_weights

NARROW = {
    "bfloat16": ml_dtypes.bfloat16,
    "float16": np.float16,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
}
ALL_DTYPES = {**NARROW, "float32": np.float32, "float64": np.float64}


@pytest.fixture(params=["tables", "direct"], autouse=True)
def kernel_path(request, monkeypatch):
    """Every test runs on both paths: pattern/bucket tables (large models) and value by
    value (models of at most DIRECT_MAX_ELEMS weights)."""
    monkeypatch.setattr(kernel, "DIRECT_MAX_ELEMS", 0 if request.param == "tables" else 1 << 40)
    return request.param


def reference(theta64: np.ndarray, S: int, B: int, lo: float, hi: float, clip: bool = False):
    n = theta64.shape[0]
    out = np.zeros((S, B), np.float32)
    for s in range(S):
        w = theta64[(n * s) // S : (n * (s + 1)) // S]
        w = w[np.isfinite(w)]
        if clip:
            w = np.clip(w, lo, hi)
        counts, _ = np.histogram(w, bins=B, range=(lo, hi))
        out[s] = (counts / max(counts.sum(), 1)).astype(np.float32)
    return out


def hard_weights(dtype, lo: float, hi: float, B: int, rng) -> np.ndarray:
    """Weights on and next to every bin edge, -0.0, subnormals, the extremes, NaN/Inf where
    the dtype has them, and normal weights; shuffled, in the given dtype."""
    edges = np.linspace(lo, hi, B + 1)
    on_edges = edges.astype(dtype)
    finfo = ml_dtypes.finfo(dtype) if dtype not in (np.float32, np.float64) else np.finfo(dtype)
    smallest_sub = finfo.smallest_subnormal
    special = [
        on_edges,
        np.nextafter(on_edges.astype(np.float64), np.inf).astype(dtype),
        np.nextafter(on_edges.astype(np.float64), -np.inf).astype(dtype),
        np.array([-0.0, 0.0, smallest_sub, -smallest_sub, finfo.max, finfo.min], dtype),
    ]
    if dtype in NARROW.values():
        # every bit pattern of a narrow float, NaN and Inf among them
        bits = 16 if np.dtype(dtype).itemsize == 2 else 8
        special.append(np.arange(1 << bits, dtype=f"u{bits // 8}").view(dtype))
    else:
        special.append(np.array([np.nan, np.inf, -np.inf], dtype))
    normal = (rng.standard_normal(20_000) * (hi - lo) / 3).astype(dtype)
    theta = np.concatenate([*special, normal])
    return theta[rng.permutation(theta.shape[0])]


@pytest.mark.parametrize("dtype_name", list(ALL_DTYPES))
@pytest.mark.parametrize(
    "lo_hi_b",
    [(-1.0, 1.0, 8), (-0.3, 0.7, 7), (-3.0, 2.5, 32), (-0.01, 0.013, 3000)],
    ids=["representable-edges", "unrepresentable-edges", "wide", "bins-finer-than-bf16"],
)
@pytest.mark.parametrize("clip", [False, True])
def test_every_dtype_equals_the_float64_reference(dtype_name, lo_hi_b, clip):
    lo, hi, B = lo_hi_b
    dtype = ALL_DTYPES[dtype_name]
    theta = hard_weights(dtype, lo, hi, B, np.random.default_rng(B))
    ws = open_weights(theta, name=dtype_name)
    assert ws.tensors[0].dtype == dtype_name
    config = DescriptorConfig(S=5, B=B, value_range=(lo, hi), clip=clip, nan_policy="omit")
    got = describe_source(ws, config)
    with np.errstate(invalid="ignore"):  # NaN patterns decode to NaN
        theta64 = theta.astype(np.float64)
    expected = reference(theta64, 5, B, lo, hi, clip)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype_name", list(ALL_DTYPES))
def test_nan_and_inf_raise_by_default_naming_the_tensor(dtype_name):
    dtype = ALL_DTYPES[dtype_name]
    w = np.zeros(64, dtype)
    w[10] = np.array(np.nan).astype(dtype)
    w[20] = np.array(np.inf if dtype_name != "float8_e4m3fn" else np.nan).astype(dtype)
    ws = open_weights({"a": np.ones(8, dtype), "b": w})
    with pytest.raises(ValueError, match=r"tensor 'b': .* first at theta\[18\]"):
        describe_source(ws, DescriptorConfig(S=2, B=4, value_range=(-1, 1)))


@pytest.mark.parametrize("dtype_name", list(ALL_DTYPES))
@pytest.mark.parametrize("lo_hi", [(0.0, 1e-310), (-1e-310, 1e-310), (0.0, 1e-307)])
def test_ranges_too_narrow_for_b_over_their_width(dtype_name, lo_hi):
    # B / (hi - lo) overflows to inf here; numpy.histogram still bins these ranges.
    lo, hi = lo_hi
    theta = np.zeros(40, np.float64)
    theta[:10] = hi / 3
    theta[10:15] = hi
    theta = theta.astype(ALL_DTYPES[dtype_name])  # narrow dtypes: all of it 0
    config = DescriptorConfig(S=2, B=32, value_range=lo_hi)
    got = describe_source(open_weights(theta), config)
    np.testing.assert_array_equal(got, reference(theta.astype(np.float64), 2, 32, lo, hi))


def test_float32_buckets_split_by_one_edge_get_numpys_threshold():
    from miwd_widget.descriptors.window_counts import bin_values, float32_buckets

    lo, hi, B = -0.3, 0.7, 7
    b = float32_buckets(lo, hi, B, False)
    split = np.flatnonzero(b.kind == 1)
    assert split.size == B + 1  # each edge, lo and hi included, splits one bucket
    t = b.threshold[split].astype(np.float64)
    before = np.nextafter(b.threshold[split], np.float32(-np.inf)).astype(np.float64)
    # the threshold takes the upper slot, the float32 just below it the lower one
    assert (bin_values(t, lo, hi, B, False) != bin_values(before, lo, hi, B, False)).all()


def test_float32_takes_the_split_kernel_unless_a_bucket_holds_two_edges(monkeypatch):
    # Both float32 kernels are checked against the reference above: bins finer than a
    # top-16-bit bucket (B=3000 on a range of 0.023) take the value-by-value one.
    from miwd_widget.descriptors.window_counts import DROPPED, float32_buckets

    called = []
    for name in ("_count_float32", "_count_float32_split"):
        original = getattr(kernel, name)
        monkeypatch.setattr(
            kernel, name, lambda *a, _f=original, _n=name: (called.append(_n), _f(*a))
        )
    monkeypatch.setattr(kernel, "DIRECT_MAX_ELEMS", 0)
    theta = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    for lo, hi, B, expected in [
        (-1.0, 1.0, 8, "_count_float32_split"),
        (-0.01, 0.013, 3000, "_count_float32"),
    ]:
        buckets = float32_buckets(lo, hi, B, False)
        assert (buckets.kind == 2).any() == (expected == "_count_float32")
        called.clear()
        describe_source(open_weights(theta), DescriptorConfig(S=2, B=B, value_range=(lo, hi)))
        assert set(called) == {expected}
    # a bucket split by one edge sends its two entries to the two bins beside that edge
    buckets = float32_buckets(-0.3, 0.7, 7, False)
    one = np.flatnonzero(buckets.kind == 1)
    below, above = buckets.split_bins[2 * one], buckets.split_bins[2 * one + 1]
    inside = (below >= 0) & (above >= 0)
    assert (above[inside] == below[inside] + 1).all() and (
        (below == DROPPED) | (above == DROPPED)
    ).sum() == 2


def test_mixed_dtypes_in_one_model_equal_the_reference():
    rng = np.random.default_rng(1)
    parts = {
        "embed": (rng.standard_normal(3001) * 0.1).astype(ml_dtypes.bfloat16),
        "norm": (1 + rng.standard_normal(77) * 0.01).astype(np.float32),
        "fc": (rng.standard_normal(2048) * 0.1).astype(ml_dtypes.float8_e4m3fn),
        "head": (rng.standard_normal(999) * 0.1).astype(np.float16),
    }
    theta = np.concatenate([p.astype(np.float64) for p in parts.values()])
    config = DescriptorConfig(S=9, B=16, value_range=(-0.25, 1.1))
    got = describe_source(open_weights(parts), config)
    np.testing.assert_array_equal(got, reference(theta, 9, 16, -0.25, 1.1))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_blocks_and_threads_give_the_same_counts(monkeypatch, threads):
    # Blocks far smaller than a window, and windows smaller than a block, on 1-3 threads.
    rng = np.random.default_rng(2)
    model = {
        f"l{i}": (rng.standard_normal(int(n)) * 0.05).astype(dt)
        for i, (n, dt) in enumerate(
            [(5000, ml_dtypes.bfloat16), (1234, np.float32), (7777, ml_dtypes.bfloat16)]
        )
    }
    theta = np.concatenate([v.astype(np.float64) for v in model.values()])
    monkeypatch.setattr(kernel, "BLOCK_ELEMS", 333)
    for S in (1, 7, 64):
        config = DescriptorConfig(S=S, B=10, value_range=(-0.1, 0.1))
        got = describe_source(open_weights(model), config, threads=threads)
        np.testing.assert_array_equal(got, reference(theta, S, 10, -0.1, 0.1))


def test_pattern_tables_fold_into_int64_before_a_uint32_overflows():
    # A window whose uint32 table is about to overflow is folded into its int64 totals.
    tables = np.zeros((2, 256), np.uint32)
    tables[0, 7] = 2**32 - 3
    filled = np.array([2**32 - 3, 0], np.int64)
    totals = np.zeros((2, 256), np.int64)
    p = np.full(10, 7, np.uint8)
    # theta of 20 values, 2 windows of 10: this piece is window 0 (offset 0)
    _count_patterns(p, 0, 20, 2, tables, filled, totals)
    assert int(totals[0, 7] + tables[0, 7]) == 2**32 - 3 + 10
    assert totals[0, 7] == 2**32 - 3 and tables[0, 7] == 10 and filled[0] == 10


def test_scan_progress_bar_counts_the_bytes(capsys):
    w = np.zeros(1 << 16, ml_dtypes.bfloat16)
    scan_source(open_weights(w, name="big"), S=4, progress=True)
    err = capsys.readouterr().err
    assert "MI-WD big" in err and "131k" in err


def write_sharded_bfloat16(folder, tensors: dict[str, torch.Tensor], shards: int = 3):
    """A Hugging Face style sharded checkpoint written by the safetensors library."""
    names = list(tensors)
    weight_map = {}
    for k in range(shards):
        part = {n: tensors[n] for n in names[k::shards]}
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        safetensors.torch.save_file(part, str(folder / fname))
        weight_map.update({n: fname for n in part})
    # sorted by name, as transformers writes it
    index = {"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder / "model.safetensors.index.json"


def test_sharded_bfloat16_checkpoint_equals_its_float32_copy(tmp_path):
    gen = torch.Generator().manual_seed(0)
    tensors = {
        f"model.layers.{i}.{kind}": (torch.randn(64, 96, generator=gen) * 0.02).to(torch.bfloat16)
        for i in range(12)
        for kind in ("self_attn.q_proj.weight", "mlp.up_proj.weight")
    }
    tensors["model.embed_tokens.weight"] = (torch.randn(500, 96, generator=gen) * 0.5).to(
        torch.bfloat16
    )
    (tmp_path / "bf16").mkdir()
    index = write_sharded_bfloat16(tmp_path / "bf16", tensors)
    as_float32 = {n: t.to(torch.float32) for n, t in tensors.items()}
    f32 = tmp_path / "f32.safetensors"
    safetensors.torch.save_file(as_float32, str(f32))
    ws16, ws32 = open_weights(index), open_weights(f32)
    assert ws16.names == ws32.names and {t.dtype for t in ws16.tensors} == {"bfloat16"}
    d16, d32 = describe(index), describe(f32)
    assert d16.value_range == d32.value_range
    np.testing.assert_array_equal(d16, d32)
    # and both equal the reference on that range
    theta = np.concatenate([as_float32[n].numpy().ravel() for n in ws32.names]).astype(np.float64)
    np.testing.assert_array_equal(d16, reference(theta, 32, 32, *d16.value_range))


@pytest.mark.parametrize(
    "torch_dtype,name",
    [
        (torch.float16, "float16"),
        (torch.float8_e4m3fn, "float8_e4m3fn"),
        (torch.float8_e5m2, "float8_e5m2"),
    ],
)
def test_safetensors_16_and_8_bit_files_are_read_as_patterns(tmp_path, torch_dtype, name):
    gen = torch.Generator().manual_seed(3)
    w = (torch.randn(4000, generator=gen) * 0.3).to(torch_dtype)
    path = tmp_path / f"{name}.safetensors"
    safetensors.torch.save_file({"w": w, "b": torch.zeros(3, dtype=torch_dtype)}, str(path))
    ws = open_weights(path)
    assert [t.dtype for t in ws.tensors] == [name, name]
    theta = np.concatenate(
        [t.to(torch.float32).numpy().astype(np.float64) for t in (torch.zeros(3), w)]
    )
    config = DescriptorConfig(S=4, B=12, value_range=(-0.5, 0.5))
    np.testing.assert_array_equal(describe_source(ws, config), reference(theta, 4, 12, -0.5, 0.5))


def test_the_counting_kernels_keep_no_reference_to_their_arrays():
    # A numba generator that held the tables leaked them: 8 MB per thread and model, 80 MB
    # a build of six 250M-weight models, found by bench_checkpoints' anonymous memory.
    import sys

    from miwd_widget.descriptors.window_counts import float32_buckets

    S, n = 3, 1000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    b = float32_buckets(-1.0, 1.0, 8, False)
    edges = np.linspace(-1.0, 1.0, 9)
    filled, totals = np.zeros(S, np.int64), np.zeros((1, 1), np.int64)
    calls = {
        "_count_patterns": (x.view(np.uint16), 0, 2 * n, S, np.zeros((S, 1 << 16), np.uint32)),
        "_count_bytes": (x.view(np.uint8), 0, 4 * n, S, np.zeros((S, 4 * 256), np.uint32)),
        "_count_float32_split": (x.view(np.uint32), x, 0, n, S, np.zeros((S, 2 << 16), np.uint32)),
    }
    for name, head in calls.items():
        args = (*head, filled, totals) + ((b.split_at,) if "split" in name else ())
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        before = [sys.getrefcount(a) for a in arrays]
        for _ in range(3):
            getattr(kernel, name)(*args)
        assert [sys.getrefcount(a) for a in arrays] == before, name
    tables = np.zeros((S, 1 << 16), np.uint32)
    slots, rows, bad = (
        np.zeros((S, 4, 10), np.int64),
        np.zeros((S, 4, 8), np.int64),
        np.zeros(S, np.int64),
    )
    args = (x.view(np.uint32), x, 0, n, S, tables, filled, totals, b.kind, b.threshold, b.below,
            b.above, -1.0, 1.0, 4.0, edges, 8, False, slots, rows, bad)  # fmt: skip
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    before = [sys.getrefcount(a) for a in arrays]
    kernel._count_float32(*args)
    assert [sys.getrefcount(a) for a in arrays] == before
