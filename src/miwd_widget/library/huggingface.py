"""Hugging Face model folders and the Hugging Face hub cache, as library items.

A **model folder** (what ``save_pretrained`` writes or ``snapshot_download`` returns) holds
``config.json`` and the weights: ``model.safetensors``, sharded
``model-0000x-of-0000y.safetensors`` with ``model.safetensors.index.json``, or (older)
``pytorch_model.bin`` / sharded ``pytorch_model-0000x-of-0000y.bin`` with its index. The
weight file is chosen in that order, as transformers chooses it (:data:`HF_WEIGHT_FILES`),
else the folder's one model file. ``.bin`` files are PyTorch checkpoints, read with ``torch.load(weights_only=True)``:
nothing in a folder is ever executed (no ``trust_remote_code``, no ``transformers``).

The **hub cache** (``~/.cache/huggingface/hub``) holds one entry per repository,
``models--ORG--NAME/``, whose ``snapshots/<revision>/`` folders are model folders made of
symlinks into ``../../blobs/``, and ``refs/<branch>`` files naming revisions. Each snapshot
is one model, with columns ``repo`` (``"ORG/NAME"``), ``revision`` and ``ref`` (the refs
pointing at it, e.g. ``"main"``).

Metadata: the scalar fields of ``config.json`` (``model_type``, ``hidden_size``,
``num_hidden_layers``, ``torch_dtype``, ``vocab_size``, ...) become columns; lists of
scalars (``architectures``) are joined with commas; nested objects (``id2label``,
``rope_scaling``, ...) are left out, except ``quantization_config``, whose method and bits
become ``quant_method`` and ``quant_bits``. A field named like one of the library's own columns
(``id``, ``source``, ``repo``, ...) is kept as ``config.<name>``.

A **PEFT adapter folder** (``adapter_config.json`` beside ``adapter_model.safetensors``,
:mod:`miwd_widget.weights.adapters`), alone, in a folder of folders or as a cache snapshot,
is one model too: its weights are the adapter's own tensors (``adapter="weights"``) or the
update each LoRA module applies (``adapter="update"``), and ``peft_type``,
``base_model_name_or_path``, ``task_type``, ``r``, ``lora_alpha``, ``target_modules``
(sorted, comma-joined), ``use_rslora`` and ``use_dora`` are its columns. An adapter of a
type that cannot be read so is recorded with the reason (which names the type).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..columns import ID, SOURCE
from ..weights.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_MODES,
    adapter_weight_file,
    check_adapter,
    is_adapter_folder,
    read_adapter_config,
)
from ..weights.guard import HF_CACHE_PREFIX as CACHE_PREFIX
from ..weights.guard import confinement_root
from ..weights.quantized import quantization_columns
from .sources import Item

__all__ = [
    "HF_WEIGHT_FILES",
    "HFModel",
    "find_hf_models",
    "hf_weight_file",
    "hf_config_metadata",
    "huggingface_items",
    "repo_of_cache_entry",
]

log = logging.getLogger(__name__)

CONFIG = "config.json"
#: The weight file of a model folder, most preferred first (transformers' own preference).
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_RESERVED = frozenset({ID, SOURCE, "repo", "revision", "ref", "n_params", "accuracy_norm", "path"})


@dataclass(frozen=True)
class HFModel:
    """One model found: its folder and, in the hub cache, its repository and revision."""

    folder: Path
    repo: str | None = None
    revision: str | None = None
    ref: str | None = None


def repo_of_cache_entry(name: str) -> str | None:
    """The repository of a hub cache entry name, or None if it is not a model entry.

    Examples
    --------
    >>> repo_of_cache_entry("models--google--bert_uncased_L-2_H-128_A-2"), repo_of_cache_entry("models--gpt2")
    ('google/bert_uncased_L-2_H-128_A-2', 'gpt2')
    >>> repo_of_cache_entry("datasets--squad") is None
    True
    """
    if not name.startswith(CACHE_PREFIX) or len(name) == len(CACHE_PREFIX):
        return None
    return "/".join(name[len(CACHE_PREFIX) :].split("--"))


def _is_model_folder(folder: Path) -> bool:
    return (
        (folder / CONFIG).is_file()
        or any((folder / f).exists() for f in HF_WEIGHT_FILES)
        or is_adapter_folder(folder)
    )


def _cache_entry_models(entry: Path) -> list[HFModel]:
    """Every snapshot of one ``models--ORG--NAME`` cache entry."""
    repo = repo_of_cache_entry(entry.name)
    refs: dict[str, list[str]] = {}
    refs_dir = entry / "refs"
    if refs_dir.is_dir():
        for ref_file in sorted(p for p in refs_dir.rglob("*") if p.is_file()):
            try:
                revision = ref_file.read_text().strip()
            except (OSError, UnicodeDecodeError):
                continue
            refs.setdefault(revision, []).append(ref_file.relative_to(refs_dir).as_posix())
    snapshots = entry / "snapshots"
    found = sorted(p for p in snapshots.iterdir() if p.is_dir()) if snapshots.is_dir() else []
    return [
        HFModel(s, repo, s.name, ",".join(refs[s.name]) if s.name in refs else None) for s in found
    ]


def find_hf_models(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[HFModel]:
    """The models named by paths: model folders, hub cache roots, cache entries, snapshots,
    or folders whose subfolders are model folders.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a folder that holds no model in any of these forms.

    Examples
    --------
    >>> find_hf_models("no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/folder: no such folder
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    found: list[HFModel] = []
    for item in items:
        path = Path(item)
        if not path.is_dir():
            raise FileNotFoundError(
                f"{path}: {'not a folder' if path.exists() else 'no such folder'}"
            )
        parent = path.parent
        if parent.name == "snapshots" and repo_of_cache_entry(parent.parent.name):
            # One snapshot of a cache entry: keep its repository and revision.
            found += [m for m in _cache_entry_models(parent.parent) if m.folder == path]
        elif path.name == "snapshots" and repo_of_cache_entry(parent.name):
            found += _cache_entry_models(parent)
        elif repo_of_cache_entry(path.name) and (path / "snapshots").is_dir():
            found += _cache_entry_models(path)
        elif _is_model_folder(path):
            found.append(HFModel(path))
        else:
            children = sorted(p for p in path.iterdir() if p.is_dir())
            entries = [c for c in children if repo_of_cache_entry(c.name)]
            if entries:  # a cache root (e.g. ~/.cache/huggingface/hub)
                for entry in entries:
                    found += _cache_entry_models(entry)
            else:
                found += [HFModel(c) for c in children if _is_model_folder(c)]
            if not entries and not any(_is_model_folder(c) for c in children):
                raise FileNotFoundError(
                    f"{path}: not a Hugging Face model folder (no {CONFIG}, {ADAPTER_CONFIG} or "
                    "weight file), "
                    f"cache (no {CACHE_PREFIX}ORG--NAME entries) or folder of model folders"
                )
    unique: dict[str, HFModel] = {}
    for model in found:
        unique.setdefault(os.path.abspath(model.folder), model)
    return list(unique.values())


def hf_weight_file(folder: Path) -> Path:
    """The weight file of a model folder (:data:`HF_WEIGHT_FILES`, else its one model file).

    Raises
    ------
    miwd_widget.weights.WeightReadError
        No weight file, or several and none of them preferred; the message names the folder.
    """
    for name in HF_WEIGHT_FILES:
        candidate = folder / name
        if os.path.lexists(candidate):
            return candidate  # a dangling cache symlink is reported by the reader, clearly
    from ..weights.registry import model_in_directory

    return model_in_directory(folder)


def hf_config_metadata(config_path: Path) -> dict[str, Any]:
    """The scalar fields of a ``config.json`` as metadata (see the module docstring).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "config.json"
    >>> _ = f.write_text('{"model_type": "bert", "architectures": ["BertModel"], '
    ...                  '"hidden_size": 128, "id2label": {"0": "a"}, "id": 3}')
    >>> hf_config_metadata(f)
    {'model_type': 'bert', 'architectures': 'BertModel', 'hidden_size': 128, 'config.id': 3}
    """
    from ..weights.guard import regular_file

    regular_file(config_path)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{config_path}: not a valid JSON config: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: not a JSON object of model settings")
    scalar = (str, int, float, bool, type(None))
    meta: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, (list, tuple)):
            if not all(isinstance(v, scalar) for v in value):
                continue
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, scalar):
            continue
        meta[f"config.{key}" if key in _RESERVED else str(key)] = value
    meta.update(quantization_columns(config))  # quant_method, quant_bits of a quantized model
    return meta


def _ids(models: list[HFModel]) -> list[str]:
    """Model ids: the repository (with ``@revision`` if it has several), else the folder name
    (or its path below the common folder when names repeat)."""
    repos: dict[str, int] = {}
    for m in models:
        if m.repo is not None:
            repos[m.repo] = repos.get(m.repo, 0) + 1
    names = [m.folder.name for m in models if m.repo is None]
    plain_ok = len(set(names)) == len(names)
    loose = [os.path.abspath(m.folder) for m in models if m.repo is None]
    root = os.path.dirname(os.path.commonpath(loose)) if len(loose) > 1 else ""
    ids = []
    for m in models:
        if m.repo is not None:
            ids.append(m.repo if repos[m.repo] == 1 else f"{m.repo}@{m.revision}")
        elif plain_ok or not root:
            ids.append(m.folder.name)
        else:
            ids.append(os.path.relpath(os.path.abspath(m.folder), root).replace(os.sep, "/"))
    return ids


def _confined(folder: Path, file: Path) -> None:
    """Refuse a file of a model folder that resolves outside it (its cache entry, in a cache).

    Snapshot files are symlinks, so a symlink out of the cache entry would otherwise be
    read as the model (the readers confine only the files a model file refers to).
    """
    from ..weights.source import WeightReadError

    root = confinement_root(folder)
    # realpath, not resolve(): a symlink loop is left to the reader's clear error (3.11's
    # resolve() raises RuntimeError on it)
    resolved = Path(os.path.realpath(file))
    if not resolved.is_relative_to(root):
        raise WeightReadError(
            f"{file}: refused: it resolves to {resolved}, outside the model's folder {root} "
            "(a symlink out of it?)"
        )


def huggingface_items(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    adapter: str = "weights",
) -> tuple[list[Item], list[tuple[str, str]]]:
    """Items of Hugging Face model folders and cache snapshots, and what could not be used.

    ``adapter`` says how PEFT adapter folders are read (``"weights"`` or ``"update"``,
    :func:`~miwd_widget.weights.open_weights`); other models are read as they are.

    A model without a weight file, with a ``config.json`` that is not valid JSON, or whose
    weight file or ``config.json`` resolves outside its folder (in the hub cache: outside
    its ``models--ORG--NAME`` entry; :func:`~miwd_widget.weights.guard.confinement_root`)
    is recorded (its folder and the reason, which names the file) and the others are built.
    """
    from .executor import error_text

    if adapter not in ADAPTER_MODES:
        raise ValueError(f"adapter must be one of {ADAPTER_MODES}, got {adapter!r}")
    models = find_hf_models(paths)
    items: list[Item] = []
    errors: list[tuple[str, str]] = []
    for model, model_id in zip(models, _ids(models), strict=True):
        try:
            meta: dict[str, Any] = {}
            if model.repo is not None:
                meta.update({"repo": model.repo, "revision": model.revision, "ref": model.ref})
            spec: Any = None
            if is_adapter_folder(model.folder):
                _confined(model.folder, model.folder / ADAPTER_CONFIG)
                settings = read_adapter_config(model.folder)
                check_adapter(settings, adapter)
                meta.update(settings.fields())
                weights = adapter_weight_file(model.folder)
                folder = os.path.abspath(model.folder)
                spec = folder if adapter == "weights" else ("adapter", folder, adapter)
            else:
                weights = hf_weight_file(model.folder)
            _confined(model.folder, weights)
            if (model.folder / CONFIG).exists():  # a dangling link reads nothing
                _confined(model.folder, model.folder / CONFIG)
                meta.update(hf_config_metadata(model.folder / CONFIG))
        except (OSError, ValueError) as exc:
            # Our own messages already name the file; others get their type.
            text = str(exc) if isinstance(exc, ValueError) and str(exc) else error_text(exc)
            errors.append((os.path.abspath(model.folder), text))
            continue
        source = os.path.abspath(weights)
        items.append(Item(source if spec is None else spec, model_id, source, meta))
    if not items and not errors:
        raise FileNotFoundError(f"{paths}: no Hugging Face models found")
    log.info("Hugging Face: %d model(s), %d without usable weights", len(items), len(errors))
    return items, errors
