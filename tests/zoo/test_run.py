"""A zoo on disk: files, snapshots read back as models, resume, failures, retraining."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from miwd_widget import ModelLibrary
from miwd_widget.columns import TRAIN_GROUP
from miwd_widget.zoo import (
    METADATA_COLUMNS,
    SNAPSHOT_COLUMNS,
    build_model_shapes,
    retrain_model,
    train_zoo,
)
from miwd_widget.zoo import run as zoo_run

TINY = dict(n_jobs=1, max_epochs=2, min_epochs=2, max_train=48, progress=False)
CONTRACT_COLUMNS = [
    "id", "path", "dataset", "lr", "batch_size", "augmentation", "optimizer", "activation",
    "initialization", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc",
    "test_accuracy", "train_accuracy", "epochs", "n_params", "seed", TRAIN_GROUP,
]  # fmt: skip


def test_tiny_zoo_files_metadata_and_snapshots(tmp_path):
    meta = train_zoo(4, tmp_path, group_size=2, **TINY)
    assert list(meta.columns) == METADATA_COLUMNS
    assert set(CONTRACT_COLUMNS) <= set(meta.columns)
    assert list(meta["id"]) == ["m00000", "m00001", "m00002", "m00003"]
    assert meta["test_accuracy"].between(0, 1).all() and meta["train_accuracy"].between(0, 1).all()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "metadata.csv", dtype={"id": str}), meta)
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert info["status"] == "complete" and info["n_models"] == 4
    assert info["training"]["input_shape"] == [3, 16, 16]
    for row in meta.itertuples():
        path = tmp_path / row.path
        with safe_open(str(path), framework="np") as f:
            order = json.loads(f.metadata()["order"])
        weights = load_file(str(path))
        shapes = build_model_shapes(row._asdict())
        assert order == [n for n, _ in shapes] == sorted(weights)
        assert [weights[n].shape for n in order] == [s for _, s in shapes]
        assert sum(w.size for w in weights.values()) == row.n_params
    snaps = pd.read_csv(tmp_path / "snapshots.csv", dtype={"id": str, "model": str})
    assert list(snaps.columns) == SNAPSHOT_COLUMNS
    assert (snaps.groupby("model")["epoch"].apply(list) == pd.Series([[0, 1, 2]] * 4,
            index=meta["id"].rename("model"))).all()  # fmt: skip
    best = snaps[snaps["best"]].set_index("model")
    assert (best["epoch"] == meta.set_index("id")["best_epoch"]).all()
    for row in meta.itertuples():  # the kept model is its best snapshot
        kept = load_file(str(tmp_path / row.path))
        snap = load_file(str(tmp_path / best.loc[row.id, "path"]))
        for k in kept:
            np.testing.assert_array_equal(kept[k], snap[k])


def test_snapshots_read_back_as_models_with_their_epochs(tmp_path):
    train_zoo(3, tmp_path, **TINY)
    lib = ModelLibrary.from_zoo(tmp_path, snapshots=True, S=4, B=8, n_jobs=1)
    assert len(lib) == 9 and lib.errors.empty
    md = lib.metadata
    assert md.groupby("model")["epoch"].apply(list).tolist() == [[0, 1, 2]] * 3
    assert {"dataset", "optimizer", TRAIN_GROUP}.issubset(md.columns)
    first, last = (load_file(str(tmp_path / p)) for p in md["path"].iloc[[0, 2]])
    assert md["path"].iloc[2] == "snapshots/m00000/e002.safetensors"
    assert any(not np.array_equal(first[k], last[k]) for k in first)  # training moved them


def test_default_two_workers_match_one_process(tmp_path):
    one = train_zoo(4, tmp_path / "one", **TINY)
    two = train_zoo(4, tmp_path / "two", **{**TINY, "n_jobs": 2})  # the default n_jobs
    pd.testing.assert_frame_equal(one, two)
    for p in one["path"]:
        a, b = load_file(str(tmp_path / "one" / p)), load_file(str(tmp_path / "two" / p))
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_resume_skips_finished_groups_and_retrains_cut_ones(tmp_path):
    train_zoo(4, tmp_path, group_size=1, **TINY)
    meta_path = tmp_path / "metadata.csv"
    full = pd.read_csv(meta_path, dtype={"id": str})
    kept = tmp_path / "models" / "m00000.safetensors"
    kept_bytes, kept_mtime = kept.read_bytes(), kept.stat().st_mtime_ns
    # an interrupted run: a snapshot file lost, and a torn csv line
    (tmp_path / "snapshots" / "m00003" / "e001.safetensors").unlink()
    text = meta_path.read_text().splitlines()
    meta_path.write_text("\n".join(text[:3] + [text[3][:15]]) + "\n")
    meta = train_zoo(4, tmp_path, group_size=1, **TINY)
    assert kept.stat().st_mtime_ns == kept_mtime and kept.read_bytes() == kept_bytes
    assert (tmp_path / "snapshots" / "m00003" / "e001.safetensors").exists()
    pd.testing.assert_frame_equal(meta, full)
    snaps = pd.read_csv(tmp_path / "snapshots.csv")
    assert len(snaps) == 12 and snaps["id"].is_unique
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert [r["trained"] for r in info["runs"]] == [4, 2]
    with pytest.raises(ValueError, match="other settings"):
        train_zoo(4, tmp_path, group_size=1, **{**TINY, "max_epochs": 3})


def test_a_failed_group_is_recorded_and_the_zoo_goes_on(tmp_path, monkeypatch):
    real = zoo_run.train_group

    def flaky(rows, settings, snapshots=True):
        if rows[0][TRAIN_GROUP] == 0:
            raise RuntimeError("boom")
        return real(rows, settings, snapshots)

    monkeypatch.setattr(zoo_run, "train_group", flaky)
    meta = train_zoo(3, tmp_path, group_size=1, **TINY)
    assert list(meta["id"]) == ["m00001", "m00002"]
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert info["status"] == "incomplete"
    assert info["failures"] == [{TRAIN_GROUP: 0, "error": "RuntimeError: boom"}]


def test_retrain_reproduces_a_model_bit_for_bit(tmp_path):
    meta = train_zoo(6, tmp_path, **TINY)
    model = meta.loc[meta.groupby(TRAIN_GROUP)["id"].transform("size").idxmax(), "id"]
    saved = load_file(str(tmp_path / f"models/{model}.safetensors"))
    again = retrain_model(tmp_path, model)
    assert list(again) == list(saved)
    for k in saved:
        np.testing.assert_array_equal(again[k], saved[k])
    with pytest.raises(ValueError, match="no model 'm09999'"):
        retrain_model(tmp_path, "m09999")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_jobs"):
        train_zoo(2, tmp_path, n_jobs=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        train_zoo(2, tmp_path / "file", **TINY)
