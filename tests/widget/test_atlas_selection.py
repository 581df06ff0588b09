"""The Atlas's selection methods (atlas_selection.py): select, selected, summarize.

The browser is simulated by the messages it sends (comm ``update`` with binary buffers).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import traitlets
from test_widget import Recorder


def test_select_from_python_accepts_index_list_array_and_mask(atlas, library):
    sent = Recorder(atlas)
    meta = library.metadata
    query = meta[meta["optimizer"] == "adam"]
    atlas.select(query.index)
    assert atlas.selection == list(query.index)
    assert atlas.selected["optimizer"].eq("adam").all()
    ((update, buffers),) = sent.updates("selection")
    assert np.frombuffer(bytes(buffers[0]), np.int32).tolist() == list(query.index)

    atlas.select(meta["lr"] > 1e-2)  # boolean Series
    assert atlas.selection == list(np.flatnonzero(meta["lr"].to_numpy() > 1e-2))
    atlas.select(np.array([5, 0, 5]))
    assert atlas.selection == [0, 5]  # index 0 is kept
    atlas.select(query)  # a DataFrame: its index
    assert atlas.selection == list(query.index)
    atlas.select([])
    assert atlas.selection == []
    atlas.selection = [3, 1]
    assert atlas.selection == [1, 3]


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ([0, 200], IndexError, "0..199"),
        ([-1], IndexError, "0..199"),
        (np.ones(5, dtype=bool), ValueError, "one entry per model"),
        ([0.5, 2.0], TypeError, "integer row positions"),
        (["m00001"], TypeError, "integer row positions"),
        (3, TypeError, "scalar"),
    ],
)
def test_bad_selections_raise_clear_errors(atlas, bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        atlas.select(bad)
    with pytest.raises(traitlets.TraitError, match=re.escape(message)):
        atlas.selection = bad if not isinstance(bad, np.ndarray) else bad.tolist()
    assert atlas.selection == []


def test_summary_is_the_library_summary_of_the_selection(atlas, library):
    atlas.select([1, 2, 7])
    summary = atlas.summarize()
    assert summary.n == 3
    np.testing.assert_allclose(
        np.asarray(summary.mean), library.descriptors[[1, 2, 7]].mean(axis=0), rtol=1e-5
    )


def test_summary_is_a_deprecated_name_of_summarize(atlas):
    atlas.select([1, 2])
    with pytest.warns(DeprecationWarning, match=r"Atlas\.summarize\(\)"):
        old = atlas.summary()
    assert old.n == atlas.summarize().n == 2
    np.testing.assert_array_equal(np.asarray(old.mean), np.asarray(atlas.summarize().mean))
