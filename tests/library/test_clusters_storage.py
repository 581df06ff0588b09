"""library.clusters: validated, kept by add, saved and loaded with the library."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from miwd_widget.library import ModelLibrary


@pytest.fixture()
def lib():
    rng = np.random.default_rng(0)
    md = pd.DataFrame({"id": [f"m{i}" for i in range(8)], "opt": list("aabbccdd")})
    return ModelLibrary(rng.random((8, 2, 3)), md)


def test_clusters_default_and_validation(lib):
    assert lib.clusters == {}
    lib.clusters = {"A": [3, 1, 1], 7: np.arange(8) < 2}
    assert list(lib.clusters) == ["A", "7"]  # names are strings
    assert lib.clusters["A"].tolist() == [1, 3] and lib.clusters["A"].dtype == np.int64
    assert lib.clusters["7"].tolist() == [0, 1]
    lib.clusters = lib.metadata["opt"].where(lib.metadata["opt"] != "d")  # labels per row
    assert {k: v.tolist() for k, v in lib.clusters.items()} == {
        "a": [0, 1],
        "b": [2, 3],
        "c": [4, 5],
    }
    with pytest.raises(IndexError, match=r"cluster 'B'.*\[8\]"):
        lib.clusters = {"B": [8]}
    with pytest.raises(ValueError, match="two clusters are named '1'"):
        lib.clusters = {1: [0], "1": [1]}
    with pytest.raises(ValueError, match="names must not be empty"):
        lib.clusters = {" ": [0]}
    lib.clusters = None
    assert lib.clusters == {}


def test_clusters_round_trip(lib, tmp_path):
    lib.clusters = {"A": [0, 1, 5], "B": [], "C D": [7]}
    path = lib.save(tmp_path / "lib.parquet")
    info = json.loads(pq.read_schema(path).metadata[b"miwd"])
    assert info["clusters"] == {"A": [0, 1, 5], "B": [], "C D": [7]}
    back = ModelLibrary.load(path)
    assert list(back.clusters) == ["A", "B", "C D"]
    for name, rows in lib.clusters.items():
        np.testing.assert_array_equal(back.clusters[name], rows)
        assert back.clusters[name].dtype == np.int64
    # entries put straight into the dict are validated on save
    back.clusters["E"] = [9]
    with pytest.raises(IndexError, match="cluster 'E'"):
        back.save(tmp_path / "bad.parquet")


def test_files_without_clusters_and_broken_ones(lib, tmp_path):
    path = lib.save(tmp_path / "lib.parquet")
    table = pq.read_table(path)
    info = json.loads(table.schema.metadata[b"miwd"])
    del info["clusters"]  # a file written before clusters were saved
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata({b"miwd": json.dumps(info).encode()}), old)
    assert ModelLibrary.load(old).clusters == {}
    info["clusters"] = {"A": [0, 99]}
    broken = tmp_path / "broken.parquet"
    pq.write_table(table.replace_schema_metadata({b"miwd": json.dumps(info).encode()}), broken)
    with pytest.raises(
        ValueError, match=r"broken.parquet: the saved clusters are not valid.*\[99\]"
    ):
        ModelLibrary.load(broken)


def test_add_keeps_clusters():
    rng = np.random.default_rng(0)
    models = {f"m{i}": {"w": rng.normal(size=(12, 12))} for i in range(4)}
    lib = ModelLibrary.from_models(models, S=4, B=8, progress=False)
    lib.clusters = {"A": [0, 3]}
    lib.add({"new": {"w": rng.normal(size=(12, 12))}}, progress=False)
    assert len(lib) == 5 and lib.clusters["A"].tolist() == [0, 3]
