"""NWS layout: one row per snapshot (training paths) and CSV rows with bad values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miwd_widget import describe
from miwd_widget.columns import EPOCH, MODEL
from miwd_widget.library import ModelLibrary
from miwd_widget.library.sources import nws_items, nws_snapshots

S, B = 4, 8
N_WEIGHTS = 120


def _write_nets(root: Path, exports: tuple[int, ...] = (7, 25)) -> tuple[Path, dict, dict]:
    """NWS nets with 20 distinct float64 snapshots each, their error.bin and a CSV."""
    rng = np.random.default_rng(11)
    rows, thetas, errs = [], {}, {}
    for i, n_exports in enumerate(exports):
        name = f"net{i}"
        folder = root / "nets" / name
        (folder / "weights").mkdir(parents=True)
        for k in range(1, 21):
            theta = rng.normal(0, 0.02 * k, N_WEIGHTS).astype("<f8")
            theta.tofile(folder / "weights" / f"{k:03d}.bin")
            thetas[name, k] = theta
        err = np.zeros((n_exports, 5))
        err[:, 0] = np.arange(n_exports) * 50 + 7  # step
        err[:, 1] = np.linspace(90, 10, n_exports)  # train error %
        err[:, 3] = np.linspace(90, 20 + i, n_exports)  # test error %
        err.astype("<f8").tofile(folder / "error.bin")
        errs[name] = err
        rows.append(
            {
                "optimizer": i % 3,
                "activation": 0,
                "initialization": 2,
                "lrate": 0.001 * (i + 1),
                "path": f"nets/{name}",
                "weightn_conv": 100,
                "weightn_fc": 20,
            }
        )
    csv = root / "nws.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv, thetas, errs


def test_snapshot_selection_is_validated():
    assert nws_snapshots(20) is None
    assert nws_snapshots(3, "all") == list(range(1, 21))
    assert nws_snapshots(20, [4, 2, 4]) == [4, 2]
    for bad in ([0], [21], "some", [], [1.5]):
        with pytest.raises(ValueError, match="snapshots must be"):
            nws_snapshots(20, bad)
    with pytest.raises(ValueError, match="snapshot must be 1..20"):
        nws_snapshots(0)


def test_all_snapshots_one_row_each_with_model_and_epoch(tmp_path):
    csv, thetas, errs = _write_nets(tmp_path)
    lib = ModelLibrary.from_nws(csv, snapshots="all", S=S, B=B, value_range=(-1, 1), n_jobs=1)
    meta = lib.metadata
    assert len(lib) == 40 and len(lib.errors) == 0
    assert meta["id"].tolist()[:3] == ["net0@s01", "net0@s02", "net0@s03"]
    assert meta[MODEL].tolist() == ["net0"] * 20 + ["net1"] * 20
    assert meta["snapshot"].tolist() == list(range(1, 21)) * 2
    # net0 has 7 exports: the 20 snapshots sit at rows round(linspace(0, 6, 20)).
    rows0 = np.round(np.linspace(0, 6, 20)).astype(int)
    rows1 = np.round(np.linspace(0, 24, 20)).astype(int)
    assert meta[EPOCH].tolist() == rows0.tolist() + rows1.tolist()
    assert meta[EPOCH].iloc[0] == 0 and meta[EPOCH].iloc[39] == 24
    np.testing.assert_allclose(meta["step"][:20], errs["net0"][rows0, 0])
    np.testing.assert_allclose(meta["test_accuracy"][20:], 1 - errs["net1"][rows1, 3] / 100)
    np.testing.assert_allclose(meta["train_accuracy"][:20], 1 - errs["net0"][rows0, 1] / 100)
    assert (meta["optimizer"][:20] == "adam").all() and "lr" in meta
    # each row is its own snapshot's weights
    for row in (0, 7, 39):
        net, k = meta.loc[row, MODEL], int(meta.loc[row, "snapshot"])
        expected = describe(thetas[net, k], S=S, B=B, value_range=(-1, 1))
        np.testing.assert_array_equal(lib.descriptors[row], expected)
    assert lib.attrs["nws"]["snapshots"] == list(range(1, 21))


def test_chosen_snapshots_and_default_unchanged(tmp_path):
    csv, thetas, _ = _write_nets(tmp_path)
    lib = ModelLibrary.from_nws(csv, snapshots=[1, 20], S=S, B=B, value_range=(-1, 1), n_jobs=1)
    assert lib.metadata["id"].tolist() == ["net0@s01", "net0@s20", "net1@s01", "net1@s20"]
    assert lib.metadata[EPOCH].tolist() == [0, 6, 0, 24]
    one = ModelLibrary.from_nws(csv, S=S, B=B, value_range=(-1, 1), n_jobs=1)
    assert one.metadata["id"].tolist() == ["net0", "net1"]
    assert MODEL not in one.metadata and EPOCH not in one.metadata
    np.testing.assert_array_equal(one.descriptors, lib.descriptors[[1, 3]])


def test_bad_csv_rows_are_recorded_with_csv_and_row_and_the_build_goes_on(tmp_path):
    csv, thetas, _ = _write_nets(tmp_path, exports=(7, 9, 11, 13, 15))
    table = pd.read_csv(csv)
    table = table.astype({"weightn_conv": object, "weightn_fc": object})
    table.loc[1, "weightn_conv"] = None  # empty cell
    table.loc[2, "path"] = None  # no path
    table.loc[3, "weightn_fc"] = "many"
    table.to_csv(csv, index=False)
    lib = ModelLibrary.from_nws(csv, S=S, B=B, value_range=(-1, 1), n_jobs=1)
    assert lib.metadata["id"].tolist() == ["net0", "net4"]
    errors = lib.errors["error"].tolist()
    assert len(errors) == 3
    assert errors[0] == f"{csv}: row 1 (line 3): weightn_conv is empty, not a weight count"
    assert errors[1] == f"{csv}: row 2 (line 4): its path is empty"
    assert errors[2].startswith(f"{csv}: row 3 (line 5): weightn_fc is 'many'")
    assert lib.errors["source"].tolist() == [f"{csv}:3", f"{csv}:4", f"{csv}:5"]
    np.testing.assert_array_equal(
        lib.descriptors[1], describe(thetas["net4", 20], S=S, B=B, value_range=(-1, 1))
    )


def test_missing_snapshot_files_name_the_row(tmp_path):
    csv, _, _ = _write_nets(tmp_path)
    (tmp_path / "nets" / "net1" / "weights" / "005.bin").unlink()
    (tmp_path / "nets" / "net0" / "error.bin").unlink()
    items, errors = nws_items(csv, snapshots=[5, 6])
    assert [it.id for it in items] == ["net1@s06"]
    sources = [Path(s).parts[-3:] for s, _ in errors]
    assert sources == [
        ("net0", "weights", "005.bin"),
        ("net0", "weights", "006.bin"),
        ("net1", "weights", "005.bin"),
    ]
    assert "error.bin not found" in errors[0][1] and "row 0 (line 2)" in errors[0][1]
    assert "snapshot file not found" in errors[2][1] and "row 1 (line 3)" in errors[2][1]


def test_config_equals_its_shortcuts(tmp_path):
    from miwd_widget.descriptors.config import DescriptorConfig

    csv, _, _ = _write_nets(tmp_path)
    config = DescriptorConfig(S, B, (-1, 1), nan_policy="omit")
    lib = ModelLibrary.from_nws(csv, config=config, n_jobs=1)
    same = ModelLibrary.from_nws(csv, S=S, B=B, value_range=(-1, 1), nan_policy="omit", n_jobs=1)
    assert lib.config == config == same.config
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)
