"""Where a library's models come from: files and tables, in-memory models, zoos, NWS.

Each constructor of :class:`~miwd_widget.library.ModelLibrary` turns its input into
:class:`Item` values (what a worker opens plus what the library records about it); the
builder (:mod:`.build`) describes them. Nothing here reads weights.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import EPOCH, ID, MODEL
from ..weights.guard import SYMLINK_LOOP, is_symlink_loop
from ..weights.registry import MODEL_SUFFIXES

__all__ = [
    "Item",
    "expand_paths",
    "read_table",
    "file_items",
    "model_items",
    "zoo_items",
    "nws_items",
    "nws_snapshots",
    "MODEL_SUFFIXES",
    "NWS_CODES",
]

log = logging.getLogger(__name__)

#: NWS integer codes (nws-facts.md) mapped to the names the project's zoo uses.
NWS_CODES = {
    "optimizer": {0: "adam", 1: "rmsprop", 2: "sgd_momentum"},
    "activation": {0: "relu", 1: "elu", 2: "sigmoid", 3: "tanh"},
    "initialization": {
        0: "constant",
        1: "random_normal",
        2: "glorot_uniform",
        3: "glorot_normal",
    },
}

#: The zoo's tables: one row per model, and one row per training snapshot.
ZOO_METADATA = "metadata.csv"
ZOO_SNAPSHOTS = "snapshots.csv"
ZOO_CONFIG = "zoo.json"


@dataclass
class Item:
    """One model to describe: what a worker opens, plus what the library records about it."""

    spec: Any  # a path string, ("f64", path, expected_n) for raw float64 files, or a model
    id: str
    source: str | None  # absolute path of the file, None for in-memory models
    meta: dict[str, Any]

    @property
    def label(self) -> str:
        """How errors name it: the file, else the id."""
        return self.source or self.id


def expand_paths(
    paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike], missing: str = "raise"
) -> list[Path]:
    """Model files named by paths, directories (searched recursively) and glob patterns.

    Directories contribute files with a model suffix (``MODEL_SUFFIXES``), hidden ones left
    out; explicit paths and glob matches are taken whatever their suffix. Duplicates are
    dropped, order is kept. Nothing is opened (only ``stat``).

    Parameters
    ----------
    paths_or_glob
        A path, directory or glob pattern, or a list of them.
    missing
        ``"raise"``: a path that does not exist (or is a dangling symlink) raises
        :class:`FileNotFoundError`. ``"keep"`` (batch builds): such paths, and entries of a
        directory with a model suffix that are not regular files (FIFOs, devices, dangling
        symlinks), are kept, so that the build records each with its reason and goes on;
        unless no path at all exists, which still raises.

    Raises
    ------
    FileNotFoundError
        A path that does not exist (a dangling symlink, a symlink loop) or a pattern that
        matches nothing.

    Examples
    --------
    >>> expand_paths("no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/dir: no such file or directory
    >>> [p.name for p in expand_paths(["no/such/file.npy", "/dev/null"], missing="keep")]
    ['file.npy', 'null']
    """
    if missing not in ("raise", "keep"):
        raise ValueError(f"missing must be 'raise' or 'keep', got {missing!r}")
    keep = missing == "keep"
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else paths_or_glob
    found: list[Path] = []
    absent: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(c in text for c in "*?[") and not os.path.lexists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            found += [
                Path(m) for m in matches if os.path.isfile(m) or (keep and not os.path.isdir(m))
            ]
        elif os.path.isdir(text):
            root = Path(text)
            found += [root.joinpath(*parts) for parts in sorted(_scan_models(text, keep))]
        elif os.path.isfile(text):
            found.append(Path(text))
        elif keep:
            # Missing, dangling, FIFO, device: the reader says which, as a recorded error.
            found.append(Path(text))
            if not os.path.exists(text):
                absent.append(text)
        elif os.path.exists(text):
            found.append(Path(text))  # a FIFO or device: the reader refuses it, clearly
        else:
            raise FileNotFoundError(_not_found(text))
    if keep and found and len(absent) == len(found):
        raise FileNotFoundError(_not_found(absent[0]))
    seen: set[str] = set()
    unique = []
    for p in found:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _not_found(path: str) -> str:
    """Why nothing is found at ``path``: no such file, a dangling symlink or a symlink loop."""
    if is_symlink_loop(path):
        return f"{path}: {SYMLINK_LOOP}"
    if os.path.islink(path):
        return f"{path}: dangling symlink (it points to {os.readlink(path)}, which does not exist)"
    return f"{path}: no such file or directory"


def _scan_models(directory: str, keep: bool, parents: tuple[str, ...] = ()) -> list[tuple]:
    """Relative paths (as name tuples) of a folder's model files, hidden entries left out.

    ``os.scandir`` rather than ``Path.rglob`` + ``is_file``: directory entries carry their
    type, so a folder of 10,000 models costs no stat per file (rglob's cost 0.5 s there).
    As rglob, symlinked folders are not entered; a FIFO is never opened (only its type read).
    """
    found: list[tuple] = []
    try:
        entries = list(os.scandir(directory))
    except PermissionError:
        return found
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.is_symlink():
                found += _scan_models(entry.path, keep, (*parents, name))
            continue
        dot = name.rfind(".")
        if not 0 < dot < len(name) - 1 or name[dot:].lower() not in MODEL_SUFFIXES:
            continue
        if keep or entry.is_file():
            found.append((*parents, name))
    return found


def read_table(metadata: Any) -> tuple[pd.DataFrame | None, Path]:
    """A metadata table and the directory its relative paths are relative to."""
    if metadata is None:
        return None, Path.cwd()
    if isinstance(metadata, pd.DataFrame):
        return metadata.reset_index(drop=True), Path.cwd()
    path = Path(metadata)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metadata table not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix in (".csv", ".txt"):
        table = pd.read_csv(path)
    elif suffix == ".tsv":
        table = pd.read_csv(path, sep="\t")
    else:
        raise ValueError(f"{path}: metadata table must be .csv, .tsv or .parquet")
    return table, path.parent.resolve()


def _abs_key(path: str | os.PathLike, base: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = base / p
    return os.path.normcase(os.path.abspath(p))


def file_items(files: list[Path], table: pd.DataFrame | None, on: str, base: Path) -> list[Item]:
    """Work items for files, each joined with its row of the metadata table."""
    if on not in ("path", "id"):
        raise ValueError(f"on must be 'path' or 'id', got {on!r}")
    rows: dict[str, dict[str, Any]] = {}
    if table is not None:
        if on not in table.columns:
            raise ValueError(f"the metadata table has no {on!r} column to join on")
        keys = (
            [_abs_key(p, base) for p in table["path"].astype(str)]
            if on == "path"
            else list(table["id"].astype(str))
        )
        records = table.to_dict(orient="records")
        dup = pd.Series(keys)[pd.Series(keys).duplicated()].tolist()
        if dup:
            raise ValueError(f"the metadata table has duplicate {on!r} values: {dup[:5]}")
        rows = dict(zip(keys, records, strict=True))
    stems = [p.stem for p in files]
    if len(set(stems)) < len(stems) and len(files) > 1:
        # File names repeat across folders: ids are the paths below the common folder.
        root = Path(os.path.commonpath([os.path.abspath(p) for p in files]))
        stems = [
            os.path.splitext(os.path.relpath(os.path.abspath(p), root))[0].replace(os.sep, "/")
            for p in files
        ]
    items = []
    for path, stem in zip(files, stems, strict=True):
        source = os.path.abspath(path)
        key = os.path.normcase(source) if on == "path" else stem
        meta = dict(rows.get(key, {}))
        model_id = str(meta.pop("id", stem))
        if model_id == "nan":
            model_id = stem
        items.append(Item(source, model_id, source, meta))
    return items


def model_items(
    models: Any, metadata: pd.DataFrame | None, names: Sequence[str] | None
) -> list[Item]:
    """Work items for in-memory models, joined with ``metadata`` on ``id`` or row by row.

    Examples
    --------
    >>> items = model_items([np.zeros(4), np.ones(4)], pd.DataFrame({"lr": [0.1, 0.2]}), None)
    >>> [(it.id, it.meta) for it in items]
    [('model0', {'lr': 0.1}), ('model1', {'lr': 0.2})]
    """
    if isinstance(models, Mapping) and not looks_like_state_dict(models):
        # name -> model; a mapping of arrays/tensors is one model (a state dict).
        names = [str(k) for k in models.keys()] if names is None else names
        models = list(models.values())
    elif not isinstance(models, (list, tuple)):
        models = [models]
    models = list(models)
    if names is None:
        names = [f"model{i}" for i in range(len(models))]
    names = [str(n) for n in names]
    if len(names) != len(models):
        raise ValueError(f"got {len(names)} names for {len(models)} models")
    if len(set(names)) != len(names):
        raise ValueError("model names must be unique")
    rows: list[dict[str, Any]] = [{} for _ in models]
    if metadata is not None:
        table = metadata.reset_index(drop=True)
        if "id" in table.columns:
            by_id = {str(r["id"]): r for r in table.to_dict(orient="records")}
            rows = [dict(by_id.get(n, {})) for n in names]
        elif len(table) == len(models):
            rows = table.to_dict(orient="records")
        else:
            raise ValueError(
                f"metadata has {len(table)} rows and no 'id' column for {len(models)} models"
            )
    items = []
    for name, model, meta in zip(names, models, rows, strict=True):
        meta.pop("id", None)
        items.append(Item(model, name, None, meta))
    return items


def looks_like_state_dict(mapping: Mapping) -> bool:
    """Whether a mapping is one model (name -> tensor) rather than name -> model."""
    values = list(mapping.values())
    if not values:
        return False
    first = values[0]
    if isinstance(first, np.ndarray):
        return True
    return type(first).__name__ in ("Tensor", "Parameter")


def zoo_items(
    zoo_dir: str | os.PathLike, snapshots: bool = False
) -> tuple[list[Item], list[tuple[str, str]], dict[str, Any]]:
    """Items of a zoo written by :mod:`miwd_widget.zoo`, its missing files and its config.

    ``<zoo>/metadata.csv`` has one row per model (``path`` relative to the zoo). With
    ``snapshots=True``, ``<zoo>/snapshots.csv`` gives one row per training snapshot
    (``id``, ``model``, ``epoch``, ``path``, accuracies, ``best``), joined with the model's
    other metadata columns on ``model`` == metadata ``id``; the snapshot's own columns win.
    """
    root = Path(zoo_dir)
    table_path = root / ZOO_METADATA
    if not table_path.is_file():
        raise FileNotFoundError(f"{root}: not a zoo (no {ZOO_METADATA})")
    table = pd.read_csv(table_path, dtype={ID: str})
    listed_in = ZOO_METADATA
    if snapshots:
        snapshot_path = root / ZOO_SNAPSHOTS
        if not snapshot_path.is_file():
            raise FileNotFoundError(
                f"{snapshot_path}: no such file; from_zoo(snapshots=True) needs the zoo's "
                f"table of training snapshots ({ZOO_SNAPSHOTS}, one row per snapshot)"
            )
        snaps = pd.read_csv(snapshot_path, dtype={ID: str, MODEL: str})
        missing = {ID, MODEL, EPOCH, "path"} - set(snaps.columns)
        if missing:
            raise ValueError(f"{snapshot_path}: no column(s) {sorted(missing)}")
        models = table.drop(columns=[c for c in table.columns if c in snaps.columns and c != ID])
        models = models.rename(columns={ID: MODEL})
        table = snaps.merge(models, on=MODEL, how="left", validate="many_to_one")
        listed_in = ZOO_SNAPSHOTS
    if "path" not in table.columns:
        raise ValueError(f"{table_path}: no 'path' column")
    config: dict[str, Any] = {}
    if (root / ZOO_CONFIG).is_file():
        config = json.loads((root / ZOO_CONFIG).read_text())
    files = [root / p for p in table["path"].astype(str)]
    missing_files = [str(f) for f in files if not f.is_file()]
    if missing_files:
        log.warning("%s: %d file(s) listed in %s are missing", root, len(missing_files), listed_in)
    items = file_items([f for f in files if f.is_file()], table, "path", root.resolve())
    errors = [(m, f"{m}: listed in {listed_in} but the file is missing") for m in missing_files]
    return items, errors, config


def nws_snapshots(snapshot: int, snapshots: Any = None) -> list[int] | None:
    """The NWS snapshots to describe: None (one per net, ``snapshot``) or a list of 1..20.

    Examples
    --------
    >>> nws_snapshots(20), nws_snapshots(20, "all")[:3], nws_snapshots(20, [5, 1])
    (None, [1, 2, 3], [5, 1])
    """
    if isinstance(snapshot, bool) or not isinstance(snapshot, (int, np.integer)):
        raise ValueError(f"snapshot must be an integer 1..20, got {snapshot!r}")
    if not 1 <= int(snapshot) <= 20:
        raise ValueError(f"snapshot must be 1..20, got {snapshot}")
    if snapshots is None:
        return None
    if isinstance(snapshots, str):
        if snapshots != "all":
            raise ValueError(f"snapshots must be 'all' or a list of 1..20, got {snapshots!r}")
        return list(range(1, 21))
    chosen = [snapshots] if isinstance(snapshots, (int, np.integer)) else list(snapshots)
    bad = [
        k
        for k in chosen
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 20
    ]
    if bad or not chosen:
        raise ValueError(f"snapshots must be 'all' or a list of 1..20, got {snapshots!r}")
    return [int(k) for k in dict.fromkeys(chosen)]


def _csv_count(row: dict[str, Any], column: str) -> int | None:
    """A weight count of an NWS CSV row (None if the CSV has no such column), else ValueError."""
    if column not in row:
        return None
    value = row[column]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number < 0 or number != int(number):
        empty = value is None or (isinstance(value, float) and np.isnan(value))
        raise ValueError(f"{column} is {'empty' if empty else repr(value)}, not a weight count")
    return int(number)


def nws_items(
    csv_path: str | os.PathLike,
    snapshot: int = 20,
    root: str | os.PathLike | None = None,
    snapshots: Any = None,
) -> tuple[list[Item], list[tuple[str, str]]]:
    """Items of the NWS dataset's own layout (see ``ModelLibrary.from_nws``) and failures.

    With ``snapshots`` (``"all"`` or a list of 1..20) each net gives one item per snapshot,
    id ``"<net>@s<k>"``, with ``model`` (the net), ``epoch`` (the exported epoch the snapshot
    was taken at, 0 = initialization: its row of error.bin) and ``step`` columns. A CSV row
    with a bad value (no path, an empty or non-integer ``weightn_conv``/``weightn_fc``) is
    recorded as a failure naming the CSV and the row, and the others are read.

    Examples
    --------
    >>> nws_items("no/such.csv")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such.csv: NWS CSV not found
    """
    from .executor import error_text

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: NWS CSV not found")
    chosen = nws_snapshots(snapshot, snapshots)
    table = pd.read_csv(csv_path)
    if "path" not in table.columns:
        raise ValueError(f"{csv_path}: no 'path' column (not an NWS CSV)")
    base = Path(root) if root is not None else csv_path.parent
    table = table.rename(columns={"lrate": "lr"})
    for column, codes in NWS_CODES.items():
        if column in table.columns and pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(codes).astype(object)
    items, errors = [], []
    for i, row in enumerate(table.to_dict(orient="records")):
        # Row i of the table is line i + 2 of the file (line 1 is the header).
        where = f"{csv_path}: row {i} (line {i + 2})"
        try:
            text = row["path"]
            if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text):
                raise ValueError("its path is empty")
            conv, fc = _csv_count(row, "weightn_conv"), _csv_count(row, "weightn_fc")
        except ValueError as exc:
            errors.append((f"{csv_path}:{i + 2}", f"{where}: {exc}"))
            continue
        folder = Path(str(text))
        folder = folder if folder.is_absolute() else base / folder
        expected = None if conv is None or fc is None else conv + fc
        net = str(row.get("id", folder.name))
        row.pop("id", None)
        wanted = [int(snapshot)] if chosen is None else chosen
        try:
            err = _nws_errors(folder / "error.bin")
        except (OSError, ValueError) as exc:
            for k in wanted:
                weights = os.path.abspath(folder / "weights" / f"{k:03d}.bin")
                errors.append((weights, f"{error_text(exc)} ({where})"))
            continue
        for k in wanted:
            weights = os.path.abspath(folder / "weights" / f"{k:03d}.bin")
            if not os.path.isfile(weights):
                errors.append((weights, f"{weights}: snapshot file not found ({where})"))
                continue
            epoch = _nws_snapshot_row(err.shape[0], k)
            meta = {
                **row,
                "train_accuracy": float(1.0 - err[epoch, 1] / 100.0),
                "test_accuracy": float(1.0 - err[epoch, 3] / 100.0),
                "snapshot": k,
            }
            model_id = net
            if chosen is not None:
                meta.update({MODEL: net, EPOCH: epoch, "step": float(err[epoch, 0])})
                model_id = f"{net}@s{k:02d}"
            items.append(Item(("f64", weights, expected), model_id, weights, meta))
    return items, errors


def _nws_snapshot_row(exports: int, snapshot: int) -> int:
    """The error.bin row (exported epoch, 0 = initialization) of NWS snapshot ``snapshot``.

    Examples
    --------
    >>> _nws_snapshot_row(7, 20), _nws_snapshot_row(7, 10), _nws_snapshot_row(7, 1)
    (6, 3, 0)
    """
    return int(np.round(np.linspace(0, exports - 1, 20))[snapshot - 1])


def _nws_errors(error_bin: Path) -> np.ndarray:
    """The (exports, 5) float64 rows of an NWS error.bin: step, train, val, test, smoothed val %."""
    if not error_bin.is_file():
        raise FileNotFoundError(f"{error_bin}: error.bin not found")
    err = np.fromfile(error_bin, dtype="<f8")
    if err.size == 0 or err.size % 5:
        raise ValueError(f"{error_bin}: {err.size} float64 values is not rows of 5")
    return err.reshape(-1, 5)
