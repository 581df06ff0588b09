"""ModelLibrary.from_zoo(snapshots=True): one row per training snapshot of a zoo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from miwd_widget import ModelLibrary, describe

EPOCHS = (0, 1, 3)


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """A hand-made zoo: two models, three snapshots each (epoch 3 is kept as the model)."""
    root = tmp_path / "zoo"
    rng = np.random.default_rng(0)
    models, snapshots = [], []
    for m, (model, optimizer) in enumerate([("m00000", "adam"), ("m00001", "sgd")]):
        for epoch in EPOCHS:
            path = f"snapshots/{model}/e{epoch:03d}.safetensors"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            scale = 0.05 * (1 + epoch) * (1 + m)
            weights = {
                "l0.weight": rng.normal(0, scale, (8, 4)).astype(np.float32),
                "l0.bias": np.zeros(8, np.float32),
            }
            save_file(weights, str(root / path))
            snapshots.append(
                {
                    "id": f"{model}@e{epoch:03d}",
                    "model": model,
                    "epoch": epoch,
                    "path": path,
                    "test_accuracy": 0.1 + 0.2 * epoch + 0.01 * m,
                    "val_accuracy": 0.1 + 0.2 * epoch,
                    "train_accuracy": 0.1 + 0.25 * epoch,
                    "best": epoch == EPOCHS[-1],
                }
            )
        final = f"models/{model}.safetensors"
        (root / final).parent.mkdir(parents=True, exist_ok=True)
        save_file(weights, str(root / final))
        models.append(
            {
                "id": model,
                "path": final,
                "dataset": "digits",
                "optimizer": optimizer,
                "lr": 0.01 * (m + 1),
                "test_accuracy": 0.99,  # the model's: loses to each snapshot's own
                "train_group": m,
            }
        )
    pd.DataFrame(models).to_csv(root / "metadata.csv", index=False)
    pd.DataFrame(snapshots).to_csv(root / "snapshots.csv", index=False)
    (root / "zoo.json").write_text('{"settings": {"n": 2}}')
    return root


def test_one_row_per_snapshot_joined_with_the_models_metadata(zoo):
    lib = ModelLibrary.from_zoo(zoo, snapshots=True, S=4, B=8, n_jobs=1)
    snaps = pd.read_csv(zoo / "snapshots.csv")
    assert len(lib) == 6 and lib.errors.empty
    meta = lib.metadata
    assert meta["id"].tolist() == snaps["id"].tolist()
    assert meta["model"].tolist() == ["m00000"] * 3 + ["m00001"] * 3
    assert meta["epoch"].tolist() == list(EPOCHS) * 2
    assert meta["best"].tolist() == [False, False, True] * 2
    # the snapshot's own columns win over the model's ...
    np.testing.assert_allclose(meta["test_accuracy"], snaps["test_accuracy"])
    assert meta["path"].tolist() == snaps["path"].tolist()
    # ... and the model's other columns are joined on model == metadata id
    assert meta["optimizer"].tolist() == ["adam"] * 3 + ["sgd"] * 3
    assert meta["lr"].tolist() == pytest.approx([0.01] * 3 + [0.02] * 3)
    assert meta["train_group"].tolist() == [0] * 3 + [1] * 3
    assert lib.attrs["zoo"] == {"settings": {"n": 2}}
    files = [str(zoo / p) for p in snaps["path"]]
    assert meta["source"].tolist() == [str(Path(f).resolve()) for f in files]
    expected = describe(files, S=4, B=8, value_range=lib.value_range)
    np.testing.assert_array_equal(lib.descriptors, expected)


def test_default_is_one_row_per_model(zoo):
    lib = ModelLibrary.from_zoo(zoo, S=4, B=8, n_jobs=1)
    assert lib.metadata["id"].tolist() == ["m00000", "m00001"]
    assert lib.metadata["test_accuracy"].tolist() == [0.99, 0.99]


def test_missing_snapshot_table_is_a_clear_error(zoo):
    (zoo / "snapshots.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"snapshots\.csv: no such file.*snapshots=True"):
        ModelLibrary.from_zoo(zoo, snapshots=True, S=4, B=8, n_jobs=1)


def test_a_missing_snapshot_file_is_recorded(zoo):
    (zoo / "snapshots" / "m00001" / "e001.safetensors").unlink()
    lib = ModelLibrary.from_zoo(zoo, snapshots=True, S=4, B=8, n_jobs=1)
    assert len(lib) == 5 and "m00001@e001" not in set(lib.metadata["id"])
    assert lib.errors["error"].str.contains("listed in snapshots.csv but the file is missing").all()


def test_config_and_its_shortcuts(zoo):
    from miwd_widget.descriptors.config import DescriptorConfig

    config = DescriptorConfig(S=4, B=8, value_range=(-0.3, 0.3), clip=True)
    lib = ModelLibrary.from_zoo(zoo, config=config, n_jobs=1)
    assert lib.config == config
    same = ModelLibrary.from_zoo(zoo, S=4, B=8, value_range=(-0.3, 0.3), clip=True, n_jobs=1)
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)
    assert ModelLibrary.from_zoo(zoo, config=config, B=4, n_jobs=1).config.B == 4
