"""The five offline tasks: one input shape, splits, determinism, standardization, no leaks."""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget.zoo import datasets
from miwd_widget.zoo.datasets import DATASETS, INPUT_SHAPE, N_CLASSES, dataset_names, load_dataset


def test_every_task_has_one_input_shape_and_ten_classes():
    infos = [DATASETS[n] for n in dataset_names()]
    assert len(infos) == 5
    assert {i.shape for i in infos} == {INPUT_SHAPE} == {(3, 16, 16)}
    assert {i.n_classes for i in infos} == {N_CLASSES} == {10}


@pytest.mark.parametrize("name", dataset_names())
def test_splits_shapes_dtypes_and_labels(name):
    info = DATASETS[name]
    x_tr, y_tr, x_va, y_va, x_te, y_te = load_dataset(name)
    for x, y, n in ((x_tr, y_tr, info.n_train), (x_va, y_va, info.n_val),
                    (x_te, y_te, info.n_test)):  # fmt: skip
        assert x.shape == (n, *INPUT_SHAPE)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert set(np.unique(y)) == set(range(N_CLASSES))
        assert np.isfinite(x).all()
    np.testing.assert_allclose(x_tr.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x_tr.std(axis=(0, 2, 3)), 1, atol=1e-3)
    counts = np.bincount(y_tr)
    assert counts.max() <= 1.6 * counts.min()
    assert not x_tr.flags.writeable


def test_tasks_differ_in_colour_statistics():
    # grey tasks have identical channels before standardization; colour tasks do not
    def channel_spread(name):
        x = load_dataset(name)[0]
        return float(np.abs(x[:, 0] - x[:, 1]).mean())

    grey = [channel_spread(n) for n in ("digits", "glyphs")]
    colour = [channel_spread(n) for n in ("colour_digits", "textures", "gratings")]
    assert max(grey) < 1e-5 < 0.1 < min(colour)


@pytest.mark.parametrize("name", dataset_names())
def test_tasks_are_deterministic_given_seed(name):
    a = load_dataset(name, seed=5)
    datasets._load_cached.cache_clear()  # regenerate rather than reuse the cached arrays
    b = load_dataset(name, seed=5)
    c = load_dataset(name, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_digit_test_scans_are_never_training_scans():
    from sklearn.datasets import load_digits

    scans = load_digits().images / 16.0
    rng = np.random.default_rng([0, sorted(DATASETS).index("digits")])
    perm = rng.permutation(len(scans))
    held = set(perm[: DATASETS["digits"].n_val + DATASETS["digits"].n_test].tolist())
    train = set(perm[DATASETS["digits"].n_val + DATASETS["digits"].n_test :].tolist())
    assert not held & train and len(held) + len(train) == len(scans)
    # the held-out images are the held-out scans, upsampled without jitter
    _, _, x_va, y_va, _, _ = load_dataset("digits")
    assert x_va.shape[0] == DATASETS["digits"].n_val
    np.testing.assert_array_equal(np.sort(np.bincount(y_va, minlength=10) > 0), np.ones(10, bool))


def test_max_train_and_bad_arguments():
    x_tr, y_tr, x_va, *_ = load_dataset("gratings", max_train=50)
    assert len(x_tr) == len(y_tr) == len(x_va) == 50
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="max_train"):
        load_dataset("digits", max_train=0)
