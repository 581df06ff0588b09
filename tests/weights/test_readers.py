"""Model readers: every format written with its real library, exact values and order, errors."""

from __future__ import annotations

import json
import pickle
import sys
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import onnx
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from onnx import TensorProto, helper, numpy_helper

from miwd_widget import describe, flatten_weights
from miwd_widget.weights import (
    MissingDependencyError,
    Tensor,
    WeightReadError,
    WeightSource,
    natural_key,
    open_weights,
)
from miwd_widget.weights.file_array import FileArray
from miwd_widget.weights.formats import safetensors as safetensors_format


def values(ws: WeightSource) -> dict[str, np.ndarray]:
    """Each tensor's values as float64 (bfloat16 decoded), keyed by name, in order."""
    return {
        t.name: np.concatenate([np.asarray(p, np.float64) for p in t.chunks()]) for t in ws.tensors
    }


def arange(n: int, start: float = 0.0, dtype=np.float32) -> np.ndarray:
    return (start + np.arange(n)).astype(dtype)


# --------------------------------------------------------------------------------------
# in-memory sources
# --------------------------------------------------------------------------------------


def test_natural_key_orders_numbers_numerically():
    names = ["layers.10.w", "layers.2.w", "layers.1.b", "embed", "layers.2.b"]
    assert sorted(names, key=natural_key) == [
        "embed",
        "layers.1.b",
        "layers.2.b",
        "layers.2.w",
        "layers.10.w",
    ]


def test_mapping_keeps_insertion_order_and_reports_integer_tensors():
    ws = open_weights(
        {
            "z": np.array([1.0, 2.0]),
            "ids": np.arange(4),
            "a": np.ones((2, 2), np.float32),
            "mask": np.array([True]),
        },
        name="m",
    )
    assert ws.names == ["z", "a"]
    assert ws.n == 6
    assert ws.skipped == [
        ("ids", "int64 tensor is not a weight"),
        ("mask", "bool tensor is not a weight"),
    ]
    assert ws.report() == (
        "m: 2 tensors, N=6 weights\n"
        "  skipped ids: int64 tensor is not a weight\n"
        "  skipped mask: bool tensor is not a weight"
    )
    assert flatten_weights([np.array([1.0]), np.array([2.0, 3.0])]).tolist() == [1.0, 2.0, 3.0]


def test_order_selects_reorders_and_rejects_unknown_names():
    model = {"b": np.array([2.0]), "a": np.array([1.0]), "c": np.array([3.0])}
    ws = open_weights(model, order=["a", "b"])
    assert ws.names == ["a", "b"]
    assert ws.skipped == [("c", "not named in order=")]
    with pytest.raises(WeightReadError, match=r"does not have: \['x', 'y'\]"):
        open_weights(model, order=["a", "x", "y"])
    with pytest.raises(WeightReadError, match="more than once"):
        open_weights(model, order=["a", "a"])
    with pytest.raises(WeightReadError, match="list of tensor names"):
        open_weights(model, order="a")


def test_nested_checkpoint_mapping_is_unwrapped():
    ckpt = {"epoch": 3, "state_dict": {"w": np.array([1.0, 2.0])}, "optimizer": {"lr": 0.1}}
    ws = open_weights(ckpt)
    assert ws.names == ["w"]
    assert [k for k, _ in ws.skipped] == ["epoch", "optimizer"]


def small_net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    net.train()
    net(torch.randn(8, 3))  # updates the BatchNorm running statistics (and its counter)
    return net


def test_torch_module_parameters_then_buffers_in_registration_order():
    net = small_net()
    ws = open_weights(net)
    assert ws.names == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    assert ws.name == "Sequential"
    got = values(ws)
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(got[name], p.detach().numpy().reshape(-1))
    with_buffers = open_weights(net, include_buffers=True)
    assert with_buffers.names == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "2.weight",
        "2.bias",
    ]
    assert with_buffers.skipped == [("1.num_batches_tracked", "int64 tensor is not a weight")]
    assert "skipped 1.num_batches_tracked: int64 tensor is not a weight" in with_buffers.report()
    np.testing.assert_array_equal(values(with_buffers)["1.running_var"], net[1].running_var.numpy())
    # The module with buffers and its state_dict give the same theta.
    np.testing.assert_array_equal(
        flatten_weights(net, include_buffers=True), flatten_weights(net.state_dict())
    )


def test_torch_state_dict_bfloat16_and_float16():
    sd = {
        "a": torch.tensor([1.5, -2.0, 0.15625], dtype=torch.bfloat16),
        "b": torch.tensor([0.5, 65504.0], dtype=torch.float16),
        "pos": torch.arange(3),
    }
    ws = open_weights(sd)
    a, b = ws.tensors
    assert (a.dtype, a.data.dtype) == ("bfloat16", np.dtype(np.uint16))
    # bfloat16 bits: 1.5 = 0x3FC0, -2.0 = 0xC000, 0.15625 = 0x3E20
    assert a.data.tolist() == [0x3FC0, 0xC000, 0x3E20]
    assert values(ws)["a"].tolist() == [1.5, -2.0, 0.15625]
    assert b.dtype == "float16" and values(ws)["b"].tolist() == [0.5, 65504.0]
    assert ws.skipped == [("pos", "int64 tensor is not a weight")]
    theta = flatten_weights(sd)
    assert theta.dtype == np.float32 and theta.tolist() == [1.5, -2.0, 0.15625, 0.5, 65504.0]


def test_describe_accepts_modules_state_dicts_and_lists_of_paths(tmp_path):
    net = small_net()
    theta = flatten_weights(net)
    expected = describe(theta, S=2, B=4, value_range=(-1, 1))
    np.testing.assert_array_equal(describe(net, S=2, B=4, value_range=(-1, 1)), expected)
    path = tmp_path / "net.safetensors"
    params = dict(net.named_parameters())
    # safetensors sorts keys ("0.bias" before "0.weight"): the metadata keeps the real order.
    safetensors.torch.save_file(
        {k: v.detach().contiguous() for k, v in params.items()},
        path,
        metadata={"order": json.dumps(list(params))},
    )
    many = describe([net, str(path), net.state_dict()], S=2, B=4, value_range=(-1, 1))
    assert many.shape == (3, 2, 4)
    np.testing.assert_array_equal(many[0], expected)
    np.testing.assert_array_equal(many[1], expected)
    with_buffers = describe(net, S=2, B=4, value_range=(-1, 1), include_buffers=True)
    np.testing.assert_array_equal(many[2], with_buffers)
    assert not np.array_equal(with_buffers, expected)


# --------------------------------------------------------------------------------------
# PyTorch checkpoint files
# --------------------------------------------------------------------------------------


def test_torch_files_nested_checkpoint_bin_and_legacy_format(tmp_path):
    net = small_net()
    sd = net.state_dict()
    expected = flatten_weights(net, include_buffers=True)

    torch.save({"epoch": 7, "state_dict": sd, "optimizer": {"lr": 0.1}}, tmp_path / "ckpt.pth")
    ws = open_weights(tmp_path / "ckpt.pth")
    assert ws.format == "torch"
    assert ws.names[:2] == ["0.weight", "0.bias"] and ws.names[4] == "1.running_mean"
    assert [k for k, _ in ws.skipped] == ["epoch", "optimizer", "1.num_batches_tracked"]
    np.testing.assert_array_equal(flatten_weights(tmp_path / "ckpt.pth"), expected)

    torch.save({"model": sd}, tmp_path / "pytorch_model.bin")  # zip format, .bin suffix
    np.testing.assert_array_equal(flatten_weights(tmp_path / "pytorch_model.bin"), expected)

    legacy = tmp_path / "legacy.bin"  # pre-1.6 format: a raw pickle stream
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    assert legacy.read_bytes()[:2] == b"\x80\x02"
    assert open_weights(legacy).format == "torch"
    np.testing.assert_array_equal(flatten_weights(legacy), expected)


@pytest.mark.parametrize("odd", [torch.float8_e4m3fn, torch.uint16, torch.uint32, torch.uint64])
def test_torch_untyped_storages_float8_and_unsigned_are_read_or_skipped(tmp_path, odd):
    # torch pickles a dtype without a legacy storage class as torch.storage.UntypedStorage
    odd_values = torch.tensor([0.5, 2.0, 3.0]).to(odd)
    sd = {"w": torch.tensor([1.0, -1.5]), "odd": odd_values, "step": torch.tensor([4])}
    path = tmp_path / "m.pt"
    torch.save(sd, path)
    ws = open_weights(path)
    assert ws.format == "torch"
    if odd.is_floating_point:  # float8: a float weight, converted to float32 once
        assert ws.names == ["w", "odd"]
        assert values(ws)["odd"].tolist() == [0.5, 2.0, 3.0]
        assert ws.skipped == [("step", "int64 tensor is not a weight")]
    else:  # unsigned: skipped as every integer tensor is
        assert ws.names == ["w"]
        kind = str(odd).removeprefix("torch.")
        assert ws.skipped == [
            ("odd", f"{kind} tensor is not a weight"),
            ("step", "int64 tensor is not a weight"),
        ]
    assert values(ws)["w"].tolist() == [1.0, -1.5]

    folder = tmp_path / "hf"  # the same file as a Hugging Face folder's pytorch_model.bin
    folder.mkdir()
    torch.save(sd, folder / "pytorch_model.bin")
    assert flatten_weights(folder)[:2].tolist() == [1.0, -1.5]


class _WritesMarker:
    """A pickle payload that creates a file when unpickled (stands in for malicious code)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_that_carries_code_is_refused_and_never_run(tmp_path):
    # The payload is live: unpickling it the unsafe way creates its marker.
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_WritesMarker(control)))
    assert control.exists()

    marker = tmp_path / "marker"
    pt = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(3), "payload": _WritesMarker(marker)}, pt)
    raw = tmp_path / "evil.bin"
    raw.write_bytes(pickle.dumps({"w": _WritesMarker(marker)}, protocol=2))
    for path in (pt, raw):
        with pytest.raises(WeightReadError) as err:
            open_weights(path)
        message = str(err.value)
        assert str(path) in message
        assert "refused" in message and "would execute code" in message
    assert "io.open" in str(pytest.raises(WeightReadError, open_weights, pt).value)
    assert not marker.exists()

    full = tmp_path / "full_model.pt"  # a whole pickled nn.Module needs its class code too
    torch.save(small_net(), full)
    with pytest.raises(WeightReadError, match="refused.*Sequential"):
        open_weights(full)


# --------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------


def test_safetensors_numpy_is_read_in_place_in_natural_order(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    tensors = {
        "layers.10.w": arange(3, 100),
        "layers.2.w": arange(4, 20).reshape(2, 2),
        "embed": arange(2, -5, np.float64),
        "layers.2.pos_ids": np.arange(5, dtype=np.int64),
    }
    safetensors.numpy.save_file(tensors, path)
    ws = open_weights(path)
    assert ws.names == ["embed", "layers.2.w", "layers.10.w"]
    assert ws.skipped == [("layers.2.pos_ids", "int64 tensor is not a weight")]
    assert ws.format == "safetensors" and ws.path == str(path)
    # a small file is read whole, into one read-only buffer
    assert not any(isinstance(t.data, FileArray) for t in ws.tensors)
    assert not any(t.data.flags.writeable for t in ws.tensors)
    small = flatten_weights(ws)
    monkeypatch.setattr(safetensors_format, "SMALL_FILE_BYTES", 0)  # a large one: in place
    ws = open_weights(path)
    assert all(isinstance(t.data, FileArray) for t in ws.tensors)
    np.testing.assert_array_equal(flatten_weights(ws), small)
    got = values(ws)
    for name in ws.names:
        np.testing.assert_array_equal(got[name], tensors[name].reshape(-1))
    assert ws.tensors[0].dtype == "float64"
    np.testing.assert_array_equal(
        flatten_weights(path),
        np.concatenate([tensors[k].reshape(-1) for k in ["embed", "layers.2.w", "layers.10.w"]]),
    )
    # order= overrides the natural order
    assert open_weights(path, order=["layers.10.w", "embed"]).names == ["layers.10.w", "embed"]


def test_safetensors_metadata_order_is_used(tmp_path):
    path = tmp_path / "zoo.safetensors"
    tensors = {"head": arange(2), "l00.conv": arange(3), "body": arange(1), "extra": arange(1)}
    order = ["l00.conv", "body", "head"]
    safetensors.numpy.save_file(tensors, path, metadata={"order": json.dumps(order)})
    assert open_weights(path).names == ["l00.conv", "body", "head", "extra"]
    bad = tmp_path / "bad.safetensors"
    safetensors.numpy.save_file(tensors, bad, metadata={"order": json.dumps(["nope"])})
    with pytest.raises(WeightReadError, match=r"bad\.safetensors.*'order' names.*nope"):
        open_weights(bad)


def test_safetensors_torch_bfloat16_float16_and_int64(tmp_path):
    path = tmp_path / "t.safetensors"
    safetensors.torch.save_file(
        {
            "w.bf16": torch.tensor([[1.5, -2.0], [0.15625, 3.0]], dtype=torch.bfloat16),
            "w.f16": torch.tensor([0.25, -8.0], dtype=torch.float16),
            "step": torch.tensor([11], dtype=torch.int64),
        },
        path,
    )
    ws = open_weights(path)
    assert ws.names == ["w.bf16", "w.f16"]
    bf16, f16 = ws.tensors
    assert bf16.dtype == "bfloat16" and bf16.data.tolist() == [0x3FC0, 0xC000, 0x3E20, 0x4040]
    assert f16.dtype == "float16"
    assert values(ws)["w.bf16"].tolist() == [1.5, -2.0, 0.15625, 3.0]
    assert values(ws)["w.f16"].tolist() == [0.25, -8.0]
    assert ws.skipped == [("step", "int64 tensor is not a weight")]
    assert flatten_weights(path).tolist() == [1.5, -2.0, 0.15625, 3.0, 0.25, -8.0]


def write_shards(directory: Path, weight_map_order: list[str]) -> dict[str, np.ndarray]:
    tensors = {
        "layers.0.w": arange(2, 1),
        "layers.1.w": arange(2, 3),
        "layers.2.w": arange(3, 5),
        "layers.10.w": arange(1, 8),
    }
    shard_of = {
        "layers.0.w": "a.safetensors",
        "layers.10.w": "a.safetensors",
        "layers.1.w": "b.safetensors",
        "layers.2.w": "b.safetensors",
    }
    for shard in ("a.safetensors", "b.safetensors"):
        safetensors.numpy.save_file(
            {k: v for k, v in tensors.items() if shard_of[k] == shard}, directory / shard
        )
    index = {
        "metadata": {"total_size": 32},
        "weight_map": {k: shard_of[k] for k in weight_map_order},
    }
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    return tensors


def test_sharded_safetensors_follow_weight_map_or_natural_order(tmp_path, monkeypatch):
    monkeypatch.setattr(safetensors_format, "SMALL_FILE_BYTES", 0)  # shards as large files
    explicit = ["layers.2.w", "layers.0.w", "layers.10.w", "layers.1.w"]
    tensors = write_shards(tmp_path, explicit)
    for source in (tmp_path / "model.safetensors.index.json", tmp_path):  # index or directory
        ws = open_weights(source)
        assert ws.names == explicit
        assert ws.format == "safetensors-sharded"
        assert all(isinstance(t.data, FileArray) for t in ws.tensors)
        np.testing.assert_array_equal(
            flatten_weights(source), np.concatenate([tensors[k] for k in explicit])
        )
    # transformers writes weight_map sorted (no layer information): natural order then
    write_shards(tmp_path, sorted(tensors))
    assert open_weights(tmp_path).names == ["layers.0.w", "layers.1.w", "layers.2.w", "layers.10.w"]
    (tmp_path / "b.safetensors").unlink()
    with pytest.raises(
        WeightReadError, match=r"index\.json: shard file 'b\.safetensors': no such file"
    ):
        open_weights(tmp_path)


def test_sharded_pytorch_bin_checkpoint(tmp_path):
    torch.save({"b.w": torch.tensor([3.0]), "a.w": torch.tensor([1.0, 2.0])}, tmp_path / "p1.bin")
    torch.save({"c.w": torch.tensor([4.0])}, tmp_path / "p2.bin")
    weight_map = {"b.w": "p1.bin", "c.w": "p2.bin", "a.w": "p1.bin"}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    ws = open_weights(tmp_path)
    assert ws.format == "sharded"
    assert ws.names == ["b.w", "c.w", "a.w"]
    assert flatten_weights(tmp_path).tolist() == [3.0, 4.0, 1.0, 2.0]


# --------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------


def onnx_model() -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    w1 = arange(4, 1).reshape(2, 2)
    w2 = arange(2, 10).reshape(2, 1)
    w3 = arange(2, 20, np.float16).reshape(2, 1)
    bias = np.array([0.5, -0.5], np.float32)
    then_c = np.array([1.0, 2.0, 3.0], np.float32)
    else_c = np.array([7.0, 8.0], np.float64)
    else_w = np.array([-1.0], np.float32)
    unused = np.array([42.0], np.float32)
    f = TensorProto.FLOAT
    then_graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["then_c"], value_floats=then_c.tolist()),
            helper.make_node("MatMul", ["h2", "W2"], ["then_out"]),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", f, None)],
    )
    else_graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["else_c"], value=numpy_helper.from_array(else_c)),
            helper.make_node("Mul", ["h2", "else_w"], ["else_out"]),
        ],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", f, None)],
        initializer=[numpy_helper.from_array(else_w, "else_w")],
    )
    nodes = [
        helper.make_node("MatMul", ["X", "W1"], ["h1"]),
        helper.make_node("Constant", [], ["bias"], value=numpy_helper.from_array(bias)),
        helper.make_node("Add", ["h1", "bias"], ["h2"]),
        helper.make_node("Constant", [], ["scale"], value_float=0.25),
        helper.make_node("Constant", [], ["axes"], value_ints=[0, 1]),
        helper.make_node(
            "If", ["cond"], ["g"], name="gate", then_branch=then_graph, else_branch=else_graph
        ),
        helper.make_node("MatMul", ["h2", "W3"], ["h3"]),
        helper.make_node("Reshape", ["h3", "shape"], ["Y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("X", f, [1, 2]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("Y", f, None)],
        initializer=[
            numpy_helper.from_array(unused, "unused"),
            numpy_helper.from_array(w3, "W3"),
            numpy_helper.from_array(np.array([-1], np.int64), "shape"),
            numpy_helper.from_array(w2, "W2"),
            numpy_helper.from_array(w1, "W1"),
        ],
    )
    expected = {
        "W1": w1,
        "bias": bias,
        "scale": np.array([0.25], np.float32),
        "gate.then_branch/then_c": then_c,
        "W2": w2,
        "gate.else_branch/else_c": else_c,
        "gate.else_branch/else_w": else_w,
        "W3": w3,
        "unused": unused,
    }
    return helper.make_model(graph), expected


def test_onnx_weights_everywhere_in_order_of_first_use(tmp_path):
    model, expected = onnx_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    ws = open_weights(path)
    assert ws.names == list(expected)
    assert ws.skipped == [
        ("axes", "Constant value_ints is not a weight"),
        ("shape", "int64 tensor is not a weight"),
    ]
    got = values(ws)
    for name, array in expected.items():
        np.testing.assert_array_equal(got[name], array.reshape(-1).astype(np.float64))
    assert ws.tensors[names_index(ws, "W3")].dtype == "float16"


def names_index(ws: WeightSource, name: str) -> int:
    return ws.names.index(name)


def test_onnx_external_data(tmp_path):
    model, expected = onnx_model()
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.data",
        size_threshold=0,
    )
    assert (tmp_path / "ext.data").stat().st_size > 0
    np.testing.assert_array_equal(
        flatten_weights(path),
        np.concatenate([a.reshape(-1).astype(np.float64) for a in expected.values()]),
    )
    (tmp_path / "ext.data").unlink()
    with pytest.raises(WeightReadError, match=r"ext\.onnx"):
        open_weights(path)


# --------------------------------------------------------------------------------------
# numpy and NWS
# --------------------------------------------------------------------------------------


def test_npz_file_order_and_npy_memory_map(tmp_path):
    npz = tmp_path / "m.npz"
    np.savez(
        npz,
        z=arange(2),
        layer10=arange(3, 5),
        ids=np.arange(2),
        a=arange(1, 9, np.float64),
        obj=np.array([{"code": 1}], dtype=object),
    )
    ws = open_weights(npz)
    assert ws.names == ["z", "layer10", "a"]
    assert ws.skipped == [
        ("ids", "int64 tensor is not a weight"),
        ("obj", "object array refused (loading it would need pickle)"),
    ]
    assert flatten_weights(npz).tolist() == [0, 1, 5, 6, 7, 9]

    npy = tmp_path / "theta.npy"
    np.save(npy, arange(6).reshape(2, 3))
    ws = open_weights(npy)
    assert isinstance(ws.tensors[0].data, FileArray)
    assert flatten_weights(npy).tolist() == [0, 1, 2, 3, 4, 5]

    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WeightReadError, match="objects.npy: refused"):
        open_weights(objects)


def test_nws_float64_bin(tmp_path):
    theta = np.array([0.25, -1.5, 3.0, 1e-3])
    path = tmp_path / "020.bin"
    theta.astype("<f8").tofile(path)
    ws = open_weights(path)
    assert ws.format == "nws-float64" and ws.names == ["theta"]
    assert isinstance(ws.tensors[0].data, FileArray)
    assert flatten_weights(path).tolist() == theta.tolist()

    # A float64 vector whose first bytes happen to read 0x80 0x02 (pickle protocol 2) is
    # still raw weights: it does not parse as a pickle.
    tricky = np.array([np.frombuffer(b"\x80\x02" + b"\x00" * 5 + b"\x3f", "<f8")[0], 2.0])
    tricky_path = tmp_path / "001.bin"
    tricky.astype("<f8").tofile(tricky_path)
    assert tricky_path.read_bytes()[:2] == b"\x80\x02"
    assert open_weights(tricky_path).format == "nws-float64"
    assert flatten_weights(tricky_path).tolist() == tricky.tolist()

    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x01" * 12)
    with pytest.raises(WeightReadError, match=r"odd\.bin: neither a PyTorch.*not a multiple of 8"):
        open_weights(odd)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(WeightReadError, match=r"empty\.bin: empty file"):
        open_weights(empty)


def test_nws_network_folder_gives_a_hint(tmp_path):
    (tmp_path / "weights").mkdir()
    np.zeros(4).tofile(tmp_path / "weights" / "001.bin")
    np.zeros(4).tofile(tmp_path / "error.bin")
    with pytest.raises(WeightReadError, match=r"NWS network folder.*020\.bin"):
        open_weights(tmp_path)


# --------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------


def test_legacy_keras_h5_follows_layer_names(tmp_path):
    path = tmp_path / "legacy.h5"
    kernel, bias, gamma, dense = (
        arange(4, 1).reshape(2, 2),
        arange(2, 10),
        arange(2, 20),
        arange(3, 30),
    )
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        # layer order deliberately not alphabetical
        root.attrs["layer_names"] = [b"conv", b"bn", b"dropout", b"dense"]
        for layer, weights in {
            "conv": {"conv/kernel:0": kernel, "conv/bias:0": bias},
            "bn": {"bn/gamma:0": gamma},
            "dropout": {},
            "dense": {"dense/kernel:0": dense},
        }.items():
            group = root.create_group(layer)
            group.attrs["weight_names"] = [n.encode() for n in weights]
            for name, array in weights.items():
                group[name] = array
        f.create_group("optimizer_weights")["iterations:0"] = np.array(5, np.int64)
    ws = open_weights(path)
    assert ws.format == "keras-h5"
    assert ws.names == ["conv/kernel:0", "conv/bias:0", "bn/gamma:0", "dense/kernel:0"]
    assert ws.skipped == [("optimizer_weights", "optimizer state, not model weights")]
    np.testing.assert_array_equal(
        flatten_weights(path), np.concatenate([kernel.ravel(), bias, gamma, dense])
    )


def keras3_weights(h5: h5py.File) -> dict[str, np.ndarray]:
    """Keras 3 layout: layers/<snake_case class name>[_i]/vars/<i>, optimizer state beside."""
    layers = {
        "conv2d": [arange(4, 1), arange(2, 10)],
        "batch_normalization": [arange(2, 20), arange(2, 30), arange(2, 40), arange(2, 50)],
        "conv2d_1": [arange(3, 60), arange(1, 70)],
        "dense": [arange(2, 80), arange(1, 90)],
    }
    h5.create_group("vars")
    for layer, arrays in layers.items():
        group = h5.create_group(f"layers/{layer}/vars")
        for i, array in enumerate(arrays):
            group[str(i)] = array
    h5.create_group("layers/input_layer/vars")
    optimizer = h5.create_group("optimizer/vars")
    optimizer["0"] = np.array(3, np.int64)
    optimizer["1"] = arange(4)
    return layers


def test_keras3_archive_uses_config_layer_order(tmp_path):
    weights = tmp_path / "model.weights.h5"
    with h5py.File(weights, "w") as h5:
        layers = keras3_weights(h5)
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "input"}},
                {"class_name": "Conv2D", "config": {"name": "c1"}},
                {"class_name": "BatchNormalization", "config": {"name": "bn"}},
                {"class_name": "Conv2D", "config": {"name": "c2"}},
                {"class_name": "Dense", "config": {"name": "out"}},
            ],
        },
    }
    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.write(weights, "model.weights.h5")
    ws = open_weights(archive)
    order = ["conv2d", "batch_normalization", "conv2d_1", "dense"]
    assert ws.format == "keras"
    assert ws.names == [
        f"layers/{layer}/vars/{i}" for layer in order for i in range(len(layers[layer]))
    ]
    assert ws.skipped == [("optimizer", "optimizer/metric state, not model weights")]
    np.testing.assert_array_equal(
        flatten_weights(archive), np.concatenate([a for layer in order for a in layers[layer]])
    )

    # The bare weight file has no config: natural order of the group names (documented).
    assert [n.split("/")[1] for n in open_weights(weights).names][::2] == [
        "batch_normalization",
        "batch_normalization",
        "conv2d",
        "conv2d_1",
        "dense",
    ]


def test_keras3_weight_file_with_tracked_creation_order(tmp_path):
    path = tmp_path / "tracked.weights.h5"
    with h5py.File(path, "w", track_order=True) as h5:
        h5py.get_config().track_order = True
        try:
            keras3_weights(h5)
        finally:
            h5py.get_config().track_order = False
    names = open_weights(path).names
    assert [n.split("/")[1] for n in names] == (
        ["conv2d"] * 2 + ["batch_normalization"] * 4 + ["conv2d_1"] * 2 + ["dense"] * 2
    )


def test_keras3_bfloat16_variables(tmp_path):
    import ml_dtypes  # installed with onnx; Keras 3 writes bfloat16 as 2-byte opaque data

    path = tmp_path / "bf16.weights.h5"
    with h5py.File(path, "w") as h5:
        dataset = h5.create_group("layers/dense/vars").create_dataset(
            "0", data=np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16)
        )
        dataset.attrs["dtype"] = "bfloat16"
    ws = open_weights(path)
    assert ws.tensors[0].dtype == "bfloat16"
    assert ws.tensors[0].data.tolist() == [0x3FC0, 0xC000]
    assert flatten_weights(path).tolist() == [1.5, -2.0]


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_path_errors_name_the_file_and_reason(tmp_path):
    with pytest.raises(WeightReadError, match=r"nowhere\.safetensors: no such file"):
        open_weights(tmp_path / "nowhere.safetensors")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightReadError, match=r"empty: no recognizable model file"):
        open_weights(tmp_path / "empty")
    unknown = tmp_path / "model.xyz"
    unknown.write_bytes(b"123")
    with pytest.raises(WeightReadError, match=r"model\.xyz: unknown model file suffix '\.xyz'"):
        open_weights(unknown)
    one = tmp_path / "one"  # a directory with one model file (safetensors preferred)
    one.mkdir()
    safetensors.numpy.save_file({"w": arange(2, 5)}, one / "model.safetensors")
    torch.save({"w": torch.zeros(2)}, one / "pytorch_model.bin")
    ws = open_weights(one)
    assert ws.path == str(one / "model.safetensors") and flatten_weights(one).tolist() == [5, 6]
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.safetensors", "b.safetensors"):
        safetensors.numpy.save_file({"w": arange(2)}, two / name)
    with pytest.raises(WeightReadError, match="several model files"):
        open_weights(two)
    with pytest.raises(WeightReadError, match="list of 2 paths"):
        open_weights([str(two / "a.safetensors"), str(two / "b.safetensors")])


def test_corrupt_and_truncated_files(tmp_path):
    good = tmp_path / "good.safetensors"
    safetensors.numpy.save_file({"w": arange(100)}, good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[:-40])
    with pytest.raises(WeightReadError, match=r"truncated\.safetensors: truncated: tensor 'w'"):
        open_weights(truncated)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightReadError, match=r"garbage\.safetensors: not a safetensors file"):
        open_weights(garbage)

    header = tmp_path / "header.safetensors"
    header.write_bytes((10).to_bytes(8, "little") + b"{not json}" + b"\x00" * 8)
    with pytest.raises(WeightReadError, match=r"header\.safetensors: corrupt safetensors header"):
        open_weights(header)

    net_path = tmp_path / "net.pt"
    torch.save(small_net().state_dict(), net_path)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(net_path.read_bytes()[:300])
    with pytest.raises(
        WeightReadError, match=r"broken\.pt: cannot read it as a PyTorch checkpoint"
    ):
        open_weights(broken)

    reasons = {
        ".onnx": "cannot read it as an ONNX model",
        ".npz": "not an .npz archive",
        ".npy": "not an .npy array",
        ".h5": "cannot read it as a Keras HDF5 weight file",
        ".keras": "cannot read it as a Keras .keras archive",
        ".pt": "not a PyTorch checkpoint",
    }
    for suffix, reason in reasons.items():
        bad = tmp_path / f"bad{suffix}"
        bad.write_bytes(b"this is not a model file at all")
        with pytest.raises(WeightReadError, match=rf"bad\{suffix}: {reason}"):
            open_weights(bad)
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(1000))
    short.write_bytes(short.read_bytes()[:500])
    with pytest.raises(WeightReadError, match=r"short\.npy: cannot read it as an \.npy array"):
        open_weights(short)


def test_missing_optional_extra_says_what_to_install(tmp_path, monkeypatch):
    model, _ = onnx_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(
        MissingDependencyError,
        match=r"needs the optional package 'onnx': pip install onnx, or install miwd-widget's 'onnx' extra",
    ):
        open_weights(path)


# --------------------------------------------------------------------------------------
# streaming
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_theta() -> tuple[np.ndarray, np.ndarray]:
    """50M float32 weights (200 MB) whose spread grows with depth, and their descriptor."""
    rng = np.random.default_rng(0)
    block = rng.standard_normal(1_000_000, dtype=np.float32)
    spread = np.linspace(0.5, 6.0, 50, dtype=np.float32)[:, None]
    theta = (spread * block).reshape(-1)  # (50, 1) x (1M,) -> 50 blocks, one per depth
    return theta, np.asarray(describe(theta, S=32, B=32))


def traced_peak(fn):
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("fmt", ["safetensors", "npy", "nws"])
def test_describe_streams_files_in_pieces(tmp_path, big_theta, fmt):
    theta, in_memory = big_theta
    if fmt == "safetensors":
        path = tmp_path / "big.safetensors"
        half = theta.shape[0] // 2
        safetensors.numpy.save_file({"l0": theta[:half], "l1": theta[half:]}, path)
    elif fmt == "npy":
        path = tmp_path / "big.npy"
        np.save(path, theta)
    else:
        path = tmp_path / "020.bin"
        theta = theta[::2].astype("<f8")  # 25M float64 values, 200 MB
        theta.tofile(path)
        in_memory = np.asarray(describe(theta, S=32, B=32))
    assert path.stat().st_size >= 200_000_000
    streamed, peak = traced_peak(lambda: describe(str(path), S=32, B=32))
    # numpy reports its allocations to tracemalloc: the range's sample (32 MB of float64)
    # and the read buffers count, a materialized theta would show up as >= 200 MB.
    assert peak < 50_000_000, f"describe({fmt}) traced peak {peak / 1e6:.1f} MB"
    np.testing.assert_array_equal(np.asarray(streamed), in_memory)
    flat = flatten_weights(path)
    assert flat.dtype == theta.dtype and np.array_equal(flat, theta)  # (fast on 200 MB)


def test_tensor_is_public_and_bfloat16_chunks_decode():
    t = Tensor("w", np.array([0x3FC0, 0xC000], np.uint16), "bfloat16")
    assert [p.tolist() for p in t.chunks(1)] == [[1.5], [-2.0]]
