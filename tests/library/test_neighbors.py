"""Neighbours in descriptor space (miwd_widget.library.neighbors, ModelLibrary.neighbors)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget.library import ModelLibrary
from miwd_widget.library.neighbors import DescriptorIndex


def _brute(flat: np.ndarray, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force k nearest rows of `row` (itself excluded) by Euclidean distance."""
    d = np.sqrt(((flat - flat[row]) ** 2).sum(1))
    d[row] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    descriptors = rng.random((300, 4, 8)).astype(np.float32)
    md = pd.DataFrame({"id": [f"m{i}" for i in range(300)], "rank": 0, "opt": "sgd"})
    return ModelLibrary(descriptors, md)


def test_exact_neighbors_equal_brute_force(small):
    index = DescriptorIndex(small.descriptors)
    flat = small.descriptors.reshape(300, -1).astype(np.float64)
    for row, k in ((0, 1), (17, 10), (299, 50)):
        got, dist = index.neighbors(row, k)
        want, want_dist = _brute(flat, row, k)
        assert got.dtype == np.int64 and dist.dtype == np.float32
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(dist, want_dist, rtol=1e-6)
    assert len(index.neighbors(3, k=1000)[0]) == 299  # k capped at n - 1, never itself
    assert 3 not in index.neighbors(3, k=1000)[0]


def test_identical_models_are_neighbors_at_zero_and_self_is_excluded():
    d = np.zeros((6, 2, 2), np.float32)
    d[3:] = 1.0  # rows 3, 4, 5 identical
    index = DescriptorIndex(d)
    rows, dist = index.neighbors(4, k=3)
    assert rows[:2].tolist() == [3, 5] and rows[2] in (0, 1, 2)  # 0, 1, 2 tie at distance 2
    assert dist.tolist() == [0.0, 0.0, 2.0]
    assert DescriptorIndex(d[:1]).neighbors(0, k=5)[0].size == 0  # a library of one


def test_bad_arguments_are_named(small):
    index = DescriptorIndex(small.descriptors)
    with pytest.raises(IndexError, match="row: 300 is not a row position 0..299"):
        index.neighbors(300)
    with pytest.raises(IndexError, match="row: expected an integer"):
        index.neighbors(True)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.neighbors(0, k=0)
    bad = small.descriptors.copy()
    bad[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DescriptorIndex(bad)


def test_library_neighbors_frame_and_cache(small):
    frame = small.neighbors(5, k=4)
    rows, dist = small.neighbor_positions(5, k=4)
    assert list(frame.columns[:2]) == ["rank", "distance"]
    assert frame["rank"].tolist() == [1, 2, 3, 4]  # the metadata's own 'rank' is replaced
    assert frame.index.tolist() == rows.tolist()
    assert frame["id"].tolist() == [f"m{i}" for i in rows]
    np.testing.assert_array_equal(frame["distance"].to_numpy(), dist)
    assert (frame["opt"] == "sgd").all()
    index = small.descriptor_index()
    small.neighbors(7, k=2)
    assert small.descriptor_index() is index  # built once
    with pytest.raises(IndexError, match="row: -1"):
        small.neighbors(-1)


def test_add_invalidates_the_index():
    rng = np.random.default_rng(0)
    models = {f"m{i}": {"w": rng.normal(size=(12, 12))} for i in range(5)}
    lib = ModelLibrary.from_models(models, S=4, B=8, progress=False)
    before = lib.descriptor_index()
    assert lib.neighbor_positions(0, k=10)[0].size == 4
    twin = {"w": models["m2"]["w"].copy()}
    lib.add({"twin": twin}, progress=False)
    assert lib.descriptor_index() is not before
    rows, dist = lib.neighbor_positions(5, k=10)
    assert rows.size == 5 and rows[0] == 2 and dist[0] == 0.0  # the new model finds its twin


def test_query_equals_brute_force_and_finds_a_library_model_at_zero(small):
    index = DescriptorIndex(small.descriptors)
    rng = np.random.default_rng(3)
    queries = np.concatenate([small.descriptors[[4]], rng.random((3, small.S, small.B))])
    rows, distance = index.query(queries, k=5)
    assert rows.shape == distance.shape == (4, 5) and distance.dtype == np.float64
    assert rows[0, 0] == 4 and distance[0, 0] == 0.0
    flat = small.descriptors.reshape(len(small), -1).astype(np.float64)
    as_searched = queries.reshape(4, -1).astype(np.float32).astype(np.float64)  # float32 vectors
    for q, r, dist in zip(as_searched, rows, distance, strict=True):
        exact = np.sqrt(((flat - q) ** 2).sum(1))
        np.testing.assert_allclose(dist, np.sort(exact)[:5], rtol=1e-12)
        np.testing.assert_allclose(exact[r], dist, rtol=1e-12)
    with pytest.raises(ValueError, match="descriptors have 3 values"):
        index.query(np.zeros((1, 3)), k=1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.query(queries, k=0)
    assert index.query(queries, k=10_000)[0].shape == (4, len(small))
