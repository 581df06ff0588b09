"""PEFT adapters (Hugging Face ``peft``): a folder holding ``adapter_config.json`` is one model.

What ``save_pretrained`` of a PEFT model writes: ``adapter_config.json`` (``peft_type``,
``base_model_name_or_path``, ``r``, ``lora_alpha``, ``target_modules``, ...) and the
adapter's own tensors in ``adapter_model.safetensors`` (older: ``adapter_model.bin``), never
the base model's. A LoRA module ``M`` of the base model is stored as
``base_model.model.M.lora_A.weight`` (r x in) and ``...M.lora_B.weight`` (out x r); an
embedding as ``M.lora_embedding_A`` (r x rows) and ``M.lora_embedding_B`` (dim x r); DoRA
adds ``M.lora_magnitude_vector``; ``modules_to_save`` are full copies of base modules.

Two readings, ``adapter=``:

- ``"weights"`` (default): the adapter's own tensors, in natural order of their names
  (:func:`~miwd_widget.weights.natural_key`), whatever the file format: modules in layer
  order and, within a module, ``lora_A`` before ``lora_B``. Read for the types of
  :data:`ADAPTER_TYPES`, whose tensors are weights of the base model's layers; the
  prompt-learning types (prompt, prefix and p-tuning: virtual-token embeddings, not layer
  weights) and any other type are refused, naming the folder and the type.
- ``"update"`` (LoRA only): per module, the update the adapter adds to the base weight,
  ``dW = scale * B @ A`` with ``scale = lora_alpha / r`` (``use_rslora``:
  ``lora_alpha / sqrt(r)``; ``rank_pattern`` / ``alpha_pattern`` per module), in the base
  weight's layout (transposed for ``fan_in_fan_out`` and embeddings), flattened row-major
  and named after the base weight it changes (``model.layers.0.self_attn.q_proj.weight``:
  the key without ``base_model.model.``); a trained ``lora_B.bias`` adds
  ``scale * bias`` (``...q_proj.bias``). Modules in natural order of their names. Each
  update is a :class:`LowRankUpdate`, computed block by block when read: no more than one
  block of one module's update is ever in memory. ``modules_to_save`` copies are skipped
  (their update needs the base model) and DoRA adapters are refused (so is theirs).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .dtypes import is_narrow, to_float32
from .guard import check_weight_count, regular_file
from .objects import build_source
from .registry import read_path
from .source import Tensor, WeightReadError, WeightSource, natural_key

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHT_FILES",
    "ADAPTER_MODES",
    "ADAPTER_TYPES",
    "AdapterConfig",
    "LowRankUpdate",
    "is_adapter_folder",
    "read_adapter_config",
    "check_adapter",
    "adapter_weight_file",
    "read_adapter",
]

ADAPTER_CONFIG = "adapter_config.json"
#: The adapter's tensors, most preferred first (peft saves safetensors by default).
ADAPTER_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
#: ``"weights"``: the adapter's own tensors; ``"update"``: the update dW each LoRA module adds.
ADAPTER_MODES = ("weights", "update")
#: PEFT types whose tensors are weights of the base model's layers, read as the adapter's
#: own tensors (``adapter="weights"``).
ADAPTER_TYPES = frozenset({"LORA", "ADALORA", "LOHA", "LOKR", "IA3", "VERA", "OFT", "BOFT"})
#: Largest ``adapter_config.json`` read (real ones are a few kB).
MAX_CONFIG_BYTES = 16 << 20
#: The prefix ``save_pretrained`` puts before the base model's module names.
BASE_PREFIX = "base_model.model."

# Suffix of a stored LoRA tensor -> (its part of a module, whether the update is transposed).
_LORA_PARTS = {
    ".lora_A.weight": ("A", False),
    ".lora_B.weight": ("B", False),
    ".lora_B.bias": ("bias", False),
    ".lora_embedding_A": ("A", True),
    ".lora_embedding_B": ("B", True),
}
_DORA_PARTS = (".lora_magnitude_vector", ".lora_magnitude_vector.weight")


def is_adapter_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding ``adapter_config.json`` (a PEFT adapter).

    Examples
    --------
    >>> is_adapter_folder("no/such/folder")
    False
    """
    p = Path(path)
    return p.is_dir() and os.path.lexists(p / ADAPTER_CONFIG)


@dataclass(frozen=True)
class AdapterConfig:
    """The ``adapter_config.json`` of one adapter folder.

    Examples
    --------
    >>> cfg = AdapterConfig(Path("a"), {"peft_type": "LORA", "r": 8, "lora_alpha": 16,
    ...                                 "target_modules": ["v_proj", "q_proj"]})
    >>> cfg.fields()
    {'peft_type': 'LORA', 'r': 8, 'lora_alpha': 16, 'target_modules': 'q_proj,v_proj'}
    >>> cfg.scale("model.layers.0.q_proj")
    2.0
    """

    folder: Path
    settings: dict[str, Any]

    @property
    def peft_type(self) -> str:
        return str(self.settings.get("peft_type"))

    #: The settings that become library columns, in this order (those present).
    COLUMNS = (
        "peft_type",
        "base_model_name_or_path",
        "task_type",
        "r",
        "lora_alpha",
        "target_modules",
        "use_rslora",
        "use_dora",
    )

    def fields(self) -> dict[str, Any]:
        """The settings users compare adapters by, as scalars: ``target_modules`` (a list
        in the file, or a regular expression) as its names sorted and comma-joined."""
        out: dict[str, Any] = {}
        for key in self.COLUMNS:
            if key not in self.settings:
                continue
            value = self.settings[key]
            if key == "target_modules" and isinstance(value, (list, tuple)):
                value = ",".join(sorted(str(v) for v in value))
            elif not isinstance(value, (str, int, float, bool, type(None))):
                value = json.dumps(value, sort_keys=True)
            out[key] = value
        return out

    def _per_module(self, patterns: str, default: str, module: str) -> Any:
        """A setting for one module: the first key of ``patterns`` (e.g. ``rank_pattern``)
        that ends the module's name at a dot boundary (peft's own matching), else ``default``."""
        table = self.settings.get(patterns) or {}
        for key, value in table.items() if isinstance(table, dict) else ():
            if re.match(rf"(.*\.)?({key})$", module):
                return value
        return self.settings.get(default)

    def rank(self, module: str) -> int:
        """``r`` of a module (``rank_pattern`` first), the base model's module name."""
        return self._number(self._per_module("rank_pattern", "r", module), "r", module)

    def scale(self, module: str) -> float:
        """The factor of a module's update: ``lora_alpha / r``, or ``/ sqrt(r)`` with rsLoRA."""
        alpha = self._number(
            self._per_module("alpha_pattern", "lora_alpha", module), "lora_alpha", module
        )
        r = self.rank(module)
        return alpha / math.sqrt(r) if self.settings.get("use_rslora") else alpha / r

    def _number(self, value: Any, key: str, module: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise WeightReadError(
                f"{self.folder / ADAPTER_CONFIG}: {key} of module {module!r} is {value!r}, "
                "not a positive number"
            )
        return value


def read_adapter_config(folder: str | os.PathLike) -> AdapterConfig:
    """The ``adapter_config.json`` of an adapter folder, or an error naming the file.

    Examples
    --------
    >>> read_adapter_config("no/such/folder")
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: no/such/folder/adapter_config.json: no such file or directory
    """
    path = regular_file(Path(folder) / ADAPTER_CONFIG)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise WeightReadError(
            f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes: not an adapter config"
        )
    try:
        settings = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WeightReadError(f"{path}: not a valid JSON adapter config: {exc}") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("peft_type"), str):
        raise WeightReadError(f'{path}: not a PEFT adapter config (no "peft_type" string)')
    return AdapterConfig(Path(folder), settings)


def check_adapter(config: AdapterConfig, adapter: str = "weights") -> None:
    """Refuse, naming the folder and the type, an adapter that cannot be read as ``adapter``.

    Examples
    --------
    >>> check_adapter(AdapterConfig(Path("pt"), {"peft_type": "PROMPT_TUNING"}))
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: pt: a PEFT adapter of peft_type 'PROMPT_TUNING': its tensors are not weights of the base model's layers (read: ADALORA, BOFT, IA3, LOHA, LOKR, LORA, OFT, VERA); its file can still be opened on its own
    """
    if adapter not in ADAPTER_MODES:
        raise ValueError(f"adapter must be one of {ADAPTER_MODES}, got {adapter!r}")
    kind = config.peft_type
    if kind not in ADAPTER_TYPES:
        raise WeightReadError(
            f"{config.folder}: a PEFT adapter of peft_type {kind!r}: its tensors are not "
            f"weights of the base model's layers (read: {', '.join(sorted(ADAPTER_TYPES))}); "
            "its file can still be opened on its own"
        )
    if adapter == "update" and kind != "LORA":
        raise WeightReadError(
            f"{config.folder}: a PEFT adapter of peft_type {kind!r}: adapter='update' computes "
            "the update of LoRA adapters only; read its own tensors with adapter='weights'"
        )
    if adapter == "update" and config.settings.get("use_dora"):
        raise WeightReadError(
            f"{config.folder}: a DoRA adapter (use_dora): its update depends on the base "
            "model's weights, which the folder does not hold; read its own tensors with "
            "adapter='weights'"
        )


def adapter_weight_file(folder: str | os.PathLike) -> Path:
    """The file holding an adapter's tensors (:data:`ADAPTER_WEIGHT_FILES`), or an error.

    Examples
    --------
    >>> adapter_weight_file("no/such/folder")
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: no/such/folder: an adapter folder without adapter_model.safetensors or adapter_model.bin
    """
    for name in ADAPTER_WEIGHT_FILES:
        candidate = Path(folder) / name
        if os.path.lexists(candidate):
            return candidate  # a dangling link is reported by the reader, clearly
    raise WeightReadError(
        f"{folder}: an adapter folder without {' or '.join(ADAPTER_WEIGHT_FILES)}"
    )


class LowRankUpdate:
    """``scale * left @ right`` flattened row-major, computed only for the rows read.

    A 1-D array-like for :attr:`Tensor.data`: ``shape``, ``dtype``, ``itemsize`` and
    slicing (``update[a:b]`` is a new float32 array, float64 if both factors are). Reading
    a slice computes the rows it touches, ``left[rows] @ right``: a pass over the update in
    blocks holds one block at a time. Factors stored as 16-/8-bit floats (bit patterns,
    with ``dtypes`` naming them) are decoded as they are used.

    Examples
    --------
    >>> left, right = np.array([[1.0], [2.0]], np.float32), np.array([[3.0, 4.0]], np.float32)
    >>> u = LowRankUpdate(left, right, 0.5)
    >>> u.shape, u[1:4].tolist(), np.asarray(u).tolist()
    ((4,), [2.0, 3.0, 4.0], [1.5, 2.0, 3.0, 4.0])
    """

    ndim = 1

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        scale: float,
        dtypes: tuple[str, str] | None = None,
    ) -> None:
        if left.ndim != 2 or right.ndim != 2 or left.shape[1] != right.shape[0]:
            raise ValueError(f"cannot multiply factors of shapes {left.shape} and {right.shape}")
        self.left, self.right, self.scale = left, right, float(scale)
        self.dtypes = dtypes or (str(left.dtype), str(right.dtype))
        self.rows, self.cols = int(left.shape[0]), int(right.shape[1])
        self.shape = (self.rows * self.cols,)
        wide = all(d == "float64" for d in self.dtypes)
        self.dtype = np.dtype(np.float64 if wide else np.float32)
        self.itemsize = self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _decoded(self, data: np.ndarray, dtype: str) -> np.ndarray:
        return to_float32(data, dtype) if is_narrow(dtype) else np.asarray(data, self.dtype)

    def _rows(self, first: int, stop: int) -> np.ndarray:
        left = self._decoded(self.left[first:stop], self.dtypes[0])
        product = left @ self._decoded(self.right, self.dtypes[1])
        product *= self.dtype.type(self.scale)
        return product.astype(self.dtype, copy=False).reshape(-1)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            n = self.shape[0]
            index = int(key) + n if key < 0 else int(key)
            if not 0 <= index < n:
                raise IndexError(f"index {key} is out of bounds for an update of {n} values")
            return self[index : index + 1][0]
        if not isinstance(key, slice):
            raise TypeError(f"a low-rank update is read by slices, got {type(key).__name__}")
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            return self[start:stop][::step] if stop > start else self[0:0]
        if stop <= start:
            return np.empty(0, self.dtype)
        first, last = start // self.cols, -(-stop // self.cols)
        offset = first * self.cols
        return self._rows(first, last)[start - offset : stop - offset]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def __repr__(self) -> str:
        return (
            f"LowRankUpdate({self.rows}x{self.cols} = {self.scale:g} * "
            f"({self.left.shape[0]}x{self.left.shape[1]}) @ "
            f"({self.right.shape[0]}x{self.right.shape[1]}))"
        )


def read_adapter(
    folder: str | os.PathLike,
    adapter: str = "weights",
    *,
    order: list[str] | None = None,
    name: str | None = None,
) -> WeightSource:
    """The weights of the PEFT adapter in ``folder``: its own tensors, or its updates.

    Parameters
    ----------
    folder
        A folder holding ``adapter_config.json`` and ``adapter_model.safetensors`` (or
        ``adapter_model.bin``).
    adapter
        ``"weights"``: the adapter's tensors in natural order of their names; ``"update"``
        (LoRA): each module's ``dW = scale * B @ A``, computed as it is read (module
        docstring).
    order, name
        As in :func:`~miwd_widget.weights.open_weights` (in ``"update"`` mode ``order``
        names the updates, e.g. ``"model.layers.0.q_proj.weight"``).

    Raises
    ------
    WeightReadError
        A missing or invalid config, a type that cannot be read this way (the message
        names the folder and the ``peft_type``), or an unreadable weight file.

    Examples
    --------
    >>> read_adapter("no/such/folder")
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: no/such/folder/adapter_config.json: no such file or directory
    """
    config = read_adapter_config(folder)
    check_adapter(config, adapter)
    label = name or str(folder)
    weight_file = adapter_weight_file(folder)
    stored = read_path(weight_file, name=label)
    if adapter == "weights":
        items = sorted(((t.name, t) for t in stored.tensors), key=lambda kv: natural_key(kv[0]))
        return build_source(
            label, items, order, skipped=stored.skipped, path=stored.path, format="peft"
        )
    items, skipped = _lora_updates(config, stored, _stored_shapes(weight_file))
    check_weight_count(weight_file, sum(t.size for _, t in items), "has LoRA updates of")
    return build_source(
        label,
        items,
        order,
        skipped=stored.skipped + skipped,
        path=stored.path,
        format="peft-update",
    )


def _stored_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of an adapter file (already validated by its reader)."""
    if path.name.lower().endswith(".safetensors"):
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    from .formats import pytorch

    items, _, _ = pytorch.read(path)
    return {k: tuple(v.shape) for k, v in items if hasattr(v, "shape")}


def _lora_updates(
    config: AdapterConfig, stored: WeightSource, shapes: dict[str, tuple[int, ...]]
) -> tuple[list[tuple[str, Tensor]], list[tuple[str, str]]]:
    """The update tensors of a LoRA adapter's modules, and the tensors left out."""
    modules: dict[str, dict[str, Tensor]] = {}
    transposed: dict[str, bool] = {}
    skipped: list[tuple[str, str]] = []
    for t in stored.tensors:
        part = next(((s, p) for s, p in _LORA_PARTS.items() if t.name.endswith(s)), None)
        if part is None:
            why = (
                "DoRA magnitude: its update needs the base model's weights"
                if t.name.endswith(_DORA_PARTS)
                else "not a LoRA factor (a full copy of a base module, modules_to_save?): "
                "its update needs the base model's weights"
            )
            skipped.append((t.name, why))
            continue
        suffix, (role, flip) = part
        module = t.name[: -len(suffix)]
        modules.setdefault(module, {})[role] = t
        transposed[module] = transposed.get(module, False) or flip
    items: list[tuple[str, Tensor]] = []
    for module in sorted(modules, key=natural_key):
        parts = modules[module]
        base_name = module.removeprefix(BASE_PREFIX)
        if "A" not in parts or "B" not in parts:
            missing = "lora_A" if "A" not in parts else "lora_B"
            raise WeightReadError(f"{stored.path}: module {module!r} has no {missing} tensor")
        scale = config.scale(base_name)
        a, b = parts["A"], parts["B"]
        flip = transposed[module] or bool(config.settings.get("fan_in_fan_out"))
        left, right = _factors(config, stored.path, module, a, b, shapes, flip)
        update = LowRankUpdate(
            left, right, scale, (a.dtype, b.dtype) if flip else (b.dtype, a.dtype)
        )
        items.append(
            (f"{base_name}.weight", Tensor(f"{base_name}.weight", update, str(update.dtype)))
        )
        if "bias" in parts:
            bias = np.concatenate(list(parts["bias"].chunks())) * scale
            items.append((f"{base_name}.bias", Tensor(f"{base_name}.bias", bias, str(bias.dtype))))
    return items, skipped


def _factors(
    config: AdapterConfig,
    path: str | None,
    module: str,
    a: Tensor,
    b: Tensor,
    shapes: dict[str, tuple[int, ...]],
    transposed: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)`` of a module's update ``left @ right`` (before scaling), as views.

    ``B @ A`` in the base weight's layout ``(out, in...)``; ``transposed`` (embeddings, and
    ``fan_in_fan_out`` layers, which store ``(in, out)``): its transpose ``A.T @ B.T``.
    """
    shape_a, shape_b = shapes.get(a.name, ()), shapes.get(b.name, ())
    r = config.rank(module.removeprefix(BASE_PREFIX))
    # B is (out, r) or, for convolutions, (out, r, 1, ...); A is (r, in, kernel...).
    ok = (
        len(shape_a) >= 2
        and len(shape_b) >= 2
        and shape_a[0] == r
        and shape_b[1] == r
        and all(d == 1 for d in shape_b[2:])
    )
    if not ok:
        raise WeightReadError(
            f"{path}: module {module!r}: lora_A of shape {list(shape_a)} and lora_B of shape "
            f"{list(shape_b)} do not form an update of rank r={r} (adapter_config.json)"
        )
    a2 = a.data.reshape(r, -1)
    b2 = b.data.reshape(shape_b[0], r)
    # Factors read in place from a large file are read when used; the right factor is used
    # whole by every block of rows, and a transpose needs the values: those are read now.
    if transposed:
        return np.asarray(a2).T, np.asarray(b2).T
    return b2, np.asarray(a2)
