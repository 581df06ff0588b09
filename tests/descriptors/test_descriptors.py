"""MI-WD descriptor definition, value ranges, dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget import describe, mi_wd
from miwd_widget.descriptors import DescriptorError, auto_value_range


def reference_mi_wd(theta: np.ndarray, S: int, B: int, value_range, clip: bool = False):
    """The paper's definition written with 1-based indices and numpy.histogram."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    lo, hi = value_range
    out = np.zeros((S, B))
    for s in range(1, S + 1):
        i0 = (n * (s - 1)) // S + 1
        i1 = (n * s) // S
        window = theta[i0 - 1 : i1]
        if clip:
            window = np.clip(window, lo, hi)
        h, _ = np.histogram(window, bins=B, range=(lo, hi))
        if h.sum():
            out[s - 1] = h / h.sum()
    return out


def test_hand_computed_small_case():
    # N = 6, S = 3 -> windows {1,2}, {3,4}, {5,6}; B = 2 over [-1, 1] -> bins [-1,0), [0,1].
    theta = np.array([-0.5, -0.2, 0.3, -0.9, 0.1, 1.0])
    d = mi_wd(theta, S=3, B=2, value_range=(-1, 1))
    assert d.dtype == np.float32
    assert d.tolist() == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    assert d.value_range == (-1.0, 1.0)


def test_windows_when_n_not_divisible_by_s():
    # N = 7, S = 3: i0/i1 (1-based) = (1,2), (3,4), (5,7) -> windows of 2, 2 and 3 weights.
    theta = np.array([0.1, 0.1, -0.1, -0.1, 0.1, -0.1, -0.1])
    d = mi_wd(theta, S=3, B=2, value_range=(-1, 1))
    np.testing.assert_allclose(d, [[0, 1], [1, 0], [2 / 3, 1 / 3]], rtol=1e-6)


@pytest.mark.parametrize("n,S,B", [(1003, 7, 9), (4096, 32, 32), (50, 50, 3), (100_003, 13, 16)])
def test_matches_reference_definition(n, S, B):
    theta = np.random.default_rng(n).normal(scale=2.0, size=n)
    d = mi_wd(theta, S=S, B=B, value_range=(-3, 3))
    np.testing.assert_allclose(d, reference_mi_wd(theta, S, B, (-3, 3)), atol=1e-6)
    sums = d.sum(axis=1)  # 1 for a window with in-range weights, 0 for one without
    assert np.all(np.isclose(sums, 1.0, atol=1e-5) | (sums == 0))


def test_large_segment_uses_parallel_blocks_and_stays_exact():
    theta = np.random.default_rng(1).normal(size=600_011).astype(np.float32)
    d = mi_wd(theta, S=5, B=11, value_range=(-2, 2))
    np.testing.assert_allclose(d, reference_mi_wd(theta, 5, 11, (-2, 2)), atol=1e-6)


def test_values_on_bin_edges_follow_numpy():
    lo, hi, B = -5.0, 5.0, 32
    edges = np.linspace(lo, hi, B + 1)
    theta = np.concatenate([edges, edges[:-1] + 1e-12]).astype(np.float64)
    d = mi_wd(theta, S=1, B=B, value_range=(lo, hi))
    np.testing.assert_allclose(d, reference_mi_wd(theta, 1, B, (lo, hi)), atol=1e-7)


def test_out_of_range_dropped_or_clipped():
    theta = np.array([-10.0, -0.5, 0.5, 10.0, 10.0, 0.6])
    dropped = mi_wd(theta, S=1, B=2, value_range=(-1, 1))
    np.testing.assert_allclose(dropped, [[1 / 3, 2 / 3]])
    clipped = mi_wd(theta, S=1, B=2, value_range=(-1, 1), clip=True)
    np.testing.assert_allclose(clipped, [[2 / 6, 4 / 6]])
    np.testing.assert_allclose(clipped, reference_mi_wd(theta, 1, 2, (-1, 1), clip=True))


def test_window_without_in_range_weights_is_zero_row():
    theta = np.array([0.1, 0.2, 9.0, 9.0])
    d = mi_wd(theta, S=2, B=4, value_range=(-1, 1))
    assert d[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert d[0].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_give_same_descriptor(dtype):
    theta = np.random.default_rng(3).normal(size=5000)
    theta = theta.astype(np.float16).astype(np.float64)  # values representable in every dtype
    d = mi_wd(theta.astype(dtype), S=8, B=8, value_range=(-2, 2))
    np.testing.assert_allclose(d, reference_mi_wd(theta, 8, 8, (-2, 2)), atol=1e-6)


def test_bfloat16_via_torch():
    import torch

    t = torch.linspace(-1, 1, 512, dtype=torch.bfloat16)
    d = describe({"w": t}, S=4, B=4, value_range=(-1, 1))
    np.testing.assert_allclose(d, reference_mi_wd(t.float().numpy(), 4, 4, (-1, 1)), atol=1e-6)


def test_layers_are_concatenated_in_order():
    a, b = np.full(10, -0.5), np.full(30, 0.5)
    d = describe({"first": a, "second": b}, S=4, B=2, value_range=(-1, 1))
    np.testing.assert_allclose(d, reference_mi_wd(np.concatenate([a, b]), 4, 2, (-1, 1)))
    d_list = mi_wd([a, b], S=4, B=2, value_range=(-1, 1))  # one model given as its layers
    np.testing.assert_array_equal(d, d_list)
    stacked = describe([[a, b], {"x": a}], S=4, B=2, value_range=(-1, 1))  # two models
    assert stacked.shape == (2, 4, 2)
    np.testing.assert_array_equal(stacked[0], d)


def test_describe_many_returns_stack_with_shared_auto_range():
    rng = np.random.default_rng(4)
    models = [rng.normal(scale=0.02 * (i + 1), size=1000 + 37 * i) for i in range(4)]
    d = describe(models, S=8, B=16, value_range="auto")
    assert d.shape == (4, 8, 16)
    # one vote per model: each value weighs 1 / its model's size
    pooled = np.concatenate(models)
    weights = np.concatenate([np.full(m.size, 1.0 / m.size) for m in models])
    lo, hi = np.percentile(pooled, [5, 95], weights=weights, method="inverted_cdf")
    assert d.value_range == pytest.approx((lo, hi))
    for i, m in enumerate(models):
        np.testing.assert_allclose(d[i], reference_mi_wd(m, 8, 16, (lo, hi)), atol=1e-6)
    assert d.n_weights.tolist() == [m.size for m in models]


def test_auto_range_custom_percentiles_and_subsampling():
    theta = np.linspace(-1, 1, 2001)
    assert auto_value_range([theta], percentiles=(0, 100)) == pytest.approx((-1, 1))
    lo, hi = auto_value_range([theta], percentiles=(10, 90), max_samples=200)
    assert lo == pytest.approx(-0.8, abs=0.02) and hi == pytest.approx(0.8, abs=0.02)


def test_auto_range_of_constant_model_is_widened():
    lo, hi = auto_value_range([np.full(100, 0.3)])
    assert lo < 0.3 < hi


def test_mi_wd_auto_uses_own_percentiles():
    theta = np.random.default_rng(5).normal(size=10_000)
    d = mi_wd(theta, S=4, B=4, value_range="auto", percentiles=(1, 99))
    assert d.value_range == pytest.approx(tuple(np.percentile(theta, [1, 99])))


def test_fewer_weights_than_windows():
    with pytest.raises(DescriptorError, match=r"N=5 weights, fewer than S=32"):
        mi_wd(np.zeros(5))


def test_nan_and_inf_are_reported_with_location():
    theta = {"a": np.zeros(100), "b": np.array([0.0, np.nan, np.inf, np.nan] + [0.0] * 60)}
    with pytest.raises(DescriptorError) as err:
        describe(theta, S=4, B=4, value_range=(-1, 1))
    msg = str(err.value)
    assert "2 NaN and 1 Inf" in msg and "'b'" in msg and "theta[101]" in msg
    assert "nan_policy='omit'" in msg


def test_nan_policy_omit_drops_non_finite():
    theta = np.array([0.5, np.nan, 0.5, -0.5, np.inf, -0.5])
    d = mi_wd(theta, S=2, B=2, value_range=(-1, 1), nan_policy="omit")
    np.testing.assert_allclose(d, [[0, 1], [1, 0]])


def test_model_without_float_weights():
    with pytest.raises(DescriptorError, match="no floating-point weights.*step"):
        describe({"step": np.array([3]), "ids": np.arange(10)}, S=2, B=2)


def test_integer_tensors_are_skipped_not_described():
    with_ints = describe({"w": np.linspace(-1, 1, 64), "ids": np.arange(1000)}, S=4, B=4)
    without = describe({"w": np.linspace(-1, 1, 64)}, S=4, B=4)
    np.testing.assert_array_equal(with_ints, without)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"S": 0}, "S must be a positive integer"),
        ({"B": 2.5}, "B must be a positive integer"),
        ({"value_range": (1, -1)}, "lo < hi"),
        ({"value_range": "wide"}, "'auto' or"),
        ({"value_range": (0, float("nan"))}, "finite"),
        ({"nan_policy": "ignore"}, "nan_policy"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mi_wd(np.zeros(100), **kwargs)


def test_empty_model_list():
    with pytest.raises(ValueError, match="empty list"):
        describe([])
