"""The Model Zoos collection (Schürholt et al., NeurIPS 2022 datasets and benchmarks track).

27 zoos, 50,360 small CNNs trained with ray tune, published as one folder per zoo (e.g.
``tune_zoo_mnist_uniform/``). What is read of a zoo folder:

- each **trial** folder (one model, named like
  ``NN_tune_trainable_<id>_seed=<s>_<date>/``): a subfolder holding ``params.json``,
  ``result.json`` or ``checkpoint_*`` folders. Other files of the zoo (``config.json``,
  ``dataset.pt``: the training data, never opened) are not models;
- ``params.json``: the training config, keys grouped with ``::`` (``model::nlin``,
  ``model::init_type``, ``model::dropout``, ``optim::optimizer``, ``optim::lr``,
  ``optim::wd``, ``seed``, ...);
- ``result.json``: JSON lines, one record per epoch (``test_acc``, ``train_acc``,
  ``test_loss``, ``train_loss``, ``training_iteration``). A checkpoint's metrics are those
  of the record whose ``training_iteration`` is its epoch; the untrained record's train
  metrics are -999, meaning missing;
- ``checkpoint_000000/`` ... ``checkpoint_000050/`` (some zoos: ``checkpoint_<e>`` without
  padding; the unpadded one wins if both exist, as the collection's own loader reads
  them): ``checkpoints``, a ``torch.save`` d state_dict without a suffix, read with
  ``torch.load(weights_only=True)`` by the project's PyTorch reader in the build's worker
  processes (only paths travel to them). ``optimizer`` is never read.

What the library records per row: ``id`` (``"<zoo>/<trial>"``, with ``@e<epoch>`` when a
model has several rows), ``source`` (the ``checkpoints`` file), ``dataset`` (the zoo's
folder name, so that ``accuracy_norm`` is normalized per zoo), ``model``
(``"<zoo>/<trial>"``), ``epoch`` (0 = initialization), the params with their ``group::``
prefix dropped (``nlin``, ``init_type``, ``dropout``, ``optimizer``, ``lr``, ``wd``,
``seed``, ...; a name that two keys, or one of these columns, would share keeps its
prefix), ``test_accuracy``, ``train_accuracy``, ``test_loss``, ``train_loss`` (-999 and
missing records give NaN), ``generalization_gap`` (train minus test accuracy), ``n_params``
and ``accuracy_norm``. Scalar params are kept; lists of scalars are joined with commas;
nested objects are left out.

Nothing outside the folder passed is read: a trial folder or file that resolves outside it
(a symlink out) is refused and recorded in ``errors``, as is a broken trial (no readable
``params.json`` or ``result.json``) or a checkpoint folder without its ``checkpoints`` file;
the rest is built.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress as progress_bar
from ..columns import EPOCH, ID, MODEL, SOURCE
from ..descriptors.config import DescriptorConfig
from .builders import item_parts
from .executor import TORCH_FILE, Runner, error_text
from .parts import LibraryParts
from .sources import Item

__all__ = [
    "PARAMS",
    "RESULTS",
    "CHECKPOINT_FILE",
    "MISSING_METRIC",
    "METRICS",
    "ZooTrial",
    "model_zoo_folders",
    "zoo_trials",
    "checkpoint_folders",
    "read_params",
    "read_results",
    "param_columns",
    "zoo_snapshots",
    "model_zoo_items",
    "build_model_zoos",
]

log = logging.getLogger(__name__)

PARAMS = "params.json"
RESULTS = "result.json"
ZOO_CONFIG = "config.json"
#: The state_dict of one checkpoint folder (``optimizer`` beside it is never read).
CHECKPOINT_FILE = "checkpoints"
#: What the untrained record logs for the train metrics it did not measure.
MISSING_METRIC = -999
#: result.json metrics -> library columns.
METRICS = {
    "test_acc": "test_accuracy",
    "train_acc": "train_accuracy",
    "test_loss": "test_loss",
    "train_loss": "train_loss",
}
GAP = "generalization_gap"
_CHECKPOINT_DIR = re.compile(r"checkpoint_(\d+)")
#: Columns the reader sets; a param stripped to one of these names keeps its prefix.
_OURS = frozenset(
    {ID, SOURCE, "dataset", MODEL, EPOCH, *METRICS.values(), GAP, "n_params", "accuracy_norm"}
)


@dataclass(frozen=True)
class ZooTrial:
    """One trial (model) folder of a zoo."""

    zoo: str  # the zoo's folder name
    folder: Path

    @property
    def model(self) -> str:
        """The model's name: ``"<zoo>/<trial folder>"``."""
        return f"{self.zoo}/{self.folder.name}"


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) inside ``root`` (resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _is_trial(folder: Path) -> bool:
    """A folder holding what a trial holds: params, results or checkpoint folders."""
    if (folder / PARAMS).exists() or (folder / RESULTS).exists():
        return True
    try:
        return any(_CHECKPOINT_DIR.fullmatch(e.name) for e in os.scandir(folder))
    except OSError:
        return False


def _subfolders(folder: Path) -> list[Path]:
    """The visible subfolders of ``folder``, by name."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir and not entry.name.startswith("."):
            out.append(Path(entry.path))
    return out


def model_zoo_folders(path: str | os.PathLike) -> list[Path]:
    """The zoos at ``path``: ``[path]`` for a zoo, else its subfolders that are zoos.

    A zoo is a folder with at least one trial folder (a subfolder holding ``params.json``,
    ``result.json`` or ``checkpoint_*`` folders). Subfolders that resolve outside ``path``
    are not looked into.

    Raises
    ------
    FileNotFoundError
        ``path`` is no folder, or neither a zoo nor a folder of zoos.

    Examples
    --------
    >>> model_zoo_folders("no/such/zoo")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/zoo: no such folder
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}"
        )
    root = Path(os.path.realpath(folder))
    children = [c for c in _subfolders(folder) if _inside(c, root)]
    if any(_is_trial(c) for c in children):
        return [folder]
    zoos = [c for c in children if any(_is_trial(t) for t in _subfolders(c) if _inside(t, root))]
    if not zoos and _is_trial(folder):
        raise FileNotFoundError(
            f"{folder}: one trial folder of a zoo; pass the zoo (its parent folder) instead"
        )
    if not zoos:
        raise FileNotFoundError(
            f"{folder}: not a Model Zoos zoo (no trial folder holding {PARAMS}, {RESULTS} or "
            "checkpoint_* folders) nor a folder of zoos"
        )
    return zoos


def zoo_trials(zoo: Path, root: Path) -> list[Path]:
    """The trial folders of a zoo, by name: subfolders holding trial files, and those that
    resolve outside ``root`` (not looked into: reading them records their refusal)."""
    return [c for c in _subfolders(zoo) if not _inside(c, root) or _is_trial(c)]


def checkpoint_folders(trial: Path) -> dict[int, Path]:
    """Epoch -> checkpoint folder of a trial, by epoch; ``checkpoint_<e>`` wins over
    ``checkpoint_<e:06d>`` when a trial has both.

    Examples
    --------
    >>> import tempfile
    >>> t = Path(tempfile.mkdtemp())
    >>> for name in ["checkpoint_000010", "checkpoint_2", "checkpoint_000002", "other"]:
    ...     (t / name).mkdir()
    >>> {e: p.name for e, p in checkpoint_folders(t).items()}
    {2: 'checkpoint_2', 10: 'checkpoint_000010'}
    """
    found: dict[int, Path] = {}
    for folder in _subfolders(trial):
        match = _CHECKPOINT_DIR.fullmatch(folder.name)
        if match is None:
            continue
        epoch = int(match.group(1))
        if epoch not in found or folder.name == f"checkpoint_{epoch}":
            found[epoch] = folder
    return dict(sorted(found.items()))


def _read_text(path: Path, root: Path) -> str:
    """The text of a small JSON file of the zoo, if it resolves inside ``root``."""
    from ..weights.guard import regular_file

    if os.path.lexists(path) and not _inside(path, root):
        raise ValueError(
            f"{path}: refused: it resolves to {os.path.realpath(path)}, outside the folder "
            f"read ({root}; a symlink out of it?)"
        )
    regular_file(path)  # a FIFO would block, a device never end
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text: {exc}") from None


def read_params(path: Path, root: Path) -> dict[str, Any]:
    """A trial's ``params.json`` (a JSON object).

    Raises
    ------
    ValueError, OSError
        Unreadable, refused (outside ``root``) or not a JSON object; the message names the file.
    """
    try:
        params = json.loads(_read_text(path, root))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ValueError(f"{path}: not a JSON object of training settings")
    return params


def read_results(path: Path, root: Path) -> dict[int, dict[str, Any]]:
    """A trial's ``result.json`` records by ``training_iteration`` (a repeated iteration:
    the last record wins).

    Raises
    ------
    ValueError, OSError
        Unreadable, refused (outside ``root``), a line that is not a JSON object or a record
        without an integer ``training_iteration``; the message names the file and line.
    """
    records: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(_read_text(path, root).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"{path}: line {number} is not valid JSON: {exc}") from None
        iteration = record.get("training_iteration") if isinstance(record, dict) else None
        if isinstance(iteration, bool) or not isinstance(iteration, (int, float)):
            raise ValueError(f"{path}: line {number} is not a record with a training_iteration")
        if iteration != int(iteration):
            raise ValueError(f"{path}: line {number}: training_iteration {iteration} is no epoch")
        records[int(iteration)] = record
    return records


def _metric(record: dict[str, Any] | None, key: str) -> float:
    """A metric of a record as a float; missing, -999, or not a number: NaN."""
    value = None if record is None else record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    value = float(value)
    return math.nan if value == MISSING_METRIC or not math.isfinite(value) else value


def _scalar(value: Any) -> tuple[bool, Any]:
    """(kept, value) of a param: scalars as they are, lists of scalars joined with commas."""
    scalar = (str, int, float, bool, type(None))
    if isinstance(value, scalar):
        return True, value
    if isinstance(value, (list, tuple)) and all(isinstance(v, scalar) for v in value):
        return True, ",".join(str(v) for v in value)
    return False, None


def param_columns(keys: Sequence[str]) -> dict[str, str]:
    """Param key -> column: the key without its ``group::`` prefix, unless another key, or
    one of the reader's own columns, would get the same name (then the key stays whole).

    Examples
    --------
    >>> param_columns(["model::nlin", "optim::lr", "seed", "model::seed", "optim::epoch"])
    {'model::nlin': 'nlin', 'optim::lr': 'lr', 'seed': 'seed', 'model::seed': 'model::seed', 'optim::epoch': 'optim::epoch'}
    """
    keys = list(dict.fromkeys(str(k) for k in keys))
    short = {k: k.rsplit("::", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for name in short.values():
        counts[name] = counts.get(name, 0) + 1
    out = {}
    for key in keys:
        name = short[key]
        clash = name != key and (counts[name] > 1 or name in _OURS)
        out[key] = key if clash else name
    return out


def zoo_snapshots(snapshots: Any) -> str | list[int]:
    """``"last"``, ``"all"`` or a list of epochs (>= 0, repeats dropped), checked.

    Examples
    --------
    >>> zoo_snapshots("last"), zoo_snapshots(5), zoo_snapshots([0, 50, 0])
    ('last', [5], [0, 50])
    """
    if isinstance(snapshots, str):
        if snapshots in ("last", "all"):
            return snapshots
    else:
        chosen = [snapshots] if isinstance(snapshots, (int, np.integer)) else snapshots
        try:
            chosen = list(chosen)
        except TypeError:
            chosen = []
        ok = chosen and all(
            not isinstance(e, bool) and isinstance(e, (int, np.integer)) and e >= 0 for e in chosen
        )
        if ok:
            return [int(e) for e in dict.fromkeys(chosen)]
    raise ValueError(
        f"snapshots must be 'last', 'all' or a list of epochs (integers >= 0), got {snapshots!r}"
    )


@dataclass
class _TrialRows:
    """What one trial contributes before the params' columns are named."""

    trial: ZooTrial
    params: dict[str, Any]
    rows: list[tuple[int, str, dict[str, Any]]]  # (epoch, checkpoints file, metrics)


def _read_trial(
    trial: ZooTrial, root: Path, chosen: str | list[int], errors: list[tuple[str, str]]
) -> _TrialRows | None:
    """A trial's params and the checkpoints chosen, or None (the reason in ``errors``)."""
    folder = trial.folder
    where = os.path.abspath(folder)
    if not _inside(folder, root):
        errors.append(
            (
                where,
                f"{folder}: refused: the trial folder resolves to {os.path.realpath(folder)}, "
                f"outside the folder read ({root}; a symlink out of it?)",
            )
        )
        return None
    try:
        params = read_params(folder / PARAMS, root)
        results = read_results(folder / RESULTS, root)
    except (OSError, ValueError) as exc:
        text = str(exc) if isinstance(exc, ValueError) and str(exc) else error_text(exc)
        errors.append((where, f"broken trial: {text}"))
        return None
    folders = checkpoint_folders(folder)
    if not folders:
        errors.append((where, f"broken trial: {folder} holds no checkpoint_* folder"))
        return None
    if chosen == "all":
        epochs = list(folders)
    elif chosen == "last":
        epochs = [max(folders)]
    else:
        epochs = list(chosen)
    rows = []
    for epoch in epochs:
        if epoch not in folders:
            errors.append((where, f"{folder}: no checkpoint of epoch {epoch}"))
            continue
        file = folders[epoch] / CHECKPOINT_FILE
        source = os.path.abspath(file)
        if not os.path.lexists(file):
            errors.append((source, f"{file}: missing (the checkpoint's state_dict)"))
            continue
        if not _inside(file, root):
            errors.append(
                (
                    source,
                    f"{file}: refused: it resolves to {os.path.realpath(file)}, outside the "
                    f"folder read ({root}; a symlink out of it?)",
                )
            )
            continue
        record = results.get(epoch)
        metrics = {column: _metric(record, key) for key, column in METRICS.items()}
        metrics[GAP] = metrics["train_accuracy"] - metrics["test_accuracy"]
        rows.append((epoch, source, metrics))
    return _TrialRows(trial, params, rows)


def _zoo_config(zoo: Path, root: Path) -> dict[str, Any] | None:
    """The zoo's ``config.json``, or None (absent or unreadable: logged, not an error)."""
    path = zoo / ZOO_CONFIG
    if not os.path.lexists(path):
        return None
    try:
        config = json.loads(_read_text(path, root))
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("%s: not read: %s", path, error_text(exc))
        return None
    return config if isinstance(config, dict) else None


def model_zoo_items(
    path: str | os.PathLike, snapshots: Any = "last", progress: bool | None = None
) -> tuple[list[Item], list[tuple[str, str]], dict[str, Any]]:
    """Items of a zoo or folder of zoos, what could not be read, and ``attrs``.

    Parameters
    ----------
    path
        A zoo folder or a folder of zoos (:func:`model_zoo_folders`).
    snapshots
        ``"last"``: each model's last checkpoint; ``"all"``: every checkpoint; or a list of
        epochs (a trial without one of them: recorded in the errors).
    progress
        A bar over the trials read (default: for more than 10).

    Returns
    -------
    (items, errors, attrs)
        Items in zoo, trial and epoch order, whose specs are
        ``(TORCH_FILE, checkpoints file, root)``; ``attrs["model_zoos"]`` records the folder,
        the zoos, the snapshots and each zoo's ``config.json``.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a zoo nor a folder of zoos.
    """
    chosen = zoo_snapshots(snapshots)
    zoos = model_zoo_folders(path)
    root = Path(os.path.realpath(path))
    errors: list[tuple[str, str]] = []
    trials = []
    for zoo in zoos:
        if not _inside(zoo, root):  # a folder of zoos' entry that is a symlink out
            errors.append((os.path.abspath(zoo), f"{zoo}: refused: it resolves outside {root}"))
            continue
        trials += [ZooTrial(zoo.name, t) for t in zoo_trials(zoo, root)]
    read: list[_TrialRows] = []
    for trial in progress_bar(trials, desc="Model Zoos: trials", show=progress, unit="trial"):
        one = _read_trial(trial, root, chosen, errors)
        if one is not None:
            read.append(one)
    columns = param_columns([k for t in read for k in t.params])
    several = chosen != "last"
    items = []
    for one in read:
        params = {}
        for key, value in one.params.items():
            kept, value = _scalar(value)
            if kept:
                params[columns[str(key)]] = value
        model = one.trial.model
        for epoch, source, metrics in one.rows:
            meta = {"dataset": one.trial.zoo, MODEL: model, EPOCH: epoch, **params, **metrics}
            model_id = f"{model}@e{epoch:03d}" if several else model
            items.append(Item((TORCH_FILE, source, str(root)), model_id, source, meta))
    configs = {zoo.name: c for zoo in zoos if (c := _zoo_config(zoo, root)) is not None}
    attrs = {
        "model_zoos": {
            "path": os.path.abspath(path),
            "zoos": [zoo.name for zoo in zoos],
            "snapshots": chosen,
            "configs": configs,
        }
    }
    log.info(
        "Model Zoos: %d zoo(s), %d trial(s), %d checkpoint(s) to describe, %d error(s)",
        len(zoos),
        len(trials),
        len(items),
        len(errors),
    )
    return items, errors, attrs


def build_model_zoos(
    path: str | os.PathLike, snapshots: Any, config: DescriptorConfig, runner: Runner
) -> LibraryParts:
    """The parts of a library of a zoo or folder of zoos; see ``ModelLibrary.from_model_zoos``.

    Examples
    --------
    >>> parts = build_model_zoos("model-zoos", "last", DescriptorConfig(), Runner())  # doctest: +SKIP
    """
    items, errors, attrs = model_zoo_items(path, snapshots, runner.progress)
    return item_parts(items, config, runner, errors=errors, attrs=attrs)
