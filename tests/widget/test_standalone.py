"""The standalone page (widget/standalone.py, ``Atlas.save_html``): payload, quantization, limit.

The page's own computation (js/src/wire/local_descriptors.ts) is tested with vitest and in
Chromium (tests/e2e/test_standalone_browser.py); here the payload is decoded the way the page
decodes it and checked against the library.
"""

from __future__ import annotations

import base64
import json
import re
import zlib

import numpy as np
import pandas as pd
import pytest

from miwd_widget import Atlas, ModelLibrary
from miwd_widget.widget.codec import decode_column, unpack_labels
from miwd_widget.widget.standalone import (
    library_payload,
    quantize_descriptors,
)


def make_library(n: int = 120, S: int = 8, B: int = 6, seed: int = 0) -> ModelLibrary:
    rng = np.random.default_rng(seed)
    descriptors = rng.random((n, S, B), dtype=np.float32) ** 3  # skewed, like histograms
    descriptors /= descriptors.sum(axis=2, keepdims=True)
    meta = pd.DataFrame(
        {
            "id": [f"m{i:04d}" for i in range(n)],
            "dataset": rng.choice(["mnist", "svhn"], n),
            "optimizer": rng.choice(["adam", "sgd"], n),
            "activation": rng.choice(["relu", "tanh"], n),
            "test_accuracy": rng.random(n),
        }
    )
    embedding = rng.normal(size=(n, 2)).astype(np.float32)
    return ModelLibrary(descriptors, meta, embedding, value_range=(-1.0, 1.0))


def dequantize(library: dict) -> np.ndarray:
    """What the page computes from the payload (local_descriptors.ts decodeLibrary)."""
    assert library["compression"] == "deflate" and library["dtype"] == "uint16"
    codes = np.frombuffer(zlib.decompress(base64.b64decode(library["codes"])), "<u2")
    values = library["offset"] + codes.astype(np.float64) * library["step"]
    return values.reshape(library["shape"])


def payload_of(path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.search(
        r'<script type="application/json" id="miwd-payload">(.*?)</script>', text, re.S
    )
    assert match
    return json.loads(match.group(1))


# ----------------------------------------------------------------------------- quantization
def test_quantization_error_is_at_most_half_a_step_for_values_means_and_stds():
    lib = make_library()
    data, offset, step = quantize_descriptors(lib.descriptors, chunk_values=1000)  # many chunks
    codes = np.frombuffer(zlib.decompress(data), "<u2").reshape(lib.descriptors.shape)
    assert codes.min() == 0 and codes.max() == 65535  # the whole code range is used
    assert offset == pytest.approx(float(lib.descriptors.min()))
    assert step == pytest.approx((lib.descriptors.max() - lib.descriptors.min()) / 65535)
    exact = lib.descriptors.astype(np.float64)
    back = offset + codes * step
    bound = step / 2 * (1 + 1e-6)
    assert np.abs(back - exact).max() <= bound
    rng = np.random.default_rng(1)
    for size in (1, 2, 7, 60, 120):
        rows = rng.choice(len(exact), size, replace=False)
        assert np.abs(back[rows].mean(0) - exact[rows].mean(0)).max() <= bound
        assert np.abs(back[rows].std(0) - exact[rows].std(0)).max() <= bound
    # Histograms in [0, 1]: at most 1 / 131070 (7.6e-6).
    assert step / 2 <= 1 / 131070 + 1e-12


def test_quantization_of_a_constant_and_of_an_empty_array():
    data, offset, step = quantize_descriptors(np.full((3, 2, 2), 0.25, np.float32))
    assert (offset, step) == (0.25, 0.0)
    assert np.frombuffer(zlib.decompress(data), "<u2").tolist() == [0] * 12
    data, offset, step = quantize_descriptors(np.zeros((0, 2, 2), np.float32))
    assert zlib.decompress(data) == b"" and step == 0.0


def test_non_finite_descriptors_are_refused_with_a_clear_error():
    bad = np.zeros((2, 2, 2), np.float32)
    bad[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match="descriptors: contain NaN or infinite"):
        quantize_descriptors(bad)
    with pytest.warns(UserWarning, match="NaN or infinite.*only the saved selection"):
        assert library_payload(bad, lambda: ["a", "b"], 1 << 20) is None


def test_library_payload_limit_and_labels():
    descriptors = np.random.default_rng(0).random((10, 4, 4), dtype=np.float32)
    calls = []

    def labels():
        calls.append(1)
        return [f"m{i}" for i in range(10)]

    full = library_payload(descriptors, labels, 10 * 4 * 4 * 2)  # exactly the limit: embedded
    assert full is not None and full["shape"] == [10, 4, 4]
    assert unpack_labels(full["labels"]) == [f"m{i}" for i in range(10)]
    assert full["max_error"] == full["step"] / 2
    with pytest.warns(UserWarning, match=r"0\.0 MiB as uint16, more than max_descriptor_bytes=319"):
        assert library_payload(descriptors, labels, 319) is None
    assert len(calls) == 1  # no captions are made for a library that is not embedded
    with pytest.raises(ValueError, match="labels: 9 for 10"):
        library_payload(descriptors, lambda: ["x"] * 9, 1 << 20)
    with pytest.raises(ValueError, match="max_descriptor_bytes: must be >= 0"):
        library_payload(descriptors, labels, -1)


# ----------------------------------------------------------------------------- save_html
def test_save_html_embeds_every_descriptor_and_the_gallery_captions(tmp_path):
    lib = make_library()
    atlas = Atlas(lib, tooltip=["dataset"])  # no id in the view: the page still gets them
    atlas.select([3, 4, 50])
    path = tmp_path / "atlas.html"
    atlas.save_html(path)
    payload = payload_of(path)
    library = payload["library"]
    values = dequantize(library)
    assert values.shape == lib.descriptors.shape
    assert np.abs(values - lib.descriptors).max() <= library["max_error"] * (1 + 1e-6)
    assert library["max_error"] <= 1 / 131070 + 1e-12
    # One caption per model, the same as the kernel's gallery gives.
    labels = unpack_labels(library["labels"])
    content, _ = atlas.descriptor_reply(list(range(len(lib.descriptors))))
    assert len(labels) == len(lib.descriptors)
    assert [labels[i] for i in content["indices"]] == content["labels"]
    # The saved selection keeps its exact (float32) gallery.
    assert payload["descriptors"]["selection"] == [3, 4, 50]
    assert decode_column(payload["state"]["_columns"]["id"]).tolist() == lib.metadata["id"].tolist()


def test_save_html_beyond_the_limit_embeds_only_the_saved_selection(tmp_path):
    lib = make_library()
    atlas = Atlas(lib)
    atlas.select([1, 2])
    small = tmp_path / "small.html"
    with pytest.warns(UserWarning, match="max_descriptor_bytes=1,000; the page embeds only"):
        atlas.save_html(small, max_descriptor_bytes=1000)
    payload = payload_of(small)
    assert payload["library"] is None
    saved = payload["descriptors"]
    assert saved["selection"] == [1, 2]
    mean = np.frombuffer(base64.b64decode(saved["buffers"][1]), np.float32).reshape(8, 6)
    np.testing.assert_allclose(mean, lib.descriptors[[1, 2]].mean(0), rtol=1e-6)
    big = tmp_path / "big.html"
    atlas.save_html(big)
    # The embedded codes: n * S * B * 2 bytes before deflate, base64 after.
    assert big.stat().st_size > small.stat().st_size + 120 * 8 * 6


def test_located_models_are_in_the_saved_state(tmp_path):
    lib = make_library()
    atlas = Atlas(lib)
    table = pd.DataFrame(
        {
            "query": [0, 0, 1, 1],
            "query_name": ["a.pt", "a.pt", "b.npz", "b.npz"],
            "x": [0.5, 0.5, -1.0, -1.0],
            "y": [0.0, 0.0, 2.0, 2.0],
            "rank": [1, 2, 1, 2],
            "neighbor": [7, 9, 11, 3],
        }
    )
    atlas.show_located(table)
    atlas.save_html(tmp_path / "a.html")
    located = payload_of(tmp_path / "a.html")["state"]["_located"]
    assert located["names"] == ["a.pt", "b.npz"]
    neighbors = np.frombuffer(base64.b64decode(located["neighbors"]["buffer"]), np.int32)
    assert neighbors.reshape(2, 2).tolist() == [[7, 9], [11, 3]]
    x = np.frombuffer(base64.b64decode(located["x"]["buffer"]), np.float32)
    assert x.tolist() == [0.5, -1.0]


def test_demo_page_shows_the_placed_models_with_their_neighbours(tmp_path, monkeypatch, capsys):
    import miwd_widget.library as library_package
    from miwd_widget.cli import DEMO_NEIGHBORS, main

    rng = np.random.default_rng(0)
    models = [rng.normal(0, 0.05 * (1 + i), 2048) for i in range(8)]
    small = ModelLibrary.from_models(models, names=[f"m{i}" for i in range(8)]).project(
        method="pca"
    )
    monkeypatch.setattr(library_package, "load_demo_library", lambda: small)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "-o", "demo.html"]) == 0
    out = capsys.readouterr().out
    located = payload_of(tmp_path / "demo.html")["state"]["_located"]
    files = re.findall(r"^   (\S+): N=", out, re.M)  # the models the demo described
    assert located["names"] == files and len(files) >= 3
    neighbors = np.frombuffer(base64.b64decode(located["neighbors"]["buffer"]), np.int32)
    neighbors = neighbors.reshape(len(files), DEMO_NEIGHBORS)
    assert ((neighbors >= 0) & (neighbors < 8)).all()
    assert all(len(set(row)) == DEMO_NEIGHBORS for row in neighbors.tolist())
    assert f"wrote the standalone atlas {tmp_path / 'demo.html'}" in out


def test_clusters_and_the_columns_the_page_holds_are_in_the_saved_state(tmp_path):
    from miwd_widget.widget.clusters import CLUSTER_COLUMN, clusters_from_json

    lib = make_library()
    atlas = Atlas(
        lib,
        axes=["optimizer"],
        tooltip=["id"],
        clusters={"A": [1, 2], "B": [7]},
        color=CLUSTER_COLUMN,
    )
    atlas.save_html(tmp_path / "a.html")
    state = payload_of(tmp_path / "a.html")["state"]
    clusters = clusters_from_json(state["clusters"])
    assert {k: v.tolist() for k, v in clusters.items()} == {"A": [1, 2], "B": [7]}
    assert state["color"] == CLUSTER_COLUMN  # the page builds the column from the clusters
    # no kernel to send more: the menus offer only the columns in the page
    assert set(state["_all_columns"]) <= set(state["_columns"])
    assert "optimizer" in state["_all_columns"] and "dataset" not in state["_all_columns"]
