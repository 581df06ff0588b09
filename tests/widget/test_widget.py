"""The Atlas widget's Python side: synced traits, messages, save_html.

The browser side is simulated by the messages it sends (comm ``update`` with binary
buffers, custom ``descriptors`` requests); no Node or browser is needed here.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import miwd_widget.widget.frontend as frontend
from miwd_widget import Atlas, ModelLibrary
from miwd_widget.widget.codec import array_from_json, decode_column, encode_column
from miwd_widget.widget.frontend import BUNDLE_JS
from miwd_widget.widget.traits import selection_from_json

EVIL = "<img src=x onerror=alert(1)>"


def make_library(n: int = 200, S: int = 8, B: int = 6, seed: int = 0) -> ModelLibrary:
    rng = np.random.default_rng(seed)
    descriptors = rng.random((n, S, B), dtype=np.float32)
    descriptors /= descriptors.sum(axis=2, keepdims=True)
    meta = pd.DataFrame(
        {
            "id": [f"m{i:05d}" for i in range(n)],
            "dataset": rng.choice(["mnist", "cifar10", "svhn"], n),
            "lr": 10 ** rng.uniform(-4, -1, n),
            "batch_size": rng.choice([32, 64, 128], n),
            "optimizer": rng.choice(["adam", "rmsprop", "sgd_momentum"], n),
            "activation": rng.choice(["relu", "tanh"], n),
            "initialization": rng.choice(["constant", "glorot_normal"], n),
            "augmentation": rng.choice([True, False], n),
            "test_accuracy": rng.random(n),
        }
    )
    meta["accuracy_norm"] = meta["test_accuracy"] / meta["test_accuracy"].max()
    meta.loc[0, "id"] = EVIL
    meta.loc[3, "optimizer"] = None  # a missing category
    meta.loc[5, "test_accuracy"] = np.nan
    embedding = rng.normal(size=(n, 2)).astype(np.float32)
    return ModelLibrary(descriptors, meta, embedding, value_range=(-1.0, 1.0))


class Recorder:
    """Collects what the widget sends to the front end (comm messages)."""

    def __init__(self, atlas: Atlas) -> None:
        self.messages: list[tuple[dict, list]] = []
        atlas.comm.send = self._send  # the kernel side of the comm

    def _send(self, data: dict, metadata=None, buffers=None) -> None:
        self.messages.append((data, list(buffers or [])))

    def updates(self, key: str) -> list[tuple[dict, list]]:
        return [
            (d, b) for d, b in self.messages if d.get("method") == "update" and key in d["state"]
        ]

    def custom(self) -> list[tuple[dict, list]]:
        return [(d["content"], b) for d, b in self.messages if d.get("method") == "custom"]


def frontend_update(atlas: Atlas, state: dict) -> None:
    """Deliver an ``update`` from the browser the way the comm does: buffers split out."""
    json_state, buffer_paths, buffers = _remove_buffers(state)
    atlas._handle_msg(
        {
            "content": {
                "data": {"method": "update", "state": json_state, "buffer_paths": buffer_paths}
            },
            "buffers": [memoryview(bytes(b)) for b in buffers],
        }
    )


def put_back(state: dict, paths: list, buffers: list) -> dict:
    for path, buf in zip(paths, buffers, strict=True):
        obj = state
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = memoryview(bytes(buf))
    return state


# ----------------------------------------------------------------------------- traits


def test_every_synced_array_travels_as_binary_and_decodes_back(atlas, library):
    state = atlas.get_state()
    json_state, paths, buffers = _remove_buffers(state)
    assert ["coordinates", "buffer"] in paths
    # No JSON list of numbers anywhere: besides the JS bundle itself (_esm, _css), the JSON
    # part is small (labels and scalars).
    data_json = {k: v for k, v in json_state.items() if k not in ("_esm", "_css")}
    assert len(json.dumps(data_json)) < 6000
    decoded = put_back(json.loads(json.dumps(json_state)), paths, buffers)

    coords = array_from_json(decoded["coordinates"])
    assert coords.dtype == np.float32 and coords.shape == (200, 2)
    np.testing.assert_array_equal(coords, library.embedding)

    assert atlas.axes == [
        "dataset",
        "lr",
        "batch_size",
        "optimizer",
        "activation",
        "initialization",
        "accuracy_norm",
    ]
    assert atlas.color == "accuracy_norm"
    assert atlas.tooltip_columns[0] == "id"
    columns = decoded["_columns"]
    assert set(columns) == set(atlas.axes) | {"id"}
    meta = library.metadata
    for name, enc in columns.items():
        values = decode_column(enc)
        if enc["kind"] == "numeric":
            # Integers exactly (int32 here), floats as float32.
            expected_dtype = np.int32 if enc["integer"] else np.float32
            assert array_from_json(enc["values"]).dtype == expected_dtype
            np.testing.assert_allclose(values, meta[name].to_numpy(np.float32), rtol=0)
        elif enc["kind"] == "text":  # tooltip only (the ids): one label per row
            assert values.tolist() == meta[name].astype(str).tolist()
        else:
            assert array_from_json(enc["codes"]).dtype == np.uint8
            expected = meta[name].astype(object).where(meta[name].notna(), "(missing)")
            assert values.tolist() == expected.astype(str).tolist()
    assert columns["lr"]["log"] is True  # 1e-4 .. 1e-1: three decades
    assert columns["batch_size"]["log"] is False  # 32 .. 128: 0.6 decades
    assert columns["optimizer"]["categories"] == ["adam", "rmsprop", "sgd_momentum", "(missing)"]
    assert decoded["S"] == 8 and decoded["B"] == 6 and decoded["value_range"] == [-1.0, 1.0]
    # Descriptors are not part of the state (they are requested per selection).
    assert "descriptors" not in decoded


def test_empty_selection_sends_no_empty_binary_frame(atlas):
    _, paths, buffers = _remove_buffers(atlas.get_state())
    assert all(len(bytes(b)) > 0 for b in buffers)
    assert ["selection", "buffer"] not in paths
    assert atlas.get_state()["selection"] == {"buffer": "", "dtype": "int32", "shape": [0]}


def test_encode_column_dictionary_and_log_rules():
    enc = encode_column(pd.Series(["b", "a", None, "b"]))
    assert enc["categories"] == ["a", "b", "(missing)"]
    assert array_from_json(enc["codes"]).tolist() == [1, 0, 2, 1]
    many = encode_column(pd.Series([f"x{i:04d}" for i in range(300)]))
    assert array_from_json(many["codes"]).dtype == np.uint16
    flags = encode_column(pd.Series([True, False, True]))
    assert flags["kind"] == "categorical" and flags["categories"] == ["False", "True"]
    narrow = encode_column(pd.Series([0.01, 0.3]))  # 1.48 decades: still linear
    assert narrow["log"] is False
    negative = encode_column(pd.Series([-1.0, 100.0]))
    assert negative["log"] is False and negative["min"] == -1.0 and negative["max"] == 100.0


def test_payload_for_13000_models_is_under_one_megabyte_plus_shown_metadata():
    lib = make_library(n=13000, S=32, B=32, seed=1)
    atlas = Atlas(lib)
    json_state, _, buffers = _remove_buffers(atlas.get_state())
    binary = sum(len(bytes(b)) for b in buffers)
    text = len(json.dumps(json_state).encode())
    # The metadata the user chose to show beyond the plotted columns: the tooltip's ids.
    ids = atlas.get_state()["_columns"]["id"]
    assert ids["kind"] == "text"  # tooltip only: one packed label per row, no categories
    shown = len(bytes(ids["labels"]["text"]["buffer"]))
    total = binary + text
    # Everything the kernel sends when the widget is displayed, the JS bundle included.
    print(f"13,000 models: {binary} B binary + {text} B JSON = {total} B (ids: {shown} B)")
    assert total - shown < 1_000_000
    # For scale: the descriptors alone would be 53 MB.
    assert lib.descriptors.nbytes > 50 * total


# -------------------------------------------------------------------------- selection


def test_selection_from_the_front_end_as_int32_buffer(atlas):
    sent = Recorder(atlas)
    seen = []
    atlas.observe(lambda change: seen.append(change["new"]), names="selection")
    frontend_update(
        atlas,
        {
            "selection": {
                "buffer": memoryview(np.array([4, 9, 17], np.int32)),
                "dtype": "int32",
                "shape": [3],
            }
        },
    )
    assert atlas.selection == [4, 9, 17]
    assert seen == [[4, 9, 17]]
    assert list(atlas.selected.index) == [4, 9, 17]
    pd.testing.assert_frame_equal(atlas.selected, atlas.library.metadata.iloc[[4, 9, 17]])
    # The value the browser sent is the value Python holds: nothing is echoed back.
    assert sent.updates("selection") == []


def test_selection_from_the_front_end_as_list_and_unsorted(atlas):
    sent = Recorder(atlas)
    frontend_update(atlas, {"selection": [9, 2, 2, 0]})
    assert atlas.selection == [0, 2, 9]
    # Normalized (sorted, unique) differs from what was sent: the browser gets it back.
    ((update, buffers),) = sent.updates("selection")
    assert update["state"]["selection"]["shape"] == [3]
    assert np.frombuffer(bytes(buffers[0]), np.int32).tolist() == [0, 2, 9]


# ------------------------------------------------------------------------ descriptors


def test_descriptor_request_reply_content_and_buffers(library):
    atlas = Atlas(library, gallery_size=3)
    sent = Recorder(atlas)
    indices = np.array([10, 2, 40, 7, 99], dtype=np.int32)
    atlas._handle_custom_msg({"type": "descriptors", "id": "1-7", "n": 5}, [memoryview(indices)])
    ((content, buffers),) = sent.custom()
    assert content["type"] == "descriptors" and content["id"] == "1-7"
    assert content["n"] == 5 and content["k"] == 3 and content["all"] is False
    # gallery_size of the sorted positions, spread over all of them (not the first ones)
    assert content["indices"] == [2, 10, 99]
    assert content["labels"][0].startswith("m00002\n")
    assert content["S"] == 8 and content["B"] == 6
    rows = np.sort(indices)
    gallery = np.frombuffer(bytes(buffers[0]), np.float32).reshape(3, 8, 6)
    np.testing.assert_array_equal(gallery, library.descriptors[[2, 10, 99]])
    chosen = library.descriptors[rows].astype(np.float64)
    mean = np.frombuffer(bytes(buffers[1]), np.float32).reshape(8, 6)
    std = np.frombuffer(bytes(buffers[2]), np.float32).reshape(8, 6)
    expected_mean = chosen.sum(axis=0) / len(rows)
    expected_std = np.sqrt(((chosen - expected_mean) ** 2).sum(axis=0) / len(rows))
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-6)
    np.testing.assert_allclose(std, expected_std, rtol=1e-5, atol=1e-7)


def test_descriptor_request_for_nothing_describes_the_whole_library(library):
    atlas = Atlas(library, gallery_size=2)
    sent = Recorder(atlas)
    atlas._handle_custom_msg({"type": "descriptors", "id": "a", "n": 0}, [])
    ((content, buffers),) = sent.custom()
    assert content["all"] is True and content["n"] == 200 and content["indices"] == [0, 199]
    assert EVIL in content["labels"][0]  # plain text; the browser renders it as text
    mean = np.frombuffer(bytes(buffers[1]), np.float32).reshape(8, 6)
    np.testing.assert_allclose(mean, library.descriptors.astype(np.float64).mean(0), rtol=1e-6)


def test_bad_descriptor_request_gets_an_error_reply(atlas):
    sent = Recorder(atlas)
    atlas._handle_custom_msg(
        {"type": "descriptors", "id": 5, "n": 1}, [memoryview(np.array([500], np.int32))]
    )
    ((content, buffers),) = sent.custom()
    assert content == {"type": "descriptors", "id": 5, "error": content["error"]}
    assert "0..199" in content["error"] and buffers == []
    atlas._handle_custom_msg({"type": "something else"}, [])
    assert len(sent.custom()) == 1  # unknown messages are ignored


# ------------------------------------------------------------------------ constructor


def test_constructor_errors_name_the_argument(library):
    with pytest.raises(ValueError, match="color: no metadata column 'acc'"):
        Atlas(library, color="acc")
    with pytest.raises(ValueError, match=r"axes: no metadata column\(s\) \['depth'\]"):
        Atlas(library, axes=["lr", "depth"])
    with pytest.raises(TypeError, match="library: expected a ModelLibrary"):
        Atlas(library.metadata)
    unprojected = ModelLibrary(library.descriptors, library.metadata)
    with pytest.raises(ValueError, match="project"):
        Atlas(unprojected)
    custom = Atlas(library, color=None, axes=["optimizer", "lr"], tooltip=["id", "seedless"][:1])
    assert custom.axes == ["optimizer", "lr", "accuracy_norm"] and custom.color == ""
    assert set(custom._columns) == {"optimizer", "lr", "accuracy_norm", "id"}


def test_atlas_names_the_representation_it_is_laid_out_on(atlas, tmp_path):
    # a library projected before the record existed: its MI-WD descriptors
    assert atlas.representation == "miwd"
    rng = np.random.default_rng(4)
    weights = [rng.normal(0, 0.1 + 0.02 * i, size=500).astype(np.float32) for i in range(30)]
    lib = ModelLibrary.from_models(weights, S=4, B=8, progress=False)
    assert Atlas(lib.project(method="pca")).representation == "miwd (4×8)"
    lib.project(method="pca", representation="stats", weights=weights, progress=False)
    shown = Atlas(lib)
    assert shown.representation == "stats (K=16)"
    assert shown.get_state(["representation"]) == {"representation": "stats (K=16)"}
    # new models are placed in the same representation
    assert shown.locate([weights[12]], k=1)["neighbor"].tolist() == [12]
    # the standalone page names it too
    shown.save_html(tmp_path / "atlas.html")
    state = _script_json((tmp_path / "atlas.html").read_text(encoding="utf-8"), "miwd-payload")
    assert state["state"]["representation"] == "stats (K=16)"


# ----------------------------------------------------------------------------- html


def _script_json(page: str, element_id: str):
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def test_save_html_is_standalone_and_escapes_metadata(atlas, library, tmp_path):
    atlas.select([0, 3, 8])
    path = tmp_path / "atlas.html"
    atlas.save_html(path)
    page = path.read_text(encoding="utf-8")
    # The bundle is inlined (exactly), nothing is fetched from elsewhere.
    assert _script_json(page, "miwd-bundle") == BUNDLE_JS.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "cdn" not in page.lower().replace("\\u", "")
    # Metadata is data, never markup: no raw "<img" outside the (escaped) JSON.
    assert "<img" not in page
    payload = _script_json(page, "miwd-payload")
    state = payload["state"]
    columns = state["_columns"]
    assert EVIL in decode_column(columns["id"]).tolist()
    coords = np.frombuffer(base64.b64decode(state["coordinates"]["buffer"]), np.float32)
    np.testing.assert_array_equal(coords.reshape(-1, 2), library.embedding)
    assert np.frombuffer(base64.b64decode(state["selection"]["buffer"]), np.int32).tolist() == [
        0,
        3,
        8,
    ]
    saved = payload["descriptors"]
    assert saved["selection"] == [0, 3, 8] and saved["content"]["indices"] == [0, 3, 8]
    mean = np.frombuffer(base64.b64decode(saved["buffers"][1]), np.float32).reshape(8, 6)
    np.testing.assert_allclose(mean, library.descriptors[[0, 3, 8]].mean(0), rtol=1e-6)


def test_save_html_of_a_chosen_selection_keeps_the_widget_selection(atlas, tmp_path):
    atlas.select([1])
    atlas.save_html(tmp_path / "a.html", selection=[4, 5])
    payload = _script_json((tmp_path / "a.html").read_text(encoding="utf-8"), "miwd-payload")
    assert payload["descriptors"]["selection"] == [4, 5]
    assert atlas.selection == [1]


def test_save_html_without_a_built_front_end_says_how_to_build_it(atlas, tmp_path, monkeypatch):
    monkeypatch.setattr(frontend, "BUNDLE_JS", tmp_path / "missing.js")
    with pytest.raises(FileNotFoundError, match="make js"):
        atlas.save_html(tmp_path / "a.html")


def test_large_selection_from_the_browser_is_decoded_without_per_row_python():
    lib = make_library(n=200_000, S=2, B=2)
    atlas = Atlas(lib)
    rows = np.arange(0, 200_000, 2, dtype=np.int32)
    decoded = selection_from_json(
        {"buffer": memoryview(rows), "dtype": "int32", "shape": [rows.size]}, atlas
    )
    assert isinstance(decoded, np.ndarray) and decoded.dtype == np.int32
    frontend_update(
        atlas, {"selection": {"buffer": memoryview(rows), "dtype": "int32", "shape": [rows.size]}}
    )
    assert atlas.selection[:3] == [0, 2, 4] and len(atlas.selection) == 100_000
    assert atlas.selected.index[-1] == 199_998


def test_tooltip_only_text_columns_are_packed_not_factorized():
    lib = make_library(n=50)
    atlas = Atlas(lib, tooltip=["id", "dataset"], axes=["lr"])
    columns = atlas.get_state()["_columns"]
    assert columns["id"]["kind"] == "text" and columns["dataset"]["kind"] == "text"
    assert decode_column(columns["id"]).tolist() == lib.metadata["id"].tolist()
    # Drawn columns keep their categories (axes, color).
    colored = Atlas(lib, color="dataset", axes=["optimizer"])
    assert colored.get_state()["_columns"]["dataset"]["kind"] == "categorical"


def test_many_categories_travel_packed():
    series = pd.Series([f"c{i:05d}" for i in range(3000)][::-1])
    enc = encode_column(series)
    assert "categories" not in enc and enc["labels"]["count"] == 3000
    assert decode_column(enc).tolist() == series.tolist()
