"""The Atlas's overlays from the library (atlas_overlays.py): neighbours, located models.

The browser is simulated by the messages it sends (custom ``neighbors`` requests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_widget import make_library

from miwd_widget import Atlas, ModelLibrary, mi_wd
from miwd_widget.widget.codec import array_from_json


@pytest.fixture
def library():
    return make_library(n=150)


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


def test_locate_shows_queries_with_lines_to_their_neighbors():
    rng = np.random.default_rng(3)
    weights = [rng.normal(0, 0.1 + 0.02 * i, size=500).astype(np.float32) for i in range(30)]
    descriptors = np.stack([mi_wd(w, S=4, B=8, value_range=(-1, 1)) for w in weights])
    lib = ModelLibrary(
        descriptors,
        pd.DataFrame({"id": [f"w{i}" for i in range(30)], "test_accuracy": np.linspace(0, 1, 30)}),
        embedding=rng.normal(size=(30, 2)),
        value_range=(-1.0, 1.0),
    )
    atlas = Atlas(lib)
    table = atlas.locate([weights[12]], k=3)
    assert table["neighbor"].iloc[0] == 12 and table["distance"].iloc[0] == pytest.approx(0)
    located = atlas._located
    x, y = array_from_json(located["x"]), array_from_json(located["y"])
    np.testing.assert_allclose([x[0], y[0]], table[["x", "y"]].iloc[0], rtol=1e-6)
    neighbors = array_from_json(located["neighbors"])
    assert neighbors.dtype == np.int32 and neighbors.tolist() == [table["neighbor"].tolist()]
    assert located["names"] == [str(table["query_name"].iloc[0])]
    atlas.show_located(None)
    assert atlas._located == {}
