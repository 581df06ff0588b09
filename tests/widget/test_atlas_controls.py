"""The Atlas's controls: keywords, generic libraries' defaults, training paths.

The browser is simulated by the messages it sends (comm updates, custom messages).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_widget import make_library

from miwd_widget import Atlas, ModelLibrary
from miwd_widget.widget.codec import array_from_json


@pytest.fixture
def library():
    return make_library(n=150)


def test_unknown_keywords_are_refused_naming_the_valid_ones(library):
    with pytest.raises(TypeError, match=r"color_by, height; valid: library, color, axes"):
        Atlas(library, color_by="lr", height=600)


def generic_library(columns: dict) -> ModelLibrary:
    n = len(next(iter(columns.values())))
    rng = np.random.default_rng(0)
    descriptors = rng.random((n, 4, 4), dtype=np.float32)
    return ModelLibrary(
        descriptors,
        pd.DataFrame({"id": [f"m{i}" for i in range(n)], **columns}),
        rng.normal(size=(n, 2)).astype(np.float32),
    )


def test_a_generic_library_is_coloured_by_its_first_score_like_column():
    n = 30
    lib = generic_library(
        {
            "width": np.arange(n),
            "val_acc": np.full(n, np.nan),  # all missing: never the colour
            "final_loss": np.linspace(1, 0, n),
            "family": ["a", "b", "c"] * 10,
        }
    )
    atlas = Atlas(lib)
    assert atlas.color == "final_loss"
    assert "val_acc" not in atlas.axes and "family" in atlas.axes and "width" in atlas.axes


def test_a_generic_library_without_scores_is_not_coloured():
    lib = generic_library({"width": np.arange(12), "family": ["a", "b"] * 6})
    assert Atlas(lib).color == ""


def snapshot_library() -> ModelLibrary:
    # three models: two with 3 snapshots each (rows shuffled), one with a single row
    meta = {
        "model": ["a", "b", "a", "c", "b", "a", "b"],
        "epoch": [2, 0, 0, 0, 1, 1, 2],
        "test_accuracy": np.linspace(0.1, 0.9, 7),
    }
    return generic_library(meta)


def test_a_snapshot_library_sends_its_training_paths():
    atlas = Atlas(snapshot_library())
    line = array_from_json(atlas._paths["line"])
    order = array_from_json(atlas._paths["order"])
    assert atlas._paths["count"] == 2
    assert line.tolist() == [0, 1, 0, -1, 1, 0, 1]
    # each path in epoch order
    assert order[[2, 5, 0]].tolist() == [0, 1, 2] and order[[1, 4, 6]].tolist() == [0, 1, 2]


def test_a_library_without_snapshots_has_no_paths(library):
    assert Atlas(library)._paths == {}
