"""The one vocabulary of metadata columns: which name identifies, groups, or scores a model.

Every module that asks "is this column a hyper-parameter?" asks here, so the library's
summaries, the widget's default axes and the probe's default targets agree.

Examples
--------
>>> import pandas as pd
>>> md = pd.DataFrame({"id": ["a"], "lr": [0.1], "optimizer": ["adam"],
...                    "test_accuracy": [0.9], "train_group": [3]})
>>> hyperparameter_columns(md)
['lr', 'optimizer']
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ID",
    "SOURCE",
    "TRAIN_GROUP",
    "MODEL",
    "EPOCH",
    "ACCURACY_COLUMNS",
    "IDENTIFIER_COLUMNS",
    "OUTCOME_COLUMNS",
    "hyperparameter_columns",
]

ID = "id"
SOURCE = "source"
#: Models trained together (one stacked network in the zoo). They share what the batching
#: needs; the probe keeps each group wholly in one fold so nothing shared leaks.
TRAIN_GROUP = "train_group"
#: For training snapshots: the model a snapshot belongs to, and its epoch (0 = initialization).
MODEL = "model"
EPOCH = "epoch"

#: Accuracy columns, in order of preference (``accuracy_norm`` is derived from the first).
ACCURACY_COLUMNS = ("test_accuracy", "accuracy", "test_acc")

#: Columns that identify a model, its file or its training group, not how it was configured.
IDENTIFIER_COLUMNS = frozenset(
    {
        ID,
        SOURCE,
        "path",
        "seed",
        TRAIN_GROUP,
        "cohort",
        MODEL,
        "query",
        "query_name",
        "name",
        "snapshot",
        "kind",
    }
)

#: Columns that describe how training went rather than how it was configured.
OUTCOME_COLUMNS = frozenset(
    {
        *ACCURACY_COLUMNS,
        "accuracy_norm",
        "train_accuracy",
        "val_accuracy",
        "test_loss",
        "train_loss",
        "generalization_gap",
        "best_epoch",
        "epochs",
        EPOCH,
        "step",
        "n_params",
        "diverged",
        "best",  # a training snapshot: the weights kept as the model
    }
)


def hyperparameter_columns(columns: Iterable[str]) -> list[str]:
    """The columns among `columns` that are training hyper-parameters, in their order.

    Parameters
    ----------
    columns
        Column names (a DataFrame works: iterating it gives its columns).

    Returns
    -------
    list of str
        Everything that is neither an identifier nor an outcome, and not private
        (names starting with ``_``).

    Examples
    --------
    >>> hyperparameter_columns(["id", "dataset", "epoch", "batch_size"])
    ['dataset', 'batch_size']
    """
    return [
        c
        for c in columns
        if c not in IDENTIFIER_COLUMNS and c not in OUTCOME_COLUMNS and not str(c).startswith("_")
    ]
