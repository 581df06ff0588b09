"""What a reader may open and how much it may read: the checks and limits of every file read.

Model files come from anywhere, so a reader trusts nothing a file says about other files or
about its own size:

- **Only regular files are opened.** :func:`regular_file` stats the path (after symlinks)
  before anything opens it: a FIFO would block ``open()`` forever, ``/dev/zero`` would be
  read until memory runs out, a socket or device is no model. A path whose symlinks loop
  is named as one (:func:`resolve_path`, :data:`SYMLINK_LOOP`).
- **References stay inside the model's folder.** A file a model refers to (the shards of a
  ``*.index.json``, ONNX external data) must be a relative path without ``..`` that
  resolves, after symlinks, inside the folder of the model's own file
  (:func:`inside_folder`). In a Hugging Face hub cache
  (``models--org--name/snapshots/<rev>/``, whose files are symlinks into
  ``models--org--name/blobs/``) that folder is the ``models--org--name`` cache entry
  (only for an entry named so, :data:`HF_CACHE_PREFIX`; :func:`confinement_root`).
  HDF5 external storage and virtual datasets, which can point anywhere, are refused
  outright by the Keras reader.
- **Declared sizes are bounded** by what the file can hold: a zip member (``.npz``,
  ``.keras``) may not expand beyond :attr:`ReadLimits.max_compression_ratio` times its
  compressed size nor beyond :attr:`ReadLimits.max_member_bytes` (checked from the zip
  directory, before decompression: :func:`check_zip`); an HDF5 dataset must have its
  values stored (:func:`check_stored_size`); no model may declare more than
  :attr:`ReadLimits.max_weights` weights (:func:`check_weight_count`).

The limits live in :data:`LIMITS` (one :class:`ReadLimits`). Override them for this process
with :func:`set_read_limits`, or with the environment variables ``MIWD_MAX_WEIGHTS``,
``MIWD_MAX_COMPRESSION_RATIO``, ``MIWD_MAX_MEMBER_BYTES`` and ``MIWD_RATIO_EXEMPT_BYTES``,
read at import, which also reach the worker processes of a library build.

Examples
--------
>>> LIMITS.max_compression_ratio
100.0
>>> previous = set_read_limits(max_weights=10)
>>> check_weight_count("m.npy", 11)
Traceback (most recent call last):
...
miwd_widget.weights.source.WeightReadError: m.npy: declares 11 weights, more than the limit of 10 (ReadLimits.max_weights; see miwd_widget.weights.guard)
>>> _ = set_read_limits(**vars(previous))
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath, PureWindowsPath

from .source import WeightReadError

__all__ = [
    "HF_CACHE_PREFIX",
    "ReadLimits",
    "LIMITS",
    "set_read_limits",
    "regular_file",
    "is_symlink_loop",
    "resolve_path",
    "SYMLINK_LOOP",
    "inside_folder",
    "confinement_root",
    "check_zip",
    "check_stored_size",
    "check_weight_count",
]

_GIB = 1 << 30

#: How a Hugging Face hub cache names a model repository's entry (``models--ORG--NAME``).
#: Its ``datasets--`` and ``spaces--`` entries hold no models and are not read.
HF_CACHE_PREFIX = "models--"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one model file may make a reader allocate.

    Attributes
    ----------
    max_weights
        Most weights one model may declare (2**40, about 1.1e12: 15x the largest open
        models). Guards against declared shapes no real model has.
    max_compression_ratio
        Most a compressed zip member or a filtered HDF5 dataset may expand (uncompressed
        bytes / stored bytes). Float weights barely compress (about 1.1x); 100x is only
        reached by long runs of one value, i.e. a bomb or padding.
    ratio_exempt_bytes
        Members or datasets up to this many uncompressed bytes (64 MiB) skip the ratio
        test: a small all-zero bias legitimately compresses 200x, and 64 MiB is harmless.
    max_member_bytes
        Most uncompressed bytes of one zip member read into memory (16 GiB), whatever
        its compression.

    Examples
    --------
    >>> ReadLimits().ratio_exempt_bytes == 64 << 20
    True
    """

    max_weights: int = 1 << 40
    max_compression_ratio: float = 100.0
    ratio_exempt_bytes: int = 64 << 20
    max_member_bytes: int = 16 * _GIB


def _from_environment() -> ReadLimits:
    """The default limits, with any ``MIWD_*`` environment overrides applied."""
    names = {
        "max_weights": ("MIWD_MAX_WEIGHTS", int),
        "max_compression_ratio": ("MIWD_MAX_COMPRESSION_RATIO", float),
        "ratio_exempt_bytes": ("MIWD_RATIO_EXEMPT_BYTES", int),
        "max_member_bytes": ("MIWD_MAX_MEMBER_BYTES", int),
    }
    overrides = {}
    for field_name, (variable, kind) in names.items():
        text = os.environ.get(variable)
        if text:
            try:
                overrides[field_name] = kind(text)
            except ValueError:
                raise ValueError(f"{variable}={text!r} is not a valid {kind.__name__}") from None
    return ReadLimits(**overrides)


#: The limits every reader applies (replace with :func:`set_read_limits`).
LIMITS: ReadLimits = _from_environment()


def set_read_limits(**changes: float) -> ReadLimits:
    """Change the read limits of this process; returns the previous ones (to restore them).

    Worker processes of a library build start from the defaults and the ``MIWD_*``
    environment variables: set those to change the limits of a parallel build.

    Examples
    --------
    >>> from miwd_widget.weights import guard
    >>> previous = guard.set_read_limits(max_compression_ratio=1000)
    >>> guard.LIMITS.max_compression_ratio, previous.max_compression_ratio
    (1000, 100.0)
    >>> _ = set_read_limits(**vars(previous))
    """
    global LIMITS
    previous = LIMITS
    LIMITS = replace(LIMITS, **changes)
    return previous


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


#: What an error says of a path whose symlinks lead back to one another (after its name).
SYMLINK_LOOP = "is a symbolic link loop (its links lead back to themselves, never to a file)"


def is_symlink_loop(path: str | os.PathLike) -> bool:
    """Whether following ``path``'s symlinks never ends (``ELOOP``: a loop, or a chain too
    long for the system to follow).

    Examples
    --------
    >>> is_symlink_loop("/dev/null"), is_symlink_loop("no/such/file")
    (False, False)
    """
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def resolve_path(path: Path, what: str = "") -> Path:
    """``path`` with its symlinks followed (``Path.resolve``), or a clear error naming it
    (or ``what``) if they loop; a path that does not exist resolves as far as it can.

    Python before 3.13 raises a bare ``RuntimeError("Symlink loop from ...")`` there,
    later versions return a path that is no file.

    Examples
    --------
    >>> resolve_path(Path("/nonexistent/../models")) == Path("/models")
    True
    """
    try:
        resolved = path.resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        resolved = None
    if resolved is None or is_symlink_loop(path):
        raise WeightReadError(f"{what or path}: {SYMLINK_LOOP}")
    return resolved


def regular_file(path: str | os.PathLike, what: str = "") -> Path:
    """``path`` if it is (a symlink to) an existing regular file, else a clear error.

    Only ``os.stat`` is called, never ``open``: a FIFO, device or socket is refused without
    blocking. ``what`` prefixes the error (e.g. ``"model.index.json: shard 'x.bin'"``);
    by default the error starts with the path.

    Examples
    --------
    >>> regular_file("/dev/null")
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: /dev/null: not a regular file: it is a character device
    """
    p = Path(path)
    label = what or str(p)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        if os.path.islink(p):
            raise WeightReadError(
                f"{label}: dangling symlink (it points to {os.readlink(p)}, which does not exist)"
            ) from None
        raise WeightReadError(f"{label}: no such file or directory") from None
    except OSError as exc:  # permission denied, symlink loop, name too long
        if exc.errno == errno.ELOOP:
            raise WeightReadError(f"{label}: {SYMLINK_LOOP}") from None
        raise WeightReadError(f"{label}: cannot access it: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return p
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    via = f" (a symlink to {os.path.realpath(p)})" if os.path.islink(p) else ""
    raise WeightReadError(f"{label}: not a regular file: it is {kind}{via}")


def confinement_root(folder: Path) -> Path:
    """The folder references of a model in ``folder`` must stay in (resolved).

    That is ``folder`` itself, except in a Hugging Face hub cache, whose snapshot files are
    symlinks into the cache entry's ``blobs/``: for ``.../models--x/snapshots/<rev>`` it
    is ``.../models--x``. Only a model entry (named ``models--...``, with a ``blobs``
    folder) widens it: any other ``X/snapshots/<rev>`` beside an ``X/blobs`` is confined to
    itself, so a folder laid out like a cache cannot open its parent to its files.

    Examples
    --------
    >>> confinement_root(Path("/nonexistent/models")) == Path("/nonexistent/models").resolve()
    True
    """
    resolved = resolve_path(folder)
    entry = resolved.parent.parent
    if (
        resolved.parent.name == "snapshots"
        and entry.name.startswith(HF_CACHE_PREFIX)
        and len(entry.name) > len(HF_CACHE_PREFIX)
        and (entry / "blobs").is_dir()
    ):
        return entry
    return resolved


def inside_folder(model_file: Path, reference: str, what: str) -> Path:
    """The file ``reference`` (as written in ``model_file``) names, if it stays in its folder.

    Refused, with an error naming ``model_file`` and the reference: absolute paths, drive
    or UNC paths, any ``..`` component, and relative paths that leave the folder through a
    symlink. The result is also checked to be a regular file (:func:`regular_file`).
    ``what`` names the reference in errors, e.g. ``"shard"`` or ``"external data"``.

    Examples
    --------
    >>> inside_folder(Path("/m/model.safetensors.index.json"), "../x.bin", "shard")
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: /m/model.safetensors.index.json: refused: shard '../x.bin' is outside the model's folder (.. is not allowed)
    """
    text = str(reference)
    where = f"{model_file}: refused: {what} {text!r}"
    if not text or "\x00" in text:
        raise WeightReadError(f"{where} is not a file name")
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("\\"):
        raise WeightReadError(
            f"{where} is an absolute path (only paths inside the model's folder are read)"
        )
    if ".." in posix.parts or ".." in windows.parts:
        raise WeightReadError(f"{where} is outside the model's folder (.. is not allowed)")
    folder = model_file.parent
    target = folder / text
    root = confinement_root(folder)
    label = f"{model_file}: {what} {text!r}"
    resolved = resolve_path(target, f"{label} ({target})")
    if not resolved.is_relative_to(root):
        raise WeightReadError(
            f"{where} resolves to {resolved}, outside the model's folder {root} (a symlink?)"
        )
    return regular_file(target, label)


def check_weight_count(label: str | os.PathLike, n: int, what: str = "declares") -> None:
    """Refuse a model or tensor that declares more than :attr:`ReadLimits.max_weights`.

    Examples
    --------
    >>> check_weight_count("m.npy", 1000)
    """
    if n > LIMITS.max_weights:
        raise WeightReadError(
            f"{label}: {what} {n:,} weights, more than the limit of {LIMITS.max_weights:,} "
            "(ReadLimits.max_weights; see miwd_widget.weights.guard)"
        )


def _expansion_error(label: str, declared: int, stored: int) -> str | None:
    """Why ``declared`` uncompressed bytes from ``stored`` bytes is too much, or None."""
    if declared <= LIMITS.ratio_exempt_bytes:
        return None
    if declared > LIMITS.max_compression_ratio * max(stored, 1):
        return (
            f"{label} expands {stored:,} stored bytes to {declared:,} "
            f"({declared / max(stored, 1):,.0f}x, more than the limit of "
            f"{LIMITS.max_compression_ratio:g}x: ReadLimits.max_compression_ratio)"
        )
    return None


def check_zip(path: Path, archive: zipfile.ZipFile, members: Iterable[str] | None = None) -> None:
    """Refuse a zip bomb from its directory alone, before anything is decompressed.

    Each member read (``members``, default all) must expand at most
    :attr:`ReadLimits.max_compression_ratio` times its compressed size (beyond
    :attr:`ReadLimits.ratio_exempt_bytes`) and at most :attr:`ReadLimits.max_member_bytes`;
    the members together may not claim more compressed bytes than the archive holds
    (overlapping members, which reuse one compressed stream many times). zipfile stops
    decompressing at the declared size, so the declared size bounds the memory.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as z:
    ...     z.writestr("a.npy", b"123")
    >>> check_zip(Path("a.npz"), zipfile.ZipFile(buffer))
    """
    archive_size = path.stat().st_size if isinstance(path, Path) and path.is_file() else None
    infos = archive.infolist()
    wanted = None if members is None else set(members)
    if archive_size is not None and sum(i.compress_size for i in infos) > archive_size:
        raise WeightReadError(
            f"{path}: refused: its members claim {sum(i.compress_size for i in infos):,} "
            f"compressed bytes but the archive has {archive_size:,} (overlapping members: "
            "a zip bomb?)"
        )
    for info in infos:
        if wanted is not None and info.filename not in wanted:
            continue
        label = f"member {info.filename!r}"
        if info.file_size > LIMITS.max_member_bytes:
            raise WeightReadError(
                f"{path}: refused: {label} declares {info.file_size:,} uncompressed bytes, "
                f"more than the limit of {LIMITS.max_member_bytes:,} "
                "(ReadLimits.max_member_bytes; see miwd_widget.weights.guard)"
            )
        why = _expansion_error(label, info.file_size, info.compress_size)
        if why:
            raise WeightReadError(f"{path}: refused: {why} (a zip bomb?)")


def check_stored_size(label: str, declared: int, stored: int, filtered: bool) -> None:
    """Refuse an HDF5 dataset whose values are not (all) stored in the file.

    HDF5 returns fill values (zeros) for chunks never written, so a 10 KB file can declare
    4 GiB. An unfiltered dataset must store all its bytes; a filtered (compressed) one may
    expand at most :attr:`ReadLimits.max_compression_ratio` times.

    Examples
    --------
    >>> check_stored_size("f.h5: dataset 'w'", 400, 0, False)
    Traceback (most recent call last):
    ...
    miwd_widget.weights.source.WeightReadError: f.h5: dataset 'w': refused: declares 400 bytes but only 0 are stored in the file (never written; HDF5 would return fill values)
    """
    if declared == 0:
        return
    if stored == 0 or (not filtered and stored < declared):
        what = "never written" if stored == 0 else "partly unwritten"
        raise WeightReadError(
            f"{label}: refused: declares {declared:,} bytes but only {stored:,} are stored in "
            f"the file ({what}; HDF5 would return fill values)"
        )
    why = _expansion_error("it", declared, stored) if filtered else None
    if why:
        raise WeightReadError(f"{label}: refused: {why}")
