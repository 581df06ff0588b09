"""A library on disk: a Parquet file with metadata and atlas coordinates, and descriptors.

Descriptors live either inside the Parquet file (a fixed-size list column, the layout of
format 1; small libraries) or, for large ones, in a sidecar ``.npy`` file next to it that
:func:`load` memory-maps (format 2): 1,000,000 x 32 x 32 float32 is 4 GB, which then never
has to sit in memory, let alone twice. ``load(path, descriptors=False)`` reads the
metadata columns only (Parquet column selection) and leaves the descriptors to be read on
first use.

Files are checked against their schema on load: a damaged or edited file gives a
``ValueError`` naming the file and what is wrong. Parquet pages carry CRC checksums
(verified on read); the sidecar's size, header and a BLAKE2 digest are recorded in the
Parquet file. The digest is checked by default only for sidecars up to
:data:`VERIFY_MAX_BYTES` (256 MB; hashing 4 GB would cost the seconds memory mapping
saves): a larger sidecar edited in place without changing its size is caught only with
``load(path, verify=True)``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISREG
from typing import Any

import numpy as np

from ..descriptors.config import DEFAULT_PERCENTILES, DescriptorConfig
from .build import errors_frame
from .clusters import named_clusters
from .parts import LibraryParts

__all__ = [
    "save",
    "load",
    "folder_lock",
    "LazyDescriptors",
    "FORMAT_VERSION",
    "DESCRIPTOR_COLUMN",
    "EMBEDDING_COLUMNS",
    "INLINE_MAX_BYTES",
]

#: Newest layout :func:`save` writes (1: descriptors inline; 2: descriptors in a sidecar).
FORMAT_VERSION = 2

#: Reserved Parquet column names (metadata columns must not use them).
DESCRIPTOR_COLUMN = "__miwd_descriptor__"
EMBEDDING_COLUMNS = ("__miwd_atlas_x__", "__miwd_atlas_y__")
SCHEMA_KEY = b"miwd"

#: ``descriptors="auto"`` keeps descriptors inline up to this size, else writes a sidecar.
INLINE_MAX_BYTES = 256 << 20

#: Sidecars up to this size are digest-checked on every load (larger ones with verify=True:
#: hashing 4 GB would cost the seconds memory mapping saves).
VERIFY_MAX_BYTES = 256 << 20

_BLOCK_ROWS = 1 << 14  # rows copied / hashed at a time: bounded extra memory


# --------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------


def save(
    parts: LibraryParts,
    path: str | os.PathLike,
    descriptors: str = "auto",
    _sidecar: _Prewritten | None = None,
) -> Path:
    """Save a library's ``parts`` atomically: one Parquet file, plus a descriptor sidecar
    if large.

    Layout: the metadata columns; ``__miwd_atlas_x__`` and ``__miwd_atlas_y__`` (float32)
    when projected; the descriptors either as ``__miwd_descriptor__``, a fixed-size list of
    S*B float32 per row (row-major), or in ``<name>.<pid>-<token>.descriptors.npy`` next to
    the file. The Parquet schema metadata key ``miwd`` holds JSON with the format version,
    n, S, B, value_range, ``config`` (the other descriptor parameters: percentiles, clip,
    nan_policy), the errors table, ``attrs`` (projection parameters, zoo config),
    ``clusters`` ({name: [row positions]}) and, with a sidecar, its name, size and digest.

    Every file is written under a temporary name of its own and moved into place with
    ``os.replace`` (the sidecar first, then the Parquet file that names it), so a save
    that fails (a full disk: an ``OSError`` naming ``path`` and the reason) or is killed
    leaves the previous library whole, and two saves of one path at once leave one of
    the two whole, never a mix. Temporary files and sidecars of dead processes from
    earlier crashed saves are removed.

    Parameters
    ----------
    parts
        The library's parts (``library.parts()``).
    path
        The Parquet file.
    descriptors
        ``"inline"``, ``"sidecar"`` or ``"auto"`` (sidecar above :data:`INLINE_MAX_BYTES`).

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> save(lib.parts(), "lib.parquet")  # doctest: +SKIP
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .. import __version__

    if descriptors not in ("auto", "inline", "sidecar"):
        raise ValueError(f"descriptors must be 'auto', 'inline' or 'sidecar', got {descriptors!r}")
    path = Path(path)
    reserved = [c for c in (DESCRIPTOR_COLUMN, *EMBEDDING_COLUMNS) if c in parts.metadata]
    if reserved:
        raise ValueError(f"metadata uses reserved column names {reserved}")
    n, S, B = (int(v) for v in parts.descriptors.shape)
    nbytes = n * S * B * 4
    sidecar = descriptors == "sidecar" or (descriptors == "auto" and nbytes > INLINE_MAX_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_files(path)
    table = pa.Table.from_pandas(parts.metadata, preserve_index=False)
    info: dict[str, Any] = {
        "format_version": 2 if sidecar else 1,
        "miwd_widget_version": __version__,
        "n": n,
        "S": S,
        "B": B,
    }
    tmp = _temporary(path)
    # the sidecar as written: by sidecar_writer (a chunked build) or here
    side_tmp = _sidecar.where if _sidecar is not None else _temporary(path, ".npy")
    side_final = None
    try:
        if sidecar:
            name = f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.descriptors.npy"
            side_final = path.with_name(name)
            if _sidecar is not None:  # written by sidecar_writer (a chunked build)
                size, digest = _sidecar.finish()
            else:
                size, digest = _write_sidecar(_loaded(parts.descriptors), side_tmp)
            info["descriptors"] = {"file": name, "bytes": size, "blake2b": digest}
        else:
            flat = pa.array(np.asarray(_loaded(parts.descriptors)).reshape(-1), type=pa.float32())
            table = table.append_column(
                DESCRIPTOR_COLUMN, pa.FixedSizeListArray.from_arrays(flat, S * B)
            )
        if parts.embedding is not None:
            for j, col in enumerate(EMBEDDING_COLUMNS):
                table = table.append_column(col, pa.array(parts.embedding[:, j], pa.float32()))
        config = parts.config
        errors = parts.errors if parts.errors is not None else errors_frame()
        info.update(
            {
                "value_range": None if config.is_auto else list(config.range),
                "config": {
                    "percentiles": list(config.percentiles),
                    "clip": config.clip,
                    "nan_policy": config.nan_policy,
                },
                "errors": errors[["source", "error"]].astype(str).values.tolist(),
                "attrs": parts.attrs,
                # named clusters as {name: [positions]}: validated (names made strings)
                "clusters": {
                    name: rows.tolist() for name, rows in named_clusters(parts.clusters, n).items()
                },
            }
        )
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[SCHEMA_KEY] = json.dumps(info, default=_json_default).encode()
        table = table.replace_schema_metadata(schema_meta)
        with open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd", write_page_checksum=True)
            f.flush()
            os.fsync(f.fileno())
        _commit(path, tmp, side_tmp, side_final)
    except OSError as exc:  # a full disk, a file size limit...: the path and the reason
        _discard(path, side_final)
        raise _save_error(path, exc) from exc
    except BaseException:
        _discard(path, side_final)
        raise
    finally:
        tmp.unlink(missing_ok=True)
        side_tmp.unlink(missing_ok=True)
    return path


def _temporary(path: Path, suffix: str = "") -> Path:
    """A temporary name next to ``path`` that no other save (process or thread) uses."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}.tmp")


@contextmanager
def folder_lock(folder: Path, wait: bool = True) -> Iterator[os.stat_result | None]:
    """Hold an exclusive ``flock`` on ``folder`` (where the file system allows it).

    Yields the locked folder's ``stat`` (to check it is still the folder at that path),
    or None where no lock can be taken (Windows, some network mounts): the caller goes on
    unguarded. With ``wait=False`` a lock another process (or another open of the folder)
    holds is a ``BlockingIOError`` at once, instead of waiting for it.

    A save holds it on the library's folder while it moves its files into place. Two
    saves of one path never mix without it: each writes its own uniquely named files, and
    the Parquet file, which names its sidecar, is replaced atomically. The lock is for the
    sidecar each save replaces: under it, the one a save reads from the file it replaces is
    the one it replaces, so a save racing another deletes it instead of leaving it behind.
    Held for the renames only (milliseconds), not while writing. A chunked build holds it
    on its parts folder for the whole build
    (:func:`miwd_widget.library.chunked.build_chunked`).

    Examples
    --------
    >>> with folder_lock(Path("lib.parquet.parts"), wait=False) as locked:  # doctest: +SKIP
    ...     pass  # here no other process holds the folder's lock
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; saves stay whole, a raced sidecar may stay
        yield None
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield None
        return
    try:
        locked: os.stat_result | None = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            locked = os.fstat(fd)
        except BlockingIOError:
            raise
        except OSError:  # a file system without locks (some network mounts): as Windows
            pass
        yield locked
    finally:
        os.close(fd)  # releases the lock


def _commit(path: Path, tmp: Path, side_tmp: Path, side_final: Path | None) -> None:
    """Move the written files into place: the sidecar first, then the Parquet file that
    names it (``os.replace``: atomic), then delete the sidecar the old file named."""
    folder = path.parent if str(path.parent) else Path(".")
    with folder_lock(folder):
        previous = _referenced_sidecar(path)
        if side_final is not None:
            os.replace(side_tmp, side_final)
        os.replace(tmp, path)
        if previous is None or previous == side_final:
            return
        try:
            # other library files here naming it (a renamed or copied library) keep it
            if previous not in _sidecars_in_use(folder, skip=path):
                previous.unlink(missing_ok=True)  # an open memory map of it stays valid
        except OSError:  # the new library is in place: a sidecar left over is harmless
            pass


def _discard(path: Path, side_final: Path | None) -> None:
    """Remove the sidecar of a failed save, unless the file at ``path`` names it (the
    failure came after the Parquet file was replaced)."""
    if side_final is not None and _referenced_sidecar(path) != side_final:
        side_final.unlink(missing_ok=True)


def _save_error(path: Path, exc: OSError) -> OSError:
    """``exc`` (no space left, file too large...) as an error naming the library file."""
    error = OSError(
        f"{path}: cannot save the library: {exc.strerror or exc} (a file already there "
        "is unchanged)"
    )
    error.errno = exc.errno  # still tells ENOSPC from EFBIG
    return error


class _Prewritten:
    """A sidecar written in place by :func:`sidecar_writer`, for :func:`save` to commit."""

    def __init__(self, where: Path, out: np.ndarray) -> None:
        self.where, self.out = where, out

    def finish(self) -> tuple[int, str]:
        self.out.flush()
        with open(self.where, "rb+") as f:
            os.fsync(f.fileno())
        return self.where.stat().st_size, _digest(self.where)


@contextmanager
def sidecar_writer(
    path: str | os.PathLike, shape: tuple[int, int, int]
) -> Iterator[tuple[np.ndarray, _Prewritten]]:
    """A writable (n, S, B) float32 memory map of ``path``'s future sidecar.

    Fill it, make the library's parts with it, and pass the second value to
    ``save(parts, path, descriptors="sidecar", _sidecar=...)``, which moves it into
    place: 4 GB of descriptors are written once, never held in memory. Removed if not saved.
    Its disk space is allocated first: a full disk is an ``OSError`` naming ``path`` here,
    never a SIGBUS later, when writing into a map of a file with holes finds no space.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, ".npy")
    try:
        with open(tmp, "wb") as f:
            f.write(_npy_header(tuple(shape)))
            _allocate(f, int(np.prod(shape)) * 4)
        out = np.lib.format.open_memmap(tmp, mode="r+")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _save_error(path, exc) from exc
    try:
        yield out, _Prewritten(tmp, out)
    finally:
        del out
        tmp.unlink(missing_ok=True)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header of a C-ordered float32 array of ``shape`` (as ``np.save``'s)."""
    import io

    head = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(np.float32))  # native, as the data
    np.lib.format.write_array_header_1_0(
        head, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return head.getvalue()


def _allocate(f: Any, nbytes: int) -> None:
    """Give the open file ``f`` ``nbytes`` more bytes of disk space (zeros) at its end."""
    start = f.tell()
    f.flush()
    try:
        os.posix_fallocate(f.fileno(), start, nbytes)
        f.seek(start + nbytes)
        return
    except AttributeError:  # macOS, Windows: no posix_fallocate
        pass
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise
        # a file system that cannot allocate ahead: written below
    f.seek(start)
    zeros = bytes(16 << 20)
    for a in range(0, nbytes, len(zeros)):
        f.write(zeros[: min(len(zeros), nbytes - a)])


def _loaded(descriptors: Any) -> np.ndarray:
    """Descriptors still in a file (:class:`LazyDescriptors`) read, others as they are."""
    return descriptors.load() if isinstance(descriptors, LazyDescriptors) else descriptors


def _write_sidecar(d: np.ndarray, where: Path) -> tuple[int, str]:
    """Write the descriptors as one .npy, block by block; its size and BLAKE2 digest.

    Written with ``write``, not through a memory map: a full disk is then an
    ``OSError``, not a SIGBUS. The digest is of the bytes as written (one pass).
    """
    h = hashlib.blake2b(digest_size=16)
    with open(where, "wb") as f:
        head = _npy_header(tuple(d.shape))
        f.write(head)
        h.update(head)
        for a in range(0, len(d), _BLOCK_ROWS):
            block = np.ascontiguousarray(d[a : a + _BLOCK_ROWS], dtype=np.float32)
            raw = block.reshape(-1).view(np.uint8)
            f.write(raw)
            h.update(raw)
        f.flush()
        os.fsync(f.fileno())
    return where.stat().st_size, h.hexdigest()


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(16 << 20):
            h.update(block)
    return h.hexdigest()


_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(-[0-9a-f]+)?(\.npy)?\.tmp$")
_SIDECAR = re.compile(r"^(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]+\.descriptors\.npy$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_files(path: str | os.PathLike) -> list[Path]:
    """Remove what crashed saves of ``path`` by dead processes left next to it.

    That is, temporary files ``.<name>.<pid>-<token>.tmp`` (and ``….npy.tmp``; older
    versions wrote ``.<name>.<pid>.tmp``) and sidecars ``<name>.<pid>-<token>.descriptors.npy``
    that no library file in the folder names, whose process ``pid`` is no longer
    running. Files of live processes (a save under way) stay. Temporary files are never
    taken for libraries: their names do not end in ``.parquet``, and :func:`load` refuses
    an incomplete file anyway.

    Returns
    -------
    list of pathlib.Path
        The removed files.

    Examples
    --------
    >>> remove_stale_files("lib.parquet")  # doctest: +SKIP
    [PosixPath('.lib.parquet.4242-1f2e3d4c.tmp')]
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return []
    keep = _sidecars_in_use(folder)  # named by any library file here, never stale
    removed = []
    for entry in os.scandir(folder):
        m = _TMP.match(entry.name) or _SIDECAR.match(entry.name)
        if m is None or m["name"] != path.name or _alive(int(m["pid"])):
            continue
        p = folder / entry.name
        if p in keep:
            continue
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def _sidecars_in_use(folder: Path, skip: Path | None = None) -> set[Path]:
    """The sidecars named by the library files (``*.parquet``) in ``folder``, but ``skip``.

    A library renamed or copied within its folder keeps naming its sidecar, whose name
    still starts with the old file's name: it must never be taken for a stale one.
    Reads only each file's schema (footer metadata).
    """
    folder = folder if str(folder) else Path(".")
    found = set()
    for p in folder.glob("*.parquet"):
        if skip is not None and p.name == skip.name:
            continue
        if p.is_file() and (side := _referenced_sidecar(p)) is not None:
            found.add(side)
    return found


def _referenced_sidecar(path: Path) -> Path | None:
    """The sidecar the library file at ``path`` names (None: none, or not readable)."""
    try:
        info = _read_info(path, _schema(path))
    except (OSError, ValueError):
        return None
    side = info.get("descriptors")
    return path.with_name(side["file"]) if isinstance(side, dict) else None


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


class LazyDescriptors:
    """The descriptors of a library file, read on first use (``load(descriptors=False)``).

    ``shape`` is known without reading; :meth:`load` reads and checks them. They are
    always the descriptors of the file as it was loaded: a sidecar is memory-mapped at
    once (cheap; the map outlives a later save that deletes the file), and inline
    descriptors are read only if the file is unchanged since (same device, inode,
    modification time and size), else a ``ValueError`` asks to load it again.
    """

    def __init__(
        self,
        path: Path,
        info: dict[str, Any],
        verify: bool | None,
        stat: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.path = path
        self.info = info
        self.verify = verify
        self.shape = (int(info["n"]), int(info["S"]), int(info["B"]))
        self.stat = stat
        self._raw: np.ndarray | None = None
        self._error: ValueError | None = None  # a missing sidecar: the metadata still loads
        if int(info["format_version"]) == 2:
            try:
                self._raw = _map_sidecar(path, info)
            except ValueError as exc:
                self._error = exc

    def load(self, source: Any = None) -> np.ndarray:
        """The (n, S, B) float32 descriptors (memory-mapped if in a sidecar).

        ``source``: the file as :func:`load` opened it, to read inline descriptors from
        (else they are read from the path, if the file there is still the same).
        """
        if self._error is not None:
            raise self._error
        if source is not None:
            return _descriptors(self.path, self.info, self.verify, self._raw, source)
        if self._raw is None and self.stat is not None:
            try:
                now = _stat_key(os.stat(self.path))
            except OSError:
                now = None
            if now != self.stat:
                raise ValueError(f"{self.path}: replaced since it was loaded; load it again")
        return _descriptors(self.path, self.info, self.verify, self._raw)

    def __repr__(self) -> str:
        return f"LazyDescriptors({self.path}, shape={self.shape})"


def load(
    path: str | os.PathLike, descriptors: bool = True, verify: bool | None = None
) -> LibraryParts:
    """The parts of a library written by :func:`save` (exact round trip).

    Files written before the ``config`` entry existed kept percentiles, clip and
    nan_policy in ``attrs``: they are read from there into the config (and left out of
    ``attrs``).

    The fitted projection is not stored: :meth:`locate` places new models by their
    nearest library models, or refits it with ``placement="transform"``.

    Everything is read from the file opened once (and its sidecar, mapped first), so a
    save replacing the file meanwhile never mixes two libraries; if that save deleted
    the sidecar first, the newer library at the path is loaded instead.

    Parameters
    ----------
    path
        The library's Parquet file.
    descriptors
        False: read the metadata columns only; the descriptors are a
        :class:`LazyDescriptors`, read (and checked) when first used.
    verify
        Check a sidecar's digest: None (default) for sidecars up to
        :data:`VERIFY_MAX_BYTES`, True always, False never (size and header are always
        checked). Inline descriptors are always checked.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a library file, or a damaged one: the message names the file and the problem.

    Examples
    --------
    >>> ModelLibrary.from_parts(load("lib.parquet"))  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such library file")
    for attempt in range(_LOAD_ATTEMPTS):
        source, stat = _open_file(path)
        try:
            return _load_file(path, source, stat, descriptors, verify)
        except ValueError:
            # a save replaced the file meanwhile and deleted the sidecar the one read
            # names: the newer library is at the path, read it instead
            if attempt + 1 == _LOAD_ATTEMPTS or _current_stat(path) in (stat, None):
                raise
        finally:
            source.close()
    raise AssertionError("unreachable")


#: Loads tried while saves keep replacing the file (each a whole, newer library).
_LOAD_ATTEMPTS = 10


def _current_stat(path: Path) -> tuple[int, int, int, int] | None:
    try:
        return _stat_key(os.stat(path))
    except OSError:
        return None


def _open_file(path: Path) -> tuple[Any, tuple[int, int, int, int]]:
    """``path`` opened once (every part of a load is read from this one file, even if a
    save replaces the path meanwhile), and which file it is (see LazyDescriptors)."""
    import pyarrow as pa

    for _ in range(_LOAD_ATTEMPTS):
        before = _current_stat(path)
        try:
            source = pa.OSFile(str(path))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such library file") from None
        except OSError as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        # the same file at the path before and after opening: the one opened
        if before is not None and _current_stat(path) == before:
            return source, before
        source.close()
    raise ValueError(f"{path}: replaced while being opened, again and again; load it again")


def _load_file(
    path: Path,
    source: Any,
    stat: tuple[int, int, int, int],
    descriptors: bool,
    verify: bool | None,
) -> LibraryParts:
    """:func:`load` from the open file ``source`` (the file at ``path``)."""
    import pyarrow.parquet as pq

    schema = _schema(path, source)
    info = _read_info(path, schema, source)
    n, S, B = int(info["n"]), int(info["S"]), int(info["B"])
    names = schema.names
    inline = int(info["format_version"]) == 1
    _check_columns(path, schema, inline, S * B)
    # a sidecar is mapped first: a save replacing the file deletes the sidecar it names
    lazy = LazyDescriptors(path, info, verify, stat)
    pf = _open_parquet(path, source)
    if pf.metadata.num_rows != n:
        raise ValueError(
            f"{path}: holds {pf.metadata.num_rows} rows but its 'miwd' metadata says n={n}"
        )
    wanted = [c for c in names if c != DESCRIPTOR_COLUMN]
    try:
        table = pq.read_table(source, columns=wanted, page_checksum_verification=True)
    except Exception as exc:  # noqa: BLE001 - a checksum or decoding error: a damaged file
        raise ValueError(f"{path}: damaged library file ({exc})") from None
    embedding = None
    if EMBEDDING_COLUMNS[0] in names:
        embedding = np.stack(
            [table.column(c).to_numpy().astype(np.float32) for c in EMBEDDING_COLUMNS], 1
        )
        if not np.isfinite(embedding).all():
            raise ValueError(f"{path}: the atlas coordinates hold NaN or Inf values")
    extra = [c for c in EMBEDDING_COLUMNS if c in names]
    metadata = table.drop_columns(extra).to_pandas()
    attrs = dict(info.get("attrs") or {})
    config = _loaded_config(info, attrs, path)
    return LibraryParts(
        descriptors=lazy.load(source) if descriptors else lazy,
        metadata=metadata,
        config=config,
        embedding=embedding,
        errors=errors_frame(tuple(e) for e in info.get("errors", [])),
        clusters=_loaded_clusters(info.get("clusters"), n, path),
        attrs=attrs,
    )


def _loaded_config(info: dict[str, Any], attrs: dict[str, Any], path: Path) -> DescriptorConfig:
    """The saved descriptor config; older files: from ``attrs`` (removed from it)."""
    legacy = {k: attrs.pop(k) for k in ("percentiles", "clip", "nan_policy") if k in attrs}
    saved = info.get("config")
    saved = saved if isinstance(saved, dict) else legacy
    value_range = info.get("value_range")
    try:
        return DescriptorConfig(
            int(info["S"]),
            int(info["B"]),
            "auto" if value_range is None else tuple(value_range),
            saved.get("percentiles") or DEFAULT_PERCENTILES,
            bool(saved.get("clip", False)),
            saved.get("nan_policy", "raise"),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: 'miwd' metadata: the descriptor config is not valid ({exc})"
        ) from None


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _schema(path: Path, source: Any = None) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path if source is None else source)
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the file is unreadable
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None


def _open_parquet(path: Path, source: Any = None) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path if source is None else source, page_checksum_verification=True)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None


def _read_info(path: Path, schema: Any, source: Any = None) -> dict[str, Any]:
    """The 'miwd' schema metadata, checked: keys, types and values."""
    raw = (schema.metadata or {}).get(SCHEMA_KEY)
    if raw is None:
        raise ValueError(f"{path}: not a miwd library (no descriptors or 'miwd' metadata)")
    try:
        info = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: its 'miwd' metadata is not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{path}: its 'miwd' metadata is not a JSON object")
    version = info.get("format_version", 0)
    if not _is_int(version) or version < 1:
        raise ValueError(f"{path}: 'miwd' metadata: format_version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: library format {version} is newer than this "
            f"miwd-widget reads ({FORMAT_VERSION}); upgrade miwd-widget"
        )
    for key in ("S", "B"):
        if not _is_int(info.get(key)) or info[key] < 1:
            raise ValueError(f"{path}: 'miwd' metadata: {key}={info.get(key)!r} is not valid")
    if "n" not in info and version == 1:
        info["n"] = None  # early format-1 files: the row count is the file's
    elif not _is_int(info.get("n")) or info["n"] < 0:
        raise ValueError(f"{path}: 'miwd' metadata: n={info.get('n')!r} is not valid")
    vr = info.get("value_range")
    if vr is not None and not (
        isinstance(vr, list)
        and len(vr) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in vr)
        and vr[0] < vr[1]
    ):
        raise ValueError(f"{path}: 'miwd' metadata: value_range {vr!r} is not a (lo, hi) pair")
    errors = info.get("errors", [])
    if not isinstance(errors, list) or not all(
        isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in errors
    ):
        raise ValueError(f"{path}: 'miwd' metadata: errors is not a list of [source, error]")
    if not isinstance(info.get("attrs") or {}, dict):
        raise ValueError(f"{path}: 'miwd' metadata: attrs is not a JSON object")
    if version == 2:
        side = info.get("descriptors")
        if not (
            isinstance(side, dict)
            and isinstance(side.get("file"), str)
            and _SIDECAR.match(side["file"])
            and "/" not in side["file"]
            and "\\" not in side["file"]
            and _is_int(side.get("bytes"))
            and isinstance(side.get("blake2b"), str)
        ):
            raise ValueError(f"{path}: 'miwd' metadata: the descriptor sidecar entry is not valid")
    if info["n"] is None:
        info["n"] = _open_parquet(path, source).metadata.num_rows
    return info


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_columns(path: Path, schema: Any, inline: bool, K: int) -> None:  # noqa: N803
    import pyarrow as pa

    names = schema.names
    if inline:
        if DESCRIPTOR_COLUMN not in names:
            raise ValueError(f"{path}: not a miwd library (no descriptors or 'miwd' metadata)")
        t = schema.field(DESCRIPTOR_COLUMN).type
        if not (
            pa.types.is_fixed_size_list(t)
            and t.list_size == K
            and pa.types.is_float32(t.value_type)
        ):
            raise ValueError(
                f"{path}: column {DESCRIPTOR_COLUMN} is {t}, expected "
                f"fixed_size_list<float>[{K}] (S*B float32 per row)"
            )
    elif DESCRIPTOR_COLUMN in names:
        raise ValueError(f"{path}: holds both inline descriptors and a descriptor sidecar")
    present = [c in names for c in EMBEDDING_COLUMNS]
    if any(present) and not all(present):
        raise ValueError(f"{path}: has only one of the atlas columns {list(EMBEDDING_COLUMNS)}")
    for c in EMBEDDING_COLUMNS:
        if c in names and not pa.types.is_float32(schema.field(c).type):
            raise ValueError(f"{path}: column {c} is {schema.field(c).type}, expected float")
    if names.count(DESCRIPTOR_COLUMN) > 1 or len(set(names)) != len(names):
        raise ValueError(f"{path}: has duplicate column names")


def _descriptors(
    path: Path,
    info: dict[str, Any],
    verify: bool | None,
    raw: np.ndarray | None = None,
    source: Any = None,
) -> np.ndarray:
    n, S, B = int(info["n"]), int(info["S"]), int(info["B"])
    if int(info["format_version"]) == 1:
        d = _inline_descriptors(path, n, S, B, source)
    else:
        d = _sidecar_descriptors(path, info, n, S, B, verify, raw)
    return d


def _inline_descriptors(
    path: Path,
    n: int,
    S: int,  # noqa: N803
    B: int,  # noqa: N803
    source: Any = None,
) -> np.ndarray:
    """Read the descriptor column batch by batch into one array (one copy in memory)."""
    pf = _open_parquet(path, source)
    out = np.empty((n, S, B), np.float32)
    flat = out.reshape(n, S * B)
    pos = 0
    try:
        for batch in pf.iter_batches(batch_size=_BLOCK_ROWS, columns=[DESCRIPTOR_COLUMN]):
            col = batch.column(0)
            if col.null_count:
                raise ValueError(f"{path}: {col.null_count} descriptor(s) are missing (null)")
            values = col.flatten().to_numpy(zero_copy_only=False)
            k = len(col)
            if pos + k > n or values.size != k * S * B:
                raise ValueError(f"{path}: the descriptor column does not hold {n} x {S * B}")
            flat[pos : pos + k] = values.reshape(k, S * B)
            pos += k
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: damaged library file ({exc})") from None
    except OSError as exc:
        raise ValueError(f"{path}: damaged library file ({exc})") from None
    if pos != n:
        raise ValueError(f"{path}: the descriptor column holds {pos} rows, expected {n}")
    return out


def _map_sidecar(path: Path, info: dict[str, Any]) -> np.ndarray:
    """The whole sidecar file of ``path`` as a read-only uint8 memory map, size-checked.

    Mapped whole (not with np.load) so the digest is computed over exactly the bytes the
    descriptors are read from, even after the file is deleted or replaced.
    """
    side = info["descriptors"]
    where = path.with_name(side["file"])
    try:
        found = where.stat()  # once: a save may delete it any time
    except OSError:
        found = None
    if found is None or not S_ISREG(found.st_mode):
        raise ValueError(f"{path}: its descriptor file {where.name} is missing")
    size = found.st_size
    if size != side["bytes"]:
        raise ValueError(
            f"{path}: its descriptor file {where.name} has {size:,} bytes, the library "
            f"records {side['bytes']:,} (damaged or replaced)"
        )
    try:
        return np.memmap(where, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: its descriptor file {where.name} is not readable ({exc})"
        ) from None


def _sidecar_descriptors(
    path: Path,
    info: dict[str, Any],
    n: int,
    S: int,  # noqa: N803
    B: int,  # noqa: N803
    verify: bool | None,
    raw: np.ndarray | None = None,
) -> np.ndarray:
    import io

    name = info["descriptors"]["file"]
    raw = _map_sidecar(path, info) if raw is None else raw
    if verify or (verify is None and raw.size <= VERIFY_MAX_BYTES):
        h = hashlib.blake2b(digest_size=16)
        for a in range(0, raw.size, 16 << 20):
            h.update(memoryview(raw[a : a + (16 << 20)]))
        if h.hexdigest() != info["descriptors"]["blake2b"]:
            raise ValueError(
                f"{path}: its descriptor file {name} does not match the digest the "
                "library records (damaged or edited)"
            )
    try:
        head = io.BytesIO(raw[: min(raw.size, 1 << 16)].tobytes())
        version = np.lib.format.read_magic(head)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(head)
        offset = head.tell()
    except Exception as exc:  # noqa: BLE001 - whatever numpy says: not a readable .npy
        raise ValueError(f"{path}: its descriptor file {name} is not readable ({exc})") from None
    if dtype != np.float32 or fortran or tuple(shape) != (n, S, B):
        raise ValueError(
            f"{path}: its descriptor file {name} holds {dtype} {tuple(shape)}, "
            f"expected float32 {(n, S, B)}"
        )
    if raw.size - offset != n * S * B * 4 or offset % 4:
        raise ValueError(
            f"{path}: its descriptor file {name} holds {raw.size - offset:,} data bytes, "
            f"expected {n * S * B * 4:,}"
        )
    return raw[offset:].view(np.float32).reshape(n, S, B)


def _loaded_clusters(raw: Any, n: int, path: Path) -> dict[str, np.ndarray]:
    """The saved clusters (files written before clusters were saved have none)."""
    if not raw:
        return {}
    try:
        return named_clusters(raw, n)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{path}: the saved clusters are not valid ({exc})") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
