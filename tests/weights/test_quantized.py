"""Quantized checkpoints: GPTQ, AWQ and fp8 files written in their published layouts are
dequantized exactly; other methods are refused by name.

Each layout is written here by packing integers as the format's documentation and its
libraries' code define it (safetensors' own writer, config.json as the libraries write
it), and each dequantized weight is compared bit for bit with a numpy reference computed
from the documented formula.
"""

from __future__ import annotations

import json
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

from miwd_widget import describe
from miwd_widget.library.huggingface import hf_config_metadata
from miwd_widget.weights import WeightReadError, flatten_weights, open_weights
from miwd_widget.weights.quantized import DequantizedArray, quantization_columns

LAYER = "model.layers.0.self_attn.q_proj"


def write_folder(folder, tensors, quantization_config, *, torch_tensors=None):
    """A Hugging Face model folder: config.json as transformers writes it, model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "torch_dtype": "float16",
    }
    if quantization_config is not None:
        config["quantization_config"] = quantization_config
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    if torch_tensors is not None:
        safetensors.torch.save_file(torch_tensors, folder / "model.safetensors")
    else:
        safetensors.numpy.save_file(tensors, folder / "model.safetensors")
    return folder


def bits_equal(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


# -- GPTQ -------------------------------------------------------------------------------


def pack_along_rows(values, bits):
    """GPTQ qweight: ``32 / bits`` consecutive rows per int32 word, lowest bits first."""
    per = 32 // bits
    rows, cols = values.shape
    packed = np.zeros((rows // per, cols), np.uint32)
    for i in range(rows):
        packed[i // per] |= values[i].astype(np.uint32) << np.uint32(bits * (i % per))
    return packed.view(np.int32)


def pack_along_columns(values, bits, order=None):
    """GPTQ qzeros (and AWQ, with its ``order``): ``32 / bits`` columns per int32 word."""
    per = 32 // bits
    order = order or list(range(per))
    rows, cols = values.shape
    packed = np.zeros((rows, cols // per), np.uint32)
    for c in range(cols // per):
        for k in range(per):
            packed[:, c] |= values[:, c * per + order[k]].astype(np.uint32) << np.uint32(bits * k)
    return packed.view(np.int32)


def gptq_layer(rng, n_in, n_out, bits, group_size, act_order):
    """Quantized ints, real zero points, fp16 scales and each input's group."""
    groups = n_in // group_size
    q = rng.integers(0, 1 << bits, size=(n_in, n_out))
    zeros = rng.integers(1, 1 << bits, size=(groups, n_out))  # >= 1: v1 stores zero - 1
    scales = (rng.random((groups, n_out)) * 0.02 + 0.001).astype(np.float16)
    if act_order:  # desc_act: inputs are quantized in a permuted order, groups follow it
        g_idx = np.empty(n_in, np.int32)
        g_idx[rng.permutation(n_in)] = np.arange(n_in) // group_size
    else:
        g_idx = (np.arange(n_in) // group_size).astype(np.int32)
    return q, zeros, scales, g_idx


def gptq_reference(q, zeros, scales, g_idx):
    """W[o, i] = scales[g, o] * (q[i, o] - zero[g, o]), g = g_idx[i], in float32, [out, in]."""
    n_in, n_out = q.shape
    w = np.empty((n_out, n_in), np.float32)
    for i in range(n_in):
        g = g_idx[i]
        w[:, i] = scales[g].astype(np.float32) * (q[i] - zeros[g]).astype(np.float32)
    return w


def write_gptq(folder, rng, *, bits=4, group_size=32, act_order=False, fmt=None, n_in=128,
               n_out=64):  # fmt: skip
    q, zeros, scales, g_idx = gptq_layer(rng, n_in, n_out, bits, group_size, act_order)
    stored_zeros = zeros - 1 if fmt in (None, "gptq") else zeros
    bias = rng.standard_normal(n_out).astype(np.float16)
    embed = rng.standard_normal((16, 8)).astype(np.float16)
    tensors = {
        "model.embed_tokens.weight": embed,
        f"{LAYER}.qweight": pack_along_rows(q, bits),
        f"{LAYER}.qzeros": pack_along_columns(stored_zeros, bits),
        f"{LAYER}.scales": scales,
        f"{LAYER}.g_idx": g_idx,
        f"{LAYER}.bias": bias,
    }
    config = {
        "bits": bits,
        "group_size": group_size,
        "damp_percent": 0.01,
        "desc_act": act_order,
        "static_groups": False,
        "sym": True,
        "true_sequential": True,
        "quant_method": "gptq",
    }
    if fmt is not None:
        config["checkpoint_format"] = fmt
    write_folder(folder, tensors, config)
    reference = {
        "model.embed_tokens.weight": embed.astype(np.float32),
        f"{LAYER}.bias": bias.astype(np.float32),
        f"{LAYER}.weight": gptq_reference(q, zeros, scales, g_idx),
    }
    return reference


@pytest.mark.parametrize("fmt", [None, "gptq", "gptq_v2"])
@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_is_dequantized_exactly(tmp_path, fmt, act_order):
    rng = np.random.default_rng(1)
    ref = write_gptq(tmp_path / "m", rng, act_order=act_order, fmt=fmt)
    ws = open_weights(tmp_path / "m")
    # natural order: embed_tokens, then the layer's bias and its weight (at qweight's place)
    assert ws.names == ["model.embed_tokens.weight", f"{LAYER}.bias", f"{LAYER}.weight"]
    w = ws.tensors[2]
    assert w.dtype == "float32" and w.shape == (64, 128)
    assert bits_equal(np.asarray(w.data[:]), ref[f"{LAYER}.weight"].reshape(-1))
    # N is every weight, not the 4 x 64 scales
    assert ws.n == 16 * 8 + 64 + 64 * 128
    assert sorted(ws.skipped) == [
        (f"{LAYER}.{s}", f"quantization state of {LAYER}.weight")
        for s in ("g_idx", "qzeros", "scales")
    ]
    assert ws.quantization.method == "gptq" and ws.quantization.bits == 4
    assert dict(ws.quantization.details)["zero_point_offset"] == (0 if fmt == "gptq_v2" else 1)
    theta = np.concatenate([ref[n].reshape(-1) for n in ws.names])
    assert bits_equal(flatten_weights(tmp_path / "m"), theta)


@pytest.mark.parametrize("bits", [2, 8])
def test_gptq_other_widths(tmp_path, bits):
    ref = write_gptq(tmp_path / "m", np.random.default_rng(bits), bits=bits, act_order=True)
    ws = open_weights(tmp_path / "m")
    assert ws.quantization.bits == bits
    assert bits_equal(np.asarray(ws.tensors[2].data[:]), ref[f"{LAYER}.weight"].reshape(-1))


def test_slices_of_a_dequantized_tensor_match_the_whole(tmp_path):
    ref = write_gptq(tmp_path / "m", np.random.default_rng(3), act_order=True)
    data = open_weights(tmp_path / "m").tensors[2].data
    whole = ref[f"{LAYER}.weight"].reshape(-1)
    for a, b in [(0, 1), (5, 133), (127, 129), (1000, 8192), (8000, 9000)]:
        assert bits_equal(data[a:b], whole[a:b])
    assert bits_equal(data[3::7], whole[3::7])
    with pytest.raises(TypeError):
        data[3]


def test_describe_of_gptq_equals_describe_of_its_dequantized_copy(tmp_path):
    ref = write_gptq(tmp_path / "m", np.random.default_rng(4), act_order=True, n_in=256)
    copy = tmp_path / "copy.safetensors"
    safetensors.numpy.save_file(ref, copy)
    quantized = np.asarray(describe(str(tmp_path / "m"), S=4, B=16))
    plain = np.asarray(describe(str(copy), S=4, B=16))
    np.testing.assert_array_equal(quantized, plain)


def test_a_sharded_gptq_checkpoint_is_dequantized(tmp_path):
    ref = write_gptq(tmp_path / "m", np.random.default_rng(5))
    folder = tmp_path / "m"
    tensors = safetensors.numpy.load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[:3],
        "model-00002-of-00002.safetensors": names[3:],
    }
    weight_map = {}
    for shard, keys in shards.items():
        safetensors.numpy.save_file({k: tensors[k] for k in keys}, folder / shard)
        weight_map.update(dict.fromkeys(keys, shard))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))})
    )
    ws = open_weights(folder)
    assert ws.format == "safetensors-sharded" and ws.quantization.method == "gptq"
    theta = np.concatenate([ref[n].reshape(-1) for n in ws.names])
    assert bits_equal(flatten_weights(folder), theta)


def test_gptq_describing_reads_a_block_at_a_time(tmp_path):
    """A layer is computed block by block: the traced peak stays far below the layer's
    float32 values."""
    rng = np.random.default_rng(6)
    n_in, n_out = 4096, 2048  # 8M weights: 32 MB as float32, 4 MB packed
    q = rng.integers(0, 16, size=(n_in, n_out))
    tensors = {
        f"{LAYER}.qweight": pack_along_rows(q, 4),
        f"{LAYER}.qzeros": pack_along_columns(np.full((32, n_out), 7), 4),
        f"{LAYER}.scales": np.full((32, n_out), 0.01, np.float16),
    }
    write_folder(tmp_path / "m", tensors, {"quant_method": "gptq", "bits": 4, "group_size": 128})
    ws = open_weights(tmp_path / "m")
    tracemalloc.start()
    try:
        piece = ws.tensors[0].data[: 1 << 20]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert piece.shape == (1 << 20,)
    # The packed layer (4 MB) is held in memory while its blocks are read (quantized
    # _RecentLayers); the 32 MB float32 layer never is.
    assert peak < 16_000_000, f"peak {peak / 1e6:.1f} MB for a 4 MB slice"


def test_gptq_refusals(tmp_path):
    rng = np.random.default_rng(7)
    write_gptq(tmp_path / "m", rng)
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    for change, words in [
        ({"bits": 3}, "gptq 3-bit"),
        ({"checkpoint_format": "marlin"}, "marlin"),
        ({"pack_dtype": "int16"}, "pack_dtype int16"),
    ]:
        config_file.write_text(
            json.dumps(
                {**config, "quantization_config": {**config["quantization_config"], **change}}
            )
        )
        with pytest.raises(WeightReadError, match=words):
            open_weights(tmp_path / "m")


def test_packed_weights_without_a_config_are_refused(tmp_path):
    write_gptq(tmp_path / "m", np.random.default_rng(8))
    (tmp_path / "m" / "config.json").unlink()
    with pytest.raises(WeightReadError, match="qweight.*no quantization_config"):
        open_weights(tmp_path / "m")


def test_autogptq_quantize_config_json_is_read(tmp_path):
    ref = write_gptq(tmp_path / "m", np.random.default_rng(9), act_order=True)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    quant = config.pop("quantization_config")
    quant.pop("quant_method")
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    (tmp_path / "m" / "quantize_config.json").write_text(json.dumps(quant))
    ws = open_weights(tmp_path / "m" / "model.safetensors")
    assert ws.quantization.method == "gptq"
    assert bits_equal(np.asarray(ws.tensors[2].data[:]), ref[f"{LAYER}.weight"].reshape(-1))


# -- AWQ --------------------------------------------------------------------------------

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


@pytest.mark.parametrize("group_size", [32, 128])
def test_awq_gemm_is_dequantized_exactly(tmp_path, group_size):
    rng = np.random.default_rng(10)
    n_in, n_out = 128, 64
    groups = n_in // group_size
    q = rng.integers(0, 16, size=(n_in, n_out))
    zeros = rng.integers(0, 16, size=(groups, n_out))
    scales = (rng.random((groups, n_out)) * 0.02 + 0.001).astype(np.float16)
    tensors = {
        f"{LAYER}.qweight": pack_along_columns(q, 4, AWQ_ORDER),
        f"{LAYER}.qzeros": pack_along_columns(zeros, 4, AWQ_ORDER),
        f"{LAYER}.scales": scales,
    }
    config = {
        "bits": 4,
        "group_size": group_size,
        "modules_to_not_convert": None,
        "quant_method": "awq",
        "version": "gemm",
        "zero_point": True,
    }
    write_folder(tmp_path / "m", tensors, config)
    ws = open_weights(tmp_path / "m")
    assert ws.names == [f"{LAYER}.weight"] and ws.n == n_in * n_out
    assert ws.quantization.method == "awq" and ws.quantization.bits == 4
    expected = np.empty((n_out, n_in), np.float32)
    for i in range(n_in):
        g = i // group_size
        expected[:, i] = (q[i] - zeros[g]).astype(np.float32) * scales[g].astype(np.float32)
    assert bits_equal(np.asarray(ws.tensors[0].data[:]), expected.reshape(-1))
    assert sorted(ws.skipped) == [
        (f"{LAYER}.{s}", f"quantization state of {LAYER}.weight") for s in ("qzeros", "scales")
    ]
    config["version"] = "gemv"
    write_folder(tmp_path / "m", tensors, config)
    with pytest.raises(WeightReadError, match="awq.*gemv"):
        open_weights(tmp_path / "m")


# -- fp8 --------------------------------------------------------------------------------


def fp8_weight(rng, shape):
    return (rng.standard_normal(shape) * 40).astype(ml_dtypes.float8_e4m3fn)


def test_fp8_per_tensor_scale_compressed_tensors(tmp_path):
    rng = np.random.default_rng(11)
    w8 = fp8_weight(rng, (48, 80))
    scale = np.array([0.0123], np.float32)
    tensors = {
        f"{LAYER}.weight": torch.from_numpy(w8.view(np.uint8)).view(torch.float8_e4m3fn),
        f"{LAYER}.weight_scale": torch.from_numpy(scale),
        f"{LAYER}.input_scale": torch.tensor([0.5]),
        "model.norm.weight": torch.ones(48, dtype=torch.bfloat16),
    }
    config = {
        "quant_method": "compressed-tensors",
        "format": "float-quantized",
        "quantization_status": "compressed",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "format": "float-quantized",
                "weights": {
                    "num_bits": 8,
                    "type": "float",
                    "strategy": "tensor",
                    "symmetric": True,
                    "dynamic": False,
                },
            }
        },
        "ignore": ["lm_head"],
    }
    write_folder(tmp_path / "m", None, config, torch_tensors=tensors)
    ws = open_weights(tmp_path / "m")
    assert ws.names == [f"{LAYER}.weight", "model.norm.weight"]
    expected = w8.astype(np.float32) * scale[0]
    assert bits_equal(np.asarray(ws.tensors[0].data[:]), expected.reshape(-1))
    assert ws.quantization.method == "compressed-tensors" and ws.quantization.bits == 8
    assert dict(ws.skipped) == {
        f"{LAYER}.weight_scale": f"quantization state of {LAYER}.weight",
        f"{LAYER}.input_scale": f"quantization state of {LAYER}.weight",
    }


def test_fp8_block_scales_weight_scale_inv(tmp_path):
    rng = np.random.default_rng(12)
    n_out, n_in, block = 200, 300, (128, 128)  # partial blocks at both edges
    w8 = fp8_weight(rng, (n_out, n_in))
    scale_inv = (rng.random((2, 3)) * 0.01 + 0.001).astype(np.float32)
    tensors = {
        f"{LAYER}.weight": torch.from_numpy(w8.view(np.uint8)).view(torch.float8_e4m3fn),
        f"{LAYER}.weight_scale_inv": torch.from_numpy(scale_inv),
    }
    config = {
        "activation_scheme": "dynamic",
        "fmt": "e4m3",
        "quant_method": "fp8",
        "weight_block_size": list(block),
    }
    write_folder(tmp_path / "m", None, config, torch_tensors=tensors)
    ws = open_weights(tmp_path / "m")
    expected = np.empty((n_out, n_in), np.float32)
    for o in range(n_out):
        for i in range(n_in):
            expected[o, i] = np.float32(w8[o, i]) * scale_inv[o // 128, i // 128]
    assert ws.n == n_out * n_in
    assert bits_equal(np.asarray(ws.tensors[0].data[:]), expected.reshape(-1))
    assert bits_equal(ws.tensors[0].data[250:61000], expected.reshape(-1)[250:61000])
    assert ws.quantization.method == "fp8" and dict(ws.quantization.details)["block"] == block
    # without the block size, a per-block scale cannot be placed
    (tmp_path / "m" / "config.json").unlink()
    with pytest.raises(WeightReadError, match="weight_scale_inv"):
        open_weights(tmp_path / "m")


def test_fp8_weight_with_scale_and_no_config_is_dequantized(tmp_path):
    rng = np.random.default_rng(13)
    w8 = fp8_weight(rng, (32, 16))
    scale = (rng.random((32, 1)) * 0.01).astype(np.float32)  # per output row (FBGEMM style)
    tensors = {
        "fc.weight": torch.from_numpy(w8.view(np.uint8)).view(torch.float8_e4m3fn),
        "fc.weight_scale": torch.from_numpy(scale),
    }
    safetensors.torch.save_file(tensors, tmp_path / "fc.safetensors")
    ws = open_weights(tmp_path / "fc.safetensors")
    assert bits_equal(
        np.asarray(ws.tensors[0].data[:]), (w8.astype(np.float32) * scale).reshape(-1)
    )
    assert ws.quantization.method == "fp8"


# -- refusals and columns ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"quant_method": "hqq", "nbits": 4}, "'hqq' quantization is not supported"),
        ({"quant_method": "eetq", "weights": "int8"}, "'eetq' quantization is not supported"),
        (
            {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
            "bitsandbytes 4-bit nf4",
        ),
        (
            {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {}},
            "pack-quantized",
        ),
    ],
)
def test_other_methods_are_refused_by_name(tmp_path, config, words):
    tensors = {"a.weight": np.ones((4, 4), np.float16), "a.weight.absmax": np.ones(2, np.float32)}
    write_folder(tmp_path / "m", tensors, config)
    with pytest.raises(WeightReadError, match=words) as info:
        open_weights(tmp_path / "m")
    assert str(tmp_path / "m") in str(info.value)


def test_bitsandbytes_state_without_a_config_is_refused(tmp_path):
    tensors = {"a.weight": np.zeros((8, 1), np.uint8), "a.weight.absmax": np.ones(1, np.float32),
               "a.weight.quant_map": np.ones(16, np.float32)}  # fmt: skip
    safetensors.numpy.save_file(tensors, tmp_path / "m.safetensors")
    with pytest.raises(WeightReadError, match="bitsandbytes"):
        open_weights(tmp_path / "m.safetensors")


def test_a_quantized_pickle_checkpoint_is_refused(tmp_path):
    write_folder(
        tmp_path / "m", {"a.weight": np.ones(2, np.float32)}, {"quant_method": "gptq", "bits": 4}
    )
    (tmp_path / "m" / "model.safetensors").unlink()
    torch.save(
        {"a.qweight": torch.zeros(1, 4, dtype=torch.int32)}, tmp_path / "m" / "pytorch_model.bin"
    )
    with pytest.raises(WeightReadError, match="gptq.*safetensors"):
        open_weights(tmp_path / "m")


def test_plain_models_are_untouched(tmp_path):
    write_folder(tmp_path / "m", {"a.weight": np.ones((2, 3), np.float32)}, None)
    ws = open_weights(tmp_path / "m")
    assert ws.quantization is None and ws.n == 6 and ws.skipped == []


def test_quantization_columns_of_a_model_folder(tmp_path):
    write_gptq(tmp_path / "m", np.random.default_rng(14))
    meta = hf_config_metadata(tmp_path / "m" / "config.json")
    assert meta["quant_method"] == "gptq" and meta["quant_bits"] == 4
    assert quantization_columns({"quantization_config": {"quant_method": "awq", "w_bit": 4}}) == {
        "quant_method": "awq",
        "quant_bits": 4,
    }


def test_dequantized_array_is_a_lazy_float32_vector():
    calls = []

    def rows(a, b):
        calls.append((a, b))
        return np.arange(a * 4, b * 4, dtype=np.float32).reshape(-1, 4)

    m = DequantizedArray(3, 4, rows)
    assert m.shape == (12,) and m.itemsize == 4 and m.dtype == np.float32
    assert m[5:7].tolist() == [5.0, 6.0] and calls == [(1, 2)]
    assert np.asarray(m).tolist() == list(range(12))
    assert m[7:3].shape == (0,)


def test_transformers_finegrained_fp8_checkpoint_matches_its_own_dequantization(tmp_path):
    """transformers' own fp8 quantizer writes the checkpoint (weight + weight_scale_inv per
    128 x 128 block, its config.json entry); its own dequantizer, in float32, is the reference."""
    transformers = pytest.importorskip("transformers", reason="the dev extra installs it")
    from transformers.integrations.finegrained_fp8 import Fp8Dequantize, Fp8Quantize

    config = transformers.FineGrainedFP8Config(weight_block_size=[128, 128])
    quantizer = type("Quantizer", (), {"quantization_config": config})()
    weight = torch.randn(256, 384, generator=torch.Generator().manual_seed(0))
    stored = Fp8Quantize(quantizer).convert({f"{LAYER}.weight": weight})
    assert set(stored) == {f"{LAYER}.weight", f"{LAYER}.weight_scale_inv"}
    write_folder(tmp_path / "m", None, json.loads(config.to_json_string()), torch_tensors=stored)
    reference = Fp8Dequantize(quantizer).convert(
        {
            "weight": stored[f"{LAYER}.weight"],
            "weight_scale_inv": stored[f"{LAYER}.weight_scale_inv"],
        }
    )["weight"]
    assert reference.dtype == torch.float32
    ws = open_weights(tmp_path / "m")
    assert ws.quantization.method == "fp8" and ws.n == 256 * 384
    assert bits_equal(np.asarray(ws.tensors[0].data[:]), reference.numpy().reshape(-1))


def test_a_gptq_snapshot_in_the_hub_cache_is_dequantized(tmp_path):
    """Snapshot files are symlinks into the entry's blobs/: config.json is read through them."""
    source = tmp_path / "src"
    ref = write_gptq(source, np.random.default_rng(15))
    entry = tmp_path / "hub" / "models--org--tiny-gptq"
    (entry / "blobs").mkdir(parents=True)
    snapshot = entry / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for i, name in enumerate(["config.json", "model.safetensors"]):
        (source / name).rename(entry / "blobs" / f"blob{i}")
        (snapshot / name).symlink_to(f"../../blobs/blob{i}")
    ws = open_weights(snapshot)
    assert ws.quantization.method == "gptq"
    theta = np.concatenate([ref[n].reshape(-1) for n in ws.names])
    assert bits_equal(flatten_weights(snapshot), theta)


def test_an_unreadable_config_beside_a_plain_model_is_ignored(tmp_path):
    write_folder(tmp_path / "m", {"a.weight": np.ones((2, 3), np.float32)}, None)
    (tmp_path / "m" / "config.json").write_text("{not json")
    assert open_weights(tmp_path / "m").n == 6


def test_configs_as_transformers_writes_them(tmp_path):
    """transformers' GPTQConfig and AwqConfig JSON (format and checkpoint_format keys)."""
    transformers = pytest.importorskip("transformers", reason="the dev extra installs it")
    ref = write_gptq(tmp_path / "m", np.random.default_rng(16), act_order=True, fmt="gptq_v2")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    gptq = transformers.GPTQConfig(
        bits=4, group_size=32, desc_act=True, checkpoint_format="gptq_v2"
    )
    config["quantization_config"] = json.loads(gptq.to_json_string())
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    ws = open_weights(tmp_path / "m")
    assert dict(ws.quantization.details)["zero_point_offset"] == 0
    assert bits_equal(np.asarray(ws.tensors[2].data[:]), ref[f"{LAYER}.weight"].reshape(-1))
    awq = json.loads(transformers.AwqConfig(bits=4, group_size=32).to_json_string())
    assert quantization_columns({"quantization_config": awq}) == {
        "quant_method": "awq",
        "quant_bits": 4,
    }
    config["quantization_config"] = {**awq, "backend": "llm-awq"}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightReadError, match="llm-awq"):
        open_weights(tmp_path / "m")


def test_gptq_v1_adds_one_to_the_unpacked_zero_point(tmp_path):
    """AutoGPTQ reads a stored 4-bit zero of 15 as 16: the + 1 does not carry into the
    neighbouring field."""
    q = np.arange(32 * 8).reshape(32, 8) % 16
    tensors = {
        "fc.qweight": pack_along_rows(q, 4),
        "fc.qzeros": pack_along_columns(np.full((1, 8), 15), 4),
        "fc.scales": np.full((1, 8), 0.5, np.float16),
    }
    write_folder(tmp_path / "m", tensors, {"quant_method": "gptq", "bits": 4, "group_size": -1})
    w = open_weights(tmp_path / "m").tensors[0]
    assert bits_equal(w.data[:], (0.5 * (q.T - 16)).astype(np.float32).reshape(-1))
