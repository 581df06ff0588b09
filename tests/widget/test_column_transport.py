"""Deferred tooltip text columns of large libraries (widget/column_transport.py, DEFERRED_TEXT_ROWS).

The threshold is lowered with monkeypatch instead of building 200,000 models; the browser
is simulated by the messages it sends (custom ``columns`` requests, comm updates).
"""

from __future__ import annotations

import pytest
from test_widget import Recorder, _script_json, frontend_update, make_library

import miwd_widget.widget.column_transport as column_transport
from miwd_widget import Atlas
from miwd_widget.widget.codec import decode_column


@pytest.fixture(scope="module")
def library():
    return make_library(n=120)


@pytest.fixture
def deferring(monkeypatch):
    """A threshold under the test library's 120 models."""
    monkeypatch.setattr(column_transport, "DEFERRED_TEXT_ROWS", 100)


def test_below_the_threshold_nothing_is_deferred(library, monkeypatch):
    monkeypatch.setattr(column_transport, "DEFERRED_TEXT_ROWS", 120)  # "more than": 120 is not
    atlas = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    assert atlas._deferred_columns == []
    assert atlas._columns["id"]["kind"] == "text" and atlas._columns["dataset"]["kind"] == "text"


def test_above_the_threshold_tooltip_text_columns_are_deferred(library, deferring):
    atlas = Atlas(library, tooltip=["id", "dataset", "lr"], axes=["lr", "optimizer"])
    assert atlas._deferred_columns == ["id", "dataset"]
    assert "id" not in atlas._columns and "dataset" not in atlas._columns
    # Drawn and numeric columns are in the first state as before.
    assert {"lr", "optimizer", "accuracy_norm"} <= set(atlas._columns)
    state = atlas.get_state()
    assert state["_deferred_columns"] == ["id", "dataset"] and "id" not in state["_columns"]


def test_a_columns_request_sends_them_with_the_usual_encoding(library, monkeypatch):
    small = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    monkeypatch.setattr(column_transport, "DEFERRED_TEXT_ROWS", 100)
    atlas = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    columns_before = dict(atlas._columns)
    sent = Recorder(atlas)
    atlas._handle_custom_msg({"type": "columns", "names": ["id", "nope", "lr"]}, [])
    assert atlas._deferred_columns == ["dataset"]
    # The ids go into `_text_columns` only: `_columns` is unchanged.
    assert atlas._columns == columns_before and "id" not in atlas._columns
    assert atlas._text_columns["id"]["kind"] == "text"
    assert decode_column(atlas._text_columns["id"]).tolist() == library.metadata["id"].tolist()
    assert plain(atlas._text_columns["id"]) == plain(small._columns["id"])
    # One update carries the column and the shorter list (the browser sees them agree), and
    # not `_columns`: the columns the browser has are not sent again.
    ((update, buffers),) = sent.updates("_text_columns")
    assert set(update["state"]) == {"_text_columns", "_deferred_columns"}
    assert update["state"]["_deferred_columns"] == ["dataset"]
    assert set(update["state"]["_text_columns"]) == {"id"}
    assert sum(len(b) for b in buffers) == len(
        plain(small._columns["id"])["labels"]["text"]["buffer"]
    )
    assert sent.updates("_columns") == []
    atlas._handle_custom_msg({"type": "columns", "names": ["dataset"]}, [])
    assert atlas._deferred_columns == []
    assert plain(atlas._text_columns["dataset"]) == plain(small._columns["dataset"])
    assert sent.updates("_columns") == []
    # Asking again (a second view) or for names not deferred changes nothing.
    before = len(sent.messages)
    atlas._handle_custom_msg({"type": "columns", "names": ["id", "dataset", "batch_size"]}, [])
    atlas._handle_custom_msg({"type": "columns", "names": "id"}, [])
    assert len(sent.messages) == before and "batch_size" not in atlas._columns
    assert sent.custom() == []  # the answer is the trait, no reply message


def plain(value):
    """An encoded column with its buffers as bytes (comparable with ==)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return bytes(value) if isinstance(value, memoryview) else value


def small_text(library, name):
    return library.metadata[name].astype(str).tolist()


def test_a_deferred_column_chosen_as_axis_or_colour_is_sent_drawn(library, deferring):
    atlas = Atlas(library, tooltip=["id", "dataset", "optimizer"], axes=["lr"])
    assert atlas._deferred_columns == ["id", "dataset", "optimizer"]
    frontend_update(atlas, {"axes": ["lr", "dataset"]})  # chosen in the view's menu
    assert atlas._columns["dataset"]["kind"] == "categorical"
    assert atlas._deferred_columns == ["id", "optimizer"]
    atlas.color = "optimizer"
    assert atlas._columns["optimizer"]["kind"] == "categorical"
    assert atlas._deferred_columns == ["id"]
    # Unrelated changes do not bring the ids into the state before the browser asks.
    assert "id" not in atlas._columns and atlas._text_columns == {}


def test_a_text_column_sent_then_drawn_goes_into_columns_drawn(library, deferring):
    atlas = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    atlas._handle_custom_msg({"type": "columns", "names": ["id", "dataset"]}, [])
    assert set(atlas._text_columns) == {"id", "dataset"} and "dataset" not in atlas._columns
    sent = Recorder(atlas)
    atlas.color = "dataset"  # held as text only: sent again, as categories
    assert atlas._columns["dataset"]["kind"] == "categorical"
    ((update, _),) = sent.updates("_columns")
    assert "_text_columns" not in update["state"]
    # Held drawn now (`_columns` wins): an axis or the tooltip again sends no column.
    atlas.axes = ["lr", "dataset"]
    atlas.tooltip_columns = ["dataset", "id"]
    assert len(sent.updates("_columns")) == 1 and sent.updates("_text_columns") == []


def test_a_deferred_column_added_to_the_tooltip_again_is_sent(library, deferring):
    atlas = Atlas(library, tooltip=["id", "lr"], axes=["lr"])
    atlas.tooltip_columns = ["lr", "id"]  # reordered: still deferred
    assert atlas._deferred_columns == ["id"] and "id" not in atlas._text_columns
    atlas.tooltip_columns = ["lr"]
    sent = Recorder(atlas)
    frontend_update(atlas, {"tooltip_columns": ["lr", "id"]})
    assert atlas._deferred_columns == [] and atlas._text_columns["id"]["kind"] == "text"
    assert "id" not in atlas._columns and sent.updates("_columns") == []
    assert decode_column(atlas._text_columns["id"]).tolist() == library.metadata["id"].tolist()


def test_save_html_holds_the_deferred_columns(library, deferring, tmp_path):
    atlas = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    assert atlas._deferred_columns == ["id", "dataset"]
    path = tmp_path / "atlas.html"
    atlas.save_html(path)
    state = _script_json(path.read_text(encoding="utf-8"), "miwd-payload")["state"]
    assert state["_deferred_columns"] == []
    columns = state["_columns"]
    assert decode_column(columns["id"]).tolist() == library.metadata["id"].tolist()
    assert decode_column(columns["dataset"]).tolist() == small_text(library, "dataset")
    assert {"id", "dataset"} <= set(state["_all_columns"])
    # The widget itself still waits for the browser's request.
    assert atlas._deferred_columns == ["id", "dataset"]


def test_save_html_puts_the_text_columns_sent_in_columns(library, deferring, tmp_path):
    atlas = Atlas(library, tooltip=["id", "dataset"], axes=["lr"])
    atlas._handle_custom_msg({"type": "columns", "names": ["id"]}, [])
    atlas.color = "dataset"  # deferred, then drawn: in `_columns` as categories
    path = tmp_path / "atlas.html"
    atlas.save_html(path)
    state = _script_json(path.read_text(encoding="utf-8"), "miwd-payload")["state"]
    assert "_text_columns" not in state and state["_deferred_columns"] == []
    columns = state["_columns"]
    assert columns["id"]["kind"] == "text" and columns["dataset"]["kind"] == "categorical"
    assert decode_column(columns["id"]).tolist() == library.metadata["id"].tolist()
    assert list(columns)[-1] == "id"  # the view's order: `_columns`, then the text ones
