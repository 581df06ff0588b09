"""The Small CNN Zoo reader, on small replicas of its published layout built here."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miwd_widget import describe
from miwd_widget.columns import EPOCH, MODEL
from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library import ModelLibrary
from miwd_widget.library.cnn_zoo import (
    CNN_ZOO_EPOCHS,
    cnn_zoo_chunks,
    cnn_zoo_datasets,
    cnn_zoo_value_range,
    read_layout,
)
from miwd_widget.weights.file_array import FileArray

S, B = 8, 8
# The published CNN: three 3x3 conv layers of 16 units on 1 channel, a 10-way dense layer.
LAYERS = [
    ("sequential/conv2d", 3 * 3 * 1 * 16, 16),
    ("sequential/conv2d_1", 3 * 3 * 16 * 16, 16),
    ("sequential/conv2d_2", 3 * 3 * 16 * 16, 16),
    ("sequential/dense", 16 * 10, 10),
]
N = sum(k + b for _, k, b in LAYERS)


def _theta_of(rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    """One checkpoint's tensors, kernel then bias per layer (theta order)."""
    out = {}
    for name, k, b in LAYERS:
        out[f"{name}/kernel:0"] = rng.normal(0, scale, k).astype(np.float32)
        out[f"{name}/bias:0"] = rng.normal(0.1, scale / 4, b).astype(np.float32)
    return out


def _stored_row(tensors: dict[str, np.ndarray]) -> np.ndarray:
    """The matrix row as published: each layer's bias before its kernel."""
    parts = []
    for name, _, _ in LAYERS:
        parts += [tensors[f"{name}/bias:0"], tensors[f"{name}/kernel:0"]]
    return np.concatenate(parts)


def write_dataset(
    folder: Path, name: str, runs: int, seed: int, layout: str = "columns"
) -> list[dict[str, np.ndarray]]:
    """A dataset folder of the Small CNN Zoo: weights.npy, metrics.csv.gz, layout.csv."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    rows, meta = [], []
    fractions = [0.1, 0.25, 0.5, 1.0]
    for r in range(runs):
        fraction = fractions[r % 4]
        steps_per_epoch = int(60000 * fraction) // 512
        lr = 10.0 ** -(1 + r % 3)
        for epoch in CNN_ZOO_EPOCHS:
            tensors = _theta_of(rng, 0.05 + 0.01 * epoch / 86 + 0.02 * r)
            rows.append(tensors)
            meta.append(
                {
                    "config.activation": ["relu", "tanh"][r % 2],
                    "config.b_init": "zeros",
                    "config.dataset": name,
                    "config.dnn_architecture": "cnn",
                    "config.dropout": 0.0,
                    "config.epochs": 86,
                    "config.epochs_between_checkpoints": 20,
                    "config.init_std": 0.05,
                    "config.l2reg": 0.001,
                    "config.learning_rate": lr,
                    "config.num_layers": 3,
                    "config.num_units": 16,
                    "config.optimizer": ["adam", "sgd", "rmsprop"][r % 3],
                    "config.random_seed": 42,
                    "config.train_fraction": fraction,
                    "config.w_init": "he_normal",
                    "modeldir": f"/cns/zoo/{name}/xid/{1000 + r}/",
                    "step": epoch * steps_per_epoch,
                    "test_accuracy": 0.1 + 0.8 * epoch / 86 - 0.01 * r,
                    "test_loss": 2.3 - epoch / 86,
                    "train_accuracy": 0.1 + 0.85 * epoch / 86,
                    "train_loss": 2.3 - 1.1 * epoch / 86,
                }
            )
    np.save(folder / "weights.npy", np.stack([_stored_row(t) for t in rows]))
    pd.DataFrame(meta).to_csv(folder / "metrics.csv.gz", index=False)
    names = []
    for layer, k, b in LAYERS:
        names += [f"{layer}/bias:0"] * b + [f"{layer}/kernel:0"] * k
    if layout == "columns":
        pd.DataFrame({"column": np.arange(N), "varname": names}).to_csv(
            folder / "layout.csv", index=False
        )
    else:
        table, start = [], 0
        for layer, k, b in LAYERS:
            for kind, size in (("bias", b), ("kernel", k)):
                table.append({"varname": f"{layer}/{kind}:0", "start": start, "end": start + size})
                start += size
        pd.DataFrame(table).to_csv(folder / "layout.csv", index=False)
    return rows


@pytest.fixture
def zoo(tmp_path) -> tuple[Path, dict[str, list[dict[str, np.ndarray]]]]:
    root = tmp_path / "small-cnn-zoo"
    models = {
        "cifar10": write_dataset(root / "cifar10", "cifar10", runs=3, seed=1),
        "mnist": write_dataset(root / "mnist", "mnist", runs=2, seed=2, layout="ranges"),
    }
    return root, models


def test_one_row_per_checkpoint_with_clean_columns_model_and_epoch(zoo):
    root, models = zoo
    lib = ModelLibrary.from_cnn_zoo(root, S=S, B=B)
    meta = lib.metadata
    assert len(lib) == 9 * 5 and len(lib.errors) == 0
    # the published order of datasets: mnist before cifar10
    assert meta["dataset"].tolist() == ["mnist"] * 18 + ["cifar10"] * 27
    assert meta["id"].tolist()[:2] == ["mnist/0", "mnist/1"] and meta["id"].iloc[18] == "cifar10/0"
    assert not [c for c in meta.columns if c.startswith("config.")]
    for column in ("learning_rate", "optimizer", "train_fraction", "w_init", "test_accuracy"):
        assert column in meta
    assert "modeldir" not in meta
    assert meta[MODEL].iloc[18] == "/cns/zoo/cifar10/xid/1000"
    assert meta.groupby(MODEL).size().tolist() == [9] * 5
    # epochs come out of the steps (steps per epoch differ by train_fraction)
    assert meta[EPOCH].tolist() == list(CNN_ZOO_EPOCHS) * 5
    assert meta.loc[19, "step"] == int(60000 * 0.1) // 512
    assert (meta["n_params"] == N).all()
    assert meta["source"].iloc[0].endswith("mnist/weights.npy")
    assert meta["accuracy_norm"].between(0, 1).all()


def test_descriptors_equal_the_in_memory_path(zoo):
    root, models = zoo
    lib = ModelLibrary.from_cnn_zoo(root, S=S, B=B, chunk_rows=7, threads=2)
    # the same checkpoints as in-memory models, tensors in layer order (kernel, bias)
    rows = models["mnist"] + models["cifar10"]
    ref = ModelLibrary.from_models(rows, S=S, B=B)
    assert lib.value_range == ref.value_range
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors)
    fixed = ModelLibrary.from_cnn_zoo(root / "cifar10", S=S, B=B, value_range=(-0.2, 0.2))
    assert len(fixed) == 27 and (fixed.metadata["dataset"] == "cifar10").all()
    expected = describe(models["cifar10"][12], S=S, B=B, value_range=(-0.2, 0.2))
    np.testing.assert_array_equal(fixed.descriptors[12], expected)


def test_the_matrix_is_memory_mapped_and_read_in_chunks(zoo):
    root, models = zoo
    datasets = cnn_zoo_datasets(root)
    assert [ds.name for ds in datasets] == ["mnist", "cifar10"]
    assert all(isinstance(ds.weights, FileArray) for ds in datasets)
    chunks = list(cnn_zoo_chunks(root, chunk_rows=10))
    # never across datasets: mnist 18 rows -> 10 + 8, cifar10 27 -> 10 + 10 + 7
    m, c10 = (str((root / d / "weights.npy").resolve()) for d in ("mnist", "cifar10"))
    assert [c.key for c in chunks] == [  # the matrix's absolute path, not the dataset's name
        f"{m}:0-10",
        f"{m}:10-18",
        f"{c10}:0-10",
        f"{c10}:10-20",
        f"{c10}:20-27",
    ]
    theta = np.concatenate([c.theta() for c in chunks])
    rows = models["mnist"] + models["cifar10"]
    np.testing.assert_array_equal(theta, np.stack([np.concatenate(list(t.values())) for t in rows]))
    meta = pd.concat([c.metadata for c in chunks], ignore_index=True)
    assert meta["id"].tolist() == ModelLibrary.from_cnn_zoo(root, S=S, B=B).metadata["id"].tolist()
    # a chunk carries the matrix's path, not its data (for worker processes, dask)
    blob = pickle.dumps(chunks[2])
    assert len(blob) < 10 * 4 * N / 2
    np.testing.assert_array_equal(pickle.loads(blob).theta(), chunks[2].theta())
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        next(cnn_zoo_chunks(root, chunk_rows=0))


def test_describe_rows_equals_describing_each_row(zoo):
    from miwd_widget.library.rows import describe_matrix

    root, models = zoo
    theta = next(cnn_zoo_chunks(root / "cifar10", chunk_rows=9)).theta()
    theta[3, 5] = np.nan
    config = DescriptorConfig(S=S, B=B, value_range=(-0.15, 0.15), nan_policy="omit")
    for threads in (1, 2):
        d, bad = describe_matrix(theta, config, threads=threads)
        assert d.dtype == np.float32 and d.shape == (9, S, B)
        assert bad.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0]
        for i in (0, 3, 8):
            expected = describe(theta[i], S=S, B=B, value_range=(-0.15, 0.15), nan_policy="omit")
            np.testing.assert_array_equal(d[i], expected)


def test_rows_with_nan_are_recorded_and_left_out(zoo):
    root, _ = zoo
    path = root / "cifar10" / "weights.npy"
    matrix = np.load(path)
    matrix[4, 100] = np.nan
    matrix[20, 7] = np.inf
    np.save(path, matrix)
    lib = ModelLibrary.from_cnn_zoo(root / "cifar10", S=S, B=B, value_range=(-0.2, 0.2))
    assert len(lib) == 25
    assert "cifar10/4" not in set(lib.metadata["id"]) and "cifar10/5" in set(lib.metadata["id"])
    source = str(path.resolve())
    assert lib.errors["source"].tolist() == [f"{source}:4", f"{source}:20"]
    assert lib.errors["error"].iloc[0].startswith(f"{source}: row 4: theta holds 1 NaN and 0 Inf")
    # descriptors stay aligned with their rows after the gap
    ok = ModelLibrary.from_cnn_zoo(
        root / "cifar10", S=S, B=B, value_range=(-0.2, 0.2), nan_policy="omit"
    )
    assert len(ok) == 27 and len(ok.errors) == 0
    keep = [i for i in range(27) if i not in (4, 20)]
    np.testing.assert_array_equal(lib.descriptors, ok.descriptors[keep])


def test_bad_layouts_and_metrics_name_the_file(zoo, tmp_path):
    root, _ = zoo
    metrics = root / "mnist" / "metrics.csv.gz"
    table = pd.read_csv(metrics)
    table.iloc[:-1].to_csv(metrics, index=False)
    with pytest.raises(ValueError, match=r"metrics\.csv\.gz: 17 rows, but .*weights\.npy has 18"):
        ModelLibrary.from_cnn_zoo(root, S=S, B=B)
    metrics.unlink()
    with pytest.raises(FileNotFoundError, match=r"mnist/metrics\.csv\.gz: no such file"):
        cnn_zoo_datasets(root / "mnist")
    table.drop(columns=["step"]).to_csv(metrics, index=False)
    with pytest.raises(ValueError, match=r"metrics\.csv\.gz: no column\(s\) \['step'\]"):
        cnn_zoo_datasets(root / "mnist")
    layout = root / "cifar10" / "layout.csv"
    pd.read_csv(layout).iloc[:-3].to_csv(layout, index=False)
    with pytest.raises(ValueError, match=r"layout\.csv: 4967 rows for 4970 matrix columns"):
        cnn_zoo_datasets(root / "cifar10")
    with pytest.raises(FileNotFoundError, match="not a Small CNN Zoo folder"):
        cnn_zoo_datasets(tmp_path)


def test_layout_forms_and_order(tmp_path):
    f = tmp_path / "layout.csv"
    f.write_text("name,size\nc/bias,2\nc/kernel,3\nd/kernel,1\nd/bias,1\nd/scale,1\n")
    names, order = read_layout(f, 8)
    assert names == ["c/kernel", "c/bias", "d/kernel", "d/bias", "d/scale"]
    assert order.tolist() == [2, 3, 4, 0, 1, 5, 6, 7]
    # one row per column, out of order, with an explicit layer column
    f.write_text("col,varname,layer\n3,w1,L1\n1,w,L0\n0,w,L0\n2,b,L0\n")
    names, order = read_layout(f, 4)
    assert names == ["w", "b", "w1"] and order.tolist() == [0, 1, 2, 3]
    f.write_text(
        'varname,shape\nc/bias,"(2,)"\nc/kernel,"(1, 3)"\nd/bias,(1)\nd/kernel,"[1, 1, 2]"\n'
    )
    names, order = read_layout(f, 8)
    assert names == ["c/kernel", "c/bias", "d/kernel", "d/bias"]
    assert order.tolist() == [2, 3, 4, 0, 1, 6, 7, 5]
    f.write_text("varname,start,end\na/kernel,0,3\na/bias,2,5\n")
    with pytest.raises(ValueError, match="does not map each of the 5 matrix columns"):
        read_layout(f, 5)
    f.write_text("what,ever\n1,2\n")
    with pytest.raises(ValueError, match="no column naming the tensors"):
        read_layout(f, 1)


def test_auto_range_samples_a_row_stride_beyond_its_budget(zoo):
    root, models = zoo
    datasets = cnn_zoo_datasets(root)
    full, _ = cnn_zoo_value_range(datasets, (5, 95))
    assert (
        full == ModelLibrary.from_models(models["mnist"] + models["cifar10"], S=S, B=B).value_range
    )
    # a budget of 3 rows' samples: every 15th of the 45 rows (stride 1 per row), across datasets
    lo_hi, _ = cnn_zoo_value_range(datasets, (5, 95), budget=3 * N)
    rows = (models["mnist"] + models["cifar10"])[::15]
    pooled = np.concatenate([np.concatenate(list(t.values())) for t in rows])
    assert lo_hi == tuple(float(v) for v in np.percentile(pooled, [5, 95]))


def test_a_saved_index_of_checkpoint_paths_is_kept(zoo):
    root, _ = zoo
    metrics = root / "cifar10" / "metrics.csv.gz"
    table = pd.read_csv(metrics)
    table.index = [f"/cns/ckpt/{i}/permanent_ckpt-{s}" for i, s in enumerate(table["step"])]
    table.to_csv(metrics)  # written with its index, as the authors' notebook reads it back
    (ds,) = cnn_zoo_datasets(root / "cifar10")
    assert ds.metadata["checkpoint"].iloc[2].startswith("/cns/ckpt/2/permanent_ckpt-")
    assert not [c for c in ds.metadata.columns if c.startswith("Unnamed")]
    table.reset_index(drop=True).to_csv(metrics)  # a plain row-number index is dropped
    (ds,) = cnn_zoo_datasets(root / "cifar10")
    assert (
        "checkpoint" not in ds.metadata and ds.metadata[EPOCH].tolist() == list(CNN_ZOO_EPOCHS) * 3
    )


def test_the_chunked_writer_builds_the_same_library_from_the_chunks(zoo, tmp_path):
    root, _ = zoo
    direct = ModelLibrary.from_cnn_zoo(root, S=S, B=B, value_range=(-0.2, 0.2))
    chunked = ModelLibrary.from_chunks(
        cnn_zoo_chunks(root, chunk_rows=10),
        tmp_path / "zoo.parquet",
        S=S,
        B=B,
        value_range=(-0.2, 0.2),
    )
    np.testing.assert_array_equal(np.asarray(chunked.descriptors), direct.descriptors)
    assert chunked.metadata["id"].tolist() == direct.metadata["id"].tolist()
    assert chunked.metadata[EPOCH].tolist() == direct.metadata[EPOCH].tolist()


def test_from_cnn_zoo_equals_the_chunked_build_with_a_sampled_range(zoo, tmp_path, monkeypatch):
    from miwd_widget.descriptors import value_range

    root, models = zoo
    path = root / "cifar10" / "weights.npy"
    matrix = np.load(path)
    matrix[4, 100] = np.nan  # an error row
    matrix[10] = 0.0  # a degenerate row, among the sampled: a range warning
    np.save(path, matrix)
    unsampled = ModelLibrary.from_cnn_zoo(root, S=S, B=B).value_range
    # one budget for both builds: every 4th of the 45 rows is sampled
    monkeypatch.setattr(value_range, "RANGE_BUDGET", 12 * N)
    ref = ModelLibrary.from_cnn_zoo(root, S=S, B=B)
    lib = ModelLibrary.from_chunks(cnn_zoo_chunks(root, 7), tmp_path / "zoo.parquet", S=S, B=B)
    assert ref.value_range != unsampled and lib.value_range == ref.value_range
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors)
    pd.testing.assert_frame_equal(lib.metadata, ref.metadata[lib.metadata.columns])
    assert sorted(lib.errors["error"]) == sorted(ref.errors["error"])
    assert len(ref.errors) == 2  # the NaN row; the zero row (sampled: global row 28 = 18 + 10)


def test_the_range_pass_reads_only_its_sampled_rows(zoo, monkeypatch):
    from miwd_widget.library.cnn_zoo import CnnZooChunk

    root, _ = zoo

    def no_full_read(self):
        raise AssertionError(f"{self.key}: read whole for the range")

    monkeypatch.setattr(CnnZooChunk, "theta", no_full_read)
    chunks = list(cnn_zoo_chunks(root, chunk_rows=10))
    assert [c.n_weights for c in chunks] == [N] * len(chunks)
    lo_hi, _ = cnn_zoo_value_range(cnn_zoo_datasets(root), (5, 95))
    assert lo_hi[0] < 0 < lo_hi[1]


def test_a_run_missing_its_epoch_1_checkpoint_gets_nan_epochs_and_an_error(zoo, tmp_path):
    root, _ = zoo
    folder = root / "cifar10"
    metrics = pd.read_csv(folder / "metrics.csv.gz")
    weights = np.load(folder / "weights.npy")
    drop = 10  # run 1 (rows 9-17), epoch 1: its smallest step is now epoch 2's
    assert metrics["step"].iloc[drop] == metrics["step"].iloc[drop + 1] / 2
    metrics.drop(index=drop).to_csv(folder / "metrics.csv.gz", index=False)
    np.save(folder / "weights.npy", np.delete(weights, drop, axis=0))
    lib = ModelLibrary.from_cnn_zoo(root, S=S, B=B, value_range=(-0.3, 0.3))
    run = "/cns/zoo/cifar10/xid/1001"
    bad = lib.metadata[MODEL] == run
    assert bad.sum() == 8 and lib.metadata.loc[bad, EPOCH].isna().all()
    good = lib.metadata.loc[~bad & (lib.metadata["dataset"] == "cifar10"), EPOCH]
    assert good.tolist() == list(CNN_ZOO_EPOCHS) * 2
    (error,) = lib.errors["error"]
    assert error.startswith(f"{folder / 'metrics.csv.gz'}: run {run}: steps [0, ")
    assert "epoch-1 checkpoint may be missing" in error
    # the chunked build records it too, once
    chunked = ModelLibrary.from_chunks(
        cnn_zoo_chunks(root, 5), tmp_path / "z.parquet", S=S, B=B, value_range=(-0.3, 0.3)
    )
    assert chunked.errors["error"].tolist() == [error]
    np.testing.assert_array_equal(chunked.metadata[EPOCH], lib.metadata[EPOCH])


def test_config_and_one_set_of_worker_options(zoo):
    root, _ = zoo
    config = DescriptorConfig(S, B, (-0.2, 0.2), clip=True)
    lib = ModelLibrary.from_cnn_zoo(root, config=config, n_jobs=2, batch_size=7)
    assert lib.config == config
    same = ModelLibrary.from_cnn_zoo(root, S=S, B=B, value_range=(-0.2, 0.2), clip=True)
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)
    with pytest.warns(DeprecationWarning, match=r"from_cnn_zoo\(threads=...\) is deprecated"):
        old = ModelLibrary.from_cnn_zoo(root, config=config, threads=2)
    np.testing.assert_array_equal(old.descriptors, lib.descriptors)
    with pytest.raises(TypeError, match="got both threads= and n_jobs="):
        with pytest.warns(DeprecationWarning):
            ModelLibrary.from_cnn_zoo(root, config=config, threads=2, n_jobs=2)
    with pytest.raises(ValueError, match="on a dask cluster use from_chunks"):
        ModelLibrary.from_cnn_zoo(root, config=config, client=object())
