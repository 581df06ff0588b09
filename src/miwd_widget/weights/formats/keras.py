"""Keras weight files (h5py): legacy .h5, Keras 3 ``.weights.h5`` and ``.keras`` archives.

Order: legacy .h5 files follow the ``layer_names`` and per-layer ``weight_names``
attributes. Keras 3 weight files (``layers/<name>/vars/<i>``) follow the layer list of the
model's ``config.json`` (.keras archives, which must hold a valid one: without it the order
would be a guess), else the group creation order if the file tracked it, else natural order
of the group names (Keras 3 names groups per class, e.g. ``dense_1``, so across classes
that order may differ from the model's); the variables of one layer are in index order.
Optimizer and metric state are skipped.

Every dataset is checked before its values are read (:func:`_h5_array`): external raw
storage and virtual datasets (which read other files, anywhere) are refused; so is a
dataset whose values were never written (HDF5 returns fill values: a 10 KB file could
declare 4 GiB) or that expands beyond the compression limit; a ``bfloat16`` tag must sit on
2-byte data. A ``.keras`` archive's members are checked for zip bombs before they are
decompressed. A legacy ``layer_names`` list that repeats a layer is refused.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..guard import check_stored_size, check_weight_count, check_zip
from ..source import Tensor, WeightReadError, natural_key, require
from ._base import FileFormat, Items, ReadResult, Skipped

__all__ = ["KERAS", "KERAS_H5"]


def _h5_attr_list(group: Any, name: str) -> list[str] | None:
    """A list-of-strings attribute, also when Keras split it into name0, name1, ... chunks."""
    if name in group.attrs:
        values = list(group.attrs[name])
    elif f"{name}0" in group.attrs:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values += list(group.attrs[f"{name}{i}"])
            i += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _member(group: Any, name: str) -> Any:
    """``group[name]``, refusing external links (they open other HDF5 files, anywhere)."""
    h5py = require("h5py", "keras", "reading Keras weight files")
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise WeightReadError(
            f"refused: {group.name.rstrip('/')}/{name} is an external link to "
            f"{link.filename}:{link.path}; only data stored in the model file is read"
        )
    if link is None:
        raise WeightReadError(f"{group.name.rstrip('/')}/{name} is missing")
    return group[name]


def _check_dataset(dataset: Any, bfloat16: bool) -> None:
    """Refuse a dataset whose values are not in this file, not stored, or mis-tagged."""
    label = f"dataset {dataset.name!r}"
    if dataset.is_virtual:
        raise WeightReadError(
            f"refused: {label} is a virtual dataset (it maps other files' data; only values "
            "stored in the model file are read)"
        )
    if dataset.external:
        where = ", ".join(str(e[0]) for e in dataset.external[:3])
        raise WeightReadError(
            f"refused: {label} has external storage ({where}); only values stored in the "
            "model file are read"
        )
    check_weight_count(label, int(dataset.size))
    filtered = dataset.id.get_create_plist().get_nfilters() > 0
    check_stored_size(label, int(dataset.nbytes), int(dataset.id.get_storage_size()), filtered)
    if bfloat16 and dataset.dtype.itemsize != 2:
        raise WeightReadError(
            f"{label} is tagged bfloat16 but stores {dataset.dtype} ({dataset.dtype.itemsize} "
            "bytes per value, bfloat16 has 2)"
        )


def _h5_array(dataset: Any) -> Any:
    """A dataset's values, once checked (Keras 3 marks bfloat16 with a dtype attribute)."""
    bfloat16 = dataset.attrs.get("dtype") in ("bfloat16", b"bfloat16")
    _check_dataset(dataset, bfloat16)
    data = dataset[()]
    if bfloat16:
        bits = np.asarray(data).reshape(-1).view(np.uint16)
        return Tensor(dataset.name, bits, "bfloat16")
    return data


def _keras_snake_case(class_name: str) -> str:
    """Keras 3's naming.to_snake_case: how it names container entries in weight files."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _keras_layer_names(layer_configs: list[Any]) -> list[tuple[str, Any]]:
    """Weight-file group names of a layer list, as Keras 3 assigns them (per-class counter)."""
    used: dict[str, int] = {}
    out = []
    for cfg in layer_configs:
        base = _keras_snake_case(str(cfg.get("class_name", "")))
        if base in used:
            used[base] += 1
            out.append((f"{base}_{used[base]}", cfg))
        else:
            used[base] = 0
            out.append((base, cfg))
    return out


def _ordered_children(group: Any, names_in_order: list[str] | None) -> list[str]:
    """Child group names: known layer order, else creation order if tracked, else natural."""
    h5py = require("h5py", "keras", "reading Keras weight files")
    children = [k for k in group if isinstance(_member(group, k), h5py.Group) and k != "vars"]
    if names_in_order:
        rank = {n: i for i, n in enumerate(names_in_order)}
        known = sorted((c for c in children if c in rank), key=rank.__getitem__)
        return known + sorted((c for c in children if c not in rank), key=natural_key)
    if group.id.get_create_plist().get_link_creation_order():
        return children  # h5py iterates in creation order when the file tracked it
    return sorted(children, key=natural_key)


#: Top-level groups of a Keras 3 weight file that hold training state, not model weights.
KERAS_NON_MODEL = ("optimizer", "loss")


def _is_training_state(name: str) -> bool:
    lower = name.lower()
    return lower in KERAS_NON_MODEL or "metric" in lower


def _keras3_walk(group: Any, path: str, config: Any, items: Items, skipped: Skipped) -> None:
    """Variables of one Keras 3 saveable: its own ``vars``, then its children's."""
    if "vars" in group:
        vars_group = _member(group, "vars")
        for key in sorted(vars_group, key=natural_key):
            items.append((f"{path}vars/{key}", _h5_array(_member(vars_group, key))))
    sub_layers = None
    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        sub_layers = config["config"].get("layers")
    for child in _ordered_children(group, None):
        if not path and _is_training_state(child):
            skipped.append((child, "optimizer/metric state, not model weights"))
            continue
        child_group = _member(group, child)
        if child in ("layers", "_layer_checkpoint_dependencies") and isinstance(sub_layers, list):
            # Keras 3 names a layer list's groups by class (see _keras_layer_names); the
            # config's list gives their order.
            named = _keras_layer_names(sub_layers)
            cfgs = dict(named)
            for layer in _ordered_children(child_group, [n for n, _ in named]):
                _keras3_walk(
                    _member(child_group, layer),
                    f"{path}{child}/{layer}/",
                    cfgs.get(layer),
                    items,
                    skipped,
                )
        else:
            _keras3_walk(child_group, f"{path}{child}/", None, items, skipped)


def _read_h5_file(h5: Any, config: Any) -> tuple[Items, Skipped]:
    items: Items = []
    skipped: Skipped = []
    root = _member(h5, "model_weights") if "model_weights" in h5 else h5
    layer_names = _h5_attr_list(root, "layer_names")
    if layer_names is not None:  # legacy Keras (2.x) h5: names give the order
        repeated = sorted({n for n in layer_names if layer_names.count(n) > 1})
        if repeated:
            raise WeightReadError(f"'layer_names' repeats layer(s) {repeated[:5]}")
        for layer in layer_names:
            group = _member(root, layer)
            for weight in _h5_attr_list(group, "weight_names") or []:
                # Keras weight names usually start with the layer name already.
                label = weight if weight.startswith(f"{layer}/") else f"{layer}/{weight}"
                items.append((label, _h5_array(_member(group, weight))))
        skipped += [
            (k, "optimizer state, not model weights")
            for k in h5
            if k != "model_weights" and k.startswith("optimizer")
        ]
        return items, skipped
    # Keras 3: [vars/<i>], layers/<name>/vars/<i>, optimizer and metric state beside.
    _keras3_walk(h5, "", config, items, skipped)
    if not items and not skipped:
        raise WeightReadError(
            "no Keras weights found (no 'layer_names' attribute, no 'layers' group)"
        )
    return items, skipped


def read_h5(path: Path) -> ReadResult:
    """Read a Keras HDF5 weight file."""
    h5py = require("h5py", "keras", f"reading the Keras weight file {path}")
    with h5py.File(path, "r") as h5:
        try:
            items, skipped = _read_h5_file(h5, None)
        except WeightReadError as exc:
            raise WeightReadError(f"{path}: {exc}") from None
    return items, skipped, "keras-h5"


def read_keras(path: Path) -> ReadResult:
    """Read the weights of a Keras .keras archive."""
    h5py = require("h5py", "keras", f"reading the Keras archive {path}")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "model.weights.h5" not in names:
            hint = " (npz weights need pickle: refused)" if "model.weights.npz" in names else ""
            raise WeightReadError(f"{path}: the archive holds no model.weights.h5{hint}")
        if "config.json" not in names:
            # Keras always writes it; without it the layer order would be guessed.
            raise WeightReadError(
                f"{path}: the archive holds no config.json (every Keras archive has one); the "
                "layer order cannot be known"
            )
        # Both members are decompressed into memory: check them from the zip directory first.
        check_zip(path, archive, ["model.weights.h5", "config.json"])
        # Without a usable config the layer order is unknown: refused, not guessed.
        try:
            config = json.loads(archive.read("config.json"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightReadError(
                f"{path}: member 'config.json' is not valid JSON ({exc}); the layer order "
                "cannot be known"
            ) from None
        except RecursionError:
            raise WeightReadError(
                f"{path}: member 'config.json' is nested too deeply to parse; the layer "
                "order cannot be known"
            ) from None
        # h5py needs a seekable file; the archive member is read into memory once.
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as h5:
        try:
            items, skipped = _read_h5_file(h5, config)
        except WeightReadError as exc:
            raise WeightReadError(f"{path}: {exc}") from None
    return items, skipped, "keras"


KERAS = FileFormat("keras", (".keras",), read_keras, "a Keras .keras archive", "keras")
KERAS_H5 = FileFormat("keras-h5", (".h5", ".hdf5"), read_h5, "a Keras HDF5 weight file", "keras-h5")
