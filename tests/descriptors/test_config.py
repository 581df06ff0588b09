"""DescriptorConfig, the one value-range resolver and the one default range."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import miwd_widget.library.build as build_module
from miwd_widget import ModelLibrary, describe, mi_wd
from miwd_widget.descriptors import (
    DEFAULT_VALUE_RANGE,
    PAPER_VALUE_RANGE,
    DescriptorConfig,
    DescriptorError,
    pooled_percentiles,
)
from miwd_widget.descriptors.value_range import resolve_value_range, sample_weights
from miwd_widget.representations import MIWDRepresentation
from miwd_widget.weights import open_weights


def test_config_is_frozen_validated_and_normalized():
    cfg = DescriptorConfig(S=np.int64(8), B=4, value_range=[-1, 2], percentiles=[1, 99])
    assert (cfg.S, cfg.value_range, cfg.percentiles) == (8, (-1.0, 2.0), (1.0, 99.0))
    assert cfg.to_dict() == {
        "S": 8,
        "B": 4,
        "value_range": [-1.0, 2.0],
        "percentiles": [1.0, 99.0],
        "clip": False,
        "nan_policy": "raise",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.S = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="not been resolved"):
        DescriptorConfig().range  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"S": 0}, "S must be a positive integer"),
        ({"B": True}, "B must be a positive integer"),
        ({"value_range": "paper"}, "'auto' or a pair"),
        ({"value_range": (1, 2, 3)}, "'auto' or a pair"),
        ({"value_range": (2, 2)}, "lo < hi"),
        ({"percentiles": (95, 5)}, "0 <= lo < hi <= 100"),
        ({"nan_policy": "skip"}, "nan_policy"),
    ],
)
def test_one_set_of_messages_everywhere(kwargs, match):
    models = [np.linspace(-1, 1, 64)] * 3
    with pytest.raises(ValueError, match=match):
        DescriptorConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        describe(models, **kwargs)
    with pytest.raises(ValueError, match=match):
        ModelLibrary.from_models(models, **kwargs)


def test_one_default_range_auto_everywhere_and_the_paper_range_one_argument_away():
    theta = np.random.default_rng(0).normal(scale=0.05, size=4096)
    own = tuple(np.percentile(theta, [5, 95]))
    assert DEFAULT_VALUE_RANGE == "auto"
    single = mi_wd(theta)
    assert single.value_range == pytest.approx(own)
    assert single.range_mode == "auto" and single.config.value_range == single.value_range
    assert describe(theta).value_range == pytest.approx(own)
    lib = ModelLibrary.from_models([theta], progress=False)
    assert lib.value_range == pytest.approx(own)
    assert MIWDRepresentation().fit([theta]).value_range_ == pytest.approx(own)
    paper = mi_wd(theta, value_range=PAPER_VALUE_RANGE)
    assert paper.value_range == (-5.0, 5.0) and paper.range_mode == "fixed"
    # Why "auto": on the paper's range these small weights all fall into the middle bins.
    assert np.count_nonzero(paper.sum(axis=0)) <= 2 < np.count_nonzero(single.sum(axis=0))


def test_resolver_leaves_a_fixed_range_alone():
    cfg = DescriptorConfig(value_range=(-1, 1))
    assert resolve_value_range(cfg, []) is cfg


def test_sample_keeps_precision_and_drops_non_finite():
    ws = open_weights({"a": np.array([1, 2, np.nan, 4], np.float32), "b": np.arange(4.0)})
    s = sample_weights(ws, 2)
    assert s.dtype == np.float64 and s.tolist() == [1.0, 0.0, 2.0]  # theta[0, 2, 4, 6]
    assert sample_weights(open_weights(np.ones(5, np.float16)), 1).dtype == np.float32


def test_pooled_percentiles_give_every_model_one_vote():
    rng = np.random.default_rng(1)
    small, big = rng.normal(size=500), rng.normal(scale=0.01, size=700)
    # One vote per model: as if each sample were repeated to the same size (3500 values).
    # (Percentiles off the exact steps of that CDF, where float weights could tip a tie.)
    q = (2.5051, 97.3049)
    expected = np.percentile(
        np.concatenate([np.repeat(small, 7), np.repeat(big, 5)]), q, method="inverted_cdf"
    )
    got = pooled_percentiles([small, big], percentiles=q)
    assert got == pytest.approx(tuple(expected))
    # strides (how a sample was drawn) do not change a model's weight
    assert pooled_percentiles([small, big], [1, 3], q) == got
    by_weight = np.percentile(np.concatenate([small, big]), q)
    assert got[1] > by_weight[1]  # the 700 small weights of `big` no longer outvote `small`
    # equal sizes: exactly np.percentile of the pooled samples
    assert pooled_percentiles([small, big[:500]], percentiles=(5, 95)) == pytest.approx(
        tuple(np.percentile(np.concatenate([small, big[:500]]), [5, 95]))
    )


def test_library_gives_a_huge_model_no_more_weight_than_a_small_one(monkeypatch):
    monkeypatch.setattr(build_module, "AUTO_RANGE_SAMPLES", 8192)  # 4096 per model
    rng = np.random.default_rng(2)
    small = rng.normal(size=1000)  # stride 1
    big = rng.normal(scale=0.01, size=120_000)  # stride 30
    lib = ModelLibrary.from_models([small, big], names=["small", "big"], S=4, B=8)
    assert lib.value_range == pytest.approx(pooled_percentiles([small, big[::30]], None, (5, 95)))
    assert lib.value_range == describe([small, big], S=4, B=8).value_range  # one resolver
    # pooling every weight once, `big` alone would set the range: about +-0.02
    by_weight = np.percentile(np.concatenate([small, big]), [5, 95])
    assert by_weight[1] < 0.05 and lib.value_range[1] > 0.5


def test_range_models_spread_over_the_library_and_estimate_its_range():
    from miwd_widget.descriptors.value_range import RANGE_MODELS, range_models

    assert list(range_models(5)) == [0, 1, 2, 3, 4]
    picked = range_models(3 * RANGE_MODELS + 1)
    assert len(picked) <= RANGE_MODELS and picked[-1] >= 3 * RANGE_MODELS - 3
    # models sorted by scale (a zoo listed by learning rate): the stride sees all scales
    rng = np.random.default_rng(4)
    n = 4 * RANGE_MODELS
    scales = np.sort(rng.lognormal(-2.5, 1.0, n))
    samples = [rng.normal(0, s, 512) for s in scales]
    full = pooled_percentiles(samples)
    sub = pooled_percentiles([samples[i] for i in range_models(n)])
    assert sub == pytest.approx(full, rel=0.05)
    first = pooled_percentiles(samples[: len(range_models(n))])  # what "the first rows" gives
    assert first[1] < 0.8 * full[1]
    # an ordered library (20 snapshots per network, the first its initialization): the
    # picks are not in step with it
    ordered = range_models(20 * 2 * RANGE_MODELS)
    assert len(set((ordered % 20).tolist())) >= 15
    assert (
        np.all(np.diff(ordered) > 0) and range_models(5000).tolist() == range_models(5000).tolist()
    )


def test_pooled_percentiles_errors_and_constant_models():
    with pytest.raises(DescriptorError, match="no finite weights"):
        pooled_percentiles([np.empty(0)], [1])
    lo, hi = pooled_percentiles([np.full(10, 2.0)], [1])
    assert lo < 2.0 < hi
