"""The offline image tasks: shapes, splits, determinism, standardization."""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget import datasets
from miwd_widget.datasets import DATASETS, dataset_names, load_dataset


def test_four_tasks_differ_in_shape_channels_and_classes():
    infos = [DATASETS[n] for n in dataset_names()]
    assert len(infos) >= 4
    assert len({i.shape for i in infos}) >= 3
    assert {i.channels for i in infos} == {1, 3}
    assert len({i.n_classes for i in infos}) == len(infos)


@pytest.mark.parametrize("name", dataset_names())
def test_splits_shapes_dtypes_and_labels(name):
    info = DATASETS[name]
    x_tr, y_tr, x_va, y_va, x_te, y_te = load_dataset(name)
    for x, y, n in (
        (x_tr, y_tr, info.n_train),
        (x_va, y_va, info.n_val),
        (x_te, y_te, info.n_test),
    ):
        assert x.shape == (n, *info.shape)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert y.shape == (n,)
        assert set(np.unique(y)) == set(range(info.n_classes))
        assert np.isfinite(x).all()
    # standardized per channel with the training statistics
    np.testing.assert_allclose(x_tr.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x_tr.std(axis=(0, 2, 3)), 1, atol=1e-3)
    # no class dominates the training split
    counts = np.bincount(y_tr)
    assert counts.max() <= 1.5 * counts.min()
    assert not x_tr.flags.writeable


@pytest.mark.parametrize("name", ["shapes", "gratings", "textures"])
def test_generated_tasks_are_deterministic_given_seed(name):
    a = load_dataset(name, seed=5)
    datasets._load_cached.cache_clear()  # regenerate rather than reuse the cached arrays
    b = load_dataset(name, seed=5)
    c = load_dataset(name, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_digits_are_sklearns_images():
    from sklearn.datasets import load_digits

    d = load_digits()
    _, y_tr, _, y_va, _, y_te = load_dataset("digits")
    assert len(y_tr) + len(y_va) + len(y_te) == len(d.target) == 1797
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([y_tr, y_va, y_te])), np.bincount(d.target)
    )


def test_max_train_and_bad_arguments():
    x_tr, y_tr, x_va, *_ = load_dataset("gratings", max_train=50)
    assert len(x_tr) == len(y_tr) == len(x_va) == 50
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="max_train"):
        load_dataset("digits", max_train=0)
