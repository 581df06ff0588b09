"""A selection's mean/std descriptors (miwd_widget.library.summary.mean_std)."""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget.library.summary import mean_std


def test_chunks_match_numpy():
    rng = np.random.default_rng(0)
    descriptors = rng.random((200, 8, 6), dtype=np.float32)
    positions = np.array([1, 4, 9, 16, 25, 36, 49], dtype=np.int64)
    row_bytes = 4 * 8 * 6
    mean, std, used = mean_std(descriptors, positions, chunk_bytes=3 * row_bytes)
    rows = descriptors[positions].astype(np.float64)
    assert used == 7 and mean.shape == (8, 6)
    np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, rows.std(axis=0), rtol=1e-5, atol=1e-8)
    everything, _, used = mean_std(descriptors, None, chunk_bytes=64 * row_bytes)
    assert used == 200
    np.testing.assert_allclose(everything, descriptors.mean(0, dtype=np.float64), rtol=1e-6)


def test_stable_far_from_zero_and_empty_is_nan():
    rng = np.random.default_rng(3)
    descriptors = (1000.0 + rng.random((5000, 4, 4))).astype(np.float32)
    positions = np.sort(rng.choice(5000, 2500, replace=False))
    mean, std, _ = mean_std(descriptors, positions, chunk_bytes=4 * 16 * 100)
    rows = descriptors[positions].astype(np.float64)
    np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, rows.std(axis=0), rtol=1e-3)  # no cancellation
    nan_mean, nan_std, used = mean_std(descriptors, np.zeros(0, np.int64))
    assert used == 0 and np.isnan(nan_mean).all() and np.isnan(nan_std).all()


def test_a_sample_is_drawn_from_the_selection_only_and_is_reproducible():
    rng = np.random.default_rng(1)
    descriptors = np.zeros((10_000, 2, 2), np.float32)
    positions = np.sort(rng.choice(10_000, 4_000, replace=False))
    descriptors[positions] = 1.0 + rng.random((positions.size, 2, 2), dtype=np.float32)
    mean, std, used = mean_std(descriptors, positions, max_rows=500)
    assert used == 500
    exact, exact_std, _ = mean_std(descriptors, positions)
    # only selected rows (all >= 1) were averaged, and the sample mean is close to the exact
    assert (mean >= 1.0).all()
    np.testing.assert_allclose(mean, exact, atol=4 * exact_std.max() / np.sqrt(500))
    again, _, _ = mean_std(descriptors, positions, max_rows=500)
    np.testing.assert_array_equal(mean, again)
    other, _, _ = mean_std(descriptors, positions, max_rows=500, seed=7)
    assert not np.array_equal(mean, other)


def test_float64_and_memory_mapped_descriptors(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.random((300, 3, 5))
    np.save(tmp_path / "d.npy", data.astype(np.float32))
    mapped = np.load(tmp_path / "d.npy", mmap_mode="r")
    positions = np.arange(0, 300, 7)
    for descriptors in (data, mapped, data.astype(np.float16)):
        mean, std, _ = mean_std(descriptors, positions)
        rtol = 1e-3 if descriptors.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(mean, data[positions].mean(0), rtol=rtol)
        np.testing.assert_allclose(std, data[positions].std(0), rtol=max(rtol, 1e-4) * 10)


def test_a_position_out_of_range_is_an_error_not_the_last_row():
    with pytest.raises(IndexError):
        mean_std(np.zeros((5, 2, 2), np.float32), np.array([1, 9]))
