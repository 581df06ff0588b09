"""Library files: sidecar descriptors (memory-mapped), metadata-only loads, schema checks on
load (damaged or edited files), stale temporary files of dead processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from miwd_widget.library import ModelLibrary, storage

S, B = 4, 8


def _library(n: int = 50, seed: int = 0) -> ModelLibrary:
    rng = np.random.default_rng(seed)
    d = rng.random((n, S, B)).astype(np.float32)
    d /= d.sum(axis=2, keepdims=True)
    meta = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(n)],
            "lr": rng.random(n),
            "optimizer": pd.Categorical(rng.choice(["adam", "sgd"], n)),
        }
    )
    emb = rng.normal(size=(n, 2)).astype(np.float32)
    return ModelLibrary(
        d,
        meta,
        embedding=emb,
        value_range=(-0.5, 0.5),
        attrs={"zoo": {"seed": 3}},
        clusters={"a": [1, 2]},
    )


def _assert_same(a: ModelLibrary, b: ModelLibrary) -> None:
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    np.testing.assert_array_equal(a.embedding, b.embedding)
    pd.testing.assert_frame_equal(a.metadata, b.metadata)
    assert a.value_range == b.value_range and a.attrs == b.attrs
    assert a.clusters.keys() == b.clusters.keys()


def _is_memory_mapped(x: np.ndarray) -> bool:
    while x is not None:
        if isinstance(x, np.memmap):
            return True
        x = x.base if isinstance(x, np.ndarray) else None
    return False


def test_sidecar_round_trip_is_memory_mapped(tmp_path):
    lib = _library()
    path = lib.save(tmp_path / "lib.parquet", descriptors="sidecar")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == "lib.parquet" and files[1].endswith(".descriptors.npy") and len(files) == 2
    back = ModelLibrary.load(path)
    _assert_same(back, lib)
    assert _is_memory_mapped(back.descriptors) and not back.descriptors.flags.writeable
    # saving again replaces the sidecar; the old one goes, the loaded map stays valid
    back.save(path, descriptors="sidecar")
    assert len(list(tmp_path.iterdir())) == 2
    _assert_same(ModelLibrary.load(path), lib)
    # and back to one inline file
    ModelLibrary.load(path).save(path, descriptors="inline")
    assert [p.name for p in tmp_path.iterdir()] == ["lib.parquet"]
    inline = ModelLibrary.load(path)
    _assert_same(inline, lib)
    assert not _is_memory_mapped(inline.descriptors)


def test_auto_uses_a_sidecar_above_the_inline_limit(tmp_path, monkeypatch):
    lib = _library()
    monkeypatch.setattr(storage, "INLINE_MAX_BYTES", lib.descriptors.nbytes - 1)
    lib.save(tmp_path / "big.parquet")
    assert len(list(tmp_path.glob("big.parquet.*.descriptors.npy"))) == 1
    monkeypatch.setattr(storage, "INLINE_MAX_BYTES", lib.descriptors.nbytes)
    lib.save(tmp_path / "small.parquet")
    assert not list(tmp_path.glob("small.parquet.*"))


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_metadata_only_load_reads_descriptors_on_first_use(tmp_path, monkeypatch, layout):
    lib = _library()
    path = lib.save(tmp_path / "lib.parquet", descriptors=layout)
    reads = []
    real = storage._descriptors

    def spy(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, "_descriptors", spy)
    meta_only = ModelLibrary.load(path, descriptors=False)
    assert reads == []
    assert len(meta_only) == 50 and (meta_only.S, meta_only.B) == (S, B)
    assert "ModelLibrary(50 models, descriptors 4x8, projected" in repr(meta_only)
    pd.testing.assert_frame_equal(meta_only.metadata, lib.metadata)
    np.testing.assert_array_equal(meta_only.embedding, lib.embedding)
    assert reads == []
    np.testing.assert_array_equal(meta_only.descriptors, lib.descriptors)
    np.testing.assert_array_equal(meta_only.descriptors, lib.descriptors)
    assert reads == [1]  # read once


def test_old_format_1_files_still_load():
    demo = Path(__file__).parents[2] / "src" / "miwd_widget" / "data" / "demo_library.parquet"
    info = json.loads(pq.read_schema(demo).metadata[b"miwd"])
    assert info["format_version"] == 1
    lib = ModelLibrary.load(demo)
    table = pq.read_table(demo, columns=[storage.DESCRIPTOR_COLUMN])
    flat = table.column(0).combine_chunks().flatten().to_numpy()
    np.testing.assert_array_equal(lib.descriptors.reshape(-1), flat)
    assert lib.descriptors.shape == (info["n"], info["S"], info["B"])


def _rewrite(path: Path, edit) -> None:
    """Rewrite a library file with its 'miwd' metadata (a dict) edited by ``edit``."""
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    info = json.loads(meta[b"miwd"])
    meta[b"miwd"] = edit(info)
    pq.write_table(table.replace_schema_metadata(meta), path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda i: b"{not json", "'miwd' metadata is not valid JSON"),
        (
            lambda i: json.dumps({**i, "n": 49}).encode(),
            "holds 50 rows but its 'miwd' metadata says n=49",
        ),
        (lambda i: json.dumps({**i, "S": 0}).encode(), "S=0 is not valid"),
        (lambda i: json.dumps({**i, "B": "8"}).encode(), "B='8' is not valid"),
        (lambda i: json.dumps({**i, "S": 8, "B": 4}).encode(), None),  # same K: accepted
        (lambda i: json.dumps({**i, "S": 2}).encode(), "expected fixed_size_list<float>[16]"),
        (lambda i: json.dumps({**i, "value_range": [1, -1]}).encode(), "value_range [1, -1]"),
        (lambda i: json.dumps({**i, "errors": [["a"]]}).encode(), "errors is not a list"),
        (lambda i: json.dumps({**i, "format_version": 9}).encode(), "library format 9 is newer"),
        (
            lambda i: json.dumps({**i, "clusters": {"a": [99]}}).encode(),
            "saved clusters are not valid",
        ),
    ],
)
def test_edited_metadata_is_refused_naming_the_file(tmp_path, edit, message):
    path = _library().save(tmp_path / "lib.parquet")
    _rewrite(path, edit)
    if message is None:
        assert ModelLibrary.load(path).descriptors.shape == (50, 8, 4)
        return
    with pytest.raises(ValueError, match="lib.parquet: ") as info:
        ModelLibrary.load(path)
    assert message in str(info.value)


def test_wrong_column_types_are_refused(tmp_path):
    path = _library().save(tmp_path / "lib.parquet")
    table = pq.read_table(path)
    i = table.column_names.index("__miwd_atlas_x__")
    bad = table.set_column(i, "__miwd_atlas_x__", pa.array(np.zeros(50), pa.float64()))
    pq.write_table(bad, path)
    with pytest.raises(ValueError, match="__miwd_atlas_x__ is double, expected float"):
        ModelLibrary.load(path)
    pq.write_table(table.drop_columns(["__miwd_atlas_y__"]), path)
    with pytest.raises(ValueError, match="only one of the atlas columns"):
        ModelLibrary.load(path)


def test_damaged_bytes_are_refused_never_wrong_content(tmp_path):
    lib = _library(n=400)
    path = lib.save(tmp_path / "lib.parquet", descriptors="inline")
    md = pq.ParquetFile(path).metadata
    names = [md.schema.column(j).path for j in range(md.num_columns)]
    col = md.row_group(0).column(names.index(f"{storage.DESCRIPTOR_COLUMN}.list.element"))
    starts = [o for o in (col.dictionary_page_offset, col.data_page_offset) if o is not None]
    start, size = min(starts), col.total_compressed_size
    original = path.read_bytes()
    refused = 0
    for where in np.linspace(start + size // 4, start + size - 8, 6).astype(int):
        damaged = bytearray(original)
        damaged[where] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            back = ModelLibrary.load(path)
        except ValueError as exc:
            assert str(exc).startswith(f"{path}: ")
            refused += 1
        else:  # a byte no value depends on may change nothing, but never the content
            np.testing.assert_array_equal(back.descriptors, lib.descriptors)
    assert refused >= 5
    path.write_bytes(original[: len(original) // 2])  # truncated
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        ModelLibrary.load(path)


def test_damaged_or_missing_sidecar_is_refused(tmp_path):
    lib = _library()
    path = lib.save(tmp_path / "lib.parquet", descriptors="sidecar")
    (side,) = tmp_path.glob("*.descriptors.npy")
    data = bytearray(side.read_bytes())
    data[-3] ^= 0x01  # same size, one value changed
    side.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the digest"):
        ModelLibrary.load(path)
    # without the digest check (as for large sidecars) the header and size still are checked
    np.save(side, np.zeros((50, S * B), np.float32))  # other shape, same byte count
    assert side.stat().st_size == len(data)
    with pytest.raises(
        ValueError, match=r"holds float32 \(50, 32\), expected float32 \(50, 4, 8\)"
    ):
        ModelLibrary.load(path, verify=False)
    side.write_bytes(bytes(data[:-4]))
    with pytest.raises(ValueError, match="has 6,524 bytes, the library records 6,528"):
        ModelLibrary.load(path, verify=False)
    side.unlink()
    with pytest.raises(ValueError, match="its descriptor file .* is missing"):
        ModelLibrary.load(path)
    lazy = ModelLibrary.load(path, descriptors=False)  # the metadata is still readable
    with pytest.raises(ValueError, match="is missing"):
        _ = lazy.descriptors


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale = [
        tmp_path / f".lib.parquet.{dead}.tmp",
        tmp_path / f".lib.parquet.{dead}.npy.tmp",
        tmp_path / f"lib.parquet.{dead}-0123abcd.descriptors.npy",
    ]
    live = [
        tmp_path / f".lib.parquet.{alive}.tmp",
        tmp_path / f"lib.parquet.{alive}-aa.descriptors.npy",
    ]
    other = [tmp_path / f".other.parquet.{dead}.tmp", tmp_path / "notes.txt"]
    for p in stale + live + other:
        p.write_bytes(b"partial")
    _library().save(tmp_path / "lib.parquet")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"lib.parquet", *(p.name for p in live + other)}
    # the sidecar the current file names is never removed, whatever pid wrote it
    lib2 = ModelLibrary.load(_library().save(tmp_path / "s.parquet", descriptors="sidecar"))
    assert storage.remove_stale_files(tmp_path / "s.parquet") == []
    _assert_same(lib2, ModelLibrary.load(tmp_path / "s.parquet"))


def test_a_crash_while_saving_a_sidecar_leaves_the_previous_library(tmp_path, monkeypatch):
    path = tmp_path / "lib.parquet"
    original = _library(seed=1)
    original.save(path, descriptors="sidecar")
    before = sorted(p.name for p in tmp_path.iterdir())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        _library(seed=2).save(path, descriptors="sidecar")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    _assert_same(ModelLibrary.load(path), original)


def test_a_renamed_or_copied_library_keeps_its_sidecar(tmp_path, monkeypatch):
    # as if every earlier save had been made by a process that has since ended
    monkeypatch.setattr(storage, "_alive", lambda pid: False)
    first = _library(seed=1)
    first.save(tmp_path / "lib.parquet", descriptors="sidecar")
    (tmp_path / "lib.parquet").rename(tmp_path / "v1.parquet")
    _library(seed=2).save(tmp_path / "lib.parquet", descriptors="sidecar")
    _assert_same(ModelLibrary.load(tmp_path / "v1.parquet"), first)
    # a copy names the same sidecar: replacing the original must not delete it
    (tmp_path / "copy.parquet").write_bytes((tmp_path / "lib.parquet").read_bytes())
    second = ModelLibrary.load(tmp_path / "lib.parquet")
    _library(seed=3).save(tmp_path / "lib.parquet", descriptors="sidecar")
    _assert_same(ModelLibrary.load(tmp_path / "copy.parquet"), second)
    # with nothing naming it any more, the replaced sidecar does go
    (tmp_path / "copy.parquet").unlink()
    _library(seed=4).save(tmp_path / "lib.parquet", descriptors="inline")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "lib.parquet" and names[2] == "v1.parquet" and len(names) == 3
    assert names[1].endswith(".descriptors.npy")  # v1's


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_a_lazy_load_never_returns_another_librarys_descriptors(tmp_path, layout):
    path = tmp_path / "lib.parquet"
    old = _library(seed=1)
    old.save(path, descriptors=layout)
    lazy = ModelLibrary.load(path, descriptors=False)
    _library(seed=2).save(path, descriptors=layout)
    if layout == "sidecar":  # mapped at load: still the old values
        np.testing.assert_array_equal(lazy.descriptors, old.descriptors)
    else:
        with pytest.raises(ValueError, match="replaced since it was loaded; load it again"):
            _ = lazy.descriptors


def test_save_moves_the_sidecar_the_writer_wrote(tmp_path):
    lib = _library()
    with storage.sidecar_writer(tmp_path / "build" / "out.parquet", lib.descriptors.shape) as (
        out,
        sidecar,
    ):
        out[:] = lib.descriptors
        built = ModelLibrary(out, lib.metadata, value_range=lib.value_range)
        # saved under another name than the writer was opened for: its file is the one moved
        storage.save(
            built.parts(), tmp_path / "lib.parquet", descriptors="sidecar", _sidecar=sidecar
        )
    np.testing.assert_array_equal(ModelLibrary.load(tmp_path / "lib.parquet").descriptors, out)
    assert not list((tmp_path / "build").iterdir())
