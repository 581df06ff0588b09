"""Tests of the Figure 3 probe (miwd_widget.evaluate.probing) on a tiny synthetic library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_synthetic import SMALL

from miwd_widget.evaluate import balanced_indices, probe, probe_accuracy
from miwd_widget.evaluate.probing import ACCURACY_PROBE_COLUMNS
from miwd_widget.library import ModelLibrary

# ----------------------------------------------------------------------------- helpers


def test_balanced_indices_cut_every_class_to_the_smallest():
    labels = ["a"] * 7 + ["b"] * 3 + ["c"] * 5 + [None]
    idx = balanced_indices(labels, random_state=1)
    picked = pd.Series([labels[i] for i in idx]).value_counts()
    assert picked.to_dict() == {"a": 3, "b": 3, "c": 3}
    assert set(range(7, 10)) <= set(idx)  # every model of the smallest class is kept
    assert 15 not in idx  # the missing label is left out
    np.testing.assert_array_equal(idx, balanced_indices(labels, random_state=1))


# ----------------------------------------------------------------------------- probe


def test_probe_table_layout(result, library):
    assert list(result.columns[:7]) == [
        "target",
        "representation",
        "K",
        "accuracy_mean",
        "accuracy_std",
        "chance",
        "n_models",
    ]
    # 3 targets x (4 representations x 2 dims + stats x 1)
    assert len(result) == 3 * 9
    stats = result[result.representation == "stats"]
    assert set(stats.K) == {16}
    by_target = result.groupby("target").first()
    assert by_target.loc["shape", "n_models"] == 72 and by_target.loc["shape", "chance"] == 0.5
    # 'shuffled' is balanced to its smaller class
    smallest = library.metadata["shuffled"].value_counts().min()
    assert smallest < 36  # so balancing did drop models
    assert by_target.loc["shuffled", "n_models"] == 2 * smallest
    assert by_target.loc["shuffled", "chance"] == 0.5


def test_probe_finds_real_signal(result):
    acc = result.set_index(["target", "representation", "K"])["accuracy_mean"]
    # the weight scale shows in histograms and global statistics
    for rep, k in [("miwd", 16), ("miwd", 64), ("stats", 16)]:
        assert acc["scale", rep, k] >= 0.95, (rep, k)
    # zero-mean weights: their scale is not a linear function of the raw values
    assert acc["scale", "raw", 64] <= 0.75
    # normal vs uniform weights of equal variance: a distribution shape, which the global
    # statistics' percentiles and the MI-WD histograms see and linear maps of raw weights do
    # not (K = 16 is a 4 x 4 descriptor: 4 bins are too coarse to show the shape)
    assert acc["shape", "stats", 16] >= 0.75
    linear = [
        acc["shape", r, k] for r, k in [("raw", 16), ("raw", 64), ("pca", 16), ("random", 64)]
    ]
    assert max(linear) <= 0.6
    assert acc["shape", "miwd", 64] > max(linear) + 0.05


def test_probe_shuffled_labels_stay_near_chance(result):
    shuffled = result[result.target == "shuffled"].dropna(subset=["accuracy_mean"])
    assert len(shuffled) == 8  # pca K=64 has no value (see below)
    # ~70 models: one accuracy's standard error at chance is ~0.06
    assert (shuffled["accuracy_mean"] - 0.5).abs().max() <= 0.2
    assert shuffled["accuracy_mean"].mean() == pytest.approx(0.5, abs=0.06)


def test_probe_pca_needs_enough_training_models(result):
    row = result[(result.target == "shape") & (result.representation == "pca")]
    k64 = row[row.K == 64].iloc[0]
    assert (
        np.isnan(k64["accuracy_mean"]) and "K=64 needs at least 64 training models" in k64["note"]
    )
    k16 = row[row.K == 16].iloc[0]
    assert np.isfinite(k16["accuracy_mean"]) and k16["note"] == ""
    assert 0 <= k16["accuracy_std"] <= 0.5


def test_probe_fits_range_and_pca_inside_training_folds(library, monkeypatch):
    """The auto range and PCA only ever see training-fold models."""
    import miwd_widget.descriptors as ev  # the probe imports auto_value_range when it runs
    import miwd_widget.representations as reps

    seen_range, seen_pca = [], []
    real_range, real_fit = ev.auto_value_range, reps._ResampledProjection.fit_resampled

    def spy_range(models, percentiles):
        seen_range.append(len(models))
        return real_range(models, percentiles)

    def spy_fit(self, X):
        seen_pca.append((self.name, X.shape[0]))
        return real_fit(self, X)

    monkeypatch.setattr(ev, "auto_value_range", spy_range)
    monkeypatch.setattr(reps._ResampledProjection, "fit_resampled", spy_fit)
    reps = ["miwd", ("pca", "pca", SMALL)]
    probe(library, targets=["shape"], representations=reps, dims=(16,), folds=4)
    # 72 balanced models, 4 folds: every fit sees 54 training models, once per fold
    assert seen_range == [54] * 4
    assert seen_pca == [("pca", 54)] * 4


def test_probe_compares_labelled_variants(library):
    out = probe(
        library,
        targets=["scale"],
        representations=["miwd", ("miwd[-5,5]", "miwd", {"value_range": (-5, 5)})],
        dims=(16,),
        folds=4,
    )
    acc = out.set_index("representation")["accuracy_mean"]
    # with the paper's fixed range, weights of scale 0.05 and 0.2 fall in the same two central
    # bins of 4: the fraction of negative weights, which does not depend on scale
    assert acc["miwd"] >= 0.95
    assert acc["miwd[-5,5]"] <= 0.75
    with pytest.raises(ValueError, match="labels must be unique"):
        probe(library, targets=["scale"], representations=["raw", "raw"])


def test_probe_parallel_equals_sequential(library):
    kw = dict(targets=["scale", "shuffled"], representations=["stats", "raw"], dims=(16,), folds=4)
    one = probe(library, n_jobs=1, **kw)
    two = probe(library, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one, two)
    assert one["accuracy_mean"].notna().all()


def test_probe_notes_svm_non_convergence(library):
    kw = dict(targets=["shuffled"], representations=["raw"], dims=(64,), folds=4, max_iter=1)
    for svm in ("svc", "linearsvc"):
        out = probe(library, svm=svm, **kw)
        assert out.loc[0, "note"] == "the SVM did not converge in 4 of 4 folds", svm
        assert np.isfinite(out.loc[0, "accuracy_mean"])
    # the two SVMs agree on a real signal
    kw = dict(targets=["scale"], representations=["stats"], dims=(16,), folds=4)
    assert probe(library, svm="linearsvc", **kw).loc[0, "accuracy_mean"] >= 0.95
    with pytest.raises(ValueError, match="svm must be 'svc' or 'linearsvc'"):
        probe(library, svm="rbf", **kw)


def test_probe_reports_too_small_classes(library):
    md = library.metadata.copy()
    md["rare"] = ["x"] * 69 + ["y"] * 3
    lib = ModelLibrary(library.descriptors, md)
    out = probe(lib, targets=["rare"], representations=["stats"], folds=5)
    assert np.isnan(out.loc[0, "accuracy_mean"])
    assert "smallest class has 3 models, fewer than 5 folds" in out.loc[0, "note"]


def test_probe_accepts_layer_quintiles(result, library):
    out = probe(library, ["scale"], ["layer-quintiles"], folds=4)
    # the fixture's MLPs have 6 tensors: K = 7 x 6
    assert out.loc[0, "K"] == 42 and out.loc[0, "representation"] == "layer-quintiles"
    assert out.loc[0, "accuracy_mean"] >= 0.95


# ----------------------------------------------------------------------------- accuracy

N_ACC_GROUPS, PER_ACC_GROUP = 30, 3


def _accuracy_library(seed: int = 0) -> tuple[ModelLibrary, list[dict[str, np.ndarray]]]:
    """Three-layer models whose test accuracy is a known function of one layer's spread:
    accuracy = 0.95 - 2 * std(l01.weight) (+ small noise). The other layers' scales are drawn
    independently, so only a per-layer view sees the signal cleanly. Models come in training
    groups of 3."""
    rng = np.random.default_rng(seed)
    models, rows = [], []
    for g in range(N_ACC_GROUPS):
        for m in range(PER_ACC_GROUP):
            spread = rng.uniform(0.02, 0.3)
            models.append(
                {
                    "l00.weight": rng.normal(0, rng.uniform(0.02, 0.3), (16, 12)).astype(
                        np.float32
                    ),
                    "l01.weight": rng.normal(0, spread, (16, 16)).astype(np.float32),
                    "l02.weight": rng.normal(0, rng.uniform(0.02, 0.3), (4, 16)).astype(np.float32),
                }
            )
            rows.append(
                {
                    "id": f"g{g}m{m}",
                    "train_group": g,
                    "test_accuracy": 0.95 - 2 * spread + rng.normal(0, 0.01),
                }
            )
    md = pd.DataFrame(rows)
    md["shuffled_accuracy"] = rng.permutation(md["test_accuracy"].to_numpy())
    return ModelLibrary(np.zeros((len(md), 4, 4), np.float32), md), models


@pytest.fixture(scope="module")
def accuracy_library():
    return _accuracy_library()


ACC_REPRESENTATIONS = ["layer-quintiles", "stats", ("miwd", "miwd", {"percentiles": (1, 99)})]


def test_probe_accuracy_recovers_a_known_function(accuracy_library, monkeypatch):
    import miwd_widget.evaluate.probing as probing

    lib, models = accuracy_library
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = probing._FeatureCache.fold_features

    def spy(self, spec, dims, train, test):
        seen.append((train.copy(), test.copy()))
        return real(self, spec, dims, train, test)

    monkeypatch.setattr(probing._FeatureCache, "fold_features", spy)
    out = probe_accuracy(lib, ACC_REPRESENTATIONS, dims=(64,), folds=5, weights=models)
    assert list(out.columns) == ACCURACY_PROBE_COLUMNS
    row = out.set_index("representation")
    assert row.loc["layer-quintiles", "K"] == 21
    # the per-layer statistics see l01's spread directly
    assert row.loc["layer-quintiles", "r2_mean"] >= 0.9
    assert row.loc["layer-quintiles", "tau_mean"] >= 0.8
    # the pooled views see it mixed with the other layers' scales: still a signal
    assert row.loc["stats", "tau_mean"] > 0.2
    assert (out["note"] == "").all() and (out["n_models"] == 90).all()
    assert (out["split"] == "GroupKFold(train_group)").all()
    assert (out["n_groups"] == N_ACC_GROUPS).all()
    assert (out["r2_std"] >= 0).all() and out["r2_median"].notna().all()
    # pooled out-of-fold scores agree with the per-fold ones on a clean signal
    assert row.loc["layer-quintiles", "r2_pooled"] >= 0.9
    assert row.loc["layer-quintiles", "tau_pooled"] >= 0.8
    # groups never split: every fold's training and test groups are disjoint, and every
    # model is tested exactly once per representation
    group = lib.metadata["train_group"].to_numpy()
    assert len(seen) == 5 * len(ACC_REPRESENTATIONS)
    for train, test in seen:
        assert set(group[train]).isdisjoint(group[test])
    tested = np.concatenate([te for _, te in seen[:: len(ACC_REPRESENTATIONS)]])
    assert sorted(tested) == list(range(len(lib)))


def test_probe_accuracy_shuffled_target_has_no_skill(accuracy_library):
    lib, models = accuracy_library
    out = probe_accuracy(
        lib, ACC_REPRESENTATIONS, dims=(64,), folds=5, weights=models, target="shuffled_accuracy"
    )
    assert (out["r2_mean"] <= 0.1).all(), out[["representation", "r2_mean"]]
    assert (out["tau_mean"].abs() <= 0.25).all(), out[["representation", "tau_mean"]]
    assert (out["r2_pooled"] <= 0.1).all() and (out["tau_pooled"].abs() <= 0.25).all()


def test_probe_accuracy_options_and_errors(accuracy_library):
    lib, models = accuracy_library
    kw = dict(representations=["layer-quintiles"], folds=5, weights=models)
    gbm = probe_accuracy(lib, regressor="gbm", **kw)
    assert gbm.loc[0, "regressor"] == "gbm" and gbm.loc[0, "r2_mean"] >= 0.8
    ungrouped = probe_accuracy(lib, groups=False, **kw)
    assert ungrouped.loc[0, "split"] == "KFold" and ungrouped.loc[0, "n_groups"] == 90
    with pytest.raises(ValueError, match="regressor must be one of"):
        probe_accuracy(lib, regressor="svr", **kw)
    with pytest.raises(ValueError, match="target 'loss' is not a metadata column"):
        probe_accuracy(lib, target="loss", **kw)
    # missing accuracies are left out; too few groups leave the row NaN with a note
    md = lib.metadata.copy()
    md.loc[:5, "test_accuracy"] = np.nan
    assert probe_accuracy(ModelLibrary(lib.descriptors, md), **kw).loc[0, "n_models"] == 84
    md["train_group"] = np.arange(len(md)) % 3
    few = probe_accuracy(ModelLibrary(lib.descriptors, md), **kw)
    assert (
        np.isnan(few.loc[0, "r2_mean"])
        and "3 train_group groups, fewer than 5" in few.loc[0, "note"]
    )


def test_layer_quintiles_of_mixed_depths_fail_before_fitting(accuracy_library):
    from miwd_widget.representations import LayerCountError

    lib, models = accuracy_library
    mixed = [dict(m) for m in models]
    del mixed[7]["l02.weight"]
    with pytest.raises(LayerCountError, match=r"model 7 \('mapping'\) has 2 layers"):
        probe_accuracy(lib, ["layer-quintiles"], folds=5, weights=mixed)
    with pytest.raises(LayerCountError, match="model 7"):
        probe(lib, ["train_group"], ["stats", "layer-quintiles"], folds=5, weights=mixed)
