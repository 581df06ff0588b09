"""Training a group: every task learns, early stopping, snapshots, divergence, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget.zoo.datasets import dataset_names
from miwd_widget.zoo.training import TrainSettings, train_group

ARCH = dict(filter_size=3, depth_conv=2, depth_fc=1, width_conv=8, width_fc=32)


def _row(i, dataset, **kw):
    row = dict(id=f"t{i}", train_group=0, dataset=dataset, lr=3e-3, batch_size=32,
               augmentation=False, optimizer="adam", activation="relu",
               initialization="glorot_uniform", seed=i, **ARCH)  # fmt: skip
    row.update(kw)
    return row


def test_a_well_configured_model_learns_every_task():
    # one model per task, trained together: a regression in training fails here
    rows = [
        _row(i, d, lr=5e-3, optimizer="rmsprop", activation="elu")
        for i, d in enumerate(dataset_names())
    ]
    res = train_group(rows, TrainSettings(max_epochs=4, min_epochs=4, max_train=800))
    for r in res.rows:
        assert r["test_accuracy"] > 0.3, (r["dataset"], r["test_accuracy"])  # chance is 0.1
        assert 1 <= r["best_epoch"] <= r["epochs"] == 4
        assert not r["diverged"]
    assert res.best.shape == (5, res.layout.n_params) and res.best.dtype == np.float32


def test_snapshots_from_initialization_to_the_last_epoch():
    rows = [_row(0, "digits"), _row(1, "textures", optimizer="rmsprop", activation="tanh")]
    res = train_group(rows, TrainSettings(max_epochs=4, min_epochs=4, max_train=128))
    epochs = [s[0] for s in res.snapshots]
    assert epochs == [0, 1, 2, 3, 4]
    init_weights = res.snapshots[0][1]
    assert not np.array_equal(init_weights, res.snapshots[-1][1])
    for g, r in enumerate(res.rows):
        # the kept weights are the snapshot of the best validation epoch
        best = res.snapshots[r["best_epoch"]]
        np.testing.assert_array_equal(best[1][g], res.best[g])
        assert best[2][g] == pytest.approx(max(s[2][g] for s in res.snapshots[1:]))
    assert np.isnan(res.snapshots[0][4]).all()  # no training batch seen at initialization


def test_early_stopping_and_divergence_freeze_a_model():
    # an infinite learning rate makes the weights non-finite after the first step
    rows = [_row(0, "digits"), _row(1, "glyphs", lr=float("inf"), optimizer="sgd_momentum")]
    res = train_group(rows, TrainSettings(max_epochs=3, min_epochs=0, max_train=64))
    bad = res.rows[1]
    assert bad["diverged"] and bad["epochs"] == 1 and bad["best_epoch"] == 0
    assert np.isfinite(res.best[1]).all()  # its initial weights are kept
    np.testing.assert_array_equal(res.best[1], res.snapshots[0][1][1])
    good = res.rows[0]
    assert not good["diverged"] and good["epochs"] == 3  # the other model trains on


def test_models_of_a_group_must_share_the_batching_keys():
    rows = [_row(0, "digits"), _row(1, "glyphs", batch_size=64)]
    with pytest.raises(ValueError, match="differ in \\['batch_size'\\]"):
        train_group(rows, TrainSettings(max_epochs=1, max_train=16))
    with pytest.raises(ValueError, match="no configs"):
        train_group([], TrainSettings())
    with pytest.raises(ValueError, match="max_epochs and patience"):
        TrainSettings(max_epochs=0)
