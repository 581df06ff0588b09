"""Tests of miwd_widget.evaluate on a tiny synthetic library with real safetensors files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from miwd_widget.descriptors import describe
from miwd_widget.evaluate import (
    LibraryWeightsError,
    balanced_indices,
    column_major,
    embedding_grid,
    invariance,
    library_weights,
    permute_hidden_neurons,
    probe,
    probe_chart,
)
from miwd_widget.library import ModelLibrary
from miwd_widget.representations import describe_flat

N_MODELS = 72


def _mlp(rng: np.random.Generator, width: int, shape: str, scale: float) -> dict[str, np.ndarray]:
    """A 3-layer MLP state dict whose hidden weights come from a normal or uniform law."""

    def draw(size):
        # like independently trained models, each layer ends with its own scale (+-25%)
        std = scale * np.exp(rng.normal(0.0, 0.25))
        if shape == "normal":
            return rng.normal(0.0, std, size=size)
        # uniform with the same standard deviation as the normal
        return rng.uniform(-np.sqrt(3) * std, np.sqrt(3) * std, size=size)

    return {
        "l00.fc.0.weight": draw((width, 24)).astype(np.float32),
        "l00.fc.1.bias": (0.01 * rng.normal(size=width)).astype(np.float32),
        "l01.fc.0.weight": draw((width, width)).astype(np.float32),
        "l01.fc.1.bias": (0.01 * rng.normal(size=width)).astype(np.float32),
        "l02.fc.0.weight": rng.normal(0, 0.1, size=(5, width)).astype(np.float32),
        "l02.fc.1.bias": np.zeros(5, np.float32),
    }


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """48 models in safetensors files: 'shape' (normal vs uniform weights, same variance)
    and 'scale' are real signals; 'shuffled' is an independent random label."""
    root = tmp_path_factory.mktemp("zoo")
    rng = np.random.default_rng(0)
    rows, paths = [], []
    for i in range(N_MODELS):
        shape = ("normal", "uniform")[i % 2]
        scale = (0.05, 0.2)[(i // 2) % 2]
        width = (16, 24, 32)[(i // 4) % 3]
        state = _mlp(rng, width, shape, scale)
        path = root / "models" / f"m{i:05d}.safetensors"
        path.parent.mkdir(exist_ok=True)
        save_file(state, str(path), metadata={"order": json.dumps(list(state))})
        paths.append(str(path))
        rows.append(
            {
                "id": f"m{i:05d}",
                "source": str(path),
                "shape": shape,
                "scale": scale,
                "width": width,
                "lr": float(rng.uniform(1e-4, 1e-2)),
                "shuffled": rng.choice(["a", "b"]),
                "seed": i,
            }
        )
    meta = pd.DataFrame(rows)
    descriptors = np.stack([describe_flat(p, 4, 4, (-0.5, 0.5)).reshape(4, 4) for p in paths])
    return ModelLibrary(descriptors, meta)


# The paper resamples to 65,536 values (tested in test_representations); 4,096 keeps these
# probes fast.
SMALL = {"n_points": 4096}
FAST_REPRESENTATIONS = [
    ("miwd", "miwd", {"percentiles": (1, 99)}),
    "raw",
    "stats",
    ("pca", "pca", SMALL),
    ("random", "random", SMALL),
]


# ----------------------------------------------------------------------------- helpers


def test_balanced_indices_cut_every_class_to_the_smallest():
    labels = ["a"] * 7 + ["b"] * 3 + ["c"] * 5 + [None]
    idx = balanced_indices(labels, random_state=1)
    picked = pd.Series([labels[i] for i in idx]).value_counts()
    assert picked.to_dict() == {"a": 3, "b": 3, "c": 3}
    assert set(range(7, 10)) <= set(idx)  # every model of the smallest class is kept
    assert 15 not in idx  # the missing label is left out
    np.testing.assert_array_equal(idx, balanced_indices(labels, random_state=1))


def test_library_weights_reads_sources_in_row_order(library):
    thetas = library_weights(library)
    assert len(thetas) == N_MODELS and all(t.dtype == np.float32 for t in thetas)
    width = library.metadata["width"].to_numpy()
    np.testing.assert_array_equal(
        [t.size for t in thetas], width * 24 + width * width + 7 * width + 5
    )


def test_library_without_weights_says_so(library):
    no_source = ModelLibrary(library.descriptors, library.metadata.drop(columns="source"))
    with pytest.raises(LibraryWeightsError, match="the library has no weights.*'source'"):
        probe(no_source, targets=["shape"])
    md = library.metadata.copy()
    md.loc[3, "source"] = "/nonexistent/m3.safetensors"
    broken = ModelLibrary(library.descriptors, md)
    with pytest.raises(LibraryWeightsError, match=r"no weights for 1 of 72.*row 3 \(id 'm00003'\)"):
        probe(broken, targets=["shape"])
    with pytest.raises(ValueError, match="targets \\['optimizer'\\] are not metadata columns"):
        probe(library, targets=["optimizer"])


# ----------------------------------------------------------------------------- probe


@pytest.fixture(scope="module")
def result(library):
    return probe(
        library,
        targets=["shape", "scale", "shuffled"],
        representations=FAST_REPRESENTATIONS,
        dims=(16, 64),
        folds=4,
        random_state=0,
    )


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
    import miwd_widget.evaluate as ev
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


# ----------------------------------------------------------------------------- charts


def _values(spec: dict, part: dict) -> list[dict]:
    """The data rows of a chart part (Altair moves shared inline data to 'datasets')."""
    data = part.get("data") or spec["data"]
    return spec["datasets"][data["name"]] if "name" in data else data["values"]


def test_probe_chart_spec(result):
    spec = probe_chart(result).to_dict()
    bars, errors, chance = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    enc = bars["encoding"]
    assert enc["x"]["field"] == "target" and enc["xOffset"]["field"] == "series"
    assert enc["y"]["field"] == "accuracy_mean" and enc["color"]["field"] == "representation"
    assert enc["x"]["sort"] == ["shape", "scale", "shuffled"]
    assert enc["xOffset"]["sort"][:3] == ["miwd K=16", "miwd K=64", "raw K=16"]
    assert errors["mark"]["type"] == "errorbar"
    assert errors["encoding"]["y"]["field"] == "low" and errors["encoding"]["y2"]["field"] == "high"
    assert chance["mark"]["type"] == "tick" and chance["encoding"]["y"]["field"] == "chance"
    values = {(r["target"], r["series"]): r for r in _values(spec, bars)}
    assert len(values) == 3 * 9 - 3  # the NaN pca K=64 rows are left out
    row = result[(result.target == "shape") & (result.representation == "miwd") & (result.K == 16)]
    v = values[("shape", "miwd K=16")]
    assert v["accuracy_mean"] == pytest.approx(row["accuracy_mean"].iloc[0])
    assert v["high"] == pytest.approx(min(1.0, v["accuracy_mean"] + v["accuracy_std"]))
    chances = {r["target"]: r["chance"] for r in _values(spec, chance)}
    assert chances == {"shape": 0.5, "scale": 0.5, "shuffled": 0.5}
    with pytest.raises(ValueError, match="lacks columns"):
        probe_chart(result.drop(columns="chance"))


def _nearest_neighbour_agreement(panel: pd.DataFrame, column: str) -> float:
    xy = panel[["x", "y"]].to_numpy()
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 1e9
    labels = panel[column].to_numpy()
    return float((labels[d.argmin(axis=1)] == labels).mean())


def test_embedding_grid_spec(library):
    chart = embedding_grid(
        library, color="shape", representations=REPS_64, dim=64, method="pca", progress=False
    )
    spec = chart.to_dict()
    assert spec["facet"]["field"] == "panel"
    assert spec["facet"]["sort"] == ["miwd (K=64)", "raw (K=64)", "stats (K=16)"]
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "independent"}
    enc = spec["spec"]["encoding"]
    assert enc["color"] == {"field": "shape", "type": "nominal", "title": "shape"}
    assert enc["x"]["field"] == "x" and enc["y"]["field"] == "y"
    values = pd.DataFrame(_values(spec, spec))
    assert len(values) == 3 * N_MODELS
    miwd = values[values.panel == "miwd (K=64)"]
    assert list(miwd["id"]) == list(library.metadata["id"])
    # numeric colors are quantitative
    by_scale = embedding_grid(library, color="lr", representations=["raw"], dim=16, method="pca")
    assert by_scale.to_dict()["spec"]["encoding"]["color"]["type"] == "quantitative"
    with pytest.raises(ValueError, match="color 'optimizer' is not a metadata column"):
        embedding_grid(library, color="optimizer")


REPS_64 = [("miwd", "miwd", {"percentiles": (1, 99)}), "raw", "stats"]


@pytest.mark.slow  # UMAP's numba code compiles on its first use in a process (~20 s CPU)
def test_embedding_grid_umap_separates_what_miwd_sees(library):
    chart = embedding_grid(
        library, color="scale", representations=REPS_64, dim=64, random_state=0, progress=False
    )
    spec = chart.to_dict()
    assert spec["spec"]["encoding"]["color"]["field"] == "scale"
    values = pd.DataFrame(_values(spec, spec))
    panels = {p: g for p, g in values.groupby("panel")}
    # MI-WD and the global statistics separate the weight scales: nearest neighbours in the
    # UMAP share the scale; resampled raw weights do not (0.5 is chance for two classes)
    assert _nearest_neighbour_agreement(panels["miwd (K=64)"], "scale") >= 0.95
    assert _nearest_neighbour_agreement(panels["stats (K=16)"], "scale") >= 0.95
    assert _nearest_neighbour_agreement(panels["raw (K=64)"], "scale") <= 0.7


# ----------------------------------------------------------------------------- invariance


def _forward_mlp(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = x
    weights = [k for k in state if state[k].ndim == 2]
    for i, w in enumerate(weights):
        h = h @ state[w].T + state[w.replace("0.weight", "1.bias")]
        if i < len(weights) - 1:
            h = np.tanh(h)
    return h


def test_permutation_preserves_the_mlp_function():
    rng = np.random.default_rng(0)
    state = _mlp(rng, 16, "normal", 0.3)
    state["l02.fc.1.bias"] = rng.normal(size=5).astype(np.float32)
    permuted = permute_hidden_neurons(state, random_state=1)
    x = rng.normal(size=(7, 24)).astype(np.float32)
    np.testing.assert_allclose(
        _forward_mlp(permuted, x), _forward_mlp(state, x), rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(permuted["l00.fc.0.weight"], state["l00.fc.0.weight"])
    # the same multiset of weights in every tensor, the output layer's rows in place
    for k in state:
        np.testing.assert_array_equal(np.sort(permuted[k], axis=None), np.sort(state[k], axis=None))
    np.testing.assert_array_equal(
        np.sort(permuted["l02.fc.0.weight"], axis=1), np.sort(state["l02.fc.0.weight"], axis=1)
    )
    assert list(permuted) == list(state)


def test_permutation_preserves_a_conv_net_with_batchnorm():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    state = {
        "c0.weight": torch.randn(6, 3, 3, 3),
        "c0.bias": torch.randn(6),
        "bn0.weight": torch.rand(6) + 0.5,
        "bn0.bias": torch.randn(6),
        "bn0.running_mean": torch.randn(6),
        "bn0.running_var": torch.rand(6) + 0.5,
        "bn0.num_batches_tracked": torch.tensor(10),
        "c1.weight": torch.randn(4, 6, 3, 3),
        "c1.bias": torch.randn(4),
        "fc.weight": torch.randn(3, 4 * 2 * 2),  # flattened 4 x 2 x 2 feature map
        "fc.bias": torch.randn(3),
    }
    state_np = {k: v.numpy() for k, v in state.items()}

    def forward(s):
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in s.items()}
        x = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
        h = F.conv2d(x, t["c0.weight"], t["c0.bias"], padding=1)
        h = F.batch_norm(
            h, t["bn0.running_mean"], t["bn0.running_var"], t["bn0.weight"], t["bn0.bias"]
        )
        h = F.max_pool2d(torch.relu(h), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, t["c1.weight"], t["c1.bias"], padding=1)), 2)
        return F.linear(h.flatten(1), t["fc.weight"], t["fc.bias"]).numpy()

    permuted = permute_hidden_neurons(state_np, random_state=3)
    np.testing.assert_allclose(forward(permuted), forward(state_np), rtol=1e-4, atol=1e-5)
    assert not np.allclose(permuted["c1.weight"], state_np["c1.weight"])
    assert permuted["bn0.num_batches_tracked"] == 10


def test_permutation_rejects_unsupported_architectures():
    skip = {"w0": np.ones((8, 4)), "w1": np.ones((8, 5))}  # 5 inputs after 8 outputs
    with pytest.raises(ValueError, match="takes 5 inputs but layer 0 .* has 8 outputs"):
        permute_hidden_neurons(skip)
    with pytest.raises(ValueError, match="has 3 values but the layer before"):
        permute_hidden_neurons({"w0": np.ones((8, 4)), "b0": np.ones(3), "w1": np.ones((2, 8))})
    with pytest.raises(ValueError, match="at least two weight layers"):
        permute_hidden_neurons({"w0": np.ones((8, 4))})


def test_column_major_storage():
    state = {
        "w": np.arange(6.0).reshape(2, 3),
        "b": np.arange(2.0),
        "k": np.arange(8.0).reshape(2, 2, 2),
    }
    out = column_major(state)
    np.testing.assert_array_equal(out["w"].ravel(), [0, 3, 1, 4, 2, 5])
    np.testing.assert_array_equal(out["k"].ravel(), state["k"].ravel(order="F"))
    np.testing.assert_array_equal(out["b"], state["b"])


def test_invariance_is_exact_with_one_window():
    # With S = 1 the descriptor is the histogram of all weights: no reordering can move it.
    rng = np.random.default_rng(0)
    models = [_mlp(rng, 16, "normal", s) for s in (0.1, 0.1, 0.3, 0.3)]
    out = invariance(models, groups=["a", "a", "b", "b"], S=1, B=16, n_repeats=2)
    dist = out.set_index("kind")["distance_mean"]
    assert dist["permute_hidden"] == pytest.approx(0.0, abs=1e-7)
    assert dist["column_major"] == pytest.approx(0.0, abs=1e-7)
    assert dist["independent_same_config"] > 0.01
    assert out.set_index("kind")["n"].to_dict() == {
        "permute_hidden": 8,
        "column_major": 4,
        "permute_hidden+column_major": 8,
        "independent_same_config": 2,
    }


def test_invariance_detail_distances_by_hand():
    rng = np.random.default_rng(1)
    models = [_mlp(rng, 16, "normal", 0.2) for _ in range(3)]
    detail = invariance(models, S=8, B=8, value_range=(-1, 1), summary=False, n_repeats=1)
    pairs = detail[detail.kind == "independent_same_config"]
    assert sorted(zip(pairs.model, pairs.other, strict=True)) == [
        ("0", "1"),
        ("0", "2"),
        ("1", "2"),
    ]
    d = describe(models, S=8, B=8, value_range=(-1, 1)).reshape(3, -1).astype(np.float64)
    expected = np.linalg.norm(d[0] - d[2])
    got = pairs[(pairs.model == "0") & (pairs.other == "2")]["distance"].iloc[0]
    assert got == pytest.approx(expected, rel=1e-6)
    cm = detail[(detail.kind == "column_major") & (detail.model == "1")]["distance"].iloc[0]
    d_cm = describe(column_major(models[1]), S=8, B=8, value_range=(-1, 1)).astype(np.float64)
    assert cm == pytest.approx(np.linalg.norm(d_cm.reshape(-1) - d[1]), rel=1e-6)


def test_invariance_on_a_library(library):
    out = invariance(library, S=8, B=8, n_repeats=1)
    # default grouping: every hyper-parameter column but id/source/seed and the continuous lr
    assert out.attrs["by"] == ["shape", "scale", "width", "shuffled"]
    out = invariance(library, by=["shape", "scale", "width"], S=8, B=8, n_repeats=1)
    assert out.attrs["by"] == ["shape", "scale", "width"]
    ratio = out.set_index("kind")["ratio_to_independent"]
    # 12 configurations of 6 models: 12 * 15 independent pairs
    assert out.set_index("kind").loc["independent_same_config", "n"] == 180
    # Reordering weights moves the descriptor less than retraining does. (Measured ~0.6 here:
    # permuting re-samples the iid weights of each window, the sampling noise that independent
    # models also show; these differ in addition by their per-layer scales.)
    assert ratio["permute_hidden"] < 0.8 and ratio["column_major"] < 0.8
    assert ratio["independent_same_config"] == 1.0
    with pytest.warns(
        UserWarning, match=r"no two models share a configuration \(grouped by \['lr'\]"
    ):
        alone = invariance(library, by=["lr"], S=8, B=8, n_repeats=1)
    assert np.isnan(alone.set_index("kind").loc["permute_hidden", "ratio_to_independent"])
