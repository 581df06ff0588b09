"""A small hostile corpus, built here: every file is refused with its name and the reason.

References that leave the model's folder, special files, size bombs and mis-tagged data.
Each test asserts the exact outcome; none can hang (special files are refused before any
``open``, and the FIFO test would unblock a regressed reader after a few seconds).
"""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import onnx
import pytest
import safetensors.numpy
import torch
from onnx import TensorProto, helper, numpy_helper

from miwd_widget import describe, flatten_weights
from miwd_widget.weights import WeightReadError, guard, open_weights


def write_safetensors(path: Path, n: int = 4) -> np.ndarray:
    values = np.arange(n, dtype=np.float32)
    safetensors.numpy.save_file({"w": values}, path)
    return values


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A real model file outside the model folder (what an escaping entry would read)."""
    other = tmp_path / "other"
    other.mkdir()
    write_safetensors(other / "x.safetensors")
    np.arange(16, dtype="<f8").tofile(other / "secret.bin")
    return other


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    return d


def write_index(folder: Path, weight_map: dict, name: str = "model.safetensors.index.json"):
    path = folder / name
    path.write_text(json.dumps({"weight_map": weight_map}))
    return path


# --------------------------------------------------------------------------------------
# Sharded indexes: stay inside the folder, read each shard with the format its name says
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("../other/x.safetensors", r"is outside the model's folder \(\.\. is not allowed\)"),
        ("sub/../../other/x.safetensors", r"is outside the model's folder"),
        ("ABSOLUTE", r"is an absolute path"),
        ("link.safetensors", r"resolves to .*other.x\.safetensors, outside the model's folder"),
        ("C:\\models\\x.safetensors", r"is an absolute path"),
    ],
)
def test_index_entries_that_leave_the_folder_are_refused(model_dir, outside, entry, reason):
    write_safetensors(model_dir / "inside.safetensors")
    if entry == "ABSOLUTE":
        entry = str(outside / "x.safetensors")
    (model_dir / "link.safetensors").symlink_to(outside / "x.safetensors")
    index = write_index(model_dir, {"w": "inside.safetensors", "v": entry})
    for source in (index, model_dir):
        with pytest.raises(WeightReadError) as err:
            open_weights(source)
        message = str(err.value)
        assert message.startswith(f"{index}: refused: shard file {entry!r}")
        assert err.match(reason)


def test_bin_shard_of_an_index_is_read_as_pytorch_never_as_raw_float64(model_dir):
    raw = model_dir / "pytorch_model-00001-of-00001.bin"
    np.arange(16, dtype="<f8").tofile(raw)  # NWS-like raw float64: not a checkpoint
    index = write_index(model_dir, {"w": raw.name}, "pytorch_model.bin.index.json")
    with pytest.raises(WeightReadError, match=rf"{raw}: not a PyTorch checkpoint"):
        open_weights(index)
    # a real checkpoint shard is still read
    torch.save({"w": torch.tensor([1.0, 2.0])}, raw)
    assert flatten_weights(index).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("shard", ["model.safetensors.index.json", "w.npy", "w.onnx"])
def test_shards_of_other_formats_and_self_references_are_refused(model_dir, shard):
    np.save(model_dir / "w.npy", np.ones(3))
    (model_dir / "w.onnx").write_bytes(b"x")
    index = write_index(model_dir, {"w": shard})
    with pytest.raises(WeightReadError, match=r"not a shard format"):
        open_weights(index)


def test_index_entry_that_is_not_a_file_name(model_dir):
    index = write_index(model_dir, {"w": 3})
    with pytest.raises(WeightReadError, match=r"index\.json: weight_map entry 'w' names no shard"):
        open_weights(index)


def test_hugging_face_cache_snapshot_symlinks_into_its_blobs_are_read(tmp_path):
    entry = tmp_path / "models--org--name"
    blobs, snapshot = entry / "blobs", entry / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    values = write_safetensors(blobs / "f00d", 6)
    (snapshot / "model-1.safetensors").symlink_to(Path("../../blobs/f00d"))
    write_index(blobs, {"w": "model-1.safetensors"}, "beef")
    (snapshot / "model.safetensors.index.json").symlink_to(Path("../../blobs/beef"))
    np.testing.assert_array_equal(flatten_weights(snapshot), values)
    assert guard.confinement_root(snapshot) == entry.resolve()


@pytest.mark.parametrize("entry_name", ["private", "datasets--org--name", "models--"])
def test_only_a_models_cache_entry_widens_the_folder(tmp_path, entry_name):
    # Laid out like a cache (X/snapshots/<rev> beside X/blobs) but X is no model entry:
    # the snapshot is confined to itself, so a shard linked into X is refused.
    entry = tmp_path / entry_name
    blobs, snapshot = entry / "blobs", entry / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    write_safetensors(entry / "secret.safetensors", 6)
    (snapshot / "model-1.safetensors").symlink_to(Path("../../secret.safetensors"))
    index = write_index(snapshot, {"w": "model-1.safetensors"})
    assert guard.confinement_root(snapshot) == snapshot.resolve()
    with pytest.raises(WeightReadError) as err:
        open_weights(index)
    assert str(err.value) == (
        f"{index}: refused: shard file 'model-1.safetensors' resolves to "
        f"{(entry / 'secret.safetensors').resolve()}, outside the model's folder "
        f"{snapshot.resolve()} (a symlink?)"
    )


# --------------------------------------------------------------------------------------
# Not a weight file: refused from os.stat, before anything opens it
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["model.onnx", "model.keras", "model.safetensors.index.json", "model.npy", "020.bin"]
)
def test_symlink_to_dev_zero_is_refused_before_reading(model_dir, name):
    link = model_dir / name
    link.symlink_to("/dev/zero")
    expected = f"{link}: not a regular file: it is a character device (a symlink to /dev/zero)"
    with pytest.raises(WeightReadError) as err:
        open_weights(link)
    assert str(err.value) == expected
    with pytest.raises(WeightReadError, match="character device"):
        describe(str(link))


def test_fifo_is_refused_without_blocking(model_dir):
    fifo = model_dir / "model.safetensors"
    os.mkfifo(fifo)

    def unblock() -> None:
        # Only if a regressed reader blocks in open(): a writer appears and leaves (EOF).
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))

    timer = threading.Timer(5.0, unblock)
    timer.daemon = True
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(WeightReadError) as err:
            open_weights(fifo)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 4.0  # refused up front, not after the unblocking
    assert str(err.value) == f"{fifo}: not a regular file: it is a FIFO (named pipe)"


def test_dangling_symlink_and_missing_file(model_dir):
    dangling = model_dir / "gone.safetensors"
    dangling.symlink_to(model_dir / "nowhere.safetensors")
    with pytest.raises(WeightReadError, match=r"gone\.safetensors: dangling symlink .*nowhere"):
        open_weights(dangling)
    with pytest.raises(WeightReadError, match=r"nope\.npy: no such file or directory"):
        open_weights(model_dir / "nope.npy")


# --------------------------------------------------------------------------------------
# HDF5 / Keras: only values stored in the file itself
# --------------------------------------------------------------------------------------


def legacy_h5(path: Path, fill) -> None:
    """A legacy Keras .h5 with one layer 'dense' whose weight 'dense/kernel' ``fill`` makes."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        group = f.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel"]
        fill(group)


def test_hdf5_external_storage_is_refused(model_dir, outside):
    path = model_dir / "ext.h5"
    secret = outside / "secret.bin"
    legacy_h5(
        path,
        lambda g: g.create_dataset("dense/kernel", (16,), "<f8", external=[(str(secret), 0, 128)]),
    )
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert str(err.value) == (
        f"{path}: refused: dataset '/dense/dense/kernel' has external storage ({secret}); "
        "only values stored in the model file are read"
    )


def test_hdf5_virtual_dataset_is_refused(model_dir, outside):
    source = outside / "source.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("data", data=np.arange(8.0))
    path = model_dir / "virtual.h5"

    def virtual(group):
        layout = h5py.VirtualLayout(shape=(8,), dtype="<f8")
        layout[:] = h5py.VirtualSource(str(source), "data", shape=(8,))
        group.create_virtual_dataset("dense/kernel", layout)

    legacy_h5(path, virtual)
    with pytest.raises(
        WeightReadError,
        match=rf"{path}: refused: dataset '/dense/dense/kernel' is a virtual dataset",
    ):
        open_weights(path)


def test_hdf5_external_link_is_refused(model_dir, outside):
    source = outside / "source.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("data", data=np.arange(8.0))
    path = model_dir / "link.h5"
    legacy_h5(
        path, lambda g: g.__setitem__("dense/kernel", h5py.ExternalLink(str(source), "/data"))
    )
    with pytest.raises(
        WeightReadError,
        match=rf"{path}: refused: /dense/dense/kernel is an external link to .*source\.h5:/data",
    ):
        open_weights(path)


def test_unwritten_huge_hdf5_dataset_is_refused_not_materialized(model_dir):
    path = model_dir / "bomb.h5"
    legacy_h5(
        path, lambda g: g.create_dataset("dense/kernel", (65536, 16384), "<f4", chunks=(256, 256))
    )
    assert path.stat().st_size < 20_000  # declares 4 GiB
    start = time.monotonic()
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert time.monotonic() - start < 5
    assert str(err.value) == (
        f"{path}: dataset '/dense/dense/kernel': refused: declares 4,294,967,296 bytes but only "
        "0 are stored in the file (never written; HDF5 would return fill values)"
    )


def test_partly_written_hdf5_dataset_is_refused(model_dir):
    path = model_dir / "partial.h5"

    def partial(group):
        ds = group.create_dataset("dense/kernel", (1024, 1024), "<f4", chunks=(64, 64))
        ds[:64, :64] = 1.0

    legacy_h5(path, partial)
    with pytest.raises(
        WeightReadError,
        match=r"partial\.h5: dataset .*declares 4,194,304 bytes but only 16,384 are stored .*partly unwritten",
    ):
        open_weights(path)


def test_compressed_hdf5_dataset_within_the_limits_is_read(model_dir):
    path = model_dir / "gzip.h5"
    values = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    legacy_h5(path, lambda g: g.create_dataset("dense/kernel", data=values, compression="gzip"))
    np.testing.assert_array_equal(flatten_weights(path), values)


def test_bfloat16_tag_on_float32_data_and_repeated_layers_are_refused(model_dir):
    path = model_dir / "tagged.h5"

    def tagged(group):
        ds = group.create_dataset("dense/kernel", data=np.ones(4, np.float32))
        ds.attrs["dtype"] = "bfloat16"

    legacy_h5(path, tagged)
    with pytest.raises(
        WeightReadError,
        match=r"tagged\.h5: dataset '/dense/dense/kernel' is tagged bfloat16 but stores float32 \(4 bytes",
    ):
        open_weights(path)
    repeated = model_dir / "repeated.h5"
    legacy_h5(repeated, lambda g: g.create_dataset("dense/kernel", data=np.ones(4, np.float32)))
    with h5py.File(repeated, "a") as f:
        f.attrs["layer_names"] = [b"dense"] * 1000
    with pytest.raises(
        WeightReadError, match=r"repeated\.h5: 'layer_names' repeats layer\(s\) \['dense'\]"
    ):
        open_weights(repeated)


# --------------------------------------------------------------------------------------
# Zip bombs (.npz, .keras): refused from the zip directory, before decompression
# --------------------------------------------------------------------------------------


def write_zero_member(archive: zipfile.ZipFile, name: str, header: bytes, n_bytes: int) -> None:
    """Stream ``n_bytes`` of zeros after ``header`` into a deflated member (never in memory)."""
    chunk = bytes(1 << 20)
    with archive.open(name, "w", force_zip64=True) as f:
        f.write(header)
        for _ in range(n_bytes // len(chunk)):
            f.write(chunk)


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return np.lib.format.MAGIC_PREFIX + b"\x01\x00" + buffer.getvalue()[8:]


@pytest.fixture
def small_limits():
    """Limits scaled down so that a 4 MiB bomb trips them (the test writes little)."""
    previous = guard.set_read_limits(ratio_exempt_bytes=1 << 20, max_member_bytes=64 << 20)
    yield guard.LIMITS
    guard.set_read_limits(**vars(previous))


def test_npz_zip_bomb_is_refused_before_decompression(model_dir, small_limits):
    path = model_dir / "bomb.npz"
    n = 4 << 20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_zero_member(archive, "w.npy", npy_header((n // 4,)), n)
    assert path.stat().st_size < 20_000
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert err.match(
        rf"^{path}: refused: member 'w\.npy' expands \d[\d,]* stored bytes to 4,194,\d\d\d \("
    )
    assert err.match(
        r"more than the limit of 100x: ReadLimits.max_compression_ratio\) \(a zip bomb\?\)$"
    )


def test_npz_bomb_at_the_default_limits(model_dir):
    path = model_dir / "bomb.npz"
    n = 80 << 20  # beyond the 64 MiB that are exempt from the ratio test
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_zero_member(archive, "w.npy", npy_header((n // 4,)), n)
    with pytest.raises(WeightReadError, match=r"bomb\.npz: refused: member 'w\.npy' expands"):
        open_weights(path)


def test_member_beyond_the_absolute_limit_is_refused(model_dir, small_limits):
    path = model_dir / "big.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("w.npy", npy_header((1 << 24,)) + bytes(1))  # header says 64 MiB
    guard.set_read_limits(max_member_bytes=100)
    with pytest.raises(
        WeightReadError,
        match=r"big\.npz: refused: member 'w\.npy' declares \d+ uncompressed bytes, more than the limit of 100",
    ):
        open_weights(path)


def test_npz_member_declaring_more_than_it_holds_and_corrupt_members(model_dir):
    path = model_dir / "lying.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", npy_header((1 << 30,)) + bytes(16))  # says 4 GiB, holds 16 B
    with pytest.raises(
        WeightReadError,
        match=r"lying\.npz: member 'w' declares shape \(1073741824,\) of float32 \(4,294,967,296 bytes\) but holds 16 bytes",
    ):
        open_weights(path)
    bad = model_dir / "bad.npz"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("w.npy", b"not an array")
    with pytest.raises(WeightReadError, match=r"bad\.npz: member 'w' is not an \.npy array"):
        open_weights(bad)
    objects = model_dir / "objects.npz"
    np.savez(objects, w=np.ones(3), o=np.array([{"a": 1}], dtype=object))
    ws = open_weights(objects)
    assert ws.names == ["w"] and ws.skipped == [
        ("o", "object array refused (loading it would need pickle)")
    ]


def test_keras_archive_bomb_is_refused_before_decompression(model_dir, small_limits):
    path = model_dir / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        write_zero_member(archive, "model.weights.h5", b"", 4 << 20)
    with pytest.raises(
        WeightReadError,
        match=r"bomb\.keras: refused: member 'model\.weights\.h5' expands .* \(a zip bomb\?\)",
    ):
        open_weights(path)


def test_max_weights_limit(model_dir):
    path = model_dir / "w.npy"
    np.save(path, np.ones(100, np.float32))
    previous = guard.set_read_limits(max_weights=10)
    try:
        with pytest.raises(
            WeightReadError, match=r"w\.npy: declares 100 weights, more than the limit of 10"
        ):
            open_weights(path)
    finally:
        guard.set_read_limits(**vars(previous))
    assert open_weights(path).n == 100


# --------------------------------------------------------------------------------------
# ONNX external data: inside the model's folder, within its file
# --------------------------------------------------------------------------------------


def onnx_with_external(path: Path, location: str, offset: int = 0, length: int = 16) -> None:
    weight = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Identity", ["w"], ["y"])
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight]
    )
    onnx.save_model(helper.make_model(graph), path)


@pytest.mark.parametrize(
    "location, reason",
    [
        ("../other/secret.bin", r"is outside the model's folder \(\.\. is not allowed\)"),
        ("ABSOLUTE", r"is an absolute path"),
        ("link.bin", r"resolves to .*secret\.bin, outside the model's folder"),
        ("zero.bin", r"resolves to /dev/zero, outside the model's folder"),
    ],
)
def test_onnx_external_data_must_stay_in_the_folder(model_dir, outside, location, reason):
    if location == "ABSOLUTE":
        location = str(outside / "secret.bin")
    (model_dir / "link.bin").symlink_to(outside / "secret.bin")
    (model_dir / "zero.bin").symlink_to("/dev/zero")
    path = model_dir / "model.onnx"
    onnx_with_external(path, location)
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert str(err.value).startswith(f"{path}: ")
    assert f"external data of tensor 'w' {location!r}" in str(err.value)
    assert err.match(reason)


def test_onnx_external_data_beyond_the_end_of_its_file(model_dir):
    np.arange(4, dtype=np.float32).tofile(model_dir / "w.bin")
    path = model_dir / "model.onnx"
    onnx_with_external(path, "w.bin", offset=8, length=16)
    with pytest.raises(
        WeightReadError,
        match=r"model\.onnx: external data of tensor 'w': bytes 8\.\.24 of 'w\.bin' are beyond its end \(16 bytes\)",
    ):
        open_weights(path)
    onnx_with_external(path, "w.bin", offset=0, length=16)
    assert flatten_weights(path).tolist() == [0.0, 1.0, 2.0, 3.0]


# --------------------------------------------------------------------------------------
# safetensors headers: as strict as the safetensors library
# --------------------------------------------------------------------------------------


def raw_safetensors(path: Path, header: dict | bytes, data: bytes) -> Path:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def f32(shape: list, begin: int, end: int, dtype: str = "F32") -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


@pytest.mark.parametrize(
    "header, data, reason",
    [
        (
            {"a": f32([2], 0, 8), "b": f32([2], 4, 12)},
            bytes(12),
            r"tensor 'b' at bytes \[4, 12\] overlaps the previous tensor",
        ),
        ({"a": f32([2], 8, 16)}, bytes(16), r"tensor 'a' at bytes \[8, 16\] leaves a gap"),
        ({"a": f32([0], 8, 4)}, bytes(8), r"tensor 'a' has data_offsets \[8, 4\] that do not fit"),
        ({"a": f32([-1, 2], 0, 8)}, bytes(8), r"tensor 'a' has shape \[-1, 2\]: not a list of"),
        ({"a": f32([2.0], 0, 8)}, bytes(8), r"tensor 'a' has shape \[2\.0\]: not a list of"),
        ({"a": f32([True], 0, 4)}, bytes(4), r"tensor 'a' has shape \[True\]"),
        ({"a": f32([2], 0, 8, "F33")}, bytes(8), r"tensor 'a' has unknown dtype 'F33'"),
        ({"a": f32([2], 0, 8)}, bytes(9), r"1 bytes after the last tensor"),
        ({"a": f32([3], 0, 2, "F4")}, bytes(2), r"tensor 'a': shape \[3\] of F4 does not fill"),
        (b'{"a\xff": 1}', b"", r"not UTF-8"),
        (b'{"__metadata__": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"", r"nested too"),
        ({"__metadata__": {"order": 1}}, b"", r"__metadata__ must map names to strings"),
        ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), r"tensor 'a' is not a \{dtype"),
    ],
)
def test_safetensors_headers_the_library_rejects_are_refused(model_dir, header, data, reason):
    from safetensors import SafetensorError, safe_open

    path = raw_safetensors(model_dir / "bad.safetensors", header, data)
    with pytest.raises(SafetensorError):  # the library's own verdict on the same file
        with safe_open(str(path), "np"):
            pass
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert str(err.value).startswith(f"{path}: ")
    assert err.match(reason)


def test_safetensors_other_known_dtypes_are_skipped_with_the_reason(model_dir):
    header = {
        "w": f32([2], 0, 8),
        "q": f32([4], 8, 10, "F4"),
        "step": f32([1], 10, 18, "I64"),
    }
    path = raw_safetensors(
        model_dir / "ok.safetensors", header, np.ones(2, np.float32).tobytes() + bytes(10)
    )
    ws = open_weights(path)
    assert flatten_weights(path).tolist() == [1.0, 1.0]
    assert ws.skipped == [
        ("q", "float4 tensor is not supported"),
        ("step", "int64 tensor is not a weight"),
    ]


# --------------------------------------------------------------------------------------
# torch zip checkpoints: storages checked against their records before mmap
# --------------------------------------------------------------------------------------


def rewrite_zip(source: Path, target: Path, change) -> None:
    """Copy a zip member by member, ``change(name, data)`` deciding each member's bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info)))


@pytest.mark.parametrize("cut", [8, 20])
def test_torch_storage_record_of_the_wrong_size_is_refused(model_dir, cut):
    good = model_dir / "good.pt"
    torch.save({"w": torch.arange(4.0), "v": torch.ones(3)}, good)
    bad = model_dir / "bad.pt"
    rewrite_zip(good, bad, lambda n, d: (d + bytes(64))[:cut] if n.endswith("data/0") else d)
    # torch's own mmap path reads past the short record instead of failing
    if cut < 16:
        assert torch.load(bad, weights_only=True, mmap=True)["w"].shape == (4,)
    with pytest.raises(WeightReadError) as err:
        open_weights(bad)
    assert str(err.value) == (
        f"{bad}: corrupt checkpoint: storage '0' declares 4 x FloatStorage (16 bytes) but its "
        f"record 'good/data/0' holds {cut} bytes"
    )
    assert flatten_weights(good).tolist() == [0.0, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0]


def test_torch_checkpoint_without_its_storage_record_or_data_pkl(model_dir):
    good = model_dir / "good.pt"
    torch.save({"w": torch.ones(2)}, good)
    missing = model_dir / "missing.pt"
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(missing, "w") as new:
        for info in old.infolist():
            if not info.filename.endswith("data/0"):
                new.writestr(info.filename, old.read(info))
    with pytest.raises(WeightReadError, match=r"storage record 'good/data/0' missing"):
        open_weights(missing)
    garbled = model_dir / "garbled.pt"
    rewrite_zip(good, garbled, lambda n, d: b"\x80\x02garbage" if n.endswith("data.pkl") else d)
    with pytest.raises(WeightReadError, match=r"garbled\.pt: corrupt checkpoint: .*data\.pkl"):
        open_weights(garbled)


# --------------------------------------------------------------------------------------
# ONNX tensors: possible dims, values stored once and in the declared amount
# --------------------------------------------------------------------------------------


def onnx_with(path: Path, weight) -> Path:
    node = helper.make_node("Identity", [weight.name], ["y"])
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight]
    )
    onnx.save_model(helper.make_model(graph), path)
    return path


def test_onnx_negative_dims_values_stored_twice_or_short_are_refused(model_dir):
    negative = numpy_helper.from_array(np.ones((2, 16), np.float32), "w")
    negative.dims[0] = -1
    path = onnx_with(model_dir / "negative.onnx", negative)
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert str(err.value) == f"{path}: tensor 'w' has dims [-1, 16]: a dimension is negative"

    twice = numpy_helper.from_array(np.ones(4, np.float32), "w")
    twice.float_data.extend([1.0, 2.0, 3.0, 4.0])
    path = onnx_with(model_dir / "twice.onnx", twice)
    with pytest.raises(
        WeightReadError,
        match=r"twice\.onnx: tensor 'w' stores its values twice \(float_data and raw_data\)",
    ):
        open_weights(path)

    short = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    del short.float_data[2]
    path = onnx_with(model_dir / "short.onnx", short)
    with pytest.raises(
        WeightReadError, match=r"short\.onnx: tensor 'w' has dims \[3\] \(3 values\) but stores 2"
    ):
        open_weights(path)

    raw = numpy_helper.from_array(np.ones(4, np.float32), "w")
    raw.raw_data = raw.raw_data[:12]
    path = onnx_with(model_dir / "raw.onnx", raw)
    with pytest.raises(WeightReadError, match=r"\(16 bytes\) but stores 12 bytes"):
        open_weights(path)


def test_onnx_typed_and_half_precision_values_are_read(model_dir):
    typed = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    assert flatten_weights(onnx_with(model_dir / "typed.onnx", typed)).tolist() == [1, 2, 3]
    half = helper.make_tensor("w", TensorProto.FLOAT16, [2], [1.5, -2.0])  # in int32_data
    assert len(half.int32_data) == 2
    assert flatten_weights(onnx_with(model_dir / "half.onnx", half)).tolist() == [1.5, -2.0]


# --------------------------------------------------------------------------------------
# NWS raw .bin files are raw float64 whatever their first bytes; deep .keras configs
# --------------------------------------------------------------------------------------


def raw_float64_starting_with(prefix: bytes, n: int = 8) -> np.ndarray:
    tail = np.arange(n - 1, dtype="<f8").tobytes()
    return np.frombuffer(prefix.ljust(16, b"\x00") + tail, "<f8")


@pytest.mark.parametrize(
    "prefix",
    [b"PK\x03\x04", b"\x80\x02K\x01.", b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff"],
    ids=["zip-magic", "whole-pickle", "pickle-claiming-exabytes"],
)
def test_raw_float64_bin_is_read_whatever_its_first_bytes(tmp_path, prefix):
    theta = raw_float64_starting_with(prefix)
    snapshot = tmp_path / "net_0001" / "weights" / "020.bin"
    snapshot.parent.mkdir(parents=True)
    theta.tofile(snapshot)
    loose = tmp_path / "loose.bin"
    theta.tofile(loose)
    # A loose .bin that is a whole pickle goes to the torch loader (which refuses it): only
    # a file named like an NWS snapshot is never sniffed.
    for path in (snapshot, loose) if prefix != b"\x80\x02K\x01." else (snapshot,):
        ws = open_weights(path)
        assert ws.format == "nws-float64"
        np.testing.assert_array_equal(flatten_weights(path), theta)


def test_bin_checkpoints_are_still_read_as_pytorch(tmp_path):
    for legacy in (False, True):
        path = tmp_path / f"pytorch_model_{legacy}.bin"
        torch.save({"w": torch.arange(3.0)}, path, _use_new_zipfile_serialization=not legacy)
        assert open_weights(path).format == "torch"
        assert flatten_weights(path).tolist() == [0.0, 1.0, 2.0]


def test_keras_config_nested_too_deeply_or_broken_is_a_named_error(model_dir):
    weights = model_dir / "w.h5"
    legacy_h5(weights, lambda g: g.create_dataset("dense/kernel", data=np.ones(2, np.float32)))
    for name, config in [
        ("deep", "[" * 200_000 + "]" * 200_000),
        ("broken", '{"layers": [}'),
        ("missing", None),
    ]:
        path = model_dir / f"{name}.keras"
        with zipfile.ZipFile(path, "w") as archive:
            if config is not None:
                archive.writestr("config.json", config)
            archive.write(weights, "model.weights.h5")
        with pytest.raises(WeightReadError) as err:
            open_weights(path)
        start = "the archive holds no config.json" if config is None else "member 'config.json' is"
        assert str(err.value).startswith(f"{path}: {start}")
        assert err.match("the layer order cannot be known")


# --------------------------------------------------------------------------------------
# MemoryError while reading: a named error for every format
# --------------------------------------------------------------------------------------


def _no_memory(*args, **kwargs):
    raise MemoryError


def write_every_format(folder: Path) -> dict[str, Path]:
    """One small valid file per format (and the call whose memory runs out in its reader)."""
    w = np.arange(4, dtype=np.float32)
    paths = {
        "safetensors": folder / "m.safetensors",
        "npy": folder / "m.npy",
        "npz": folder / "m.npz",
        "torch": folder / "m.pt",
        "onnx": folder / "m.onnx",
        "h5": folder / "m.h5",
        "bin": folder / "weights" / "001.bin",
    }
    safetensors.numpy.save_file({"w": w}, paths["safetensors"])
    np.save(paths["npy"], w)
    np.savez(paths["npz"], w=w)
    torch.save({"w": torch.from_numpy(w)}, paths["torch"])
    onnx_with(paths["onnx"], numpy_helper.from_array(w, "w"))
    legacy_h5(paths["h5"], lambda g: g.create_dataset("dense/kernel", data=w))
    paths["bin"].parent.mkdir()
    w.astype("<f8").tofile(paths["bin"])
    index = write_index(folder, {"w": "m.safetensors"})
    paths["sharded"] = index
    return paths


MEMORY_HUNGRY = {
    "safetensors": (np, "frombuffer"),  # small files are read whole
    "sharded": (np, "frombuffer"),
    "npy": (np, "load"),
    "npz": (np, "frombuffer"),
    "torch": (torch, "load"),
    "onnx": (numpy_helper, "to_array"),
    "h5": (h5py.Dataset, "__getitem__"),
    # "bin" (raw float64) is read in place: opening it allocates nothing (file_array).
}


@pytest.mark.parametrize("kind", sorted(MEMORY_HUNGRY))
def test_memory_error_while_reading_is_a_named_error(model_dir, monkeypatch, kind):
    path = write_every_format(model_dir)[kind]
    assert flatten_weights(path).tolist() == [0.0, 1.0, 2.0, 3.0]
    monkeypatch.setattr(*MEMORY_HUNGRY[kind], _no_memory)
    with pytest.raises(WeightReadError) as err:
        open_weights(path)
    assert str(err.value).startswith(f"{path}: not enough memory to ")


def test_a_failing_read_of_a_large_safetensors_file_is_a_named_error(model_dir, monkeypatch):
    import errno
    import os

    from miwd_widget.weights.formats import safetensors as safetensors_format

    path = write_every_format(model_dir)["safetensors"]
    monkeypatch.setattr(safetensors_format, "SMALL_FILE_BYTES", 0)
    ws = open_weights(path)  # read in place: opening reads the header alone

    def failing(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "preadv", failing)
    with pytest.raises(WeightReadError, match=rf"^{path}: read failed at byte \d+: "):
        flatten_weights(ws)


def test_memory_error_of_the_nws_layout_and_of_flatten_weights(model_dir, monkeypatch):
    from miwd_widget.weights.formats.nws import read_raw_float64

    path = write_every_format(model_dir)["bin"]
    ws = open_weights(path)
    assert np.asarray(read_raw_float64(path)).tolist() == [0.0, 1.0, 2.0, 3.0]
    monkeypatch.setattr(np, "empty", _no_memory)
    with pytest.raises(WeightReadError, match=rf"^{path}: not enough memory for its 4 weights"):
        flatten_weights(ws)


def test_onnx_corrupt_tensor_that_is_not_a_weight_is_still_an_error(model_dir):
    ids = numpy_helper.from_array(np.arange(6, dtype=np.int16).reshape(2, 3), "ids")
    ids.raw_data = ids.raw_data[:8]  # 4 values for dims [2, 3]
    path = onnx_with(model_dir / "ids.onnx", ids)
    with pytest.raises(
        WeightReadError, match=rf"^{path}: tensor 'ids' \(int16\) is corrupt: ValueError: "
    ):
        open_weights(path)
    ids = numpy_helper.from_array(np.arange(6, dtype=np.int16).reshape(2, 3), "ids")
    ws = open_weights(onnx_with(model_dir / "fine.onnx", ids))
    assert ws.skipped == [("ids", "int16 tensor is not a weight")]


# --------------------------------------------------------------------------------------
# Symlink loops: named as such, whether the model, one of its shards or its folder's file
# --------------------------------------------------------------------------------------

LOOP = "is a symbolic link loop (its links lead back to themselves, never to a file)"


def test_a_model_path_that_loops_is_named(model_dir):
    (model_dir / "a.safetensors").symlink_to("b.safetensors")
    (model_dir / "b.safetensors").symlink_to("a.safetensors")
    with pytest.raises(WeightReadError) as err:
        open_weights(model_dir / "a.safetensors")
    assert str(err.value) == f"{model_dir / 'a.safetensors'}: {LOOP}"
    # a folder whose only model file loops says so, not that it holds no model file
    with pytest.raises(WeightReadError) as err:
        open_weights(model_dir)
    assert str(err.value) == f"{model_dir / 'a.safetensors'}: {LOOP}"


def test_a_shard_that_loops_is_named_with_its_index(model_dir):
    write_safetensors(model_dir / "model-1.safetensors")
    (model_dir / "model-2.safetensors").symlink_to("model-3.safetensors")
    (model_dir / "model-3.safetensors").symlink_to("model-2.safetensors")
    index = write_index(model_dir, {"w": "model-1.safetensors", "v": "model-2.safetensors"})
    for path in (index, model_dir):
        with pytest.raises(WeightReadError) as err:
            open_weights(path)
        assert str(err.value) == (
            f"{index}: shard file 'model-2.safetensors' ({model_dir / 'model-2.safetensors'}): "
            f"{LOOP}"
        )
