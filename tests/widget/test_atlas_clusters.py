"""The Atlas's named clusters (atlas_clusters.py): sync both ways, the colour column, compare.

The browser is simulated by the comm ``update`` messages it sends (binary buffers split out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets
from test_widget import Recorder, frontend_update, make_library

from miwd_widget import Atlas
from miwd_widget.widget.clusters import CLUSTER_COLUMN


@pytest.fixture
def library():
    return make_library(n=120)


def browser_clusters(clusters: dict[str, list[int]]) -> dict:
    """What js/src/views/clusters.ts's encodeClusters sends: names, sizes, one int32 buffer."""
    names = list(clusters)
    rows = np.concatenate([np.asarray(clusters[k], dtype=np.int32) for k in names])
    return {
        "names": names,
        "sizes": [len(clusters[k]) for k in names],
        "rows": {"buffer": memoryview(rows.tobytes()), "dtype": "int32", "shape": [rows.size]},
    }


def test_cluster_from_the_browser_reaches_python_and_the_library(atlas, library):
    frontend_update(atlas, {"clusters": browser_clusters({"A": [7, 3, 5], "B": [0]})})
    assert list(atlas.clusters) == ["A", "B"]
    assert atlas.clusters["A"].tolist() == [3, 5, 7]
    assert library.clusters["A"].tolist() == [3, 5, 7]  # saved with the library
    # The browser builds the "(cluster)" column itself: nothing more is sent.
    assert CLUSTER_COLUMN not in atlas._columns


def test_cluster_from_python_is_sent_as_one_binary_buffer(atlas):
    recorder = Recorder(atlas)
    atlas.select([2, 4, 6])
    assert atlas.add_cluster() == "A"
    assert atlas.add_cluster("sgd", [1, 2]) == "sgd"
    data, buffers = recorder.updates("clusters")[-1]
    sent = data["state"]["clusters"]
    assert sent["names"] == ["A", "sgd"] and sent["sizes"] == [3, 2]
    rows = np.frombuffer(bytes(buffers[0]), dtype=np.int32)
    assert rows.tolist() == [2, 4, 6, 1, 2]
    atlas.remove_cluster("A")
    assert list(atlas.clusters) == ["sgd"]
    with pytest.raises(KeyError, match="no cluster 'A'; clusters: sgd"):
        atlas.remove_cluster("A")


def test_bad_clusters_from_python_raise_clear_errors(atlas):
    with pytest.raises(traitlets.TraitError, match=r"cluster 'A': row positions"):
        atlas.clusters = {"A": [10_000]}


def test_clusters_frame_has_one_row_per_membership(atlas, library):
    atlas.clusters = {"A": [1, 2], "B": [2, 9]}
    frame = atlas.clusters_frame()
    assert frame.index.tolist() == [1, 2, 2, 9]
    assert frame["cluster"].tolist() == ["A", "A", "B", "B"]
    assert list(frame["cluster"].cat.categories) == ["A", "B"]
    pd.testing.assert_series_equal(
        frame["id"].reset_index(drop=True),
        library.metadata["id"].iloc[[1, 2, 2, 9]].reset_index(drop=True),
    )


def test_atlas_starts_with_the_librarys_clusters(library):
    library.clusters = {"saved": [4, 8]}
    atlas = Atlas(library)
    assert atlas.clusters["saved"].tolist() == [4, 8]
    assert Atlas(library, color=CLUSTER_COLUMN).color == CLUSTER_COLUMN


def test_colour_and_axes_by_cluster_only_while_there_are_clusters(atlas):
    with pytest.raises(traitlets.TraitError, match="no metadata column"):
        atlas.color = CLUSTER_COLUMN  # no clusters yet
    atlas.add_cluster("A", [0, 1])
    atlas.color = CLUSTER_COLUMN  # the colour menu offers it; parallel coordinates follow color
    atlas.axes = [*atlas.axes, CLUSTER_COLUMN]
    assert CLUSTER_COLUMN not in atlas._columns  # built by the browser
    atlas.remove_cluster("A")  # the last one: nothing draws by clusters any more
    assert atlas.color == "" and CLUSTER_COLUMN not in atlas.axes


def test_keeping_nothing_is_refused(atlas):
    with pytest.raises(ValueError, match="nothing is selected"):
        atlas.add_cluster()


def test_compare_uses_the_atlas_clusters(library):
    meta = library.metadata
    sgd = np.flatnonzero(meta["optimizer"].eq("sgd_momentum").to_numpy())
    atlas = Atlas(library)
    with pytest.raises(ValueError, match="no clusters yet"):
        atlas.compare()
    atlas.add_cluster("sgd", sgd)
    table = atlas.compare()
    row = table[
        (table["cluster"] == "sgd")
        & (table["column"] == "optimizer")
        & (table["value"].astype(str) == "sgd_momentum")
    ]
    assert len(row) == 1
    assert float(row["share_cluster"].iloc[0]) == 1.0
    assert float(row["p_value"].iloc[0]) < 1e-6


def test_atlas_coloured_by_the_clusters_it_is_given(library):
    atlas = Atlas(
        library, clusters={"A": [1, 2], "B": [5]}, color=CLUSTER_COLUMN, axes=[CLUSTER_COLUMN]
    )
    assert atlas.color == CLUSTER_COLUMN and CLUSTER_COLUMN in atlas.axes
    assert list(library.clusters) == ["A", "B"]  # the library keeps them: the next Atlas too
    assert Atlas(library, color=CLUSTER_COLUMN).color == CLUSTER_COLUMN
    with pytest.raises(ValueError, match=r"'\(cluster\)' needs clusters"):
        Atlas(make_library(n=20), color=CLUSTER_COLUMN)
