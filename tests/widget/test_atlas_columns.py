"""The Atlas's shown columns (atlas_columns.py): checked when chosen, sent when missing.

The browser is simulated by the messages it sends (comm updates).
"""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from test_widget import frontend_update, make_library

from miwd_widget import Atlas
from miwd_widget.widget.codec import decode_column


@pytest.fixture
def library():
    return make_library(n=150)


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


def test_color_from_python_sends_the_missing_column(atlas, library):
    assert "augmentation" not in atlas._columns
    atlas.color = "augmentation"
    assert decode_column(atlas._columns["augmentation"]).tolist() == (
        library.metadata["augmentation"].astype(str).tolist()
    )
    with pytest.raises(traitlets.TraitError, match="no metadata column 'nope'"):
        atlas.color = "nope"
    frontend_update(atlas, {"color": "dataset"})  # chosen in the browser's menu
    assert atlas.color == "dataset"
