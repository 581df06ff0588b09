"""Sampling: every hyper-parameter per model, groups that share only what batching needs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget.columns import TRAIN_GROUP
from miwd_widget.zoo.network import Layout
from miwd_widget.zoo.sampling import (
    BATCHING_KEYS,
    GROUP_SIZE,
    NEVER_SHARED,
    SEARCH_SPACE,
    sample_configs,
)

CATEGORICAL = ("dataset", "batch_size", "augmentation", "optimizer", "activation",
               "initialization", "filter_size", "depth_conv", "depth_fc", "width_conv",
               "width_fc")  # fmt: skip


@pytest.fixture(scope="module")
def configs():
    return sample_configs(6000, seed=3)


def test_marginals_match_the_search_space(configs):
    assert configs["id"].is_unique and list(configs["id"][:2]) == ["m00000", "m00001"]
    for key in CATEGORICAL:
        shares = configs[key].value_counts(normalize=True)
        assert set(shares.index) == set(SEARCH_SPACE[key]), key
        expected = 1 / len(SEARCH_SPACE[key])
        assert (shares - expected).abs().max() < 0.03, (key, shares.to_dict())
    lo, hi = SEARCH_SPACE["lr"]
    assert configs["lr"].between(lo, hi).all()
    assert abs(configs["lr"].mean() - (lo + hi) / 2) < 0.05 * (hi - lo)  # uniform, as NWS
    pd.testing.assert_frame_equal(configs, sample_configs(6000, seed=3))


def test_groups_share_the_batching_keys_and_never_a_target(configs):
    groups = configs.groupby(TRAIN_GROUP)
    assert (groups[list(BATCHING_KEYS)].nunique() == 1).all().all()
    multi = configs[configs.groupby(TRAIN_GROUP)["id"].transform("size") > 1]
    assert multi[TRAIN_GROUP].nunique() > 300  # the batching is used
    for key in NEVER_SHARED:
        # within every group of two or more, no two models share the value (so it varies)
        assert (multi.groupby(TRAIN_GROUP)[key].agg(lambda s: s.is_unique)).all(), key
    sizes = groups.size()
    limits = groups["batch_size"].first().map(GROUP_SIZE)
    assert (sizes <= limits).all()


def test_hyperparameters_are_independent_of_each_other(configs):
    # e.g. the optimizer's distribution does not depend on the dataset
    table = pd.crosstab(configs["dataset"], configs["optimizer"], normalize="index")
    assert (table - 1 / 3).abs().max().max() < 0.05


def test_parameter_count_alone_predicts_the_dataset_at_chance(configs):
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    n_params = configs.apply(lambda r: Layout.of(r).n_params, axis=1).to_numpy()[:, None]
    assert len(np.unique(n_params)) > 20
    scores = cross_val_score(
        DecisionTreeClassifier(min_samples_leaf=20, random_state=0),
        np.log(n_params),
        configs["dataset"],
        cv=5,
    )
    assert abs(scores.mean() - 1 / len(SEARCH_SPACE["dataset"])) < 0.03
    # the same classifier does find the architecture in the parameter count (the test can fail)
    depth = cross_val_score(
        DecisionTreeClassifier(min_samples_leaf=20, random_state=0),
        np.log(n_params),
        configs["depth_conv"],
        cv=5,
    )
    assert depth.mean() > 0.6


def test_group_size_one_trains_every_model_alone():
    cfg = sample_configs(50, seed=0, group_size=1)
    assert cfg[TRAIN_GROUP].is_unique


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown datasets"):
        sample_configs(3, datasets=["cifar10"])
    with pytest.raises(ValueError, match="n must be"):
        sample_configs(0)
    with pytest.raises(ValueError, match="group_size"):
        sample_configs(3, group_size=0)
