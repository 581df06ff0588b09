"""Tests of the Figure 3 and 4 charts (miwd_widget.evaluate.charts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_synthetic import N_MODELS

from miwd_widget.evaluate import embedding_grid, probe_chart

# ----------------------------------------------------------------------------- charts


def _values(spec: dict, part: dict) -> list[dict]:
    """The data rows of a chart part (Altair moves shared inline data to 'datasets')."""
    data = part.get("data") or spec["data"]
    return spec["datasets"][data["name"]] if "name" in data else data["values"]


def test_probe_chart_spec(result):
    spec = probe_chart(result).to_dict()
    bars, errors, chance = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    enc = bars["encoding"]
    assert enc["x"]["field"] == "target" and enc["xOffset"]["field"] == "series"
    assert enc["y"]["field"] == "accuracy_mean" and enc["color"]["field"] == "representation"
    assert enc["x"]["sort"] == ["shape", "scale", "shuffled"]
    assert enc["xOffset"]["sort"][:3] == ["miwd K=16", "miwd K=64", "raw K=16"]
    assert errors["mark"]["type"] == "errorbar"
    assert errors["encoding"]["y"]["field"] == "low" and errors["encoding"]["y2"]["field"] == "high"
    assert chance["mark"]["type"] == "tick" and chance["encoding"]["y"]["field"] == "chance"
    values = {(r["target"], r["series"]): r for r in _values(spec, bars)}
    assert len(values) == 3 * 9 - 3  # the NaN pca K=64 rows are left out
    row = result[(result.target == "shape") & (result.representation == "miwd") & (result.K == 16)]
    v = values[("shape", "miwd K=16")]
    assert v["accuracy_mean"] == pytest.approx(row["accuracy_mean"].iloc[0])
    assert v["high"] == pytest.approx(min(1.0, v["accuracy_mean"] + v["accuracy_std"]))
    chances = {r["target"]: r["chance"] for r in _values(spec, chance)}
    assert chances == {"shape": 0.5, "scale": 0.5, "shuffled": 0.5}
    with pytest.raises(ValueError, match="lacks columns"):
        probe_chart(result.drop(columns="chance"))


def _nearest_neighbour_agreement(panel: pd.DataFrame, column: str) -> float:
    xy = panel[["x", "y"]].to_numpy()
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 1e9
    labels = panel[column].to_numpy()
    return float((labels[d.argmin(axis=1)] == labels).mean())


def test_embedding_grid_spec(library):
    chart = embedding_grid(
        library, color="shape", representations=REPS_64, dim=64, method="pca", progress=False
    )
    spec = chart.to_dict()
    assert spec["facet"]["field"] == "panel"
    assert spec["facet"]["sort"] == ["miwd (K=64)", "raw (K=64)", "stats (K=16)"]
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "independent"}
    enc = spec["spec"]["encoding"]
    assert enc["color"] == {"field": "shape", "type": "nominal", "title": "shape"}
    assert enc["x"]["field"] == "x" and enc["y"]["field"] == "y"
    values = pd.DataFrame(_values(spec, spec))
    assert len(values) == 3 * N_MODELS
    miwd = values[values.panel == "miwd (K=64)"]
    assert list(miwd["id"]) == list(library.metadata["id"])
    # numeric colors are quantitative
    by_scale = embedding_grid(library, color="lr", representations=["raw"], dim=16, method="pca")
    assert by_scale.to_dict()["spec"]["encoding"]["color"]["type"] == "quantitative"
    with pytest.raises(ValueError, match="color 'optimizer' is not a metadata column"):
        embedding_grid(library, color="optimizer")


REPS_64 = [("miwd", "miwd", {"percentiles": (1, 99)}), "raw", "stats"]


@pytest.mark.slow  # UMAP's numba code compiles on its first use in a process (~20 s CPU)
def test_embedding_grid_umap_separates_what_miwd_sees(library):
    chart = embedding_grid(
        library, color="scale", representations=REPS_64, dim=64, random_state=0, progress=False
    )
    spec = chart.to_dict()
    assert spec["spec"]["encoding"]["color"]["field"] == "scale"
    values = pd.DataFrame(_values(spec, spec))
    panels = {p: g for p, g in values.groupby("panel")}
    # MI-WD and the global statistics separate the weight scales: nearest neighbours in the
    # UMAP share the scale; resampled raw weights do not (0.5 is chance for two classes)
    assert _nearest_neighbour_agreement(panels["miwd (K=64)"], "scale") >= 0.95
    assert _nearest_neighbour_agreement(panels["stats (K=16)"], "scale") >= 0.95
    assert _nearest_neighbour_agreement(panels["raw (K=64)"], "scale") <= 0.7


# ----------------------------------------------------------------------------- Figure 5


def test_compare_chart_rows_and_marks():
    from miwd_widget.evaluate.charts import compare_chart
    from miwd_widget.library.compare import cluster_accuracy, compare

    rng = np.random.default_rng(0)
    n = 400
    md = pd.DataFrame(
        {
            "optimizer": rng.choice(["adam", "rmsprop", "sgd"], n),
            "activation": rng.choice(["relu", "tanh"], n),
            "lr": 10 ** rng.uniform(-4, -1, n),
            "accuracy_norm": rng.random(n),
        }
    )
    sgd = np.flatnonzero(md.optimizer == "sgd")[:40]
    clusters = {"A": sgd, "B": rng.choice(n, 30, replace=False), "E": []}
    result, accuracy = compare(md, clusters), cluster_accuracy(md, clusters)
    spec = compare_chart(result, accuracy, top=3).to_dict()
    values_part, dist_part = spec["hconcat"]
    bars, marks = values_part["spec"]["layer"]
    assert bars["mark"]["type"] == "bar" and marks["mark"]["type"] == "text"
    assert values_part["facet"]["row"]["field"] == "cluster"
    assert values_part["facet"]["row"]["sort"] == ["A", "B", "E"]
    rows = _values(spec, values_part)
    over = result[(result.kind == "category") & (result.lift > 1)]
    expected = {
        (r.cluster, f"{r.column} = {r.value}")
        for c, g in over.groupby("cluster")
        for r in g.sort_values("lift", ascending=False).head(3).itertuples()
    }
    assert {(r["cluster"], r["label"]) for r in rows} == expected
    assert all(r["lift"] > 1 for r in rows) and not any(r["cluster"] == "E" for r in rows)
    by_label = {(r["cluster"], r["label"]): r for r in rows}
    top = by_label[("A", "optimizer = sgd")]
    share_sgd = (md.optimizer == "sgd").mean()
    assert top["significant"] and top["mark"] == "*"
    assert top["lift"] == pytest.approx(1 / share_sgd)
    assert sum(r["significant"] for r in rows if r["cluster"] == "B") == 0  # a random cluster
    box_rows = _values(spec, dist_part)
    assert [r["cluster"] for r in box_rows] == ["A", "B"]  # the empty cluster has no box
    assert box_rows[0]["median"] == pytest.approx(np.median(md.accuracy_norm.to_numpy()[sgd]))
    assert [p["mark"]["type"] for p in dist_part["layer"]] == ["rule", "bar", "tick"]
    # without the accuracy table: the bars alone; a table that is not compare()'s: an error
    assert "facet" in compare_chart(result).to_dict()
    with pytest.raises(ValueError, match="lacks columns"):
        compare_chart(result.drop(columns="lift"))


def test_a_missing_altair_names_the_extra(monkeypatch):
    import sys

    from miwd_widget.evaluate.charts import probe_chart
    from miwd_widget.weights.source import MissingDependencyError

    monkeypatch.setitem(sys.modules, "altair", None)  # import altair now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"'altair'.*'evaluate' extra"):
        probe_chart(pd.DataFrame({"target": [], "representation": [], "accuracy": []}))
