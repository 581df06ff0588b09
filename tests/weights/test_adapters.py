"""PEFT adapter folders, written by peft itself: own tensors, LoRA updates, refusals."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from torch import nn

from miwd_widget import describe, flatten_weights
from miwd_widget.weights import WeightReadError, natural_key, open_weights
from miwd_widget.weights.adapters import LowRankUpdate, read_adapter_config

S, B = 4, 8
RANGE = (-2.0, 2.0)


class Tiny(nn.Module):
    """Layers of every kind LoRA adapts: embedding, linear (more than 10 of them, so that
    natural order matters), convolution, and a head kept whole (modules_to_save)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(11)])
        self.conv = nn.Conv2d(2, 3, 3)
        self.head = nn.Linear(4, 2)


def write_adapter(folder: Path, seed: int = 0, **settings) -> nn.Module:
    """A LoRA adapter of Tiny saved by peft; both factors random (peft's init_lora_weights
    =False), as after training, where B is no longer zero. Returns the peft model."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    settings = {"r": 2, "lora_alpha": 8, "init_lora_weights": False, **settings}
    settings.setdefault("target_modules", ["emb", "conv"] + [str(i) for i in range(11)])
    model = get_peft_model(Tiny(), LoraConfig(**settings))
    model.save_pretrained(str(folder))
    return model


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("adapters")
    write_adapter(root / "plain", modules_to_save=["head"])
    write_adapter(
        root / "patterns",
        seed=1,
        use_rslora=True,
        rank_pattern={"layers.3": 3},
        alpha_pattern={"emb": 5},
    )
    return root


def stored(folder: Path) -> dict[str, np.ndarray]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_a_folder_is_the_adapters_own_tensors_in_natural_order(adapters):
    folder = adapters / "plain"
    ws = open_weights(folder)
    tensors = stored(folder)
    assert ws.format == "peft" and ws.path == str(folder / "adapter_model.safetensors")
    assert ws.names == sorted(tensors, key=natural_key)
    # layer order: layers.2 before layers.10, and lora_A before lora_B in each module
    assert ws.names.index("base_model.model.layers.2.lora_A.weight") < ws.names.index(
        "base_model.model.layers.10.lora_A.weight"
    )
    a = ws.names.index("base_model.model.layers.10.lora_A.weight")
    assert ws.names[a + 1] == "base_model.model.layers.10.lora_B.weight"
    assert "base_model.model.head.weight" in ws.names  # modules_to_save: the adapter's too
    np.testing.assert_array_equal(
        flatten_weights(folder), np.concatenate([tensors[k].ravel() for k in ws.names])
    )
    # describe() and the descriptor of the same tensors in memory agree
    np.testing.assert_array_equal(
        describe(folder, S=S, B=B, value_range=RANGE),
        describe([[tensors[k] for k in ws.names]], S=S, B=B, value_range=RANGE)[0],
    )


def test_a_bin_adapter_is_read_in_the_same_order(tmp_path):
    model = write_adapter(tmp_path / "st", seed=2)
    model.save_pretrained(str(tmp_path / "bin"), safe_serialization=False)
    assert (tmp_path / "bin" / "adapter_model.bin").is_file()
    # the .bin keeps registration order (emb, layers.0 ... layers.10, conv): read naturally
    a, b = open_weights(tmp_path / "bin"), open_weights(tmp_path / "st")
    assert a.names == b.names and a.path.endswith("adapter_model.bin")
    np.testing.assert_array_equal(flatten_weights(a), flatten_weights(b))
    np.testing.assert_array_equal(
        flatten_weights(open_weights(tmp_path / "bin", adapter="update")),
        flatten_weights(open_weights(tmp_path / "st", adapter="update")),
    )


def _updates_by_hand(folder: Path) -> dict[str, np.ndarray]:
    """(lora_alpha / r) * B @ A of every module, from the file and the config alone."""
    config = json.loads((folder / "adapter_config.json").read_text())
    tensors = stored(folder)
    out = {}
    for key in tensors:
        if not key.endswith((".lora_A.weight", ".lora_embedding_A")):
            continue
        module = key.rsplit(".lora_", 1)[0]
        short = module.removeprefix("base_model.model.")
        r = config["rank_pattern"].get(short, config["r"])
        alpha = config["alpha_pattern"].get(short, config["lora_alpha"])
        scale = alpha / math.sqrt(r) if config["use_rslora"] else alpha / r
        if key.endswith(".lora_embedding_A"):  # embeddings: (B @ A).T, the (rows, dim) layout
            a, b = tensors[key], tensors[module + ".lora_embedding_B"]
            delta = (scale * b.astype(np.float64) @ a).T
        else:
            a, b = tensors[key], tensors[module + ".lora_B.weight"]
            delta = scale * b.reshape(b.shape[0], r).astype(np.float64) @ a.reshape(r, -1)
        out[short + ".weight"] = delta.ravel()
    return {k: out[k] for k in sorted(out, key=natural_key)}


@pytest.mark.parametrize("name", ["plain", "patterns"])
def test_the_update_is_alpha_over_r_times_b_at_a(adapters, name):
    folder = adapters / name
    ws = open_weights(folder, adapter="update")
    expected = _updates_by_hand(folder)
    assert ws.format == "peft-update" and ws.names == list(expected)
    # named after the base weights they change, in natural order of the modules
    assert ws.names[:4] == ["conv.weight", "emb.weight", "layers.0.weight", "layers.1.weight"]
    assert ws.names[-1] == "layers.10.weight"
    for t in ws.tensors:
        assert isinstance(t.data, LowRankUpdate) and t.data.dtype == np.float32
        np.testing.assert_allclose(np.asarray(t.data), expected[t.name], rtol=1e-5, atol=1e-6)
    if name == "plain":  # the head is a full copy: its update needs the base model
        assert dict(ws.skipped)["base_model.model.head.weight"].startswith("not a LoRA factor")
    # the descriptor streams the updates; the same values in memory give the same one,
    # on a fixed range and on the "auto" range (which samples the updates first)
    in_memory = [[v.astype(np.float32) for v in expected.values()]]
    np.testing.assert_array_equal(
        describe(ws, S=S, B=B, value_range=RANGE),
        describe(in_memory, S=S, B=B, value_range=RANGE)[0],
    )
    auto, same = describe([ws], S=S, B=B), describe(in_memory, S=S, B=B)
    assert auto.value_range == pytest.approx(same.value_range, rel=1e-5)
    np.testing.assert_allclose(auto, same, atol=1e-6)


def test_the_update_matches_peft_merge_deltas(tmp_path):
    """peft's own get_delta_weight (what merging adds to the base weights), per module."""
    model = write_adapter(
        tmp_path / "a", use_rslora=True, rank_pattern={"layers.3": 3}, alpha_pattern={"emb": 5}
    )
    ws = open_weights(tmp_path / "a", adapter="update")
    deltas = {
        name.removeprefix("base_model.model.") + ".weight": m.get_delta_weight("default")
        for name, m in model.named_modules()
        if hasattr(m, "get_delta_weight") and hasattr(m, "lora_A")
    }
    assert sorted(deltas) == sorted(ws.names)
    for t in ws.tensors:
        np.testing.assert_allclose(
            np.asarray(t.data), deltas[t.name].detach().numpy().ravel(), rtol=1e-5, atol=1e-6
        )


def test_fan_in_fan_out_updates_are_in_the_base_weights_layout(tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D  # GPT-2's (in, out) linear layer

    torch.manual_seed(3)
    base = nn.Sequential()
    base.add_module("c_attn", Conv1D(6, 4))
    config = LoraConfig(
        r=2, lora_alpha=3, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False
    )
    model = get_peft_model(base, config)
    model.save_pretrained(str(tmp_path / "gpt"))
    ws = open_weights(tmp_path / "gpt", adapter="update")
    delta = model.base_model.model.c_attn.get_delta_weight("default").detach().numpy()
    assert delta.shape == (4, 6)  # Conv1D.weight is (in, out)
    assert ws.names == ["c_attn.weight"]
    np.testing.assert_allclose(np.asarray(ws.tensors[0].data), delta.ravel(), rtol=1e-6)


def test_slices_compute_only_the_rows_they_touch():
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(7, 2)), rng.normal(size=(2, 5))
    update = LowRankUpdate(left, right, 0.25)
    whole = (0.25 * left @ right).ravel()
    assert update.shape == (35,) and update.dtype == np.float64 and len(update) == 35
    for a, b in [(0, 35), (3, 4), (4, 13), (12, 35), (34, 35), (10, 10)]:
        np.testing.assert_allclose(update[a:b], whole[a:b])
    np.testing.assert_allclose(update[1:30:4], whole[1:30:4])
    assert update[-1] == pytest.approx(whole[-1])
    # 16-bit factors stored as bit patterns are decoded as they are used
    bits = (left.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    half = LowRankUpdate(bits, right.astype(np.float16), 1.0, ("bfloat16", "float16"))
    decoded = (bits.astype(np.uint32) << 16).view(np.float32)
    assert half.dtype == np.float32
    np.testing.assert_allclose(
        np.asarray(half), (decoded @ right.astype(np.float16).astype(np.float32)).ravel(), rtol=1e-6
    )


def test_a_large_update_is_read_without_materializing_it():
    """A 4096 x 4096 update (64 MB as float32) read in blocks holds one block at a time."""
    rng = np.random.default_rng(1)
    left = rng.normal(size=(4096, 4)).astype(np.float32)
    right = rng.normal(size=(4, 4096)).astype(np.float32)
    ws = open_weights({"w": np.zeros(1, np.float32)})
    ws.tensors[0] = type(ws.tensors[0])("dw", LowRankUpdate(left, right, 0.5), "float32")
    tracemalloc.start()
    total = sum(float(piece.sum(dtype=np.float64)) for _, _, piece in ws.chunks(1 << 16))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20  # a block of 65,536 values is 256 kB; the update would be 64 MB
    assert total == pytest.approx(
        0.5 * float(left.sum(0, dtype=np.float64) @ right.sum(1)), rel=1e-4
    )


def test_config_fields_are_readable_columns(adapters):
    fields = read_adapter_config(adapters / "patterns").fields()
    assert fields["peft_type"] == "LORA" and fields["r"] == 2 and fields["lora_alpha"] == 8
    assert fields["target_modules"] == ",".join(
        sorted(["emb", "conv"] + [str(i) for i in range(11)])
    )
    assert fields["use_rslora"] is True and fields["use_dora"] is False
    assert fields["base_model_name_or_path"] is None


@pytest.mark.filterwarnings("ignore::FutureWarning")  # transformers' own deprecations
def test_types_that_cannot_be_read_are_refused_by_name(tmp_path):
    from peft import IA3Config, LoraConfig, PromptTuningConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    # IA3: its own tensors are per-layer scales (read); it has no low-rank update (refused)
    get_peft_model(Tiny(), IA3Config(target_modules=["0"], feedforward_modules=[])).save_pretrained(
        str(tmp_path / "ia3")
    )
    assert open_weights(tmp_path / "ia3").names == ["base_model.model.layers.0.ia3_l"]
    with pytest.raises(
        WeightReadError, match=r"ia3: a PEFT adapter of peft_type 'IA3': adapter='update'"
    ):
        open_weights(tmp_path / "ia3", adapter="update")
    # DoRA: its own tensors include the magnitudes; its update needs the base weights
    torch.manual_seed(0)
    get_peft_model(Tiny(), LoraConfig(r=2, target_modules=["0"], use_dora=True)).save_pretrained(
        str(tmp_path / "dora")
    )
    assert open_weights(tmp_path / "dora").names[-1].endswith(".lora_magnitude_vector")
    with pytest.raises(WeightReadError, match="dora: a DoRA adapter"):
        open_weights(tmp_path / "dora", adapter="update")
    # prompt tuning: virtual-token embeddings, not layer weights
    gpt = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=20, n_positions=16))
    prompt = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)
    get_peft_model(gpt, prompt).save_pretrained(str(tmp_path / "prompt"))
    with pytest.raises(
        WeightReadError, match=r"prompt: a PEFT adapter of peft_type 'PROMPT_TUNING': its tensors"
    ):
        open_weights(tmp_path / "prompt")
    # a type this reader does not know
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "adapter_config.json").write_text('{"peft_type": "SHINY"}')
    save_file({"x": np.ones(3, np.float32)}, str(tmp_path / "new" / "adapter_model.safetensors"))
    with pytest.raises(WeightReadError, match="new: a PEFT adapter of peft_type 'SHINY'"):
        open_weights(tmp_path / "new")
    # its file can still be opened on its own
    assert open_weights(tmp_path / "new" / "adapter_model.safetensors").n == 3


def test_broken_adapter_folders_are_errors_naming_the_file(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2, "lora_alpha": 4')
    with pytest.raises(WeightReadError, match=r"a/adapter_config.json: not a valid JSON"):
        open_weights(folder)
    (folder / "adapter_config.json").write_text('{"r": 2}')
    with pytest.raises(WeightReadError, match=r"adapter_config.json: not a PEFT adapter config"):
        open_weights(folder)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2, "lora_alpha": 4}')
    with pytest.raises(WeightReadError, match="an adapter folder without adapter_model"):
        open_weights(folder)
    # a lora_A without its lora_B, and factors whose rank is not the config's r
    save_file(
        {"m.lora_A.weight": np.ones((2, 3), np.float32)}, str(folder / "adapter_model.safetensors")
    )
    assert open_weights(folder).n == 6
    with pytest.raises(WeightReadError, match="module 'm' has no lora_B tensor"):
        open_weights(folder, adapter="update")
    save_file(
        {
            "m.lora_A.weight": np.ones((3, 3), np.float32),
            "m.lora_B.weight": np.ones((4, 3), np.float32),
        },
        str(folder / "adapter_model.safetensors"),
    )
    with pytest.raises(WeightReadError, match=r"do not form an update of rank r=2"):
        open_weights(folder, adapter="update")
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 3, "lora_alpha": 0}')
    with pytest.raises(WeightReadError, match="lora_alpha of module 'm' is 0"):
        open_weights(folder, adapter="update")


def test_update_mode_is_for_adapter_folders_only(tmp_path):
    with pytest.raises(WeightReadError, match="adapter='update' reads PEFT adapter folders"):
        open_weights(np.ones(3), adapter="update")
    with pytest.raises(ValueError, match="adapter must be one of"):
        open_weights(np.ones(3), adapter="delta")
