"""Tests of the Figure 3 probe (miwd_widget.evaluate.probing) on a tiny synthetic library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_synthetic import SMALL

from miwd_widget.evaluate import balanced_indices, probe
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
