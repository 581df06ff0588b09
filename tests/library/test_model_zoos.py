"""The Model Zoos reader (Schürholt et al. 2022), on small replicas of its published layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from miwd_widget import describe
from miwd_widget.columns import EPOCH, MODEL, OUTCOME_COLUMNS, hyperparameter_columns
from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library import ModelLibrary
from miwd_widget.library.model_zoos import (
    checkpoint_folders,
    model_zoo_folders,
    param_columns,
    zoo_snapshots,
)

S, B = 4, 8
RANGE = (-1.0, 1.0)
# The zoos' small CNN (no dropout): conv 1->8 5x5, conv 8->6 5x5, conv 6->4 2x2, fc 36->20,
# fc 20->10, at the module_list positions the published state_dicts use.
SHAPES = {
    "module_list.0.weight": (8, 1, 5, 5),
    "module_list.0.bias": (8,),
    "module_list.3.weight": (6, 8, 5, 5),
    "module_list.3.bias": (6,),
    "module_list.6.weight": (4, 6, 2, 2),
    "module_list.6.bias": (4,),
    "module_list.9.weight": (20, 36),
    "module_list.9.bias": (20,),
    "module_list.11.weight": (10, 20),
    "module_list.11.bias": (10,),
}
N_PARAMS = sum(int(np.prod(s)) for s in SHAPES.values())  # 2464
EPOCHS = (0, 1, 2, 3)


def _state_dict(seed: int, epoch: int) -> dict:
    """A state_dict whose spread grows with training, as a trajectory would."""
    g = torch.Generator().manual_seed(seed * 100 + epoch)
    scale = 0.1 + 0.05 * epoch
    return {k: torch.randn(s, generator=g) * scale for k, s in SHAPES.items()}


def write_trial(
    zoo: Path, index: int, seed: int, padded: bool = True, epochs=EPOCHS, nlin: str = "tanh"
) -> tuple[Path, dict]:
    """One ray-tune trial folder: params.json, result.json, checkpoint folders (each with
    ``checkpoints`` and ``optimizer``). Returns the folder and {epoch: state_dict}."""
    folder = (
        zoo / f"NN_tune_trainable_a1b2c_{index:05d}_{index}_seed={seed}_2021-09-24_15-40-0{index}"
    )
    folder.mkdir(parents=True)
    params = {
        "model::type": "CNN",
        "model::channels_in": 1,
        "model::nlin": nlin,
        "model::init_type": "kaiming_uniform",
        "model::dropout": 0.1 * index,
        "optim::optimizer": "adam",
        "optim::lr": 1e-3 * (index + 1),
        "optim::wd": 0.0,
        "training::batchsize": 32,
        "seed": seed,
        "cuda": False,
        "model::h_dim": [30, 15],  # a list of scalars: joined
        "dataset::info": {"name": "mnist"},  # nested: left out
    }
    (folder / "params.json").write_text(json.dumps(params))
    lines = []
    for e in epochs:
        untrained = e == 0
        lines.append(
            json.dumps(
                {
                    "train_loss": -999 if untrained else 2.0 / (e + 1),
                    "train_acc": -999 if untrained else 0.5 + 0.1 * e,
                    "test_loss": 2.3 / (e + 1),
                    "test_acc": 0.1 + 0.1 * e + 0.01 * index,
                    "training_iteration": e,
                    "trial_id": f"a1b2c_{index:05d}",
                    "config": params,
                }
            )
        )
    (folder / "result.json").write_text("\n".join(lines) + "\n")
    weights = {}
    for e in epochs:
        ckpt = folder / (f"checkpoint_{e:06d}" if padded else f"checkpoint_{e}")
        ckpt.mkdir()
        weights[e] = _state_dict(seed, e)
        torch.save(weights[e], ckpt / "checkpoints")
        torch.save({"state": {}, "param_groups": []}, ckpt / "optimizer")
    return folder, weights


def write_zoo(root: Path, name: str, trials: int = 3, padded: bool = True, seed0: int = 0):
    """A zoo folder: config.json, dataset.pt (never read) and ``trials`` trial folders."""
    zoo = root / name
    zoo.mkdir(parents=True)
    (zoo / "config.json").write_text(json.dumps({"model::type": "CNN", "seed": "grid"}))
    torch.save({"trainset": torch.zeros(4, 1, 28, 28)}, zoo / "dataset.pt")
    (zoo / "readme.md").write_text("a replica\n")
    out = {}
    for i in range(trials):
        folder, weights = write_trial(zoo, i, seed0 + i, padded=padded)
        out[f"{name}/{folder.name}"] = weights
    return zoo, out


def _lib(path, **kw):
    kw.setdefault("n_jobs", 1)
    return ModelLibrary.from_model_zoos(path, S=S, B=B, value_range=RANGE, **kw)


def test_all_checkpoints_one_row_each_with_model_epoch_and_metrics(tmp_path):
    zoo, weights = write_zoo(tmp_path, "tune_zoo_mnist_uniform")
    lib = _lib(zoo, snapshots="all")
    meta = lib.metadata
    assert len(lib) == 3 * len(EPOCHS) and len(lib.errors) == 0
    models = list(weights)
    assert meta[MODEL].tolist() == [m for m in models for _ in EPOCHS]
    assert meta[EPOCH].tolist() == list(EPOCHS) * 3
    assert meta["id"].tolist()[:2] == [f"{models[0]}@e000", f"{models[0]}@e001"]
    assert (meta["dataset"] == "tune_zoo_mnist_uniform").all()
    assert (meta["n_params"] == N_PARAMS).all() and N_PARAMS == 2464
    # prefixes dropped; a list joined; a nested object left out
    for column in ("nlin", "init_type", "dropout", "optimizer", "lr", "wd", "seed", "type"):
        assert column in meta.columns, column
    assert not [c for c in meta.columns if "::" in c]
    assert meta["h_dim"].iloc[0] == "30,15" and "info" not in meta.columns
    assert meta["lr"].tolist()[:: len(EPOCHS)] == pytest.approx([1e-3, 2e-3, 3e-3])
    # metrics of the record whose training_iteration is the epoch; -999: NaN
    np.testing.assert_allclose(meta["test_accuracy"][:4], [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(meta["train_accuracy"][0]) and np.isnan(meta["train_loss"][0])
    np.testing.assert_allclose(meta["train_accuracy"][1:4], [0.6, 0.7, 0.8])
    np.testing.assert_allclose(meta["test_loss"][:2], [2.3, 1.15])
    assert np.isnan(meta["generalization_gap"][0])
    np.testing.assert_allclose(meta["generalization_gap"][1], 0.6 - 0.2)
    assert meta["accuracy_norm"].notna().all()
    # the descriptors are describe()'s of the same state_dicts
    expected = [
        describe(weights[m][e], S=S, B=B, value_range=RANGE) for m in models for e in EPOCHS
    ]
    np.testing.assert_array_equal(lib.descriptors, np.stack(expected))
    # sources are the checkpoints files; dataset.pt and optimizer are never rows
    assert all(s.endswith(os.sep + "checkpoints") and os.path.isfile(s) for s in meta["source"])
    assert lib.attrs["model_zoos"]["zoos"] == ["tune_zoo_mnist_uniform"]
    assert lib.attrs["model_zoos"]["configs"]["tune_zoo_mnist_uniform"]["model::type"] == "CNN"


def test_columns_are_outcomes_identifiers_or_hyperparameters():
    assert "generalization_gap" in OUTCOME_COLUMNS
    columns = ["id", "dataset", MODEL, EPOCH, "nlin", "lr", "seed", "test_accuracy", "test_loss"]
    assert hyperparameter_columns(columns) == ["dataset", "nlin", "lr"]


def test_last_is_the_default_one_row_per_model(tmp_path):
    zoo, weights = write_zoo(tmp_path, "zoo")
    lib = _lib(zoo)
    meta = lib.metadata
    assert meta["id"].tolist() == list(weights) == meta[MODEL].tolist()
    assert meta[EPOCH].tolist() == [3, 3, 3]
    np.testing.assert_allclose(meta["test_accuracy"], [0.4, 0.41, 0.42])
    expected = [describe(w[3], S=S, B=B, value_range=RANGE) for w in weights.values()]
    np.testing.assert_array_equal(lib.descriptors, np.stack(expected))
    assert lib.attrs["model_zoos"]["snapshots"] == "last"


def test_a_folder_of_zoos_padded_and_unpadded(tmp_path):
    _, padded = write_zoo(tmp_path / "zoos", "tune_zoo_mnist_uniform", trials=2, padded=True)
    _, plain = write_zoo(tmp_path / "zoos", "tune_zoo_svhn_uniform", 2, padded=False, seed0=7)
    assert [p.name for p in model_zoo_folders(tmp_path / "zoos")] == [
        "tune_zoo_mnist_uniform",
        "tune_zoo_svhn_uniform",
    ]
    lib = _lib(tmp_path / "zoos", snapshots="all")
    assert len(lib) == 4 * len(EPOCHS) and len(lib.errors) == 0
    both = {**padded, **plain}
    assert list(dict.fromkeys(lib.metadata[MODEL])) == list(both)
    assert lib.metadata["dataset"].unique().tolist() == [
        "tune_zoo_mnist_uniform",
        "tune_zoo_svhn_uniform",
    ]
    expected = [describe(w[e], S=S, B=B, value_range=RANGE) for w in both.values() for e in EPOCHS]
    np.testing.assert_array_equal(lib.descriptors, np.stack(expected))
    # accuracy_norm is normalized per zoo: each zoo has its best model at 1
    best = lib.metadata.groupby("dataset")["accuracy_norm"].max()
    assert best.tolist() == [1.0, 1.0]


def test_checkpoint_folders_padded_or_not(tmp_path):
    trial = tmp_path
    for name in ("checkpoint_000003", "checkpoint_3", "checkpoint_000010", "checkpoint_x"):
        (trial / name).mkdir()
    assert {e: p.name for e, p in checkpoint_folders(trial).items()} == {
        3: "checkpoint_3",
        10: "checkpoint_000010",
    }


def test_a_list_of_epochs_and_missing_ones_are_recorded(tmp_path):
    zoo, weights = write_zoo(tmp_path, "zoo", trials=2)
    lib = _lib(zoo, snapshots=[0, 2])
    assert lib.metadata[EPOCH].tolist() == [0, 2, 0, 2]
    lib = _lib(zoo, snapshots=[3, 9])
    assert lib.metadata[EPOCH].tolist() == [3, 3]
    assert len(lib.errors) == 2 and all(
        "no checkpoint of epoch 9" in e for e in lib.errors["error"]
    )


def test_broken_trials_are_recorded_and_the_rest_built(tmp_path):
    zoo, weights = write_zoo(tmp_path, "zoo", trials=5)
    folders = sorted(p for p in zoo.iterdir() if p.is_dir())
    (folders[0] / "checkpoint_000002" / "checkpoints").unlink()  # one checkpoint missing
    (folders[1] / "result.json").write_text('{"training_iteration": 0, "test_acc": 0.1}\n{"trunc')
    (folders[2] / "params.json").unlink()
    (folders[3] / "checkpoint_000001" / "checkpoints").write_bytes(b"not a torch file")
    lib = _lib(zoo, snapshots="all")
    errors = dict(zip(lib.errors["source"], lib.errors["error"], strict=True))
    assert len(errors) == 4
    missing = str(folders[0] / "checkpoint_000002" / "checkpoints")
    assert "missing" in errors[missing]
    assert "result.json: line 2 is not valid JSON" in errors[str(folders[1])]
    assert "params.json" in errors[str(folders[2])] and "broken trial" in errors[str(folders[2])]
    corrupt = str(folders[3] / "checkpoint_000001" / "checkpoints")
    assert "not a PyTorch checkpoint" in errors[corrupt]
    # built: trial 0 without epoch 2, trial 3 without epoch 1, trial 4 whole
    models = lib.metadata[MODEL].tolist()
    assert models.count(f"zoo/{folders[0].name}") == 3
    assert models.count(f"zoo/{folders[3].name}") == 3
    assert models.count(f"zoo/{folders[4].name}") == 4
    assert len(lib) == 10


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifos_are_refused_never_opened(tmp_path):
    zoo, _ = write_zoo(tmp_path, "zoo", trials=3)
    folders = sorted(p for p in zoo.iterdir() if p.is_dir())
    (folders[0] / "result.json").unlink()
    os.mkfifo(folders[0] / "result.json")  # opening it would block forever
    ckpt = folders[1] / "checkpoint_000003" / "checkpoints"
    ckpt.unlink()
    os.mkfifo(ckpt)
    lib = _lib(zoo)
    assert lib.metadata[MODEL].tolist() == [f"zoo/{folders[2].name}"]
    assert all("not a regular file" in e for e in lib.errors["error"]), lib.errors
    assert len(lib.errors) == 2


class _Payload:
    """Unpickling this would run code: the safe loader refuses it."""

    def __reduce__(self):
        return (os.system, ("echo executed",))


def test_a_checkpoint_that_would_execute_code_is_refused(tmp_path):
    zoo, _ = write_zoo(tmp_path, "zoo", trials=2)
    folder = sorted(p for p in zoo.iterdir() if p.is_dir())[0]
    target = folder / "checkpoint_000003" / "checkpoints"
    torch.save({"module_list.0.weight": _Payload()}, target)
    lib = _lib(zoo)
    assert len(lib) == 1
    (error,) = lib.errors["error"]
    assert "refused: loading this file would execute code" in error


def test_nothing_outside_the_folder_is_read(tmp_path):
    outside = tmp_path / "outside"
    outside_trial, _ = write_trial(outside, 9, 9)
    zoo, weights = write_zoo(tmp_path / "zoos", "zoo", trials=3)
    folders = sorted(p for p in zoo.iterdir() if p.is_dir())
    # a trial folder that is a symlink out of the zoo
    (zoo / "NN_tune_trainable_linked").symlink_to(outside_trial, target_is_directory=True)
    # a checkpoints file and a params.json that are symlinks out
    ckpt = folders[0] / "checkpoint_000003" / "checkpoints"
    ckpt.unlink()
    ckpt.symlink_to(outside_trial / "checkpoint_000003" / "checkpoints")
    (folders[1] / "params.json").unlink()
    (folders[1] / "params.json").symlink_to(outside_trial / "params.json")
    lib = _lib(zoo)
    assert lib.metadata[MODEL].tolist() == [f"zoo/{folders[2].name}"]
    assert len(lib.errors) == 3
    assert all("refused" in e and "outside" in e for e in lib.errors["error"])
    assert not any(str(outside) in s for s in lib.metadata["source"])


def test_prefixes_are_kept_where_names_would_collide():
    keys = ["model::nlin", "optim::lr", "seed", "model::seed", "a::wd", "b::wd", "x::epoch"]
    assert param_columns(keys) == {
        "model::nlin": "nlin",
        "optim::lr": "lr",
        "seed": "seed",
        "model::seed": "model::seed",
        "a::wd": "a::wd",
        "b::wd": "b::wd",
        "x::epoch": "x::epoch",
    }


def test_collisions_across_trials_keep_the_prefix(tmp_path):
    zoo, _ = write_zoo(tmp_path, "zoo", trials=2)
    params_file = sorted(p for p in zoo.iterdir() if p.is_dir())[1] / "params.json"
    params = json.loads(params_file.read_text())
    params["training::lr"] = 0.5  # lr now twice: both keep their prefix
    params_file.write_text(json.dumps(params))
    meta = _lib(zoo).metadata
    assert "lr" not in meta.columns
    assert meta["optim::lr"].tolist() == pytest.approx([1e-3, 2e-3])
    assert np.isnan(meta["training::lr"][0]) and meta["training::lr"][1] == 0.5


def test_config_is_honoured_and_workers_read_the_files(tmp_path):
    zoo, weights = write_zoo(tmp_path, "zoo", trials=3)
    config = DescriptorConfig(S=3, B=5, value_range=(-0.5, 0.5), clip=True)
    lib = ModelLibrary.from_model_zoos(zoo, "all", config=config, n_jobs=2, batch_size=4)
    assert lib.config == config and lib.descriptors.shape == (12, 3, 5)
    expected = [
        describe(w[e], S=3, B=5, value_range=(-0.5, 0.5), clip=True)
        for w in weights.values()
        for e in EPOCHS
    ]
    np.testing.assert_array_equal(lib.descriptors, np.stack(expected))
    auto = ModelLibrary.from_model_zoos(zoo, config=config, value_range="auto", n_jobs=1)
    assert auto.config.S == 3 and not auto.config.is_auto and auto.config.clip


def test_saved_and_loaded(tmp_path):
    zoo, _ = write_zoo(tmp_path, "zoo", trials=2)
    lib = _lib(zoo, snapshots=[1, 2])
    again = ModelLibrary.load(lib.save(tmp_path / "zoo.parquet"))
    assert again.attrs["model_zoos"]["snapshots"] == [1, 2]
    np.testing.assert_array_equal(again.descriptors, lib.descriptors)
    assert again.metadata[EPOCH].tolist() == [1, 2, 1, 2]


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ModelLibrary.from_model_zoos(tmp_path / "nowhere")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="not a Model Zoos zoo"):
        ModelLibrary.from_model_zoos(tmp_path / "empty")
    assert zoo_snapshots("all") == "all" and zoo_snapshots([2, 2, 0]) == [2, 0]
    for bad in ("first", [-1], [], [1.5], True):
        with pytest.raises(ValueError, match="snapshots must be"):
            zoo_snapshots(bad)
    zoo, _ = write_zoo(tmp_path, "zoo", trials=1)
    trial = next(p for p in zoo.iterdir() if p.is_dir())
    with pytest.raises(FileNotFoundError, match="one trial folder of a zoo; pass the zoo"):
        ModelLibrary.from_model_zoos(trial)
    with pytest.raises(ValueError, match="snapshots must be"):
        ModelLibrary.from_model_zoos(zoo, snapshots="every")
