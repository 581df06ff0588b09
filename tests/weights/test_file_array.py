"""FileArray: arrays read in place from model files by positional reads."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from miwd_widget.weights import WeightReadError, flatten_weights, open_weights
from miwd_widget.weights.file_array import FileArray, OpenFile


@pytest.fixture
def stored(tmp_path):
    values = np.arange(24, dtype="<f4")
    path = tmp_path / "w.bin"
    path.write_bytes(b"HEAD" + values.tobytes())
    return path, values


def test_reads_equal_the_stored_values(stored):
    path, values = stored
    a = FileArray(OpenFile(path), 4, np.dtype("<f4"), (24,))
    assert (a.shape, a.ndim, a.size, a.nbytes, len(a)) == ((24,), 1, 24, 96, 24)
    assert np.array_equal(np.asarray(a), values)
    assert np.array_equal(a[5:9], values[5:9]) and a[-1] == values[-1]
    assert np.array_equal(a[::5], values[::5])  # any other key: read whole, indexed in memory
    m = a.reshape(4, -1)
    assert m.shape == (4, 6) and np.array_equal(m[1:3], values.reshape(4, 6)[1:3])
    assert np.array_equal(m[2], values.reshape(4, 6)[2])
    assert np.array_equal(m[1:3, 2:4], values.reshape(4, 6)[1:3, 2:4])
    assert np.array_equal(np.asarray(a.view(np.uint32)), values.view(np.uint32))
    buffer = np.empty(5, "<f4")
    assert a.read_into(10, buffer) is buffer and np.array_equal(buffer, values[10:15])
    with pytest.raises(ValueError, match="cannot reshape"):
        a.reshape(5, 5)
    with pytest.raises(IndexError):
        a[24]


def test_a_region_outside_the_file_is_refused(stored):
    path, _ = stored
    with pytest.raises(WeightReadError, match=rf"^{path}: bytes 4 to 104 are outside the file"):
        FileArray(OpenFile(path), 4, np.dtype("<f4"), (25,))


def test_a_file_truncated_after_opening_is_a_named_error(stored):
    path, values = stored
    a = FileArray(OpenFile(path), 4, np.dtype("<f4"), (24,))
    os.truncate(path, 40)
    assert np.array_equal(a[:9], values[:9])  # what is still there reads as before
    with pytest.raises(
        WeightReadError,
        match=rf"^{path}: the file changed while it was read: it has 40 bytes now, 100 when "
        r"opened, and byte 100 is needed \(truncated or rewritten in place\)$",
    ):
        np.asarray(a)


def test_a_file_replaced_by_a_rename_keeps_reading_what_was_opened(stored, tmp_path):
    path, values = stored
    a = FileArray(OpenFile(path), 4, np.dtype("<f4"), (24,))
    other = tmp_path / "new.bin"
    other.write_bytes(b"HEAD" + (values + 100).tobytes())
    os.replace(other, path)
    assert np.array_equal(np.asarray(a), values)  # the open file pins the old content
    path.unlink()
    assert np.array_equal(np.asarray(a), values)


def test_the_file_is_closed_when_its_arrays_are_gone(stored):
    path, _ = stored
    file = OpenFile(path)
    fd = file.fd
    a = FileArray(file, 4, np.dtype("<f4"), (24,))
    del file
    os.fstat(fd)  # still open: the array needs it
    del a
    with pytest.raises(OSError):
        os.fstat(fd)


def test_torch_checkpoints_are_read_in_place_with_their_views(tmp_path):
    w = torch.arange(12.0).reshape(3, 4)
    state = {
        "w": w,
        "t": w.T,  # a strided view, saved with the storage it shares
        "h": torch.linspace(-1, 1, 7).to(torch.bfloat16),
        "d": torch.ones(2, dtype=torch.float64),
        "steps": torch.arange(3),
    }
    path = tmp_path / "m.pt"
    torch.save(state, path)
    ws = open_weights(path)
    assert ws.names == ["w", "t", "h", "d"]
    assert isinstance(ws.tensors[0].data, FileArray) and isinstance(ws.tensors[2].data, FileArray)
    assert ws.skipped == [("steps", "int64 tensor is not a weight")]
    expected = torch.cat([state[k].reshape(-1).to(torch.float64) for k in ws.names])
    assert np.array_equal(flatten_weights(path), expected.numpy())
    assert ws.tensors[1].shape == (4, 3)
