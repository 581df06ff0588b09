"""The gallery's side of the Atlas (widget/gallery.py): sampling, spread, captions.

The request/reply protocol through the widget is in test_widget.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_widget import make_library

import miwd_widget.widget.gallery as gallery
from miwd_widget import Atlas, ModelLibrary


@pytest.fixture(scope="module")
def library() -> ModelLibrary:
    return make_library()


def test_a_large_selection_gallery_says_it_is_sampled(library, monkeypatch):
    monkeypatch.setattr(gallery, "GALLERY_EXACT_ROWS", 10)
    atlas = Atlas(library)
    positions = np.arange(0, 100, 2)
    content, buffers = atlas.descriptor_reply(positions)
    assert content["n"] == 50 and content["sampled"] == 10
    small, _ = atlas.descriptor_reply(positions[:8])
    assert small["sampled"] == 8  # exact below the limit
    mean = np.frombuffer(bytes(buffers[1]), dtype=np.float32).reshape(atlas.S, atlas.B)
    again = np.frombuffer(bytes(atlas.descriptor_reply(positions)[1][1]), dtype=np.float32)
    np.testing.assert_array_equal(mean.reshape(-1), again)  # the same selection, same sample


def test_gallery_sample_is_spread_over_the_whole_selection():
    spread = gallery.spread_sample
    assert spread(np.arange(1000), 4).tolist() == [0, 333, 666, 999]
    assert spread(np.array([5, 9]), 12).tolist() == [5, 9]
    assert spread(np.arange(10), 0).tolist() == []


def test_gallery_captions_are_built_column_wise_and_name_missing_values(library):
    labels = gallery.captions(library.metadata, np.array([3, 5, 1]))
    meta = library.metadata
    # row 3: optimizer missing; row 5: accuracy missing (no empty " ·  · " left behind)
    assert labels[0] == (
        f"{meta.loc[3, 'id']}\n{meta.loc[3, 'dataset']} · acc {meta.loc[3, 'test_accuracy']:.3f}"
        f" · (missing) · {meta.loc[3, 'activation']}"
    )
    assert labels[1] == (
        f"{meta.loc[5, 'id']}\n{meta.loc[5, 'dataset']} · {meta.loc[5, 'optimizer']}"
        f" · {meta.loc[5, 'activation']}"
    )
    assert labels[2].startswith(f"{meta.loc[1, 'id']}\n")
    assert gallery.captions(library.metadata, np.array([], dtype=np.int64)) == []
