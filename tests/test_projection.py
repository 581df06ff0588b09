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
