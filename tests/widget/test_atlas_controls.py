"""The Atlas's controls: keywords, columns on demand, generic libraries, paths, neighbours.

The browser is simulated by the messages it sends (comm updates, custom messages).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_widget import frontend_update, make_library

from miwd_widget import Atlas, ModelLibrary
from miwd_widget.widget.codec import array_from_json, decode_column


@pytest.fixture
def library():
    return make_library(n=150)


def test_unknown_keywords_are_refused_naming_the_valid_ones(library):
    with pytest.raises(TypeError, match=r"color_by, height; valid: library, color, axes"):
        Atlas(library, color_by="lr", height=600)


def test_all_columns_are_offered_but_only_the_shown_ones_sent(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id"])
    assert atlas._all_columns == list(library.metadata.columns)
    assert "batch_size" not in atlas._columns


def test_axes_from_python_send_the_missing_columns(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id"])
    atlas.axes = ["lr", "batch_size", "augmentation"]
    assert {"batch_size", "augmentation"} <= set(atlas._columns)
    assert decode_column(atlas._columns["batch_size"]).tolist() == (
        library.metadata["batch_size"].astype(np.float32).tolist()
    )
    with pytest.raises(Exception, match=r"axes: no metadata column\(s\) \['nope'\]"):
        atlas.axes = ["nope"]


def test_axes_chosen_in_the_view_send_the_missing_columns(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id"])
    frontend_update(atlas, {"axes": ["optimizer", "lr"]})
    assert atlas.axes == ["optimizer", "lr"]
    assert atlas._columns["optimizer"]["kind"] == "categorical"


def test_a_tooltip_text_column_drawn_as_an_axis_is_sent_again_as_categories(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id", "dataset"])
    assert atlas._columns["dataset"]["kind"] == "text"  # tooltip-only: packed text
    frontend_update(atlas, {"axes": ["lr", "dataset"]})
    assert atlas._columns["dataset"]["kind"] == "categorical"


def test_tooltip_columns_chosen_in_the_view_are_sent(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id"])
    frontend_update(atlas, {"tooltip_columns": ["id", "initialization"]})
    assert "initialization" in atlas._columns


def test_colour_chosen_in_the_view_is_sent(library):
    atlas = Atlas(library, axes=["lr"], tooltip=["id"])
    frontend_update(atlas, {"color": "activation"})
    assert atlas._columns["activation"]["kind"] == "categorical"


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


def brute_force(library: ModelLibrary, row: int, k: int) -> np.ndarray:
    flat = library.descriptors.reshape(len(library), -1).astype(np.float64)
    distances = np.linalg.norm(flat - flat[row], axis=1)
    distances[row] = np.inf
    return np.argsort(distances, kind="stable")[:k]


def test_a_click_asks_for_neighbours_in_descriptor_space(library):
    atlas = Atlas(library, neighbors_k=6)
    atlas._handle_custom_msg({"type": "neighbors", "row": 0, "k": 6}, [])
    shown = atlas._neighbors
    assert shown["row"] == 0
    neighbors = array_from_json(shown["neighbors"])
    assert neighbors.tolist() == brute_force(library, 0, 6).tolist()
    distances = array_from_json(shown["distances"])
    assert np.all(np.diff(distances) >= 0)
    atlas._handle_custom_msg({"type": "neighbors", "row": -1}, [])  # Clear
    assert atlas._neighbors == {}


def test_a_bad_neighbours_request_is_shown_as_an_error(library):
    atlas = Atlas(library)
    atlas._handle_custom_msg({"type": "neighbors", "row": 10_000, "k": 3}, [])
    assert atlas._neighbors["row"] == 10_000 and atlas._neighbors["error"]


def test_neighbors_from_python_return_a_frame_and_show_the_lines(library):
    atlas = Atlas(library)
    table = atlas.neighbors(5, k=4)
    assert table.index.tolist() == brute_force(library, 5, 4).tolist()
    assert "distance" in table.columns
    assert array_from_json(atlas._neighbors["neighbors"]).tolist() == table.index.tolist()
