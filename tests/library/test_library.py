"""ModelLibrary: building from files/models/NWS, errors, parallel builds, save/load, summaries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

import miwd_widget.library.build as build_module
from miwd_widget import ModelLibrary, describe
from miwd_widget.library import expand_paths

S, B = 4, 8


def _model(seed: int, scale: float = 0.1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "l00.weight": rng.normal(0, scale, (12, 10)).astype(np.float32),
        "l01.bias": rng.normal(0, scale, 12).astype(np.float32),
    }


def _theta(model: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([model[k].reshape(-1).astype(np.float64) for k in sorted(model)])


@pytest.fixture
def model_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Four good models (.safetensors and .npy) and three bad files in one directory."""
    d = tmp_path / "models"
    d.mkdir()
    thetas = {}
    for i in range(2):
        m = _model(i, scale=0.1 * (i + 1))
        save_file(m, str(d / f"st{i}.safetensors"))
        thetas[f"st{i}"] = _theta(m)
    for i in range(2, 4):
        theta = _theta(_model(i))
        np.save(d / f"np{i}.npy", theta)
        thetas[f"np{i}"] = theta
    (d / "corrupt.safetensors").write_bytes(b"\x13\x00\x00\x00\x00\x00\x00\x00not json at all")
    (d / "empty.npy").write_bytes(b"")
    np.save(d / "labels.npy", np.arange(50, dtype=np.int64))  # not weights
    (d / "README.txt").write_text("not a model, ignored when a directory is expanded")
    return d, thetas


def test_expand_paths_directories_globs_and_bad_paths(model_dir, tmp_path):
    d, _ = model_dir
    names = [p.name for p in expand_paths(d)]
    assert "README.txt" not in names and len(names) == 7
    assert [p.name for p in expand_paths(str(d / "np*.npy"))] == ["np2.npy", "np3.npy"]
    # duplicates dropped, order kept
    assert [p.name for p in expand_paths([d / "np3.npy", str(d / "np*.npy")])] == [
        "np3.npy",
        "np2.npy",
    ]
    with pytest.raises(FileNotFoundError, match="nope"):
        expand_paths(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_paths(str(tmp_path / "*.onnx"))


def test_from_files_records_bad_files_and_builds_the_rest(model_dir):
    d, thetas = model_dir
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert sorted(lib.metadata["id"]) == sorted(thetas)
    assert len(lib.errors) == 3
    failed = {Path(s).name for s in lib.errors["source"]}
    assert failed == {"corrupt.safetensors", "empty.npy", "labels.npy"}
    assert all(isinstance(e, str) and e for e in lib.errors["error"])
    # value_range="auto": pooled 5th/95th percentiles of every good model's weights
    pooled = np.concatenate(list(thetas.values()))
    assert lib.value_range == tuple(float(v) for v in np.percentile(pooled, [5, 95]))
    for i, row in lib.metadata.iterrows():
        expected = describe(thetas[row["id"]], S=S, B=B, value_range=lib.value_range)
        np.testing.assert_array_equal(lib.descriptors[i], expected)
        assert row["n_params"] == thetas[row["id"]].size == 12 * 10 + 12
        assert Path(row["source"]).is_absolute() and Path(row["source"]).is_file()
    assert lib.descriptors.dtype == np.float32 and lib.descriptors.shape == (4, S, B)


def test_fixed_range_and_joblib_processes_give_the_same_library(model_dir):
    d, _ = model_dir
    serial = ModelLibrary.from_files(d, S=S, B=B, value_range=(-0.3, 0.3), n_jobs=1)
    parallel = ModelLibrary.from_files(d, S=S, B=B, value_range=(-0.3, 0.3), n_jobs=2, batch_size=2)
    assert serial.value_range == (-0.3, 0.3)
    np.testing.assert_array_equal(serial.descriptors, parallel.descriptors)
    pd.testing.assert_frame_equal(serial.metadata, parallel.metadata)
    pd.testing.assert_frame_equal(serial.errors, parallel.errors)


def test_dask_local_cluster_build_equals_joblib_build(model_dir):
    from distributed import Client, LocalCluster

    d, _ = model_dir
    reference = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        with Client(cluster) as client:
            lib = ModelLibrary.from_files(d, S=S, B=B, client=client, batch_size=2)
    assert lib.value_range == reference.value_range
    np.testing.assert_array_equal(lib.descriptors, reference.descriptors)
    pd.testing.assert_frame_equal(lib.metadata, reference.metadata)
    pd.testing.assert_frame_equal(lib.errors, reference.errors)


def test_a_crashed_task_loses_only_its_batch(model_dir, monkeypatch):
    d, _ = model_dir
    real = build_module.describe_batch

    def flaky(specs, **kwargs):
        if any("np3" in str(s) for s in specs):
            raise MemoryError("worker ran out of memory")
        return real(specs, **kwargs)

    monkeypatch.setattr(build_module, "describe_batch", flaky)
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1, batch_size=1)
    assert sorted(lib.metadata["id"]) == ["np2", "st0", "st1"]
    row = lib.errors[lib.errors["source"].str.endswith("np3.npy")]
    assert row["error"].iloc[0] == "worker task failed: MemoryError: worker ran out of memory"


def test_metadata_join_on_path_and_id_and_accuracy_norm(model_dir):
    d, _ = model_dir
    # relative paths are relative to the table file's folder
    table = pd.DataFrame(
        {
            "path": ["models/st0.safetensors", "models/st1.safetensors", "models/np2.npy"],
            "id": ["a", "b", "c"],
            "dataset": ["x", "x", "y"],
            "test_accuracy": [0.2, 0.6, 0.9],
        }
    )
    csv = d.parent / "meta.csv"
    table.to_csv(csv, index=False)
    good = [d / "st0.safetensors", d / "st1.safetensors", d / "np2.npy", d / "np3.npy"]
    lib = ModelLibrary.from_files(good, metadata=csv, S=S, B=B, n_jobs=1)
    meta = lib.metadata.set_index("id")
    assert meta.loc["a", "dataset"] == "x" and meta.loc["c", "test_accuracy"] == 0.9
    # files without a row keep their stem as id and NaN metadata
    assert np.isnan(meta.loc["np3", "test_accuracy"])
    # (p - min_d) / (max_d - min_d) per dataset; a dataset of one model gets 0.5
    assert meta.loc["a", "accuracy_norm"] == 0.0
    assert meta.loc["b", "accuracy_norm"] == 1.0
    assert meta.loc["c", "accuracy_norm"] == 0.5
    assert np.isnan(meta.loc["np3", "accuracy_norm"])

    by_id = pd.DataFrame({"id": ["np2", "np3"], "dataset": ["d", "d"], "test_accuracy": [0.5, 0.7]})
    lib2 = ModelLibrary.from_files(d / "np*.npy", metadata=by_id, on="id", S=S, B=B, n_jobs=1)
    assert lib2.metadata["accuracy_norm"].tolist() == [0.0, 1.0]


def test_accuracy_norm_hand_computed():
    meta = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b", "b"],
            "test_accuracy": [0.5, 0.7, 0.9, 0.3, 0.3],
        }
    )
    norm = build_module.accuracy_norm(meta)
    np.testing.assert_allclose(norm, [0.0, 0.5, 1.0, 0.5, 0.5])


def test_from_models_dict_list_and_torch():
    import torch

    models = {f"m{i}": _model(i) for i in range(3)}
    lib = ModelLibrary.from_models(models, S=S, B=B)
    assert lib.metadata["id"].tolist() == ["m0", "m1", "m2"]
    assert "source" not in lib.metadata
    expected = describe([_theta(m) for m in models.values()], S=S, B=B, value_range="auto")
    assert lib.value_range == expected.value_range
    np.testing.assert_array_equal(lib.descriptors, expected)

    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 2))
    lib2 = ModelLibrary.from_models(
        [net, _model(0)],
        names=["net", "dict"],
        metadata=pd.DataFrame({"kind": ["t", "d"]}),
        S=S,
        B=B,
    )
    assert lib2.metadata["kind"].tolist() == ["t", "d"]
    assert lib2.metadata["n_params"].tolist() == [6 * 5 + 5 + 5 * 2 + 2, 132]


def _write_nws(root: Path) -> tuple[Path, dict[str, np.ndarray], np.ndarray]:
    """Three NWS nets (20 float64 snapshots + error.bin) and a CSV with integer codes."""
    rng = np.random.default_rng(7)
    rows, finals = [], {}
    errors = None
    for i, (opt, act, init) in enumerate([(0, 0, 2), (1, 3, 0), (2, 2, 1)]):
        folder = root / "nets" / f"net{i}"
        (folder / "weights").mkdir(parents=True)
        for k in range(1, 21):
            theta = rng.normal(0, 0.05 * k, 300).astype("<f8")
            theta.tofile(folder / "weights" / f"{k:03d}.bin")
        finals[f"net{i}"] = theta
        exports = 7 + i
        err = np.zeros((exports, 5))
        err[:, 0] = np.arange(exports) * 100  # step
        err[:, 1] = np.linspace(80, 5 + i, exports)  # train error %
        err[:, 3] = np.linspace(85, 10 + 5 * i, exports)  # test error %
        err.astype("<f8").tofile(folder / "error.bin")
        if i == 0:
            errors = err
        rows.append(
            {
                "dataset": "mnist",
                "lrate": 0.001 * (i + 1),
                "optimizer": opt,
                "activation": act,
                "initialization": init,
                "path": f"nets/net{i}",
                "weightn_conv": 200,
                "weightn_fc": 100,
            }
        )
    # a net whose snapshot holds fewer weights than the CSV says, and one without error.bin
    bad = root / "nets" / "short"
    (bad / "weights").mkdir(parents=True)
    np.zeros(10).tofile(bad / "weights" / "020.bin")
    errors.astype("<f8").tofile(bad / "error.bin")
    rows.append({**rows[0], "path": "nets/short"})
    noerr = root / "nets" / "noerr"
    (noerr / "weights").mkdir(parents=True)
    np.zeros(300).tofile(noerr / "weights" / "020.bin")
    rows.append({**rows[0], "path": "nets/noerr"})
    csv = root / "nws_test.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv, finals, errors


def test_from_nws_layout(tmp_path):
    csv, finals, err0 = _write_nws(tmp_path)
    lib = ModelLibrary.from_nws(csv, S=S, B=B, n_jobs=1)
    meta = lib.metadata
    assert meta["id"].tolist() == ["net0", "net1", "net2"]
    assert meta["optimizer"].tolist() == ["adam", "rmsprop", "sgd_momentum"]
    assert meta["activation"].tolist() == ["relu", "tanh", "sigmoid"]
    assert meta["initialization"].tolist() == ["glorot_uniform", "constant", "random_normal"]
    assert "lr" in meta and "lrate" not in meta
    # snapshot 20 of net0 (7 exports): row round(linspace(0, 6, 20))[19] = 6
    assert meta.loc[0, "test_accuracy"] == pytest.approx(1 - err0[6, 3] / 100)
    assert meta.loc[0, "test_accuracy"] == pytest.approx(0.90)
    # net2 has 9 exports: last row, test error 20%
    assert meta.loc[2, "test_accuracy"] == pytest.approx(0.80)
    pooled = np.concatenate(list(finals.values()))
    assert lib.value_range == tuple(float(v) for v in np.percentile(pooled, [5, 95]))
    np.testing.assert_array_equal(
        lib.descriptors[1], describe(finals["net1"], S=S, B=B, value_range=lib.value_range)
    )
    assert meta["source"].iloc[0].endswith(os.path.join("net0", "weights", "020.bin"))
    errs = dict(
        zip(lib.errors["source"].map(lambda s: Path(s).parts[-3]), lib.errors["error"], strict=True)
    )
    assert "10 float64 values, the CSV says 300" in errs["short"]
    assert "error.bin not found" in errs["noerr"]

    # snapshot 10 of net0: row round(6 * 9 / 19) = round(2.84) = 3
    lib10 = ModelLibrary.from_nws(csv, snapshot=10, S=S, B=B, n_jobs=1)
    assert lib10.metadata.loc[0, "test_accuracy"] == pytest.approx(1 - err0[3, 3] / 100)
    assert (lib10.metadata["snapshot"] == 10).all()


def _rich_library() -> ModelLibrary:
    rng = np.random.default_rng(3)
    n = 6
    meta = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(n)],
            "optimizer": pd.Categorical(["adam", "sgd", "adam", "rms", "sgd", "adam"]),
            "augmentation": [True, False, True, True, False, False],
            "lr": [1e-3, np.nan, 2e-3, 3e-3, 4e-3, 5e-3],
            "depth": np.array([3, 4, 5, 3, 4, 5], dtype=np.int64),
            "dataset": ["a", "b", "a", "b", None, "a"],
        }
    )
    lib = ModelLibrary(
        rng.random((n, S, B)).astype(np.float32),
        meta,
        embedding=rng.normal(size=(n, 2)).astype(np.float32),
        value_range=(-0.123456789, 0.3),
        errors=build_module.errors_frame([("/x/bad.npy", "bad.npy: broken")]),
        attrs={"zoo": {"seed": 3, "n": 6}, "projection": {"method": "umap"}},
    )
    return lib


def test_save_load_exact_round_trip(tmp_path):
    lib = _rich_library()
    path = lib.save(tmp_path / "lib.parquet")
    assert [p.name for p in tmp_path.iterdir()] == ["lib.parquet"]  # no temp file left
    back = ModelLibrary.load(path)
    assert np.array_equal(back.descriptors, lib.descriptors)
    assert back.descriptors.dtype == np.float32 and back.descriptors.shape == (6, S, B)
    assert np.array_equal(back.embedding, lib.embedding) and back.embedding.dtype == np.float32
    pd.testing.assert_frame_equal(back.metadata, lib.metadata)
    assert isinstance(back.metadata["optimizer"].dtype, pd.CategoricalDtype)
    assert back.metadata["augmentation"].dtype == bool
    assert np.isnan(back.metadata.loc[1, "lr"])
    assert back.value_range == lib.value_range
    pd.testing.assert_frame_equal(back.errors, lib.errors)
    assert back.attrs == lib.attrs
    # an unprojected library has no embedding columns
    lib.embedding = None
    assert ModelLibrary.load(lib.save(tmp_path / "flat.parquet")).embedding is None


def test_save_is_atomic(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    path = tmp_path / "lib.parquet"
    original = _rich_library()
    original.save(path)
    before = path.read_bytes()
    real_write = pq.write_table

    def crash(table, where, **kwargs):
        real_write(table.slice(0, 2), where, **kwargs)  # part of the data reaches the disk
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    changed = _rich_library()
    changed.descriptors[:] = 0
    with pytest.raises(OSError, match="disk full"):
        changed.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["lib.parquet"]
    np.testing.assert_array_equal(ModelLibrary.load(path).descriptors, original.descriptors)


def test_load_rejects_non_library_files(tmp_path):
    other = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(other)
    with pytest.raises(ValueError, match="not a miwd library"):
        ModelLibrary.load(other)
    junk = tmp_path / "junk.parquet"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="junk.parquet: not a readable Parquet file"):
        ModelLibrary.load(junk)
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        ModelLibrary.load(tmp_path / "missing.parquet")


def test_add_computes_only_new_models(model_dir, tmp_path, monkeypatch):
    d, thetas = model_dir
    first = ModelLibrary.from_files([d / "st0.safetensors", d / "np2.npy"], S=S, B=B, n_jobs=1)
    first.save(tmp_path / "lib.parquet")
    lib = ModelLibrary.load(tmp_path / "lib.parquet")
    described: list[str] = []
    real = build_module.describe_batch

    def spy(specs, **kwargs):
        described.extend(Path(s).name if isinstance(s, str) else "<in memory>" for s in specs)
        return real(specs, **kwargs)

    monkeypatch.setattr(build_module, "describe_batch", spy)
    lib.add(sorted(d.glob("*.safetensors")) + sorted(d.glob("np*.npy")), n_jobs=1)
    assert sorted(described) == ["corrupt.safetensors", "np3.npy", "st1.safetensors"]
    assert lib.metadata["id"].tolist() == ["st0", "np2", "st1", "np3"]
    assert lib.value_range == first.value_range  # the library's range is reused
    np.testing.assert_array_equal(lib.descriptors[:2], first.descriptors)
    np.testing.assert_array_equal(
        lib.descriptors[3], describe(thetas["np3"], S=S, B=B, value_range=first.value_range)
    )
    assert Path(lib.errors["source"].iloc[-1]).name == "corrupt.safetensors"
    described.clear()
    lib.add(d / "np3.npy")  # already there: nothing to do
    assert described == [] and len(lib) == 4
    # in-memory models are skipped by name
    lib.add([thetas["np3"], thetas["st1"]], names=["np3", "extra"])
    assert described == ["<in memory>"]
    assert lib.metadata["id"].tolist()[-1] == "extra" and len(lib) == 5


def test_summarize_hand_computed():
    lib = _rich_library()
    summary = lib.summarize([0, 2, 2, 5])  # duplicates ignored
    assert summary.n == 3
    sel = lib.descriptors[[0, 2, 5]].astype(np.float64)
    np.testing.assert_allclose(summary.mean.to_numpy(), sel.mean(0))
    np.testing.assert_allclose(summary.std.to_numpy(), sel.std(0))
    assert summary.mean.shape == (S, B) and summary.mean.index.name == "window"
    char = summary.characteristic
    assert list(char.columns) == ["column", "value", "share_selection", "share_library", "lift"]
    top = char.iloc[0]
    # optimizer adam: 3/3 selected vs 3/6 in the library -> lift 2; dataset a: 3/3 vs 3/6
    got = {
        (r.column, r.value): (r.share_selection, r.share_library, r.lift) for r in char.itertuples()
    }
    assert got[("optimizer", "adam")] == (1.0, 0.5, 2.0)
    assert got[("dataset", "a")] == (1.0, 0.5, 2.0)
    assert got[("depth", 5)] == pytest.approx((2 / 3, 1 / 3, 2.0))
    assert got[("augmentation", True)] == pytest.approx((2 / 3, 0.5, 4 / 3))
    assert ("optimizer", "sgd") not in got  # not over-represented
    assert top["lift"] == char["lift"].max()
    assert char["lift"].is_monotonic_decreasing


def test_summarize_validates_indices():
    lib = _rich_library()
    with pytest.raises(IndexError, match=r"library of 6 models.*\[6, 9\]"):
        lib.summarize([1, 6, 9])
    with pytest.raises(IndexError, match=r"\[-1\]"):
        lib.summarize([-1])
    with pytest.raises(IndexError, match="boolean selection needs 6"):
        lib.summarize([True, False])
    mask = np.zeros(6, bool)
    mask[[1, 4]] = True
    assert lib.summarize(mask).n == 2
    empty = lib.summarize([])
    assert empty.n == 0 and empty.characteristic.empty and empty.mean.isna().all().all()


def test_locate_on_a_library_without_projection_or_with_pca(model_dir):
    d, thetas = model_dir
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    with pytest.raises(RuntimeError, match="project"):
        lib.locate(d / "np2.npy")
    lib.project(method="pca")
    out = lib.locate([d / "np2.npy", thetas["st1"]], k=2)
    assert list(out.columns) == [
        "query",
        "query_name",
        "x",
        "y",
        "rank",
        "neighbor",
        "id",
        "distance",
    ]
    assert out["query"].tolist() == [0, 0, 1, 1] and out["rank"].tolist() == [1, 2, 1, 2]
    first = out[out["rank"] == 1]
    assert first["id"].tolist() == ["np2", "st1"] and first["distance"].tolist() == [0.0, 0.0]
    # PCA transform of a library model is exactly its atlas position
    row = lib.metadata.index[lib.metadata["id"] == "np2"][0]
    np.testing.assert_allclose(first[["x", "y"]].iloc[0], lib.embedding[row], atol=1e-5)


def test_from_zoo_layout_with_a_missing_file(tmp_path):
    import json

    zoo = tmp_path / "zoo"
    (zoo / "models").mkdir(parents=True)
    rows = []
    for i, (dataset, acc) in enumerate(
        [("digits", 0.9), ("digits", 0.5), ("shapes", 0.4), ("shapes", 0.8)]
    ):
        model_id = f"m{i:05d}"
        if i != 3:  # m00003 is listed but its file is missing
            save_file(_model(i), str(zoo / "models" / f"{model_id}.safetensors"))
        rows.append(
            {
                "id": model_id,
                "path": f"models/{model_id}.safetensors",
                "dataset": dataset,
                "optimizer": "adam",
                "augmentation": bool(i % 2),
                "test_accuracy": acc,
                "n_params": 132,
            }
        )
    pd.DataFrame(rows).to_csv(zoo / "metadata.csv", index=False)
    (zoo / "zoo.json").write_text(json.dumps({"settings": {"n": 4, "seed": 0}}))
    lib = ModelLibrary.from_zoo(zoo, S=S, B=B, n_jobs=1)
    assert lib.metadata["id"].tolist() == ["m00000", "m00001", "m00002"]
    assert lib.attrs["zoo"] == {"settings": {"n": 4, "seed": 0}}
    assert lib.metadata["augmentation"].dtype == bool
    # per dataset: digits (0.9, 0.5) -> (1, 0); shapes has one model left -> 0.5
    assert lib.metadata["accuracy_norm"].tolist() == [1.0, 0.0, 0.5]
    assert lib.errors["source"].tolist() == [str(zoo / "models" / "m00003.safetensors")]
    assert "missing" in lib.errors["error"].iloc[0]
    with pytest.raises(FileNotFoundError, match="not a zoo"):
        ModelLibrary.from_zoo(tmp_path)


def test_demo_library_ships_projected_without_weights():
    from miwd_widget import load_demo_library

    lib = load_demo_library()
    n = len(lib)
    assert n >= 3 and lib.embedding.shape == (n, 2) and np.isfinite(lib.embedding).all()
    assert lib.descriptors.shape == (n, 32, 32) and lib.descriptors.dtype == np.float32
    row_sums = lib.descriptors.sum(axis=2)
    assert np.all((np.abs(row_sums - 1) < 1e-4) | (row_sums == 0))
    assert "source" not in lib.metadata  # weights are not shipped
    assert lib.metadata["path"].str.startswith("models/").all()
    assert lib.metadata["id"].is_unique
    assert lib.attrs["zoo"] and lib.attrs["demo"]["weights_shipped"] is False
    assert lib.attrs["projection"]["method"] == "umap"
    acc = lib.metadata["accuracy_norm"]
    assert acc.between(0, 1).all()
    # placing a library model without weights or a refit: it lands on itself
    _, first, counts = np.unique(
        lib.descriptors.reshape(n, -1), axis=0, return_index=True, return_counts=True
    )
    i = int(first[counts == 1][len(first[counts == 1]) // 2])  # a model with a unique descriptor
    out = lib.locate_descriptors(lib.descriptors[[i]], k=2)
    assert out.loc[0, "neighbor"] == i and out.loc[0, "distance"] == 0.0
    assert out.loc[0, ["x", "y"]].tolist() == pytest.approx(lib.embedding[i].tolist())
