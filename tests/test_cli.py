"""The `miwd` command line, and the end-to-end path: tiny zoo -> library -> atlas -> queries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from miwd_widget import ModelLibrary
from miwd_widget.cli import main, render_descriptor


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    d = tmp_path / "models"
    d.mkdir()
    for i in range(5):
        save_file(
            {"l0.weight": rng.normal(0, 0.1 * (1 + i % 2), (20, 20)).astype(np.float32)},
            str(d / f"m{i}.safetensors"),
        )
    np.save(d / "theta.npy", rng.normal(0, 0.1, 300))
    (d / "broken.safetensors").write_bytes(b"junk")
    return d


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """A tiny zoo trained through the command line (one task, one epoch, a few seconds)."""
    out = tmp_path_factory.mktemp("zoo") / "zoo"
    args = ["zoo", "train", "-n", "6", "-o", str(out), "--jobs", "1"]
    rc = main([*args, "--datasets", "digits", "--max-epochs", "1", "--max-train", "64"])
    assert rc == 0
    return out


def test_render_descriptor():
    text = render_descriptor(np.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    assert text.splitlines() == ["|  ++@@|", "|@@    |", "|      |"]
    # rows=2 averages windows 0-1 ([0.5, 0.25, 0.5]) and keeps window 2
    two = render_descriptor(np.array([[0, 0.5, 1], [1, 0, 0], [0, 0, 0]]), rows=2)
    assert two.splitlines() == ["|@@++@@|", "|      |"]


def test_describe_prints_and_saves(files, tmp_path, capsys):
    rc = main(["describe", str(files / "m0.safetensors"), str(files / "theta.npy"), "-S", "4"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "2 model(s), descriptors 4x32" in out and "N=400 weights" in out
    assert out.count("|") == 2 * 4 * 2  # 2 models x 4 lines, framed
    npy = tmp_path / "d.npy"
    assert (
        main(["describe", str(files / "m*.safetensors"), "-S", "8", "-B", "8", "--out", str(npy)])
        == 0
    )
    saved = np.load(npy)
    assert saved.shape == (5, 8, 8) and saved.dtype == np.float32
    np.testing.assert_allclose(saved.sum(axis=2), 1.0, atol=1e-6)


def test_describe_exit_codes(files, capsys):
    assert main(["describe", str(files / "m0.safetensors"), str(files / "broken.safetensors")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.safetensors" in err[0] and "Traceback" not in err[0]
    assert main(["describe", str(files / "nope.safetensors")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"miwd: error: {files / 'nope.safetensors'}: no such file or directory"
    )
    assert main(["describe", str(files / "m0.safetensors"), "--range", "1,0"]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "describe" in capsys.readouterr().out


def test_describe_records_a_dangling_link_and_goes_on(files, tmp_path, capsys):
    link = tmp_path / "gone.safetensors"
    link.symlink_to(tmp_path / "deleted.safetensors")
    assert main(["describe", str(files / "m0.safetensors"), str(link)]) == 1
    captured = capsys.readouterr()
    assert "1 model(s)" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "gone.safetensors" in err[0] and "Traceback" not in err[0]


def test_build_project_locate(files, tmp_path, capsys):
    lib_path = tmp_path / "lib.parquet"
    assert (
        main(["build", str(files), "-o", str(lib_path), "-S", "8", "-B", "8", "--jobs", "1"]) == 1
    )
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "broken.safetensors" in captured.err
    lib = ModelLibrary.load(lib_path)
    assert len(lib) == 6 and len(lib.errors) == 1 and lib.S == 8
    # building again into the same file adds only new models
    (files / "broken.safetensors").unlink()
    save_file({"w": np.ones((5, 5), np.float32)}, str(files / "new.safetensors"))
    assert main(["build", str(files), "-o", str(lib_path), "--jobs", "1"]) == 0
    assert "added 1 new model(s)" in capsys.readouterr().out
    assert len(ModelLibrary.load(lib_path)) == 7

    assert main(["locate", str(lib_path), str(files / "m1.safetensors")]) == 2
    assert "not projected" in capsys.readouterr().err
    assert main(["project", str(lib_path), "--method", "pca"]) == 0
    assert ModelLibrary.load(lib_path).embedding.shape == (7, 2)
    capsys.readouterr()
    rc = main(["locate", str(lib_path), str(files / "m1.safetensors"), "-k", "2"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == [
        "query",
        "query_name",
        "x",
        "y",
        "rank",
        "neighbor",
        "id",
        "distance",
    ]
    first = lines[1].split()
    assert first[4:6] == ["1", "1"] and first[6] == "m1" and float(first[7]) == 0.0
    assert main(["locate", str(tmp_path / "none.parquet"), str(files / "m1.safetensors")]) == 2

    # the atlas on another representation: locate reads the files in it
    assert main(["project", str(lib_path), "--method", "pca", "--representation", "nope"]) == 2
    assert "representation: unknown name 'nope'" in capsys.readouterr().err
    assert main(["project", str(lib_path), "--method", "pca", "--representation", "stats"]) == 0
    assert "(pca on stats)" in capsys.readouterr().out
    assert ModelLibrary.load(lib_path).representation == "stats"
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"junk")
    assert main(["locate", str(lib_path), str(files / "m1.safetensors"), str(junk), "-k", "1"]) == 1
    captured = capsys.readouterr()
    first = captured.out.strip().splitlines()[1].split()
    assert first[6] == "m1" and float(first[7]) == 0.0 and "junk.safetensors" in captured.err


def test_console_script_entry_point(files):
    exe = Path(sys.executable).with_name("miwd")
    proc = subprocess.run(
        [str(exe), "describe", str(files / "missing.npy")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("missing.npy: no such file or directory")


def test_end_to_end_zoo_library_atlas(zoo, tmp_path):
    """train (CLI) -> from_zoo -> save -> load -> project -> locate -> summarize."""
    meta_csv = pd.read_csv(zoo / "metadata.csv")
    assert len(meta_csv) == 6 and (zoo / "zoo.json").is_file()
    lib = ModelLibrary.from_zoo(zoo, n_jobs=1)
    assert len(lib) == 6 and lib.errors.empty
    assert lib.attrs["zoo"]["settings"]["n"] == 6
    assert set(lib.metadata["optimizer"]) <= {"adam", "rmsprop", "sgd_momentum"}
    acc = lib.metadata["test_accuracy"]
    norm = (acc - acc.min()) / (acc.max() - acc.min())  # one dataset: digits
    np.testing.assert_allclose(lib.metadata["accuracy_norm"], norm)
    path = lib.save(tmp_path / "zoo.parquet")
    back = ModelLibrary.load(path)
    np.testing.assert_array_equal(back.descriptors, lib.descriptors)
    back.project(n_neighbors=4)
    assert back.embedding.shape == (6, 2)
    hit = back.locate(str(zoo / meta_csv["path"][2]), k=3)
    assert hit.loc[0, "id"] == meta_csv["id"][2] and hit.loc[0, "distance"] == 0.0
    summary = back.summarize([0, 1, 2])
    assert summary.n == 3 and summary.mean.shape == (32, 32)
    np.testing.assert_allclose(summary.mean.to_numpy().sum(axis=1), 1.0, atol=1e-5)
    assert (summary.characteristic["lift"] > 1).all()


def test_cli_build_from_zoo_with_metadata(zoo, tmp_path, capsys):
    out = tmp_path / "lib.parquet"
    args = ["build", str(zoo / "models"), "-o", str(out), "--metadata", str(zoo / "metadata.csv")]
    assert main([*args, "--jobs", "1"]) == 0
    lib = ModelLibrary.load(out)
    assert sorted(lib.metadata["id"]) == sorted(pd.read_csv(zoo / "metadata.csv")["id"])
    assert "dataset" in lib.metadata and lib.metadata["dataset"].eq("digits").all()


def test_demo_writes_the_atlas_and_a_hint_that_works_from_here(tmp_path, monkeypatch, capsys):
    """`miwd demo` (the README's first command) in a fresh folder, on a small library."""
    import miwd_widget.library as library_package
    from miwd_widget.widget.frontend import BUNDLE_JS

    if not BUNDLE_JS.exists():
        pytest.skip("the front end is not built (make js)")
    rng = np.random.default_rng(0)
    models = {f"m{i}": rng.normal(0, 0.05 * (1 + i), 2048) for i in range(6)}
    small = ModelLibrary.from_models(list(models.values()), names=list(models)).project(
        method="pca"
    )
    monkeypatch.setattr(library_package, "load_demo_library", lambda: small)
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    atlas = workdir / "atlas.html"
    assert atlas.is_file() and atlas.read_text().startswith("<!doctype html>")
    assert f"wrote the standalone atlas {atlas.resolve()}" in out
    assert "nearest demo-library model of each file" in out and " -> m" in out
    hint = out.strip().splitlines()[-1].split()
    jupyter, lab, notebook = hint
    assert lab == "lab"
    # Both paths work from the folder the command ran in (the checkout's notebook here).
    assert (workdir / notebook).resolve() == (
        Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"
    )
    if Path(sys.executable).with_name("jupyter").exists():
        assert (workdir / jupyter).resolve() == Path(sys.executable).with_name("jupyter").resolve()
