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
