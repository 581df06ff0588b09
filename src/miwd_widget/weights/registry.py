"""The registry of model file formats: which reader a path gets, and the model in a folder.

Formats are listed explicitly in :data:`FORMATS` (most preferred first, which is also the
order in which a directory's model files are considered). A new format is one module in
:mod:`miwd_widget.weights.formats` defining a :class:`~.formats._base.FileFormat`, plus one
line here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

from .formats import keras, npy, nws, onnx, pytorch, safetensors, sharded
from .formats._base import FileFormat, ReadResult
from .guard import SYMLINK_LOOP, check_weight_count, is_symlink_loop, regular_file
from .objects import build_source
from .quantized import dequantize_items
from .source import WeightReadError, WeightSource

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "SHARDED",
    "MODEL_SUFFIXES",
    "SUPPORTED",
    "SHARD_FORMATS",
    "format_for",
    "read_path",
    "model_in_directory",
]


#: Formats a shard of a ``*.index.json`` may have, by suffix. A ``.bin`` shard is a PyTorch
#: checkpoint (Hugging Face's ``pytorch_model-0000x-of-0000n.bin``), never NWS raw float64:
#: raw bytes must not come back as weights because an index named them.
SHARD_FORMATS: dict[str, FileFormat] = {
    ".safetensors": safetensors.SAFETENSORS,
    ".bin": pytorch.PYTORCH,
    ".pt": pytorch.PYTORCH,
    ".pth": pytorch.PYTORCH,
    ".ckpt": pytorch.PYTORCH,
    ".h5": keras.KERAS_H5,
}


def _read_shard(path: Path) -> ReadResult:
    """Read one shard of a sharded checkpoint with the format its suffix names."""
    fmt = SHARD_FORMATS.get(path.suffix.lower())
    if fmt is None or path.name.lower().endswith(".index.json"):
        raise WeightReadError(f"{path}: not a shard format (a shard is {', '.join(SHARD_FORMATS)})")
    try:
        return fmt.read(path)
    except WeightReadError:
        raise
    except MemoryError:
        raise WeightReadError(
            f"{path}: not enough memory to read it as {fmt.description}"
        ) from None
    except Exception as exc:  # library errors on corrupt files become one clear message
        raise WeightReadError(
            f"{path}: cannot read it as {fmt.description} "
            f"(corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from exc


SHARDED = FileFormat(
    "sharded",
    (".index.json",),
    functools.partial(sharded.read, read_shard=_read_shard),
    "a sharded checkpoint index (JSON with a weight_map)",
)

#: Every file format, most preferred first when a directory holds several model files.
FORMATS: tuple[FileFormat, ...] = (
    SHARDED,
    safetensors.SAFETENSORS,
    pytorch.PYTORCH,
    nws.BIN,
    onnx.ONNX,
    keras.KERAS,
    keras.KERAS_H5,
    npy.NPZ,
    npy.NPY,
)

#: Formats whose files may be quantized checkpoints (:mod:`.quantized` looks at them).
QUANTIZED_FORMATS = ("safetensors", "safetensors-sharded", "sharded", "torch")

#: Human-readable list of the suffixes read.
SUPPORTED = (
    ".safetensors, model.safetensors.index.json, .pt, .pth, .bin, .ckpt, .onnx, .npz, .npy, "
    ".keras, .h5, .hdf5"
)

#: All single suffixes of model files (directory scans take these).
MODEL_SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS if f is not SHARDED for s in f.suffixes)


def format_for(path: Path) -> FileFormat:
    """The format that reads ``path``, by its suffix.

    Examples
    --------
    >>> format_for(Path("model.safetensors")).name
    'safetensors'
    >>> format_for(Path("model.safetensors.index.json")).name
    'sharded'
    """
    for fmt in FORMATS:
        if fmt.matches(path):
            return fmt
    raise WeightReadError(
        f"{path}: unknown model file suffix {path.suffix or '(none)'!r}; supported: {SUPPORTED}"
    )


def read_path(
    path: Path,
    *,
    order: Sequence[str] | None = None,
    include_buffers: bool = False,
    name: str | None = None,
    file_format: FileFormat | None = None,
) -> WeightSource:
    """Read the model file at ``path`` (or the one model file in a directory).

    ``include_buffers`` is accepted for symmetry with in-memory modules: a saved state_dict
    holds whatever was saved, buffers included. ``file_format``: the reader to use where a
    layout, not the file's suffix, says what the file is (default: by suffix).
    """
    label = name or str(path)
    target = model_in_directory(path) if path.is_dir() else path
    # Stat before any open: a FIFO would block, /dev/zero would be read forever.
    regular_file(target)
    fmt = file_format or format_for(target)
    log.debug("%s: read as %s", target, fmt.name)
    try:
        items, skipped, kind = fmt.read(target)
        quantization = None
        if kind in QUANTIZED_FORMATS:
            items, quantization = dequantize_items(label, target, items, kind)
        ws = build_source(label, items, order, skipped=skipped, path=str(target), format=kind)
        ws.quantization = quantization
    except WeightReadError:
        raise
    except MemoryError as exc:
        raise WeightReadError(
            f"{target}: not enough memory to read it as {fmt.description}"
            f"{': ' + str(exc) if str(exc) else ''}"
        ) from None
    except RecursionError:
        raise WeightReadError(
            f"{target}: cannot read it as {fmt.description}: nested too deeply"
        ) from None
    except Exception as exc:  # library errors on corrupt files become one clear message
        raise WeightReadError(
            f"{target}: cannot read it as {fmt.description} "
            f"(corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from exc
    check_weight_count(target, ws.n)
    return ws


def model_in_directory(directory: Path) -> Path:
    """The one model file a directory holds (a sharded index first), or a clear error."""
    files = sorted(p for p in directory.iterdir() if p.is_file())
    indexes = [p for p in files if SHARDED.matches(p)]
    if len(indexes) > 1:
        preferred = [p for p in indexes if p.name == "model.safetensors.index.json"]
        if len(preferred) == 1:
            return preferred[0]
        raise WeightReadError(
            f"{directory}: holds several index files ({', '.join(p.name for p in indexes)}); "
            "pass one of them"
        )
    if indexes:
        return indexes[0]
    snapshots = directory / "weights"
    if snapshots.is_dir() and any(snapshots.glob("*.bin")):
        raise WeightReadError(
            f"{directory}: looks like an NWS network folder holding several weight snapshots; "
            f"pass one of them, e.g. {snapshots / '020.bin'}"
        )
    groups = list(dict.fromkeys(f.group for f in FORMATS if f is not SHARDED))
    for group in groups:
        members = [f for f in FORMATS if f.group == group]
        found = [p for p in files if any(f.matches(p) for f in members)]
        if len(found) == 1:
            log.debug("%s: the model file is %s", directory, found[0].name)
            return found[0]
        if found:
            raise WeightReadError(
                f"{directory}: holds several model files ({', '.join(p.name for p in found[:6])}) "
                "and no index file; pass one of them"
            )
    # A model file whose symlinks loop (is_file() is False): say so, not "no model file".
    named = (p for p in sorted(directory.iterdir()) if any(f.matches(p) for f in FORMATS))
    loop = next((p for p in named if is_symlink_loop(p)), None)
    if loop is not None:
        raise WeightReadError(f"{loop}: {SYMLINK_LOOP}")
    raise WeightReadError(
        f"{directory}: no recognizable model file in this directory (looked for {SUPPORTED})"
    )
