"""The atlas on any representation (miwd_widget.library.atlas_space, ModelLibrary.project/locate)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from miwd_widget import ModelLibrary
from miwd_widget.evaluate.variants import WindowMomentsRepresentation
from miwd_widget.library.atlas_space import (
    RepresentationUnavailable,
    fit_space,
    representation_from_record,
    representation_label,
    representation_names,
    resolve_representation,
)
from miwd_widget.representations import MIWDRepresentation, PCARepresentation

S, B = 4, 4
SCALES = (0.1, 0.2, 0.3)
N_MODELS = 24


def _model(i: int) -> dict[str, np.ndarray]:
    """Three layers; the scale (i % 3) separates the models in every representation."""
    rng = np.random.default_rng(i)
    s = SCALES[i % 3]
    return {
        "a.weight": rng.normal(0, s, (16, 8)).astype(np.float32),
        "b.weight": rng.normal(0, 2 * s, (8, 6)).astype(np.float32),
        "c.bias": rng.normal(0, s, 6).astype(np.float32),
    }


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("zoo")
    for i in range(N_MODELS):
        save_file(_model(i), str(d / f"m{i:02d}.safetensors"))
    return d


@pytest.fixture(scope="module")
def library(zoo_dir) -> ModelLibrary:
    return ModelLibrary.from_files(zoo_dir, S=S, B=B, n_jobs=1, progress=False)


def _row_of(lib: ModelLibrary, name: str) -> int:
    return int(np.flatnonzero(lib.metadata["source"].str.endswith(name))[0])


def _scale_groups(lib: ModelLibrary) -> np.ndarray:
    """Each row's scale group (0, 1, 2), from its file name."""
    return np.array([int(Path(s).stem[1:]) % 3 for s in lib.metadata["source"]])


# name, or a Representation with its own parameters: every representation of the package
CASES = [
    "stats",
    "window-moments",
    "layer-quintiles",
    "raw",
    "pca",
    "random",
    "miwd+stats",
    "miwd-asinh",
    "miwd-quantile",
    MIWDRepresentation(64, value_range=(-1.0, 1.0)),
    MIWDRepresentation(16),
    MIWDRepresentation(32, windows=4),
    WindowMomentsRepresentation(64),
    PCARepresentation(8, n_points=1024),
]


def test_names_cover_the_package_representations():
    names = set(representation_names())
    assert {"miwd", "raw", "stats", "pca", "random", "layer-quintiles"} <= names
    assert {"window-moments", "miwd+stats", "miwd-asinh", "miwd-quantile"} <= names


@pytest.mark.parametrize("representation", CASES, ids=repr)
def test_every_representation_projects_records_its_name_and_survives_save_load(
    library, representation, tmp_path
):
    lib = ModelLibrary.from_parts(library.parts())
    lib.project(method="pca", representation=representation, progress=False)
    name = representation if isinstance(representation, str) else representation.name
    assert lib.representation == name
    record = lib.attrs["representation"]
    assert record["name"] == name and record["descriptors"] is False
    assert lib.embedding.shape == (N_MODELS, 2) and np.isfinite(lib.embedding).all()
    back = ModelLibrary.load(lib.save(tmp_path / "lib.parquet"))
    assert back.representation == name and back.attrs["representation"] == record
    assert representation_label(record) == representation_label(back.attrs["representation"])


def test_labels_name_the_grid_or_k(library):
    lib = ModelLibrary.from_parts(library.parts())
    labels = {}
    for rep in (MIWDRepresentation(32, windows=4), MIWDRepresentation(16), "window-moments"):
        lib.project(method="pca", representation=rep, progress=False)
        labels[lib.representation] = labels.get(lib.representation, []) + [
            representation_label(lib.attrs["representation"])
        ]
    assert labels == {
        "miwd": ["miwd (4×8)", "miwd (4×4)"],
        "window-moments": ["window-moments (K=1024)"],
    }


def test_the_default_is_the_library_descriptors_unchanged(library):
    lib = ModelLibrary.from_parts(library.parts())
    lib.project(method="pca")
    again = ModelLibrary.from_parts(library.parts()).project(method="pca", representation="miwd")
    np.testing.assert_array_equal(lib.embedding, again.embedding)
    assert lib.representation == "miwd"
    assert lib.attrs["representation"] == {
        "name": "miwd",
        "descriptors": True,
        "S": S,
        "B": B,
        "K": S * B,
    }
    assert representation_label(lib.attrs["representation"]) == "miwd (4×4)"
    # a library projected before the record existed is MI-WD too
    assert ModelLibrary(np.zeros((3, 2, 2))).representation == "miwd"


def test_unknown_names_and_objects_are_named_with_the_valid_ones(library):
    lib = ModelLibrary.from_parts(library.parts())
    with pytest.raises(
        ValueError, match=r"representation: unknown name 'umap'; valid names: \[.*'stats'"
    ):
        lib.project(representation="umap")
    with pytest.raises(ValueError, match="representation: expected a name or a Representation"):
        lib.project(representation=16)
    with pytest.raises(ValueError, match="weights: the 'miwd' atlas"):
        lib.project(weights=[np.zeros(10)] * N_MODELS)
    assert lib.embedding is None and "representation" not in lib.attrs


def test_a_data_dependent_fit_is_recorded_and_pca_is_capped_by_the_models():
    assert resolve_representation("pca", 10).dim == 10
    rng = np.random.default_rng(0)
    models = [rng.normal(0, s, 400) for s in (0.1, 0.2, 0.3, 0.4)]
    space, failed = fit_space(MIWDRepresentation(16), models, progress=False)
    fitted = space.representation.value_range_
    assert failed == [] and space.record["params"]["value_range"] == list(fitted)
    # rebuilt from the record: the library's range, not one refitted on new models
    again = representation_from_record(space.record).fit(models[:1])
    assert again.value_range_ == pytest.approx(fitted)
    np.testing.assert_allclose(again.transform(models), space.vectors)


@pytest.mark.parametrize("representation", ["stats", "pca", "layer-quintiles"])
def test_locate_places_a_copy_of_a_library_model_on_it(library, zoo_dir, tmp_path, representation):
    lib = ModelLibrary.from_parts(library.parts())
    lib.project(representation=representation, progress=False)
    row = _row_of(lib, "m07.safetensors")
    copy = tmp_path / "copy.safetensors"
    shutil.copy(zoo_dir / "m07.safetensors", copy)
    # in the session: found at distance 0; by its neighbours it lands on its twin
    out = lib.locate(str(copy), k=3, placement="neighbors")
    first = out[out["rank"] == 1].iloc[0]
    assert first["neighbor"] == row and first["distance"] == pytest.approx(0.0, abs=1e-4)
    assert first["query_name"] == str(copy)
    assert first[["x", "y"]].to_numpy(float) == pytest.approx(lib.embedding[row], abs=1e-3)
    # the fitted UMAP's transform of the same vector (24 models: not always near its twin)
    moved = lib.locate(str(copy), k=3, placement="transform")
    assert np.isfinite(moved[["x", "y"]].to_numpy(float)).all()
    assert moved["neighbor"].tolist() == out["neighbor"].tolist()
    # after a load: the library's vectors come again from its files; placed on its twin
    back = ModelLibrary.load(lib.save(tmp_path / "lib.parquet"))
    out = back.locate([str(copy), _model(11)], k=2, placement="neighbors")
    first = out[out["rank"] == 1]
    assert first["neighbor"].tolist()[0] == row
    assert first[["x", "y"]].to_numpy()[0] == pytest.approx(lib.embedding[row], abs=1e-3)
    twin = _row_of(lib, "m11.safetensors")
    assert first["neighbor"].tolist()[1] == twin  # a state dict is read as the files were
    # MI-WD descriptors are not vectors of this atlas
    with pytest.raises(ValueError, match=f"projected from the representation '{representation}'"):
        back.locate_descriptors(lib.descriptors[:1])


def test_locate_places_new_models_in_the_representation_not_in_mi_wd(library):
    lib = ModelLibrary.from_parts(library.parts())
    lib.project(method="pca", representation="stats", progress=False)
    rng = np.random.default_rng(99)
    # a model whose weights are a scaled copy of scale-0.5 models: in stats, among them
    big = {k: v * 1.0 for k, v in _model(2).items()}
    big = {k: rng.normal(0, 0.5 * (2 if k.startswith("b") else 1), v.shape) for k, v in big.items()}
    out = lib.locate(big, k=5, placement="neighbors")
    assert _scale_groups(lib)[out["neighbor"].to_numpy()].tolist() == [2] * 5


def test_unreadable_models_are_recorded_and_placed_by_their_mi_wd_neighbours(zoo_dir, tmp_path):
    d = tmp_path / "zoo"
    shutil.copytree(zoo_dir, d)
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1, progress=False)
    (d / "m05.safetensors").unlink()
    (d / "m06.safetensors").write_bytes(b"broken")
    with pytest.warns(RuntimeWarning, match="2 of 24 models could not be read"):
        lib.project(method="pca", representation="stats", progress=False)
    assert len(lib) == N_MODELS and np.isfinite(lib.embedding).all()
    errors = lib.errors[lib.errors["error"].str.startswith("representation 'stats'")]
    assert sorted(Path(s).name for s in errors["source"]) == ["m05.safetensors", "m06.safetensors"]
    assert errors["error"].str.endswith("placed in the atlas by its MI-WD neighbours").all()
    # projecting again does not list them twice
    with pytest.warns(RuntimeWarning):
        lib.project(method="pca", representation="stats", progress=False)
    assert len(lib.errors) == len(errors)


def test_representations_that_cannot_be_computed_say_why():
    rng = np.random.default_rng(0)
    flat = [rng.normal(0, 0.1, 300) for _ in range(6)]
    lib = ModelLibrary.from_models(flat, S=S, B=B, progress=False)
    with pytest.raises(
        RepresentationUnavailable, match="representation 'stats' needs the models' weights"
    ):
        lib.project(representation="stats")
    with pytest.raises(RepresentationUnavailable, match="no layer .tensor. boundaries"):
        lib.project(representation="layer-quintiles", weights=flat)
    with pytest.raises(ValueError, match="weights: 5 models given, the library has 6 rows"):
        lib.project(representation="stats", weights=flat[:5])
    mixed = [{"w": w} if i % 2 else {"w": w[:150], "b": w[150:]} for i, w in enumerate(flat)]
    with pytest.raises(RepresentationUnavailable, match="'layer-quintiles' cannot be computed"):
        lib.project(representation="layer-quintiles", weights=mixed)
    # given weights work for every other representation
    lib.project(method="pca", representation="stats", weights=flat, progress=False)
    assert lib.representation == "stats"
    # one matrix file for every row (the Small CNN Zoo's weights.npy) is not one model per row
    shared = ModelLibrary(np.zeros((3, S, B), np.float32), pd.DataFrame({"source": ["w.npy"] * 3}))
    with pytest.raises(RepresentationUnavailable, match="one weight file per model"):
        shared.project(representation="raw")


def test_locate_after_load_needs_the_weights_files(library, zoo_dir, tmp_path):
    d = tmp_path / "zoo"
    shutil.copytree(zoo_dir, d)
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1, progress=False)
    lib.project(method="pca", representation="raw", progress=False)
    back = ModelLibrary.load(lib.save(tmp_path / "lib.parquet"))
    back.metadata = back.metadata.drop(columns="source")
    with pytest.raises(RepresentationUnavailable, match="the atlas is laid out on 'raw'"):
        back.locate(_model(0))
