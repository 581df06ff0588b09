"""Tests of the descriptor variants beyond the paper (miwd_widget.evaluate.variants)."""

from __future__ import annotations

import numpy as np
import pytest

import miwd_widget.evaluate.probing as probing
import miwd_widget.evaluate.variants as variants
from miwd_widget.evaluate import probe
from miwd_widget.evaluate.variants import (
    CANDIDATES,
    WINDOW_FEATURES,
    AsinhMIWDRepresentation,
    BlockScaler,
    MIWDStatsRepresentation,
    QuantileMIWDRepresentation,
    make_variant,
    pooled_weights,
    window_moments,
)
from miwd_widget.representations import MIWDRepresentation, global_statistics


def _heavy_models(n: int = 6, seed: int = 0) -> list[np.ndarray]:
    """Student-t weights (heavy tails) of different sizes and scales."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_t(3, size=int(rng.integers(900, 1600))) * rng.uniform(0.02, 0.1)).astype(
            np.float32
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("name", "dim", "width"),
    [
        ("miwd+stats", 64, 80),
        ("miwd+stats", 256, 272),
        ("window-moments", 64, 64),
        ("window-moments", 256, 256),
        ("miwd-asinh", 64, 64),
        ("miwd-quantile", 256, 256),
    ],
)
def test_variant_shapes_and_determinism(name, dim, width):
    models = _heavy_models()
    rep = make_variant(name, dim, progress=False)
    X = rep.fit(models[:4]).transform(models)
    assert X.shape == (6, width) and X.dtype == np.float32
    assert np.isfinite(X).all()
    assert rep.get_feature_names_out().shape == (width,)
    again = make_variant(name, dim, progress=False).fit(models[:4]).transform(models)
    np.testing.assert_array_equal(X, again)


def test_variants_reject_impossible_dims():
    with pytest.raises(ValueError, match="perfect square"):
        make_variant("miwd-asinh", 60)
    with pytest.raises(ValueError, match="multiple of 8"):
        make_variant("window-moments", 20)
    with pytest.raises(ValueError, match="unknown variant"):
        make_variant("miwd-log", 64)


@pytest.mark.parametrize("name", ["miwd+stats", "miwd-asinh", "miwd-quantile"])
def test_fitted_state_comes_from_the_training_models_only(name):
    """Fit on A: the features of A and of new models do not depend on what else exists;
    fit on A plus other models: they change (the fit does learn from its input)."""
    models = _heavy_models(8)
    train, other = models[:4], [m * 5 for m in models[4:]]  # much wider weights
    a = make_variant(name, 64).fit(train)
    b = make_variant(name, 64).fit(train)
    np.testing.assert_array_equal(a.transform(train + other)[:4], b.transform(train))
    c = make_variant(name, 64).fit(train + other)
    assert not np.allclose(a.transform(train), c.transform(train))


def test_block_scaler_standardizes_with_training_statistics():
    rng = np.random.default_rng(0)
    big, small = rng.normal(3, 2, size=(40, 64)), rng.normal(-1, 5, size=(40, 4))
    scaler = BlockScaler().fit([big, small])
    X = scaler.transform([big, small])
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    # equal total variance per block; the total stays 68 as with per-feature scaling
    assert X[:, :64].var(axis=0).sum() == pytest.approx(34, rel=1e-4)
    assert X[:, 64:].var(axis=0).sum() == pytest.approx(34, rel=1e-4)
    plain = BlockScaler("features").fit([big, small]).transform([big, small])
    np.testing.assert_allclose(plain.var(axis=0), 1, rtol=1e-4)
    # new rows are scaled with the training statistics, not their own
    new = scaler.transform([big[:2] + 100, small[:2]])
    assert (new[:, :64] > 10).all()


def test_miwd_stats_is_miwd_and_stats_blocks():
    models = _heavy_models()
    rep = MIWDStatsRepresentation(64, percentiles=(1, 99), block_weights="features").fit(models)
    X = rep.transform(models)
    miwd = MIWDRepresentation(64, percentiles=(1, 99)).fit(models).transform(models)
    stats = np.stack([global_statistics(m) for m in models])
    ref = BlockScaler("features").fit([miwd, stats]).transform([miwd, stats])
    np.testing.assert_allclose(X, ref, rtol=1e-4, atol=1e-5)


def test_window_moments_by_hand():
    from scipy import stats

    rng = np.random.default_rng(1)
    theta = rng.standard_t(4, size=1003)
    out = window_moments(theta, 8)
    assert out.shape == (8, len(WINDOW_FEATURES))
    for s in (0, 5, 7):
        w = theta[1003 * s // 8 : 1003 * (s + 1) // 8]  # the descriptor's windows
        expected = [
            w.mean(),
            np.log(w.std()),
            stats.skew(w),
            np.log(stats.kurtosis(w, fisher=False)),
            *np.percentile(w, [5, 25, 75, 95]),
        ]
        np.testing.assert_allclose(out[s], expected, rtol=1e-9, atol=1e-12)
    const = window_moments(np.ones(16), 2)
    assert np.isfinite(const).all() and (const[:, 2] == 0).all()
    assert const[:, 3] == pytest.approx(np.log(3.0))


def test_asinh_bins_by_hand():
    models = _heavy_models(3)
    rep = AsinhMIWDRepresentation(16, percentiles=(2, 98)).fit(models)
    pooled = np.concatenate(models).astype(np.float64)
    assert rep.scale_ == pytest.approx(np.median(np.abs(pooled)), rel=1e-6)
    lo, hi = np.arcsinh(np.percentile(pooled, [2, 98]) / rep.scale_)
    assert rep.range_ == pytest.approx((lo, hi))
    theta = models[1]
    got = rep.transform([theta]).reshape(4, 4)
    mapped = np.clip(np.arcsinh(theta.astype(np.float64) / rep.scale_), lo, hi)  # clip=True
    n = theta.size
    for s in range(4):
        counts, _ = np.histogram(mapped[n * s // 4 : n * (s + 1) // 4], bins=4, range=(lo, hi))
        np.testing.assert_allclose(got[s], counts / counts.sum(), atol=1e-6)


def test_quantile_bins_share_the_training_weights_equally():
    models = _heavy_models(4)
    rep = QuantileMIWDRepresentation(64, percentiles=(0, 100)).fit(models)
    X = rep.transform(models).reshape(4, 8, 8)
    # weight each window's histogram by its size: the pooled share of every bin is 1/8
    sizes = np.array(
        [[(m.size * (s + 1)) // 8 - (m.size * s) // 8 for s in range(8)] for m in models]
    )
    share = (X * sizes[:, :, None]).sum(axis=(0, 1)) / sizes.sum()
    np.testing.assert_allclose(share, 1 / 8, atol=0.01)
    # a fixed-width histogram of the same heavy-tailed weights piles them in few bins
    fixed = MIWDRepresentation(64, percentiles=(0, 100)).fit(models).transform(models)
    fixed_share = (fixed.reshape(4, 8, 8) * sizes[:, :, None]).sum(axis=(0, 1)) / sizes.sum()
    assert fixed_share.max() > 0.3


def test_pooled_weights_subsample_is_regular():
    models = [np.arange(100.0), np.arange(50.0) + 1000]
    assert pooled_weights(models).size == 150
    sub = pooled_weights(models, max_samples=30)
    assert sub.size == 30 and sub[0] == 0 and sub[1] == 5


def test_probe_runs_every_candidate(library):
    out = probe(library, ["scale"], list(CANDIDATES), dims=(16,), folds=4, progress=False)
    assert list(out["representation"]) == [c[0] for c in CANDIDATES]
    assert out["note"].eq("").all()
    # the weight scale shows in every variant
    assert (out["accuracy_mean"] >= 0.9).all(), out[["representation", "accuracy_mean"]]


def test_probe_fits_variants_inside_training_folds(library, monkeypatch):
    """Every variant fit sees exactly the training fold; miwd+stats skips the SVM's scaler."""
    seen_map, seen_blocks, standardize = [], [], {}
    real_map = variants._MappedMIWD._fit
    real_blocks = BlockScaler.fit
    real_score = probing._fit_score

    def spy_map(self, models):
        seen_map.append((self.name, len(models)))
        return real_map(self, models)

    def spy_blocks(self, blocks):
        seen_blocks.append(blocks[0].shape[0])
        return real_blocks(self, blocks)

    def spy_score(X_train, *args):
        standardize.setdefault(X_train.shape[1], set()).add(args[-1])
        return real_score(X_train, *args)

    monkeypatch.setattr(variants._MappedMIWD, "_fit", spy_map)
    monkeypatch.setattr(BlockScaler, "fit", spy_blocks)
    monkeypatch.setattr(probing, "_fit_score", spy_score)
    reps = ["miwd-asinh", "miwd-quantile", "miwd+stats", "window-moments"]
    probe(library, ["shape"], reps, dims=(16, 64), folds=4, progress=False)
    # 72 balanced models, 4 folds: 54 training models; one map fit per fold serves every K
    assert sorted(seen_map) == sorted([("miwd-asinh", 54), ("miwd-quantile", 54)] * 4)
    assert seen_blocks == [54] * 8  # one block scaler per fold and K
    assert standardize[16 + 16] == {False} and standardize[64 + 16] == {False}  # miwd+stats
    assert standardize[16] == {True} and standardize[64] == {True}
