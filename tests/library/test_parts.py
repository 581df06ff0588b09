"""LibraryParts: what builders return and storage saves and loads, round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library import ModelLibrary, storage
from miwd_widget.library.build import errors_frame
from miwd_widget.library.parts import LibraryParts

CONFIG = DescriptorConfig(S=3, B=5, value_range=(-2, 2), percentiles=(1, 99), clip=True)


def _parts(n: int = 6) -> LibraryParts:
    rng = np.random.default_rng(0)
    return LibraryParts(
        descriptors=rng.random((n, 3, 5)).astype(np.float32),
        metadata=pd.DataFrame({"id": [f"m{i}" for i in range(n)], "lr": rng.random(n)}),
        config=CONFIG,
        embedding=rng.normal(size=(n, 2)).astype(np.float32),
        errors=errors_frame([("/x.npy", "x.npy: empty file")]),
        clusters={"A": np.array([0, 2])},
        attrs={"zoo": {"seed": 1}},
    )


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_parts_round_trip_through_storage(tmp_path, layout):
    parts = _parts()
    storage.save(parts, tmp_path / "lib.parquet", descriptors=layout)
    back = storage.load(tmp_path / "lib.parquet")
    assert isinstance(back, LibraryParts)
    np.testing.assert_array_equal(back.descriptors, parts.descriptors)
    np.testing.assert_array_equal(back.embedding, parts.embedding)
    pd.testing.assert_frame_equal(back.metadata, parts.metadata)
    pd.testing.assert_frame_equal(back.errors, parts.errors)
    assert back.config == CONFIG and back.attrs == {"zoo": {"seed": 1}}
    assert back.clusters.keys() == {"A"} and back.clusters["A"].tolist() == [0, 2]
    lazy = storage.load(tmp_path / "lib.parquet", descriptors=False)
    assert isinstance(lazy.descriptors, storage.LazyDescriptors)
    storage.save(lazy, tmp_path / "again.parquet")  # parts still in their file save too
    np.testing.assert_array_equal(
        storage.load(tmp_path / "again.parquet").descriptors, parts.descriptors
    )


def test_a_library_and_its_parts_are_one_value(tmp_path):
    lib = ModelLibrary.from_parts(_parts())
    assert lib.config == CONFIG and lib.value_range == (-2.0, 2.0)
    assert lib.parts().descriptors is lib.descriptors
    lib.save(tmp_path / "lib.parquet")
    back = ModelLibrary.load(tmp_path / "lib.parquet")
    assert back.config == CONFIG and back.attrs == lib.attrs


def test_files_that_kept_the_config_in_attrs_still_load(tmp_path):
    """Before the 'config' entry, percentiles, clip and nan_policy were library attrs."""
    path = tmp_path / "old.parquet"
    storage.save(_parts(), path)
    table = pq.read_table(path)
    info = json.loads(table.schema.metadata[b"miwd"])
    del info["config"]
    info["attrs"].update(percentiles=[1.0, 99.0], clip=True, nan_policy="omit")
    meta = {**table.schema.metadata, b"miwd": json.dumps(info).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)
    lib = ModelLibrary.load(path)
    assert lib.config == DescriptorConfig(3, 5, (-2, 2), (1, 99), True, "omit")
    assert lib.attrs == {"zoo": {"seed": 1}}
    info["attrs"]["nan_policy"] = "ignore"
    meta = {**table.schema.metadata, b"miwd": json.dumps(info).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(ValueError, match="the descriptor config is not valid"):
        ModelLibrary.load(path)


def test_the_library_config_follows_value_range_and_the_descriptors():
    lib = ModelLibrary(np.zeros((2, 3, 5), np.float32), value_range=(-1, 1))
    assert lib.config == DescriptorConfig(3, 5, (-1, 1))
    lib.value_range = None
    assert lib.config.is_auto and lib.value_range is None
    with pytest.raises(ValueError, match="config has S=32, B=32; descriptors are 3x5"):
        ModelLibrary(np.zeros((2, 3, 5)), config=DescriptorConfig())


def test_new_descriptors_on_another_grid_carry_the_config_along():
    lib = ModelLibrary(np.zeros((2, 3, 5), np.float32), value_range=(-1, 1))
    index = lib.descriptor_index()
    lib.descriptors = np.ones((2, 4, 6), np.float32)
    assert lib.config == DescriptorConfig(4, 6, (-1, 1))
    assert lib.descriptor_index() is not index  # caches follow the descriptors
