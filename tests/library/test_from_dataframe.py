"""ModelLibrary.from_dataframe: a user's own table and descriptor array."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget.library import ModelLibrary


def _descriptors(n: int, S: int = 4, B: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    d = rng.random((n, S, B))
    return d / d.sum(-1, keepdims=True)


def test_table_and_array_make_a_library(tmp_path):
    df = pd.DataFrame(
        {"optimizer": ["adam", "sgd", "sgd"], "test_accuracy": [0.5, 0.7, 0.9]},
        index=[10, 11, 12],
    )
    d = _descriptors(3)
    lib = ModelLibrary.from_dataframe(df, d, value_range=(-2, 2))
    assert len(lib) == 3 and (lib.S, lib.B) == (4, 8) and lib.value_range == (-2.0, 2.0)
    assert lib.descriptors.dtype == np.float32
    np.testing.assert_allclose(lib.descriptors, d, rtol=1e-6)
    # ids from a non-default index, positions 0..n-1, accuracy_norm derived
    assert lib.metadata["id"].tolist() == ["10", "11", "12"]
    assert lib.metadata.index.tolist() == [0, 1, 2]
    assert lib.metadata["accuracy_norm"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert df.columns.tolist() == ["optimizer", "test_accuracy"]  # the input is not changed
    back = ModelLibrary.load(lib.save(tmp_path / "lib.parquet"))
    pd.testing.assert_frame_equal(back.metadata, lib.metadata)


def test_default_ids_existing_ids_and_descriptor_column():
    lib = ModelLibrary.from_dataframe(pd.DataFrame({"a": [1, 2]}), _descriptors(2))
    assert lib.metadata["id"].tolist() == ["0", "1"] and lib.value_range is None
    assert "accuracy_norm" not in lib.metadata  # no accuracy column: nothing derived
    named = ModelLibrary.from_dataframe(
        pd.DataFrame({"id": ["x", "y"]}, index=[5, 6]), _descriptors(2)
    )
    assert named.metadata["id"].tolist() == ["x", "y"]
    d = _descriptors(3)
    df = pd.DataFrame({"id": list("abc"), "desc": list(d)})
    from_column = ModelLibrary.from_dataframe(df, "desc", clusters={"A": [0, 2]})
    np.testing.assert_allclose(from_column.descriptors, d, rtol=1e-6)
    assert "desc" not in from_column.metadata and from_column.clusters["A"].tolist() == [0, 2]


def test_bad_input_names_the_argument():
    df = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(TypeError, match="df: expected a pandas DataFrame"):
        ModelLibrary.from_dataframe({"a": [1]}, _descriptors(1))
    with pytest.raises(
        ValueError, match=r"descriptors: expected an \(n, S, B\) array, got shape \(3, 32\)"
    ):
        ModelLibrary.from_dataframe(df, _descriptors(3).reshape(3, -1))
    with pytest.raises(ValueError, match="descriptors: 2 descriptors for the 3 rows of df"):
        ModelLibrary.from_dataframe(df, _descriptors(2))
    bad = _descriptors(3)
    bad[1, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"descriptors: NaN or Inf values in rows \[1\]"):
        ModelLibrary.from_dataframe(df, bad)
    with pytest.raises(TypeError, match="descriptors: not an array of numbers"):
        ModelLibrary.from_dataframe(df, [["x"]] * 3)
    with pytest.raises(ValueError, match="descriptors: 'nope' is not a column of df"):
        ModelLibrary.from_dataframe(df, "nope")
    with pytest.raises(ValueError, match="not arrays of one shape"):
        ModelLibrary.from_dataframe(df.assign(d=[np.zeros((2, 2)), np.zeros((2, 3)), 1]), "d")
    with pytest.raises(ValueError, match="value_range: need finite lo < hi"):
        ModelLibrary.from_dataframe(df, _descriptors(3), value_range=(1, -1))
    with pytest.raises(ValueError, match="value_range: expected"):
        ModelLibrary.from_dataframe(df, _descriptors(3), value_range="auto")
    with pytest.raises(ValueError, match=r"df: ids must be unique.*\['a'\]"):
        ModelLibrary.from_dataframe(df.assign(id=["a", "a", "b"]), _descriptors(3))
    with pytest.raises(IndexError, match="cluster 'A'"):
        ModelLibrary.from_dataframe(df, _descriptors(3), clusters={"A": [3]})
