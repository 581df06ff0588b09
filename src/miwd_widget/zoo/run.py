"""Train a whole zoo into a folder, in worker processes, resuming an interrupted run.

Reproducibility: a model's weights are a deterministic function of its row in
``metadata.csv`` (config and seed), its training group's other members, and the settings in
``zoo.json``. Retraining its whole group (:func:`retrain_model` does) reproduces it bit for bit
on the same machine and torch version: a model's batch norm and loss are its own, but the
stacked (grouped) convolution may sum in another order than a lone one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TRAIN_GROUP
from .datasets import DATASETS, INPUT_SHAPE, N_CLASSES, dataset_names
from .network import CONSTANT_INIT, DROPOUT, NORMAL_INIT_STD
from .optimizers import ADAM_BETAS, ADAM_EPS, RMSPROP_EPS, RMSPROP_RHO, SGD_MOMENTUM
from .sampling import BATCHING_KEYS, GROUP_SIZE, NEVER_SHARED, SEARCH_SPACE, sample_configs
from .store import (
    FORMAT,
    METADATA_COLUMNS,
    SNAPSHOT_COLUMNS,
    finished_groups,
    group_rows,
    read_table,
    write_group,
    write_json,
)
from .training import LR_DECAY, TrainSettings, require_torch, train_group

__all__ = ["train_zoo", "retrain_model"]

log = logging.getLogger(__name__)


def _run_group(rows: list[dict], out_dir: str, settings: TrainSettings) -> tuple:
    """Worker: train one group and write its files; return its CSV rows or the error."""
    group = int(rows[0][TRAIN_GROUP])
    try:
        result = train_group(rows, settings)
        meta_rows, snap_rows = write_group(Path(out_dir), result)
        return meta_rows, snap_rows, None, group
    except Exception as err:  # a failed group is recorded; the zoo goes on
        return [], [], f"{type(err).__name__}: {err}", group


def _group_cost(rows: list[dict]) -> float:
    """Rough relative cost, to start the slowest groups first (fewer idle workers at the end)."""
    r = rows[0]
    conv = sum(
        (16 / 2**d) ** 2 * r["width_conv"] * (3 if d == 0 else r["width_conv"])
        for d in range(r["depth_conv"])
    )
    return len(rows) * (conv * r["filter_size"] ** 2 + 2e4 / r["batch_size"])


def _zoo_info(settings: dict, train: TrainSettings, previous: dict) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "format": FORMAT,
        "package_version": version("miwd-widget"),
        "torch_version": require_torch().__version__,
        "settings": settings,
        "search_space": {k: list(v) for k, v in SEARCH_SPACE.items()},
        "batching_keys": list(BATCHING_KEYS),
        "never_shared": list(NEVER_SHARED),
        "training": {
            "input_shape": list(INPUT_SHAPE),
            "n_classes": N_CLASSES,
            "max_epochs": train.max_epochs,
            "min_epochs": train.min_epochs,
            "patience": train.patience,
            "lr_decay_per_epoch": LR_DECAY,
            "constant_init": CONSTANT_INIT,
            "normal_init_std": NORMAL_INIT_STD,
            "adam": {"betas": ADAM_BETAS, "eps": ADAM_EPS},
            "rmsprop": {"rho": RMSPROP_RHO, "eps": RMSPROP_EPS},
            "sgd_momentum": SGD_MOMENTUM,
            "batch_norm": "after every conv layer (scale and shift saved; running stats not)",
            "dropout": DROPOUT,
            "augmentation": "+-2 px shifts, flips where labels allow, colour gain and offset",
        },
        "datasets_info": {k: vars(DATASETS[k]) for k in settings["datasets"]},
        "failures": previous.get("failures", []),
        "status": "running",
        "runs": previous.get("runs", []),
    }


def train_zoo(
    n: int,
    out_dir: str | os.PathLike,
    seed: int = 0,
    datasets: Sequence[str] | None = None,
    n_jobs: int = 2,
    max_epochs: int = 10,
    progress: bool = True,
    *,
    patience: int = 3,
    min_epochs: int = 4,
    group_size: dict[int, int] | int | None = None,
    max_train: int | None = None,
    data_seed: int = 0,
) -> pd.DataFrame:
    """Train `n` NWS-like CNNs into `out_dir` (the zoo layout), resuming a previous run.

    Writes the files of :mod:`miwd_widget.zoo.store`, appending rows after every training
    group, so an interrupted run keeps what finished. Run again with the same arguments to
    resume: finished groups are skipped. A group that fails is recorded in ``zoo.json`` under
    "failures" and the run goes on.

    Parameters
    ----------
    n
        Number of models.
    out_dir
        Zoo directory (created if missing).
    seed
        Sampler seed (:func:`~miwd_widget.zoo.sampling.sample_configs`).
    datasets
        Subset of the tasks (default: all five).
    n_jobs
        Worker processes (each uses one torch thread); 1 trains in this process.
    max_epochs, patience, min_epochs
        Early stopping on the validation split (see :class:`TrainSettings`).
    progress
        Show a tqdm progress bar over models.
    group_size
        Largest training group per batch size (default
        :data:`~miwd_widget.zoo.sampling.GROUP_SIZE`).
    max_train
        Cap on the images of every split (quick tests); None uses the full splits.
    data_seed
        Seed of the generated tasks.

    Returns
    -------
    pandas.DataFrame
        The metadata table (sorted by id).

    Examples
    --------
    >>> import tempfile
    >>> meta = train_zoo(2, tempfile.mkdtemp(), n_jobs=1, max_epochs=1, min_epochs=0,
    ...                  max_train=64, progress=False)
    >>> meta[["id", "path"]].values.tolist()
    [['m00000', 'models/m00000.safetensors'], ['m00001', 'models/m00001.safetensors']]
    """
    from tqdm.auto import tqdm

    if n_jobs < 1:
        raise ValueError(f"train_zoo: n_jobs must be >= 1, got {n_jobs}")
    train = TrainSettings(max_epochs, min_epochs, patience, data_seed, max_train)
    require_torch()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"train_zoo: out_dir {out} exists and is not a directory")
    configs = sample_configs(n, seed=seed, datasets=datasets, group_size=group_size)
    settings = {
        "n": n,
        "seed": seed,
        "datasets": dataset_names() if datasets is None else list(datasets),
        "group_size": {str(k): v for k, v in (group_size or GROUP_SIZE).items()}
        if not isinstance(group_size, int)
        else group_size,
        "max_epochs": max_epochs,
        "min_epochs": min_epochs,
        "patience": patience,
        "max_train": max_train,
        "data_seed": data_seed,
    }
    zoo_json = out / "zoo.json"
    previous: dict[str, Any] = {}
    if zoo_json.exists():
        previous = json.loads(zoo_json.read_text())
        old = previous.get("settings", {})
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ:
            raise ValueError(
                f"train_zoo: {out} holds a zoo with other settings ({differ}); "
                "use another directory or the same arguments to resume"
            )
    out.mkdir(parents=True, exist_ok=True)

    meta_done, snaps_done = finished_groups(out, configs)
    # rewrite: drops a torn last line or a partial group
    meta_done.reindex(columns=METADATA_COLUMNS).to_csv(out / "metadata.csv", index=False)
    snaps_done.reindex(columns=SNAPSHOT_COLUMNS).to_csv(out / "snapshots.csv", index=False)
    done = set(meta_done[TRAIN_GROUP].astype(int)) if len(meta_done) else set()
    todo = [rows for rows in group_rows(configs) if int(rows[0][TRAIN_GROUP]) not in done]
    todo.sort(key=_group_cost, reverse=True)
    if done:
        log.info("train_zoo: resuming %s: %d models done, %d to train", out, len(meta_done),
                 sum(map(len, todo)))  # fmt: skip

    info = _zoo_info(settings, train, previous)
    write_json(zoo_json, info)
    start = time.perf_counter()
    n_todo = sum(len(r) for r in todo)
    failures: list[dict] = []
    if n_jobs == 1:
        results = (_run_group(rows, str(out), train) for rows in todo)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_run_group)(rows, str(out), train) for rows in todo
        )
    bar = tqdm(total=n, initial=len(meta_done), disable=not progress, unit="model", desc="zoo")
    with (
        open(out / "metadata.csv", "a", newline="") as fm,
        open(out / "snapshots.csv", "a", newline="") as fs,
    ):
        for meta_rows, snap_rows, error, group in results:
            if error is not None:
                failures.append({TRAIN_GROUP: group, "error": error})
                log.warning("train_zoo: group %d failed: %s", group, error)
                continue
            # snapshots first: a group counts as done once its metadata rows are in
            pd.DataFrame(snap_rows).reindex(columns=SNAPSHOT_COLUMNS).to_csv(
                fs, header=False, index=False
            )
            fs.flush()
            pd.DataFrame(meta_rows).reindex(columns=METADATA_COLUMNS).to_csv(
                fm, header=False, index=False
            )
            fm.flush()
            bar.update(len(meta_rows))
    bar.close()
    elapsed = time.perf_counter() - start

    meta = read_table(out / "metadata.csv", METADATA_COLUMNS).sort_values("id")
    meta = meta.reset_index(drop=True)
    meta.to_csv(out / "metadata.csv", index=False)
    snaps = read_table(out / "snapshots.csv", SNAPSHOT_COLUMNS).sort_values("id")
    snaps.reset_index(drop=True).to_csv(out / "snapshots.csv", index=False)
    n_failed = sum(int((configs[TRAIN_GROUP] == f[TRAIN_GROUP]).sum()) for f in failures)
    info["failures"] = info["failures"] + failures
    info["runs"] = info["runs"] + [
        {
            "trained": n_todo - n_failed,
            "wall_seconds": round(elapsed, 2),
            "models_per_second": round(n_todo / elapsed, 3) if elapsed > 0 else None,
            "n_jobs": n_jobs,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ]
    info["status"] = "complete" if len(meta) == n else "incomplete"
    info["n_models"] = int(len(meta))
    write_json(zoo_json, info)
    return meta


def retrain_model(zoo_dir: str | os.PathLike, model_id: str) -> dict[str, np.ndarray]:
    """Retrain one zoo model (with its training group) from the recorded configs and seeds.

    Returns its best-validation weights, name -> array, which match the saved file.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = train_zoo(1, d, n_jobs=1, max_epochs=1, min_epochs=0, max_train=64,
    ...               progress=False)
    >>> sorted(retrain_model(d, "m00000"))[0]
    'l00.0.conv.weight'
    """
    zoo = Path(zoo_dir)
    s = json.loads((zoo / "zoo.json").read_text())["settings"]
    meta = read_table(zoo / "metadata.csv", METADATA_COLUMNS)
    row = meta[meta["id"] == model_id]
    if row.empty:
        raise ValueError(f"retrain_model: no model {model_id!r} in {zoo / 'metadata.csv'}")
    group = meta[meta[TRAIN_GROUP] == int(row.iloc[0][TRAIN_GROUP])].sort_values("id")
    configs = sample_configs(int(s["n"]), seed=int(s["seed"]), datasets=s["datasets"],
                             group_size=_group_size_setting(s["group_size"]))  # fmt: skip
    rows = configs[configs["id"].isin(group["id"])].to_dict("records")
    train = TrainSettings(s["max_epochs"], s["min_epochs"], s["patience"], s["data_seed"],
                          s["max_train"])  # fmt: skip
    result = train_group(rows, train, snapshots=False)
    g = [r["id"] for r in rows].index(model_id)
    return result.layout.split(result.best[g])


def _group_size_setting(value: Any) -> dict[int, int] | int:
    return value if isinstance(value, int) else {int(k): int(v) for k, v in value.items()}
