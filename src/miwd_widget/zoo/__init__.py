"""Train a zoo of small CNNs the way NWS's main set was made, fast, on the CPU.

- :mod:`~miwd_widget.zoo.datasets`: five offline tasks, all 16x16x3 with 10 classes;
- :mod:`~miwd_widget.zoo.sampling`: every hyper-parameter drawn per model, then training
  groups that share only what batching needs;
- :mod:`~miwd_widget.zoo.network`, :mod:`~miwd_widget.zoo.optimizers`,
  :mod:`~miwd_widget.zoo.training`: a group trained as one stacked network;
- :mod:`~miwd_widget.zoo.store` and :mod:`~miwd_widget.zoo.run`: the files on disk, worker
  processes, resume.

Examples
--------
>>> from miwd_widget.zoo import train_zoo  # doctest: +SKIP
>>> meta = train_zoo(2000, "zoos/main", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from .datasets import DATASETS, dataset_names, load_dataset
from .network import build_model_shapes
from .run import retrain_model, train_zoo
from .sampling import BATCHING_KEYS, NEVER_SHARED, SEARCH_SPACE, sample_configs
from .store import METADATA_COLUMNS, SNAPSHOT_COLUMNS
from .training import TrainSettings, train_group

__all__ = [
    "DATASETS",
    "dataset_names",
    "load_dataset",
    "SEARCH_SPACE",
    "BATCHING_KEYS",
    "NEVER_SHARED",
    "METADATA_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "sample_configs",
    "build_model_shapes",
    "TrainSettings",
    "train_group",
    "train_zoo",
    "retrain_model",
]
