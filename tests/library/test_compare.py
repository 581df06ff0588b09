"""Cluster comparison (miwd_widget.library.compare): shares, lift, tests, accuracy per cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom

from miwd_widget.library import ModelLibrary
from miwd_widget.library.clusters import as_clusters
from miwd_widget.library.compare import (
    ACCURACY_SUMMARY_COLUMNS,
    COMPARE_COLUMNS,
    cluster_accuracy,
    compare,
)

N = 600


@pytest.fixture(scope="module")
def planted():
    """600 models: optimizer, activation, batch size, a continuous lr; accuracy tied to lr."""
    rng = np.random.default_rng(0)
    md = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(N)],
            "optimizer": rng.choice(["adam", "rmsprop", "sgd"], N),
            "activation": rng.choice(["relu", "tanh"], N),
            "batch_size": rng.choice([32, 64, 128], N),
            "lr": 10 ** rng.uniform(-4, -1, N),
            "seed": np.arange(N),  # an identifier: never compared
        }
    )
    md["test_accuracy"] = 0.5 + 0.1 * np.log10(md["lr"]) / 4 + rng.normal(0, 0.01, N)
    md["accuracy_norm"] = (md.test_accuracy - md.test_accuracy.min()) / np.ptp(md.test_accuracy)
    return md


def _row(table, cluster, column, value=None):
    t = table[(table.cluster == cluster) & (table.column == column)]
    if value is not None:
        t = t[t.value == value]
    assert len(t) == 1, t
    return t.iloc[0]


def test_planted_sgd_cluster_is_over_represented(planted):
    sgd = np.flatnonzero(planted.optimizer.to_numpy() == "sgd")
    cluster = sgd[:60]
    rng = np.random.default_rng(1)
    table = compare(planted, {"A": cluster, "R": rng.choice(N, 60, replace=False)})
    assert list(table.columns) == COMPARE_COLUMNS
    share = len(sgd) / N
    row = _row(table, "A", "optimizer", "sgd")
    assert row["count"] == 60 and row.n_cluster == 60 and row.share_cluster == 1.0
    assert row.share_library == pytest.approx(share)
    assert row.lift == pytest.approx(1 / share)
    assert row.test == "fisher" and row.p_value < 1e-6 and row.p_adjusted < 1e-6
    assert _row(table, "A", "optimizer", "adam").lift == 0.0
    assert _row(table, "A", "optimizer", "adam").p_value == pytest.approx(1.0)
    # a random cluster over-represents nothing
    random_rows = table[table.cluster == "R"]
    assert random_rows.p_value.min() > 1e-3
    assert (random_rows.p_adjusted > 0.05).all()
    # the default columns: hyper-parameters (+ the accuracy), not identifiers
    assert list(dict.fromkeys(table.column)) == [
        "optimizer",
        "activation",
        "batch_size",
        "lr",
        "accuracy_norm",
    ]
    assert list(dict.fromkeys(table.cluster)) == ["A", "R"]


def test_fisher_p_value_is_the_hypergeometric_tail(planted):
    cluster = np.arange(0, 200)
    table = compare(planted, {"A": cluster}, columns=["activation"], accuracy=False)
    for value in ("relu", "tanh"):
        row = _row(table, "A", "activation", value)
        in_library = int((planted.activation == value).sum())
        in_cluster = int((planted.activation.iloc[cluster] == value).sum())
        assert row["count"] == in_cluster
        # P(X >= observed) drawing 200 models of 600 of which in_library have the value
        expected = hypergeom.sf(in_cluster - 1, N, in_library, len(cluster))
        assert row.p_value == pytest.approx(expected, rel=1e-9)
    assert set(table.column) == {"activation"}


def test_numeric_columns_are_mann_whitney_with_medians(planted):
    high_lr = np.flatnonzero(planted.lr.to_numpy() > 0.01)
    table = compare(planted, {"H": high_lr})
    row = _row(table, "H", "lr")
    rest = np.setdiff1d(np.arange(N), high_lr)
    assert row.kind == "numeric" and row.test == "mannwhitney" and pd.isna(row.value)
    assert row.median_cluster == pytest.approx(np.median(planted.lr.to_numpy()[high_lr]))
    assert row.median_rest == pytest.approx(np.median(planted.lr.to_numpy()[rest]))
    assert row.p_value < 1e-20 and row["count"] == len(high_lr)
    assert np.isnan(row.lift) and np.isnan(row.share_cluster)
    # accuracy follows lr, so the high-lr cluster scores differently too
    acc = _row(table, "H", "accuracy_norm")
    assert acc.p_value < 1e-20 and acc.median_cluster > acc.median_rest
    # few distinct numbers are values, compared like categories
    assert set(table[table.column == "batch_size"].value) == {32, 64, 128}


def test_labels_per_row_equal_the_dict(planted):
    labels = pd.Series(np.where(planted.optimizer == "sgd", "S", None), dtype=object)
    labels.iloc[:5] = "T"
    as_dict = compare(planted, {"S": np.flatnonzero(labels == "S"), "T": np.arange(5)})
    from_labels = compare(planted, labels)
    pd.testing.assert_frame_equal(as_dict, from_labels)
    cat = pd.Categorical(["b", "a"] * (N // 2), categories=["b", "a", "z"])
    groups = as_clusters(cat, N)
    assert list(groups) == ["b", "a", "z"] and groups["z"].size == 0
    assert groups["a"].tolist() == list(range(1, N, 2))
    with pytest.raises(ValueError, match="600 labels, got 3"):
        compare(planted, ["a", "b", "c"])


def test_overlapping_clusters_compare_each_with_its_rest(planted):
    a, b = np.arange(0, 300), np.arange(200, 600)
    table = compare(planted, {"A": a, "B": b}, columns=["optimizer"], accuracy=False)
    for name, rows in (("A", a), ("B", b)):
        row = _row(table, name, "optimizer", "sgd")
        value = planted.optimizer.to_numpy() == "sgd"
        expected = hypergeom.sf(value[rows].sum() - 1, N, value.sum(), len(rows))
        assert row.p_value == pytest.approx(expected, rel=1e-9)
    everything = compare(planted, {"all": np.arange(N)}, columns=["optimizer"], accuracy=False)
    assert np.allclose(everything.p_value, 1.0) and np.allclose(everything.lift, 1.0)


def test_empty_cluster_and_missing_values():
    md = pd.DataFrame(
        {
            "optimizer": ["sgd", "sgd", None, "adam", "adam", "adam"],
            "width": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],
            "accuracy_norm": [0.1, 0.2, np.nan, 0.4, 0.5, 0.6],
        }
    )
    md = pd.concat([md] * 3, ignore_index=True)  # 18 rows; width: 5 distinct numbers, values
    md["lr"] = np.linspace(0, 1, 18)  # 18 distinct: numeric
    md.loc[0, "lr"] = np.nan
    table = compare(md, {"A": [0, 1, 2], "E": []})
    sgd = _row(table, "A", "optimizer", "sgd")
    # the missing optimizer counts in the denominators, never as a value
    assert sgd["count"] == 2 and sgd.share_cluster == pytest.approx(2 / 3)
    assert sgd.share_library == pytest.approx(6 / 18)
    assert set(table[table.column == "optimizer"].value) == {"adam", "sgd"}
    assert _row(table, "A", "width", 1.0)["count"] == 1  # the NaN width is no value
    assert set(table[table.column == "width"].value) == {1.0, 3.0, 4.0, 5.0, 6.0}
    lr = _row(table, "A", "lr")
    assert lr["count"] == 2 and lr.median_cluster == pytest.approx(np.nanmedian(md.lr[:3]))
    empty = table[table.cluster == "E"]
    assert len(empty) and (empty.n_cluster == 0).all() and (empty["count"] == 0).all()
    assert empty.p_value.isna().all() and empty.lift.isna().all()
    assert empty.share_library.notna().any()
    acc = cluster_accuracy(md, {"A": [0, 1, 2], "E": []})
    assert list(acc.columns) == ACCURACY_SUMMARY_COLUMNS
    a, e = acc.iloc[0], acc.iloc[1]
    assert (a.n, a["count"], a.column) == (3, 2, "accuracy_norm")
    assert a["mean"] == pytest.approx(0.15) and a["std"] == pytest.approx(
        np.std([0.1, 0.2], ddof=1)
    )
    assert (e.n, e["count"]) == (0, 0) and np.isnan(e["median"])


def test_cluster_accuracy_quartiles(planted):
    rows = np.arange(0, N, 3)
    acc = cluster_accuracy(planted, {"A": rows, "B": [5]}, accuracy="test_accuracy")
    v = planted.test_accuracy.to_numpy()[rows]
    a = acc.iloc[0]
    assert a.column == "test_accuracy" and a["count"] == len(rows)
    expected = np.percentile(v, [0, 25, 50, 75, 100])
    assert [a["min"], a.q1, a["median"], a.q3, a["max"]] == pytest.approx(expected.tolist())
    assert a["std"] == pytest.approx(v.std(ddof=1)) and a["mean"] == pytest.approx(v.mean())
    b = acc.iloc[1]
    assert b["count"] == 1 and np.isnan(b["std"])
    assert acc.iloc[1]["median"] == pytest.approx(planted.test_accuracy[5])
    # default: accuracy_norm; none at all: NaN statistics, column None
    assert cluster_accuracy(planted, {"A": rows}).column.item() == "accuracy_norm"
    none = cluster_accuracy(planted[["optimizer"]], {"A": rows})
    assert none.column.item() is None and np.isnan(none["mean"].item())


def test_benjamini_hochberg_adjustment(planted):
    table = compare(planted, {"A": np.arange(100), "B": np.arange(50, 400)})
    p, adj = table.p_value.to_numpy(), table.p_adjusted.to_numpy()
    assert (adj >= p - 1e-15).all() and (adj <= 1).all()
    # BH by hand: sorted p times m / rank, made monotone from the largest down
    order = np.argsort(p)
    m = len(p)
    by_hand = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(adj[order], np.minimum(by_hand, 1), rtol=1e-12)


def test_errors_name_the_cluster_and_column(planted):
    with pytest.raises(IndexError, match=r"cluster 'B'.*\[600\]"):
        compare(planted, {"A": [1, 2], "B": [3, 600]})
    with pytest.raises(IndexError, match="cluster 'A'"):
        compare(planted, {"A": [0.5]})
    with pytest.raises(ValueError, match=r"columns: \['nope'\] are not metadata columns"):
        compare(planted, {"A": [1]}, columns=["nope"])
    with pytest.raises(ValueError, match="'id' cannot be compared"):
        compare(planted, {"A": [1]}, columns=["id"])
    with pytest.raises(ValueError, match="accuracy: 'acc' is not a metadata column"):
        cluster_accuracy(planted, {"A": [1]}, accuracy="acc")
    with pytest.raises(ValueError, match="accuracy: column 'optimizer' is not numeric"):
        compare(planted, {"A": [1]}, accuracy="optimizer")
    with pytest.raises(TypeError, match="one label per row"):
        compare(planted, "A")


def test_library_compare_uses_its_clusters(planted):
    rng = np.random.default_rng(0)
    lib = ModelLibrary(rng.random((N, 2, 3)), planted)
    sgd = np.flatnonzero(planted.optimizer.to_numpy() == "sgd")
    lib.clusters = {"A": sgd[:40]}
    pd.testing.assert_frame_equal(lib.compare(), compare(lib.metadata, {"A": sgd[:40]}))
    only = lib.compare({"B": [1, 2, 3]}, columns=["activation"], accuracy=False)
    assert set(only.cluster) == {"B"} and set(only.column) == {"activation"}
    pd.testing.assert_frame_equal(
        lib.cluster_accuracy(), cluster_accuracy(lib.metadata, {"A": sgd[:40]})
    )
