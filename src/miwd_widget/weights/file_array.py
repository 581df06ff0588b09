"""Arrays stored in a model file, read by positional reads: never memory-mapped.

A memory-mapped file that is truncated, replaced in place or on a network mount that goes
away while it is read raises SIGBUS in the reading process, and in a notebook that process
is the user's kernel: no Python code can catch it. Reads here go through ``os.preadv``
into numpy buffers instead, so a file that changes under a reader gives a
:class:`~miwd_widget.weights.source.WeightReadError` that names it, and the kernel lives on.

The cost was measured against memory-mapped slices on a bf16 checkpoint in the page cache
(docs/benchmarks.md): the descriptor kernel reads blocks of a million values into one
reused buffer per thread, where the copy costs little next to the counting and saves the
page faults of a fresh mapping.

The open file (one descriptor per file, shared by all its arrays) pins the file's content
as it was opened: a file replaced by a rename keeps being read whole and consistent; one
truncated in place gives a short read, which is an error.

Examples
--------
>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     path = os.path.join(d, "w.bin")
...     np.arange(6, dtype="<f4").tofile(path)
...     a = FileArray(OpenFile(path), 8, np.dtype("<f4"), (4,))
...     print(a[1:3], a.reshape(2, 2)[1], np.asarray(a).sum())
[3. 4.] [4. 5.] 14.0
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from typing import Any

import numpy as np

from .source import WeightReadError

__all__ = ["OpenFile", "FileArray"]


class OpenFile:
    """A model file open for positional reads; closed when no array needs it any more.

    Parameters
    ----------
    path
        The file (already checked by the reader: a regular file inside the model's folder).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with open(os.path.join(d, "b"), "wb") as f:
    ...         _ = f.write(b"abcdef")
    ...     print(bytes(OpenFile(os.path.join(d, "b")).read(2, 3)))
    b'cde'
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        try:
            self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise WeightReadError(f"{self.path}: cannot open it: {exc.strerror}") from None
        self.size = os.fstat(self.fd).st_size
        # Platforms without preadv (Windows) share the file position: one reader at a time.
        self._lock = None if hasattr(os, "preadv") else threading.Lock()
        self._closer = weakref.finalize(self, os.close, self.fd)

    def close(self) -> None:
        """Close the file now (arrays of it can no longer be read)."""
        self._closer()

    def read_into(self, offset: int, out: memoryview) -> None:
        """Fill ``out`` (a writable byte buffer) with the bytes at ``offset``, or raise an
        error naming the file when it holds fewer now (truncated while being read)."""
        done, want = 0, len(out)
        while done < want:
            try:
                if self._lock is None:
                    got = os.preadv(self.fd, [out[done:]], offset + done)
                else:
                    with self._lock:
                        os.lseek(self.fd, offset + done, os.SEEK_SET)
                        got = os.readv(self.fd, [out[done:]])
            except OSError as exc:
                raise WeightReadError(
                    f"{self.path}: read failed at byte {offset + done:,}: {exc.strerror}"
                ) from None
            if got == 0:
                now = os.fstat(self.fd).st_size
                raise WeightReadError(
                    f"{self.path}: the file changed while it was read: it has {now:,} bytes "
                    f"now, {self.size:,} when opened, and byte {offset + want:,} is needed "
                    "(truncated or rewritten in place)"
                )
            done += got

    def read(self, offset: int, nbytes: int) -> np.ndarray:
        """``nbytes`` bytes at ``offset`` as a new uint8 array."""
        out = np.empty(nbytes, np.uint8)
        self.read_into(offset, memoryview(out))
        return out

    def __repr__(self) -> str:
        return f"OpenFile({self.path!r})"


class FileArray:
    """A C-contiguous array stored at a byte offset of an :class:`OpenFile`.

    It behaves as the read-only ``np.memmap`` readers used to return, without the map:
    ``shape``, ``dtype``, ``ndim``, ``size``, ``itemsize``, ``nbytes``, ``reshape``,
    ``view`` (1-D), ``len()``, ``np.asarray()`` (reads it whole), and indexing, which reads
    only the rows a leading slice or integer selects. :meth:`read_into` fills a buffer the
    caller reuses.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "w.bin")
    ...     np.arange(4, dtype="<u2").tofile(path)
    ...     a = FileArray(OpenFile(path), 0, np.dtype("<u2"), (4,))
    ...     buffer = np.empty(3, "<u2")
    ...     print(a.read_into(1, buffer), a.view(np.uint8).shape)
    [1 2 3] (8,)
    """

    def __init__(
        self, file: OpenFile, offset: int, dtype: Any, shape: tuple[int, ...] | int
    ) -> None:
        self.file, self.offset = file, int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if self.offset < 0 or self.offset + self.nbytes > file.size:
            raise WeightReadError(
                f"{file.path}: bytes {self.offset:,} to {self.offset + self.nbytes:,} are "
                f"outside the file ({file.size:,} bytes)"
            )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def reshape(self, *shape: Any) -> FileArray:
        """The same values in another C-order shape (nothing is read)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        dims = [int(d) for d in shape]
        if dims.count(-1) == 1:
            known = math.prod(d for d in dims if d != -1)
            dims[dims.index(-1)] = self.size // known if known else 0
        if math.prod(dims) != self.size or any(d < 0 for d in dims):
            raise ValueError(f"cannot reshape an array of size {self.size} into {tuple(shape)}")
        return FileArray(self.file, self.offset, self.dtype, tuple(dims))

    def view(self, dtype: Any) -> FileArray:
        """The same bytes as another dtype (1-D arrays, as ``ndarray.view``)."""
        dtype = np.dtype(dtype)
        if self.ndim != 1 or self.nbytes % dtype.itemsize:
            raise ValueError(f"cannot view {self.shape} {self.dtype} as {dtype}")
        return FileArray(self.file, self.offset, dtype, (self.nbytes // dtype.itemsize,))

    def read_into(self, start: int, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (1-D, this dtype) with the flat values from ``start``; returns it."""
        if out.dtype != self.dtype or out.ndim != 1 or not out.flags.c_contiguous:
            raise ValueError(f"read_into needs a contiguous 1-D {self.dtype} buffer")
        if start < 0 or start + out.shape[0] > self.size:
            raise IndexError(f"values {start} to {start + out.shape[0]} of {self.size}")
        if out.shape[0]:
            where = self.offset + start * self.itemsize
            self.file.read_into(where, memoryview(out).cast("B"))
        return out

    def _rows(self, first: int, stop: int) -> np.ndarray:
        row = math.prod(self.shape[1:])
        out = np.empty(max(stop - first, 0) * row, self.dtype)
        self.read_into(first * row, out)
        return out.reshape((max(stop - first, 0), *self.shape[1:]))

    def __getitem__(self, key: Any) -> Any:
        head, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if not self.shape:
            return np.asarray(self)[key]
        if isinstance(head, (int, np.integer)):
            index = int(head) + self.shape[0] if head < 0 else int(head)
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"index {head} is out of bounds for axis 0 of {self.shape[0]}")
            row = self._rows(index, index + 1)[0]
            return row[rest] if rest else row
        if isinstance(head, slice):
            start, stop, step = head.indices(self.shape[0])
            if step == 1:
                rows = self._rows(start, max(start, stop))
                return rows[(slice(None), *rest)] if rest else rows
        if isinstance(head, (list, np.ndarray)) and np.asarray(head).dtype.kind in "iu":
            index = np.asarray(head).reshape(-1)  # chosen rows (a sample): read one by one
            rows = np.empty((index.size, *self.shape[1:]), self.dtype)
            for j, i in enumerate(index.tolist()):
                rows[j] = self[i]
            return rows[(slice(None), *rest)] if rest else rows
        return np.asarray(self)[key]  # anything else: read whole, index in memory

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self._rows(0, self.shape[0]) if self.shape else self._rows(0, 1).reshape(())
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"FileArray({self.file.path!r}, offset={self.offset}, {self.dtype}, {self.shape})"
