"""Named clusters (clusters.py): the trait's codec, validation, the next name.

The Atlas's cluster methods are tested in test_atlas_clusters.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from miwd_widget.widget.clusters import (
    NO_CLUSTER,
    clusters_from_json,
    clusters_to_json,
    next_cluster_name,
    normalize_clusters,
)


def test_codec_round_trip_keeps_order_and_rows():
    clusters = {"B": np.array([4, 9]), "A": np.array([], dtype=np.int64), "hot": np.array([0])}
    back = clusters_from_json(clusters_to_json(clusters))
    assert list(back) == ["B", "A", "hot"]
    assert [back[k].tolist() for k in back] == [[4, 9], [], [0]]


def test_codec_refuses_inconsistent_sizes():
    encoded = clusters_to_json({"A": np.array([1, 2])})
    encoded["sizes"] = [3]
    with pytest.raises(ValueError, match="2 rows sent for sizes summing to 3"):
        clusters_from_json(encoded)


def test_normalize_sorts_dedups_and_names_bad_input():
    assert normalize_clusters({"A": [5, 1, 5]}, 10)["A"].tolist() == [1, 5]
    with pytest.raises(IndexError, match=r"clusters: cluster 'A': row positions must be in 0\.\.9"):
        normalize_clusters({"A": [10]}, 10)
    with pytest.raises(ValueError, match="names must not be empty"):
        normalize_clusters({"": [1]}, 10)
    with pytest.raises(ValueError, match="reserved"):
        normalize_clusters({NO_CLUSTER: [1]}, 10)
    with pytest.raises(ValueError, match="one label per row needs 10 labels, got 2"):
        normalize_clusters([1, 2], 10)
    # one label per row works too (the library's rule)
    labels = normalize_clusters(["b", "a", None, "b"], 4)
    assert {k: v.tolist() for k, v in labels.items()} == {"a": [1], "b": [0, 3]}


def test_next_name_follows_the_papers_letters():
    assert next_cluster_name([]) == "A"
    assert next_cluster_name(["A", "C"]) == "B"
    letters = [chr(65 + i) for i in range(26)]
    assert next_cluster_name(letters) == "AA"
