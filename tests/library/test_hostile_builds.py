"""Library builds over hostile inputs: every bad path is a recorded error, the rest is built.

Special files (FIFO, device, dangling symlink) and missing paths in ``from_files``, and a
degenerate all-zeros model that must not decide the pooled ``"auto"`` range.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from miwd_widget import ModelLibrary
from miwd_widget.descriptors import pooled_percentiles
from miwd_widget.library import expand_paths

S, B = 4, 8


def good_models(folder: Path, n: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    thetas = {}
    for i in range(n):
        theta = rng.normal(0, 0.1 * (i + 1), 500).astype(np.float32)
        np.save(folder / f"good{i}.npy", theta)
        thetas[f"good{i}"] = theta
    return thetas


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray], dict[str, str]]:
    """Three good models and, beside them, each kind of path that is no weight file."""
    d = tmp_path / "models"
    d.mkdir()
    thetas = good_models(d)
    os.mkfifo(d / "fifo.npy")
    (d / "zero.npy").symlink_to("/dev/zero")
    (d / "dangling.safetensors").symlink_to(d / "deleted.safetensors")
    reasons = {
        "fifo.npy": f"{d / 'fifo.npy'}: not a regular file: it is a FIFO (named pipe)",
        "zero.npy": (
            f"{d / 'zero.npy'}: not a regular file: it is a character device "
            "(a symlink to /dev/zero)"
        ),
        "dangling.safetensors": (
            f"{d / 'dangling.safetensors'}: dangling symlink (it points to "
            f"{d / 'deleted.safetensors'}, which does not exist)"
        ),
        "missing.npy": f"{d / 'missing.npy'}: no such file or directory",
    }
    return d, thetas, reasons


def errors_by_name(lib: ModelLibrary) -> dict[str, str]:
    return {Path(s).name: e for s, e in zip(lib.errors["source"], lib.errors["error"], strict=True)}


@pytest.mark.parametrize("value_range", ["auto", (-0.5, 0.5)])
def test_special_files_and_missing_paths_are_recorded_and_the_build_goes_on(hostile, value_range):
    d, thetas, reasons = hostile
    paths = [d / "good0.npy", d / "fifo.npy", d / "zero.npy", d / "good1.npy"]
    paths += [d / "dangling.safetensors", d / "missing.npy", d / "good2.npy"]
    lib = ModelLibrary.from_files(paths, S=S, B=B, value_range=value_range, n_jobs=1)
    assert lib.metadata["id"].tolist() == ["good0", "good1", "good2"]
    assert errors_by_name(lib) == reasons
    if value_range == "auto":
        assert lib.value_range == pytest.approx(pooled_percentiles(list(thetas.values())))


def test_directory_scan_records_special_files_too(hostile):
    d, _, reasons = hostile
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert sorted(lib.metadata["id"]) == ["good0", "good1", "good2"]
    del reasons["missing.npy"]  # a directory lists only what is there
    assert errors_by_name(lib) == reasons


def test_joblib_workers_record_special_files(hostile):
    d, _, reasons = hostile
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=2, batch_size=1)
    assert sorted(lib.metadata["id"]) == ["good0", "good1", "good2"]
    assert set(errors_by_name(lib)) == {"fifo.npy", "zero.npy", "dangling.safetensors"}


def test_nothing_there_at_all_still_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npy: no such file or directory"):
        ModelLibrary.from_files([tmp_path / "nope.npy"], n_jobs=1)
    # the strict mode (the CLI's) says what a dangling symlink is
    (tmp_path / "d.npy").symlink_to(tmp_path / "gone.npy")
    with pytest.raises(FileNotFoundError, match=r"d\.npy: dangling symlink"):
        expand_paths(tmp_path / "d.npy")


def test_add_records_bad_paths(hostile):
    d, _, reasons = hostile
    lib = ModelLibrary.from_files([d / "good0.npy"], S=S, B=B, n_jobs=1)
    lib.add([d / "good1.npy", d / "fifo.npy", d / "missing.npy"], n_jobs=1)
    assert lib.metadata["id"].tolist() == ["good0", "good1"]
    assert errors_by_name(lib) == {k: reasons[k] for k in ("fifo.npy", "missing.npy")}


def test_an_all_zeros_model_is_recorded_and_does_not_collapse_the_auto_range(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    thetas = good_models(d)
    zeros = d / "zeros.npy"
    np.save(zeros, np.zeros(2_000_000, np.float32))  # 4000x the weights of each good model
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert sorted(lib.metadata["id"]) == ["good0", "good1", "good2", "zeros"]  # described
    assert errors_by_name(lib) == {
        "zeros.npy": (
            f"{zeros}: warning: degenerate weights (100.0% of its sampled weights are 0); "
            "described, but left out of the pooled 'auto' value range"
        )
    }
    expected = pooled_percentiles(list(thetas.values()))
    assert lib.value_range == pytest.approx(expected)
    assert lib.value_range[1] > 0.1  # pooled by weight, the zeros would give about +-0.001
    # the zeros model's descriptor: every weight in the central bins
    row = lib.metadata.index[lib.metadata["id"] == "zeros"][0]
    assert lib.descriptors[row][:, B // 2 - 1 : B // 2 + 1].sum() == pytest.approx(S)


def test_a_nearly_constant_model_is_flagged_a_sparse_one_is_not(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    good_models(d, 2)
    rng = np.random.default_rng(1)
    nearly = np.full(10_000, 0.05, np.float32)
    nearly[:50] = rng.normal(size=50)  # 99.5% one value: a constant init, never trained
    np.save(d / "nearly.npy", nearly)
    sparse = rng.normal(0, 0.1, 10_000).astype(np.float32)
    sparse[:9_000] = 0.0  # 90% zeros: a pruned model, a real one
    np.save(d / "sparse.npy", sparse)
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert len(lib) == 4
    assert list(errors_by_name(lib)) == ["nearly.npy"]
    assert "99.5% of its sampled weights are 0.05" in lib.errors["error"].iloc[0]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_beyond_range_models_the_range_is_pooled_over_a_spread_and_all_are_checked(
    tmp_path, monkeypatch, n_jobs
):
    from miwd_widget.descriptors import value_range

    monkeypatch.setattr(value_range, "RANGE_MODELS", 4)  # 12 models: one from each 3
    picked = value_range.range_models(12).tolist()
    assert len(picked) == 4 and [p // 3 for p in picked] == [0, 1, 2, 3]
    unpicked = [i for i in range(12) if i not in picked]
    degenerate = {picked[1], unpicked[0]}  # one sampled for the range, one not
    broken = unpicked[-1]  # not sampled: fails in pass 2
    d = tmp_path / "models"
    d.mkdir()
    rng = np.random.default_rng(3)
    thetas = {}
    for i in range(12):
        theta = rng.normal(0, 0.05 * (i + 1), 600).astype(np.float32)
        if i in degenerate:
            theta = np.zeros(600, np.float32)
        thetas[i] = theta
        np.save(d / f"m{i:02d}.npy", theta)
    (d / f"m{broken:02d}.npy").write_bytes(b"not a model")
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=n_jobs)
    used = [thetas[i] for i in picked if i not in degenerate]
    assert lib.value_range == pytest.approx(pooled_percentiles(used))
    errors = errors_by_name(lib)
    assert sorted(errors) == sorted(f"m{i:02d}.npy" for i in [*degenerate, broken])
    for i in degenerate:
        assert "degenerate weights (100.0% of its sampled weights are 0)" in errors[f"m{i:02d}.npy"]
    assert "degenerate" not in errors[f"m{broken:02d}.npy"]
    assert len(lib) == 11  # the degenerate ones are described
    fixed = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1, value_range=lib.value_range)
    np.testing.assert_array_equal(lib.descriptors, fixed.descriptors)


def test_when_no_sampled_model_can_be_read_the_range_comes_from_the_others(tmp_path, monkeypatch):
    from miwd_widget.descriptors import value_range

    monkeypatch.setattr(value_range, "RANGE_MODELS", 2)
    picked = value_range.range_models(6).tolist()
    d = tmp_path / "models"
    d.mkdir()
    rng = np.random.default_rng(4)
    thetas = {}
    for i in range(6):
        thetas[i] = rng.normal(0, 0.1 * (i + 1), 400).astype(np.float32)
        np.save(d / f"m{i}.npy", thetas[i])
    for i in picked:
        (d / f"m{i}.npy").write_bytes(b"broken")
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    others = [i for i in range(6) if i not in picked]
    assert len(lib) == 4 and sorted(errors_by_name(lib)) == [f"m{i}.npy" for i in picked]
    assert lib.value_range == pytest.approx(pooled_percentiles([thetas[i] for i in others]))


def test_when_every_sampled_model_is_degenerate_none_is_reported(tmp_path, monkeypatch):
    from miwd_widget.descriptors import value_range

    monkeypatch.setattr(value_range, "RANGE_MODELS", 2)
    picked = value_range.range_models(6).tolist()
    d = tmp_path / "models"
    d.mkdir()
    for i in range(6):
        theta = np.zeros(400, np.float32) if i in picked else np.linspace(-1, 1, 400) * (i + 1)
        np.save(d / f"m{i}.npy", theta.astype(np.float32))
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert len(lib) == 6 and lib.errors.empty  # as a library sampled whole
    assert lib.value_range[0] < 0 < lib.value_range[1]  # the widened range of all zeros


LOOP = "is a symbolic link loop (its links lead back to themselves, never to a file)"


def test_a_symlink_loop_in_a_scanned_folder_is_recorded_and_the_build_goes_on(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    good_models(d)
    (d / "a.npy").symlink_to("b.safetensors")
    (d / "b.safetensors").symlink_to("a.npy")
    (d / "self.pt").symlink_to("self.pt")
    lib = ModelLibrary.from_files(d, S=S, B=B, n_jobs=1)
    assert sorted(lib.metadata["id"]) == ["good0", "good1", "good2"]
    assert errors_by_name(lib) == {
        n: f"{d / n}: {LOOP}" for n in ("a.npy", "b.safetensors", "self.pt")
    }
    # named alone, a loop is no file to build from (the CLI's strict mode says so too)
    with pytest.raises(FileNotFoundError) as err:
        ModelLibrary.from_files([d / "self.pt"], n_jobs=1)
    assert str(err.value) == f"{d / 'self.pt'}: {LOOP}"
    with pytest.raises(FileNotFoundError) as err:
        expand_paths(d / "a.npy")
    assert str(err.value) == f"{d / 'a.npy'}: {LOOP}"
