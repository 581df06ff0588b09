"""Projection to the 2-D atlas: UMAP (+PCA), placing new models, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from miwd_widget import ModelLibrary
from miwd_widget.projection import project, vectorize


def _clusters(n_per: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three well separated groups of (8, 8) 'descriptors' and their labels and centres."""
    rng = np.random.default_rng(seed)
    centres = rng.random((3, 64)) * 4
    labels = np.repeat(np.arange(3), n_per)
    x = centres[labels] + rng.normal(0, 0.05, (3 * n_per, 64))
    return x.reshape(-1, 8, 8).astype(np.float32), labels, centres


@pytest.fixture(scope="module")
def fitted():
    x, labels, centres = _clusters()
    embedding, model = project(x, random_state=0)
    return x, labels, centres, embedding, model


def test_umap_embedding_keeps_the_groups(fitted):
    x, labels, _, embedding, model = fitted
    assert embedding.shape == (60, 2) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all()
    # every point's nearest atlas neighbours belong to its own group
    knn = KNeighborsClassifier(n_neighbors=5).fit(embedding, labels)
    assert knn.score(embedding, labels) == 1.0
    # default pipeline: PCA to 50 components (60 points, 64 dims), then UMAP
    assert model.named_steps["pca"].n_components == 50
    assert model.named_steps["umap"].n_neighbors == 15


def test_umap_is_reproducible_with_a_seed_and_transform_places_new_points(fitted):
    x, labels, centres, embedding, model = fitted
    again, _ = project(x, random_state=0)
    np.testing.assert_array_equal(again, embedding)
    # a new point from group 1 lands among group 1's atlas points
    rng = np.random.default_rng(5)
    new = (centres[1] + rng.normal(0, 0.05, 64)).astype(np.float32)
    xy = model.transform(new[None])
    group_means = np.stack([embedding[labels == g].mean(0) for g in range(3)])
    assert np.argmin(np.linalg.norm(group_means - xy, axis=1)) == 1


def test_pca_method_and_no_pre_reduction():
    x, _, _ = _clusters(n_per=5)
    emb, model = project(x, method="pca")
    np.testing.assert_allclose(
        emb, PCA(2, random_state=0).fit_transform(x.reshape(15, -1)), rtol=1e-5, atol=1e-5
    )
    emb_raw, model_raw = project(x, pca_components=None, n_neighbors=4)
    assert model_raw.named_steps["pca"] == "passthrough"
    assert emb_raw.shape == (15, 2) and model_raw.named_steps["umap"].n_neighbors == 4
    # more components than points: clamped by skipping PCA
    _, small = project(x[:5], pca_components=50)
    assert small.named_steps["pca"] == "passthrough"
    assert small.named_steps["umap"].n_neighbors == 4  # n - 1


def test_vectorize_and_bad_input():
    assert vectorize(np.zeros((2, 3, 4))).shape == (2, 12)
    assert vectorize(np.zeros((2, 5))).flags["C_CONTIGUOUS"]
    with pytest.raises(ValueError, match="shape"):
        vectorize(np.zeros(5))
    bad = np.zeros((5, 4))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        project(bad)
    with pytest.raises(ValueError, match="at least 3 models"):
        project(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="method"):
        project(np.zeros((5, 4)), method="tsne")
    with pytest.raises(ValueError, match="pca_components"):
        project(np.zeros((5, 4)), pca_components=1)


def test_library_project_locate_and_reload(tmp_path, fitted):
    x, labels, centres, _, _ = fitted
    meta = pd.DataFrame({"id": [f"m{i}" for i in range(60)], "group": labels})
    lib = ModelLibrary(x, meta, value_range=(0.0, 1.0))
    lib.project()
    assert lib.attrs["projection"]["pca_components"] == 50
    # a library model finds itself at distance 0; transform places it near its atlas point
    out = lib.locate_descriptors(x[[7, 45]], ["a", "b"], k=3)
    nearest = out[out["rank"] == 1]
    assert nearest["neighbor"].tolist() == [7, 45] and nearest["distance"].tolist() == [0.0, 0.0]
    assert (out.groupby("query")["distance"].apply(lambda d: d.is_monotonic_increasing)).all()
    fresh_xy = nearest[["x", "y"]].to_numpy()
    spread = np.ptp(lib.embedding, axis=0).max()
    assert np.linalg.norm(fresh_xy - lib.embedding[[7, 45]], axis=1).max() < 0.1 * spread

    lib.save(tmp_path / "lib.parquet")
    back = ModelLibrary.load(tmp_path / "lib.parquet")
    # after load: placement by the neighbours' atlas positions (a library model: itself)
    out2 = back.locate_descriptors(x[[7]], k=3)
    assert out2.loc[0, ["x", "y"]].tolist() == pytest.approx(lib.embedding[7].tolist())
    # placement="transform" refits UMAP with the saved seed: same positions as before saving
    out3 = back.locate_descriptors(x[[7, 45]], ["a", "b"], k=3, placement="transform")
    np.testing.assert_allclose(out3[out3["rank"] == 1][["x", "y"]], fresh_xy, atol=1e-4)
    with pytest.raises(ValueError, match="placement"):
        back.locate_descriptors(x[[7]], placement="tsne")
    with pytest.raises(ValueError, match="k must be"):
        back.locate_descriptors(x[[7]], k=0)


def _many_clusters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.random((6, 64)) * 3
    labels = rng.integers(0, 6, n)
    x = centres[labels] + rng.normal(0, 0.1, (n, 64))
    return x.astype(np.float32), labels


def test_fit_on_a_subsample_places_the_rest_by_their_neighbours():
    from sklearn.manifold import trustworthiness

    x, labels = _many_clusters(900)
    x[700] = x[5]  # a duplicate of a row that may be in the sample
    full, _ = project(x, random_state=0)
    emb, model = project(x, random_state=0, fit_sample=300, batch_size=128)
    assert emb.shape == (900, 2) and emb.dtype == np.float32 and np.isfinite(emb).all()
    # the sample's rows are exactly the fit of the sample alone
    sample = np.sort(np.random.default_rng(0).choice(900, size=300, replace=False))
    alone, _ = project(x[sample], random_state=0)
    np.testing.assert_array_equal(emb[sample], alone)
    if 5 in sample and 700 not in sample:
        np.testing.assert_allclose(emb[700], emb[5], atol=1e-5)  # lands on its twin
    # batches change nothing; groups stay together; trustworthiness close to a full fit
    again, _ = project(x, random_state=0, fit_sample=300, batch_size=1000)
    np.testing.assert_allclose(again, emb, atol=1e-5)  # BLAS rounding differs by batch shape
    knn = KNeighborsClassifier(n_neighbors=5).fit(emb[sample], labels[sample])
    assert knn.score(emb, labels) > 0.98
    t_full = trustworthiness(x, full, n_neighbors=10)
    t_sampled = trustworthiness(x, emb, n_neighbors=10)
    assert t_sampled > t_full - 0.05, (t_sampled, t_full)
    # the fitted pipeline places new points
    assert model.transform(x[:3]).shape == (3, 2)


def test_subsample_placement_by_umap_transform_and_pca():
    x, labels = _many_clusters(400, seed=1)
    emb, _ = project(x, random_state=0, fit_sample=150, sample_placement="transform")
    knn = KNeighborsClassifier(n_neighbors=5).fit(emb, labels)
    assert np.isfinite(emb).all() and knn.score(emb, labels) > 0.95
    lin, _ = project(x, method="pca", random_state=0, fit_sample=150)
    direct = PCA(n_components=2, random_state=0).fit(
        x[np.sort(np.random.default_rng(0).choice(400, size=150, replace=False))]
    )
    np.testing.assert_allclose(lin, direct.transform(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="sample_placement must be one of"):
        project(x, fit_sample=10, sample_placement="nearest")
    with pytest.raises(ValueError, match="fit_sample must be an integer >= 3"):
        project(x, fit_sample=2)
    with pytest.raises(ValueError, match="backend must be one of"):
        project(x, backend="gpu")


def test_cuml_backend_falls_back_clearly_and_is_used_when_present(monkeypatch):
    import sys
    import types

    x, _ = _many_clusters(60, seed=2)
    reference, _ = project(x, random_state=0)
    monkeypatch.setitem(sys.modules, "cupy", None)  # not importable here
    with pytest.warns(RuntimeWarning, match="backend='cuml': cuML is not usable here"):
        emb, _ = project(x, random_state=0, backend="cuml")
    np.testing.assert_array_equal(emb, reference)

    # a GPU machine: cuML's UMAP is the estimator used
    calls = []

    class FakeUMAP:
        def __init__(self, **kwargs):
            calls.append(kwargs)
            self.n_neighbors = kwargs["n_neighbors"]

        def fit(self, data, y=None):
            return self

        def fit_transform(self, data, y=None):
            return np.asarray(data)[:, :2] * 0 + 1.0

    cupy = types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
    )
    cuml = types.ModuleType("cuml")
    manifold = types.ModuleType("cuml.manifold")
    manifold.UMAP = FakeUMAP
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cuml", cuml)
    monkeypatch.setitem(sys.modules, "cuml.manifold", manifold)
    emb, model = project(x, random_state=0, backend="cuml")
    assert isinstance(model.named_steps["umap"], FakeUMAP) and len(calls) == 1
    assert (emb == 1).all()
    cupy.cuda.runtime.getDeviceCount = lambda: 0
    with pytest.warns(RuntimeWarning, match="no GPU was found; projecting with umap-learn"):
        project(x, random_state=0, backend="cuml")


def test_library_project_on_a_subsample_records_it(tmp_path):
    x, _ = _many_clusters(200, seed=3)
    lib = ModelLibrary(x.reshape(-1, 8, 8), pd.DataFrame({"id": [str(i) for i in range(200)]}))
    lib.project(fit_sample=80)
    assert lib.attrs["projection"]["fit_sample"] == 80
    back = ModelLibrary.load(lib.save(tmp_path / "lib.parquet"))
    # refitting from the saved parameters reproduces the atlas (placement='transform')
    located = back.locate_descriptors(x[:2].reshape(-1, 8, 8), k=1, placement="transform")
    assert located["neighbor"].tolist() == [0, 1]
