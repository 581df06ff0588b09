"""Tests of miwd_widget.representations: MI-WD and the paper's four baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from sklearn.base import clone
from sklearn.decomposition import PCA, KernelPCA
from sklearn.exceptions import NotFittedError

from miwd_widget.descriptors import auto_value_range, describe
from miwd_widget.representations import (
    LAYER_FEATURES,
    RESAMPLED_DIM,
    STATS_FEATURES,
    LayerCountError,
    LayerQuintilesRepresentation,
    MIWDRepresentation,
    PCARepresentation,
    RandomProjectionRepresentation,
    RawRepresentation,
    StatsRepresentation,
    global_statistics,
    layer_statistics,
    make_representation,
    resample,
    resample_models,
)


def _models(n: int, seed: int = 0, scale: float = 0.1) -> list[dict[str, np.ndarray]]:
    """n small two-layer 'models' of varying size, as ordered mappings."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        width = 20 + (i % 7) * 3
        out.append(
            {
                "l0.weight": rng.normal(0, scale, size=(width, 30)).astype(np.float32),
                "l0.bias": rng.normal(0, scale, size=width).astype(np.float32),
                "l1.weight": rng.normal(0.05, 2 * scale, size=(10, width)).astype(np.float32),
            }
        )
    return out


# ----------------------------------------------------------------------------- resampling


def test_resample_small_case_by_hand():
    # theta [0, 10, 4] at positions 0, 1/2, 1; output positions 0, 1/3, 2/3, 1.
    got = resample(np.array([0.0, 10.0, 4.0]), 4)
    np.testing.assert_allclose(got, [0.0, 20.0 / 3.0, 8.0, 4.0], rtol=1e-6)
    assert got.dtype == np.float32


def test_raw_of_linear_ramp_is_a_linear_ramp():
    n, k = 101, 64
    theta = 3.0 + 0.5 * np.arange(n)  # from 3 to 53
    got = RawRepresentation(k).transform([theta])[0]
    expected = 3.0 + 50.0 * np.arange(k) / (k - 1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_raw_ignores_length_of_theta_for_the_same_function():
    # Ramps of different N over the same value span resample to the same K values.
    short, long_ = np.linspace(-1, 1, 50), np.linspace(-1, 1, 5003)
    got = RawRepresentation(16).fit_transform([short, long_])
    np.testing.assert_allclose(got[0], got[1], atol=1e-6)
    np.testing.assert_allclose(got[0], np.linspace(-1, 1, 16), atol=1e-6)


def test_raw_concatenates_layers_in_order():
    model = {"a": np.zeros((2, 2)), "b": np.ones(4)}  # theta = 0,0,0,0,1,1,1,1
    got = RawRepresentation(3).transform([model])[0]
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0])


def test_resample_models_streams_into_one_float32_matrix():
    X = resample_models([np.arange(3.0), [np.arange(2.0), np.arange(3.0)]], 5)
    assert X.shape == (2, 5) and X.dtype == np.float32
    # second model: theta = 0, 1, 0, 1, 2
    np.testing.assert_allclose(X[1], [0.0, 1.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(X[0], [0.0, 0.5, 1.0, 1.5, 2.0])


def test_resample_of_single_weight_is_constant():
    np.testing.assert_array_equal(resample(np.array([2.5]), 4), [2.5] * 4)


# ----------------------------------------------------------------------------- stats


def test_global_statistics_by_hand():
    theta = np.array([0.0, 1.0, 3.0, 6.0, 10.0])  # diffs 1, 2, 3, 4
    got = global_statistics(theta)
    # theta: mean 4, var (16+9+1+4+36)/5 = 13.2, skew = mean(c^3)/var^1.5 = 26.4 / 13.2^1.5,
    # percentiles with linear interpolation at index q/100*4.
    expected_theta = [4.0, 13.2, 26.4 / 13.2**1.5, 0.04, 1.0, 3.0, 6.0, 9.84]
    # diffs: mean 2.5, var 1.25, symmetric so skew 0, index q/100*3.
    expected_diff = [2.5, 1.25, 0.0, 1.03, 1.75, 2.5, 3.25, 3.97]
    np.testing.assert_allclose(got, expected_theta + expected_diff, rtol=1e-12, atol=1e-12)


def test_global_statistics_match_scipy_and_numpy():
    rng = np.random.default_rng(3)
    theta = rng.gamma(2.0, size=997) - 1.0
    d = theta[1:] - theta[:-1]
    got = StatsRepresentation().fit_transform([theta])[0]
    for part, v in ((got[:8], theta), (got[8:], d)):
        np.testing.assert_allclose(part[0], np.mean(v), rtol=1e-5)
        np.testing.assert_allclose(part[1], np.var(v), rtol=1e-5)
        np.testing.assert_allclose(part[2], scipy.stats.skew(v, bias=True), rtol=1e-5)
        np.testing.assert_allclose(part[3:], np.percentile(v, [1, 25, 50, 75, 99]), rtol=1e-5)
    assert got[2] > 0.5  # a gamma sample is clearly right-skewed


def test_stats_of_constant_model_are_finite():
    got = StatsRepresentation().transform([np.full(10, 0.3)])[0]
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[:8], [0.3, 0, 0, 0.3, 0.3, 0.3, 0.3, 0.3], atol=1e-7)
    np.testing.assert_allclose(got[8:], 0.0, atol=1e-7)


def test_stats_dim_is_16_only():
    assert make_representation("stats").fit_transform(_models(3)).shape == (3, 16)
    assert list(StatsRepresentation().get_feature_names_out()) == list(STATS_FEATURES)
    assert STATS_FEATURES[0] == "mean(theta)" and STATS_FEATURES[10] == "skew(diff)"
    with pytest.raises(ValueError, match="dim 16"):
        make_representation("stats", 64)
    with pytest.raises(ValueError, match="at least 2 weights"):
        StatsRepresentation().transform([np.array([1.0])])


# ----------------------------------------------------------------------------- layer quintiles


def test_layer_quintiles_equal_numpy_per_tensor():
    model = _models(1, seed=3)[0]
    got = LayerQuintilesRepresentation().fit_transform([model])[0].reshape(3, 7)
    for row, (name, w) in zip(got, model.items(), strict=True):
        v = w.astype(np.float64).reshape(-1)
        expected = [v.mean(), v.var(), *np.percentile(v, [1, 25, 50, 75, 99])]
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7, err_msg=name)
    assert LAYER_FEATURES == ("mean", "var", "p1", "p25", "p50", "p75", "p99")
    assert layer_statistics(model).shape == (3, 7)


def test_layer_quintiles_follow_layer_order(tmp_path):
    from safetensors.numpy import save_file

    a = {"first": np.arange(10.0, dtype=np.float32), "second": np.full(4, 7.0, np.float32)}
    b = {"second": a["second"], "first": a["first"]}  # same tensors, the other order
    rep = LayerQuintilesRepresentation()
    Xa, Xb = rep.fit_transform([a]), rep.fit_transform([b])
    assert Xa[0, 0] == 4.5 and Xa[0, 7] == 7.0  # layer 0's mean, then layer 1's
    np.testing.assert_array_equal(Xb[0], np.concatenate([Xa[0, 7:], Xa[0, :7]]))
    # a file's recorded order wins over its (sorted) key order
    path = tmp_path / "m.safetensors"
    save_file(b, str(path), metadata={"order": json.dumps(list(b))})
    np.testing.assert_array_equal(rep.fit_transform([str(path)]), Xb)
    names = rep.get_feature_names_out()
    assert list(names[:2]) == ["layer0.mean", "layer0.var"] and names[-1] == "layer1.p99"
    assert rep.n_features_out == 14


def test_layer_quintiles_need_one_layer_count():
    three = _models(2)
    two = {"l0.weight": np.ones((3, 3), np.float32), "l0.bias": np.zeros(3, np.float32)}
    with pytest.raises(LayerCountError, match=r"model 2 \('mapping'\) has 2 layers .* model 0"):
        LayerQuintilesRepresentation().fit_transform([*three, two])
    # after fit, new models must have the fitted layer count
    rep = LayerQuintilesRepresentation().fit(three)
    assert rep.n_layers_ == 3
    with pytest.raises(
        LayerCountError, match="model 0 .* has 2 layers .* the fitted models have 3"
    ):
        rep.transform([two])
    assert isinstance(LayerCountError("x"), ValueError)
    # K is 7 per layer: a given dim must agree, and there is no K before models are read
    with pytest.raises(ValueError, match="dim=16 but the models have 3 layers"):
        make_representation("layer-quintiles", 16).fit(three)
    assert make_representation("layer-quintiles", 21).fit_transform(three).shape == (2, 21)
    with pytest.raises(NotFittedError, match="7 x the number of layers"):
        _ = make_representation("layer-quintiles").n_features_out
    # a bare theta is a model of one layer
    assert LayerQuintilesRepresentation().transform([np.arange(9.0)]).shape == (1, 7)


# ----------------------------------------------------------------------------- MI-WD


def test_miwd_fixed_range_equals_describe():
    models = _models(5)
    rep = make_representation("miwd", 64, value_range=(-5, 5))
    got = rep.fit_transform(models)
    expected = describe(models, S=8, B=8, value_range=(-5, 5)).reshape(5, 64)
    np.testing.assert_array_equal(got, expected)
    assert rep.value_range_ == (-5.0, 5.0)


def test_miwd_auto_range_is_fit_on_training_models_only():
    train, test = _models(6, seed=1, scale=0.1), _models(4, seed=2, scale=0.5)
    rep = MIWDRepresentation(256, value_range="auto", percentiles=(5, 95)).fit(train)
    assert rep.value_range_ == auto_value_range(train, percentiles=(5, 95))
    got = rep.transform(test)
    expected = describe(test, S=16, B=16, value_range=rep.value_range_).reshape(4, 256)
    np.testing.assert_array_equal(got, expected)
    # The test models' own (wider) range would give different descriptors: no leakage.
    own = describe(test, S=16, B=16, value_range="auto").reshape(4, 256)
    assert own.value_range[1] > 2 * rep.value_range_[1]
    assert not np.allclose(got, own)
    # transform does not refit
    assert rep.value_range_ == auto_value_range(train, percentiles=(5, 95))


def test_miwd_percentiles_parameter_widens_range():
    train = _models(4)
    narrow = MIWDRepresentation(64, percentiles=(5, 95)).fit(train).value_range_
    wide = MIWDRepresentation(64, percentiles=(0.1, 99.9)).fit(train).value_range_
    assert wide[0] < narrow[0] < 0 < narrow[1] < wide[1]


def test_miwd_rows_are_normalized_histograms():
    got = MIWDRepresentation(64, value_range=(-1, 1)).fit_transform(_models(3))
    np.testing.assert_allclose(got.reshape(3, 8, 8).sum(axis=2), 1.0, rtol=1e-5)


def test_miwd_on_a_grid_that_is_not_square_equals_describe():
    models = _models(3)
    rep = MIWDRepresentation(128, value_range=(-1, 1), windows=8)
    assert rep.grid == (8, 16)
    expected = describe(models, S=8, B=16, value_range=(-1, 1)).reshape(3, 128)
    np.testing.assert_array_equal(rep.fit_transform(models), expected)
    for bad in (0, 3, 2.0):
        with pytest.raises(ValueError, match="windows must be a positive integer dividing dim=128"):
            make_representation("miwd", 128, windows=bad)


def test_miwd_errors():
    with pytest.raises(ValueError, match="perfect square"):
        make_representation("miwd", 200)
    with pytest.raises(NotFittedError, match="not fitted"):
        MIWDRepresentation(64).transform(_models(1))
    with pytest.raises(ValueError, match="value_range"):
        MIWDRepresentation(64, value_range="paper").fit(_models(2))
    with pytest.raises(ValueError, match="lo < hi"):
        MIWDRepresentation(64, value_range=(1, -1)).fit(_models(2))


# ----------------------------------------------------------------------------- PCA, random


def _structured(n: int, seed: int, length: int = 700, extra: float = 0.0) -> list[np.ndarray]:
    """Models = 3 smooth patterns with well-separated variances (+ an optional 4th), + noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    basis = [np.sin(2 * np.pi * t), np.cos(6 * np.pi * t), t - 0.5, np.sin(11 * np.pi * t)]
    scales = [4.0, 2.0, 1.0, extra]
    return [
        sum(sc * rng.normal() * b for sc, b in zip(scales, basis, strict=True))
        + 0.01 * rng.normal(size=length)
        for _ in range(n)
    ]


def _match_signs(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Flip each column of a to agree in sign with ref (PCA components have no sign)."""
    return a * np.where(np.sum(a * ref, axis=0) < 0, -1.0, 1.0)


def test_pca_gram_solver_equals_sklearn_pca():
    train, test = _structured(40, seed=1), _structured(6, seed=2)
    rep = PCARepresentation(3, n_points=512).fit(train)  # auto -> gram (40 < 512)
    assert isinstance(rep.model_, KernelPCA)
    ref = PCA(3, svd_solver="full").fit(resample_models(train, 512))
    expected = ref.transform(resample_models(test, 512))
    got = rep.transform(test)
    np.testing.assert_allclose(_match_signs(got, expected), expected, rtol=1e-3, atol=1e-3)
    # a sklearn PCA solver by name
    rand = PCARepresentation(3, n_points=512, svd_solver="randomized").fit(train)
    assert isinstance(rand.model_, PCA) and rand.model_.svd_solver == "randomized"
    got = rand.transform(test)
    np.testing.assert_allclose(_match_signs(got, expected), expected, rtol=1e-3, atol=1e-3)


def test_pca_components_are_nested():
    train = _structured(30, seed=3)
    big = PCARepresentation(8, n_points=512).fit_transform(train)
    small = PCARepresentation(3, n_points=512).fit_transform(train)
    np.testing.assert_allclose(_match_signs(big[:, :3], small), small, rtol=1e-4, atol=1e-4)


def test_pca_is_fit_on_training_data_only():
    train = _structured(30, seed=5)
    test = _structured(8, seed=6, extra=20.0)  # a strong new pattern the training set lacks
    rep = PCARepresentation(3, n_points=512).fit(train)
    state = rep.model_.eigenvectors_.copy()
    got = rep.transform(test)
    # transform of new data does not refit
    np.testing.assert_array_equal(rep.model_.eigenvectors_, state)
    assert got.shape == (8, 3) and got.dtype == np.float32
    ref = PCA(3, svd_solver="full").fit(resample_models(train, 512))
    expected = ref.transform(resample_models(test, 512))
    np.testing.assert_allclose(_match_signs(got, expected), expected, rtol=1e-3, atol=1e-3)
    # ... and not what a leaky fit on train + test would give
    leaky = PCA(3, svd_solver="full").fit(resample_models(train + test, 512))
    other = leaky.transform(resample_models(test, 512))
    assert np.abs(_match_signs(other, expected) - expected).max() > 1.0


def test_pca_finds_the_direction_of_variation():
    # Models = ramp * a_i + tiny noise: the first component's scores are +-a_i (up to scale).
    rng = np.random.default_rng(0)
    a = rng.normal(size=20)
    models = [ai * np.linspace(-1, 1, 1000) + 1e-3 * rng.normal(size=1000) for ai in a]
    scores = PCARepresentation(2, n_points=256).fit_transform(models)[:, 0]
    assert abs(np.corrcoef(scores, a)[0, 1]) > 0.999


def test_pca_with_more_components_than_training_models_raises():
    with pytest.raises(ValueError, match="K=64 principal components need at least 64 training"):
        PCARepresentation(64, n_points=512).fit(_models(10))
    with pytest.raises(NotFittedError):
        PCARepresentation(4).transform(_models(2))


def test_pca_fit_transform_equals_fit_then_transform():
    models = _models(12)
    a = PCARepresentation(4, n_points=1024).fit_transform(models)
    b = PCARepresentation(4, n_points=1024).fit(models).transform(models)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_random_projection_is_independent_of_training_values():
    rng = np.random.default_rng(0)
    rep1 = RandomProjectionRepresentation(16, n_points=2048, random_state=7).fit(_models(3))
    rep2 = RandomProjectionRepresentation(16, n_points=2048, random_state=7).fit(
        [rng.normal(size=999) for _ in range(5)]
    )
    np.testing.assert_array_equal(rep1.model_.components_, rep2.model_.components_)
    new = [np.linspace(0, 1, 4000), np.cos(np.arange(1234.0))]
    got = rep1.transform(new)
    expected = resample_models(new, 2048) @ rep1.model_.components_.T
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # Gaussian entries with variance 1/K (scikit-learn's convention)
    assert abs(rep1.model_.components_.std() - 1 / np.sqrt(16)) < 0.01
    other_seed = RandomProjectionRepresentation(16, n_points=2048, random_state=8).fit(_models(3))
    assert not np.allclose(other_seed.model_.components_, rep1.model_.components_)


@pytest.mark.parametrize("dim", [64, 256, 1024])
def test_shapes_for_paper_dims(dim):
    models = _models(6)
    for name, kw in (("miwd", {}), ("raw", {}), ("random", {"n_points": 4096})):
        rep = make_representation(name, dim, **kw)
        out = rep.fit_transform(models)
        assert out.shape == (6, dim) and out.dtype == np.float32, name
        assert np.all(np.isfinite(out)), name
        assert rep.n_features_out == dim
    # PCA: K components need K training models
    with pytest.raises(ValueError, match=f"K={dim} principal components"):
        make_representation("pca", dim, n_points=4096).fit(models)
    many = _models(dim + 1)
    if dim == 64:  # the larger cases only differ in cost
        out = make_representation("pca", dim, n_points=1024).fit_transform(many)
        assert out.shape == (dim + 1, dim) and out.dtype == np.float32


def test_pca_and_random_default_resample_to_paper_dim():
    models = _models(10)
    pca = make_representation("pca", 8)
    out = pca.fit_transform(models)
    assert out.shape == (10, 8)
    assert pca.model_.n_features_in_ == RESAMPLED_DIM == 65_536
    # Component variances are in decreasing order.
    assert np.all(np.diff(out.var(axis=0)) <= 1e-6)
    rand = make_representation("random", 8).fit(models)
    assert rand.model_.components_.shape == (8, 65_536)


# ----------------------------------------------------------------------------- interface


def test_factory_and_sklearn_clone():
    rep = make_representation("miwd", 256, value_range=(-5, 5), percentiles=(1, 99))
    assert isinstance(rep, MIWDRepresentation) and rep.side == 16
    twin = clone(rep)
    assert twin.get_params() == rep.get_params() and not hasattr(twin, "value_range_")
    assert make_representation("raw").dim == 1024
    assert isinstance(
        make_representation("random", 64, random_state=3), RandomProjectionRepresentation
    )
    assert make_representation("random", 64, random_state=3).random_state == 3
    with pytest.raises(ValueError, match="unknown representation 'hog'"):
        make_representation("hog", 64)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        make_representation("raw", 0)


def test_model_list_validation():
    with pytest.raises(ValueError, match="1-D array"):
        RawRepresentation(4).transform(np.arange(10.0))
    with pytest.raises(ValueError, match="empty"):
        RawRepresentation(4).fit([])
    # a 2-D array is n equal-length models
    got = RawRepresentation(2).transform(np.array([[0.0, 1.0, 2.0], [4.0, 4.0, 4.0]]))
    np.testing.assert_allclose(got, [[0.0, 2.0], [4.0, 4.0]])


def test_models_given_as_safetensors_files(tmp_path):
    from safetensors.numpy import save_file

    models, paths = _models(4), []
    for i, m in enumerate(models):
        p = tmp_path / f"m{i}.safetensors"
        # safetensors sorts keys; the zoo's "order" metadata keeps layer order
        save_file(dict(m), str(p), metadata={"order": json.dumps(list(m))})
        paths.append(str(p))
    for name in ("miwd", "raw", "stats"):
        kw = {"value_range": (-1, 1)} if name == "miwd" else {}
        rep = make_representation(name, 16 if name == "stats" else 64, **kw)
        np.testing.assert_allclose(rep.fit_transform(paths), rep.fit_transform(models), rtol=1e-6)
    pca = PCARepresentation(3, n_points=512).fit(paths)
    np.testing.assert_allclose(pca.transform(paths), pca.transform(models), rtol=1e-5, atol=1e-6)
