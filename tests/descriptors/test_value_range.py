"""The "auto" range of counted (16-/8-bit) models: exact, under the documented definition.

pooled_percentiles' definition: a single model, or models of equal size, take
``numpy.percentile`` (linear) of all their weights together; models of unequal sizes the
weighted ``inverted_cdf`` percentile of the equal mixture (each model's weights weigh
1 / its size).
"""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import miwd_widget.descriptors.kernel as kernel
from miwd_widget.descriptors import DescriptorConfig, describe
from miwd_widget.descriptors.value_range import (
    WeightCounts,
    degenerate_reason,
    linear_percentiles,
    mixture_inverted_cdf,
    pooled_percentiles,
    range_summary,
)
from miwd_widget.weights import open_weights


def decoded(w: np.ndarray) -> np.ndarray:
    v = w.astype(np.float64)
    return v[np.isfinite(v)]


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16, ml_dtypes.float8_e4m3fn])
@pytest.mark.parametrize("q", [(5, 95), (0, 100), (1, 99), (33.3, 66.7), (50, 50.5)])
def test_linear_percentiles_from_counts_equal_numpy_bit_for_bit(dtype, q):
    rng = np.random.default_rng(int(q[0] * 10))
    for n in (1, 2, 3, 17, 1000, 12_345):
        w = (rng.standard_normal(n) * 0.7).astype(dtype)
        v = decoded(w)
        got = linear_percentiles(WeightCounts.of(v), q)
        np.testing.assert_array_equal(got, np.percentile(v, q))


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16, ml_dtypes.float8_e5m2])
def test_single_model_auto_range_is_numpys_percentile_of_all_its_weights(dtype):
    rng = np.random.default_rng(5)
    w = (rng.standard_normal(200_001) * 0.02 + 0.001).astype(dtype)
    w[:7] = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-8, -1e-8]).astype(dtype)
    d = describe(w, nan_policy="omit")
    assert d.value_range == tuple(float(x) for x in np.percentile(decoded(w), [5, 95]))


def test_equal_and_unequal_sizes_follow_the_documented_rules():
    rng = np.random.default_rng(6)
    a = (rng.standard_normal(5000) * 0.1).astype(ml_dtypes.bfloat16)
    b = (rng.standard_normal(5000) * 0.3 + 0.2).astype(ml_dtypes.bfloat16)
    c = (rng.standard_normal(700) * 2.0).astype(ml_dtypes.bfloat16)
    # equal sizes: numpy.percentile of all weights together
    d = describe([a, b], S=4, B=4)
    pooled = np.concatenate([decoded(a), decoded(b)])
    assert d.value_range == tuple(float(x) for x in np.percentile(pooled, [5, 95]))
    # unequal sizes: the inverted_cdf of the equal mixture, decided exactly
    d = describe([a, c], S=4, B=4)
    assert d.value_range == exact_mixture_percentiles([decoded(a), decoded(c)], [5, 95])


def exact_mixture_percentiles(models, q):
    """Smallest x with (1/M) sum_m #{w <= x}/N_m >= q/100, in rational arithmetic."""
    candidates = np.unique(np.concatenate(models))
    out = []
    for p in q:
        target = Fraction(p) / 100
        for x in candidates:
            f = sum(Fraction(int((m <= x).sum()), m.size) for m in models) / len(models)
            if f >= target:
                out.append(float(x))
                break
    return tuple(out)


def test_mixture_percentiles_equal_numpy_where_no_tie_is_near():
    rng = np.random.default_rng(9)
    models = [rng.standard_normal(n) for n in (301, 1000, 4099)]
    sets = [WeightCounts.of(m) for m in models]
    weights = np.concatenate([np.full(m.size, 1 / m.size) for m in models])
    q = [5, 25, 50, 95]
    expected = np.percentile(np.concatenate(models), q, weights=weights, method="inverted_cdf")
    np.testing.assert_array_equal(mixture_inverted_cdf(sets, q), expected)
    assert tuple(mixture_inverted_cdf(sets, q)) == exact_mixture_percentiles(models, q)


def test_counted_and_sampled_models_pool_together_one_vote_each():
    rng = np.random.default_rng(7)
    f32 = (rng.standard_normal(3000) * 0.5).astype(np.float32)
    b16 = (rng.standard_normal(3000) * 0.5).astype(ml_dtypes.bfloat16)
    lo_hi = pooled_percentiles([f32, WeightCounts.of(decoded(b16))])
    # equal sizes: all weights together, exactly
    both = np.concatenate([f32.astype(np.float64), decoded(b16)])
    assert lo_hi == tuple(float(x) for x in np.percentile(both, [5, 95]))


def test_range_summary_counts_narrow_models_whole_and_samples_float32(monkeypatch):
    rng = np.random.default_rng(8)
    config = DescriptorConfig(S=4, B=4)
    big = (rng.standard_normal(50_000) * 0.1).astype(ml_dtypes.bfloat16)
    summary, scan = range_summary(open_weights(big), config, n_models=100)
    assert isinstance(summary, WeightCounts) and summary.size == 50_000  # never a sample
    assert scan is None  # a small model: binned value by value later
    monkeypatch.setattr(kernel, "DIRECT_MAX_ELEMS", 10_000)
    counted, scan = range_summary(open_weights(big), config, n_models=100)
    np.testing.assert_array_equal(counted.values, summary.values)
    np.testing.assert_array_equal(counted.counts, summary.counts)
    assert scan is not None and scan.patterns["bfloat16"][1].shape[0] == 4  # kept, per window
    f32 = (rng.standard_normal(50_000) * 0.1).astype(np.float32)
    sample, scan = range_summary(open_weights(f32), config, n_models=100, max_samples=40_000)
    assert isinstance(sample, np.ndarray) and scan is None
    assert sample.size == len(range(0, 50_000, 13))  # a stride of 13 for 4,096 samples
    # a bfloat16 model with small float32 norms: counted, the norms added whole
    mixed = {"w": big, "norm": np.ones(10, np.float32)}
    summary, _ = range_summary(open_weights(mixed), config, n_models=1)
    assert summary.size == 50_010 and 1.0 in summary.values


def test_degenerate_verdict_from_counts_is_exact():
    w = np.zeros(10_000, ml_dtypes.bfloat16)
    w[:50] = 1  # 99.5% zeros
    counts = WeightCounts.of(decoded(w))
    assert degenerate_reason(counts) == "99.5% of its weights are 0"
    w[:150] = 1  # 98.5%
    assert degenerate_reason(WeightCounts.of(decoded(w))) is None
    # -0.0 and +0.0 are one value
    z = np.array([0.0] * 60 + [-0.0] * 40, np.float64)
    assert degenerate_reason(WeightCounts.of(z)) == "100.0% of its weights are 0"


@pytest.mark.parametrize("stride", [1, 7, 63, 64, 200, 5000])
def test_a_files_sample_equals_the_same_weights_sampled_in_memory(tmp_path, stride):
    from safetensors.numpy import save_file

    from miwd_widget.descriptors.value_range import sample_index, sample_size, sample_weights

    rng = np.random.default_rng(stride)
    sizes = [3, 70_000, 1, 250_000, 9_999, 130_001]  # runs cross tensor ends
    tensors = {f"t{i}": rng.standard_normal(k).astype(np.float32) for i, k in enumerate(sizes)}
    tensors["t3"][::1000] = np.nan  # left out of the sample
    save_file(tensors, str(tmp_path / "m.safetensors"))
    theta = np.concatenate(list(tensors.values()))
    expected = theta[sample_index(theta.size, stride)]
    assert expected.size == sample_size(theta.size, stride)
    for source in (tmp_path / "m.safetensors", tensors):
        got = sample_weights(open_weights(source), stride)
        np.testing.assert_array_equal(got, expected[np.isfinite(expected)])


def test_the_sample_of_a_large_file_reads_a_small_part_of_it(tmp_path, monkeypatch):
    # "auto" on a float32 model must not read it a second time whole: runs of weights,
    # not every stride-th one (which would touch every page).
    from safetensors.numpy import save_file

    from miwd_widget.descriptors.value_range import model_stride, sample_weights
    from miwd_widget.weights.file_array import OpenFile

    n = 8_000_000
    save_file({"w": np.random.default_rng(0).standard_normal(n).astype(np.float32)},
              str(tmp_path / "big.safetensors"))  # fmt: skip
    read = []
    original = OpenFile.read_into
    monkeypatch.setattr(
        OpenFile, "read_into", lambda self, offset, out: (read.append(len(out)), original(self, offset, out))[1]
    )  # fmt: skip
    stride = model_stride(n, n_models=8)  # a model among 8: 524,288 samples, stride 16
    assert stride < 64
    sample_weights(open_weights(tmp_path / "big.safetensors"), stride)
    assert sum(read) >= 4 * n  # every 16th weight: the whole file
    read.clear()
    stride = model_stride(n, n_models=400)  # 10,485 samples, stride 763: runs of 163
    sample = sample_weights(open_weights(tmp_path / "big.safetensors"), stride)
    assert sample.size >= 10_000 and sum(read) <= 4 * sample.size + 4096


@pytest.mark.parametrize("case", ["normal", "ties", "half-zero", "sorted", "periodic"])
def test_order_statistics_equal_a_full_sort_at_both_ends_and_within(case):
    # Ranks near the ends are selected among the values beyond a threshold from a regular
    # subsample; in "periodic" the subsample sees only the lowest value, so its low
    # threshold holds too few values for rank n/20 and the count check must fall back.
    from miwd_widget.descriptors.value_range import SUBSAMPLE, order_statistics

    rng = np.random.default_rng(7)
    n = 300_001
    v = rng.standard_normal(n)
    if case == "ties":
        v = np.round(v * 2) / 2
    elif case == "half-zero":
        v[: n // 2] = 0.0
    elif case == "sorted":
        v = np.sort(v)
    elif case == "periodic":
        v[:: n // SUBSAMPLE] = -5.0
    ranks = np.array([0, 1, 150, n // 20, n // 2, n - n // 20, n - 151, n - 1])
    got = order_statistics(v.copy(), ranks)
    np.testing.assert_array_equal([got[int(r)] for r in ranks], np.sort(v)[ranks])
    for q in [(5, 95), (0.1, 99.9), (0, 100), (42.0, 58.5)]:
        expected = tuple(np.percentile(v.astype(np.float32).astype(np.float64), q))
        if expected[0] < expected[1]:  # equal ends are widened into a range
            assert pooled_percentiles([v.astype(np.float32)], percentiles=q) == expected
