"""Figures 3, 4 and 5 as Altair charts: probe accuracies, UMAP small multiples, clusters.

Examples
--------
>>> result = pd.DataFrame({"target": ["optimizer"] * 2, "representation": ["miwd", "stats"],
...     "K": [64, 16], "accuracy_mean": [0.6, 0.5], "accuracy_std": [0.05, 0.04],
...     "chance": [1 / 3] * 2})
>>> probe_chart(result).to_dict()["layer"][2]["mark"]["type"]
'tick'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .probing import DEFAULT_REPRESENTATIONS, make_any_representation, parse_representations
from .weights import library_weights

__all__ = ["probe_chart", "embedding_grid", "compare_chart"]


def _altair() -> Any:
    """Altair, or an error naming the package and the extra that brings it."""
    from ..weights.source import require

    return require("altair", "evaluate", "miwd_widget.evaluate's charts")


def probe_chart(result: pd.DataFrame, width_per_target: int = 170, height: int = 260) -> Any:
    """Figure 3 as an Altair chart: grouped accuracy bars with error bars, chance marked.

    One group per target; within a group one bar per (representation, K), colored by
    representation, darker for larger K; error bars are +-1 standard deviation over folds;
    a black tick marks chance level (1 / number of classes). Rows with NaN accuracy (e.g.
    PCA with more components than training models) are left out.

    Examples
    --------
    >>> result = pd.DataFrame({"target": ["optimizer"] * 2, "representation": ["miwd", "stats"],
    ...     "K": [64, 16], "accuracy_mean": [0.6, 0.5], "accuracy_std": [0.05, 0.04],
    ...     "chance": [1 / 3] * 2})
    >>> probe_chart(result).to_dict()["layer"][0]["mark"]["type"]
    'bar'
    """
    alt = _altair()

    need = {"target", "representation", "K", "accuracy_mean", "accuracy_std", "chance"}
    missing = need - set(result.columns)
    if missing:
        raise ValueError(f"probe_chart: result lacks columns {sorted(missing)} (use probe())")
    df = result.dropna(subset=["accuracy_mean"]).copy()
    if df.empty:
        raise ValueError("probe_chart: the result has no accuracies to plot")
    reps = list(dict.fromkeys(df["representation"]))
    df["rep_order"] = df["representation"].map({r: i for i, r in enumerate(reps)})
    df = df.sort_values(["rep_order", "K"])
    df["series"] = df["representation"] + " K=" + df["K"].astype(int).astype(str)
    df["K"] = df["K"].astype(int)
    df["low"] = (df["accuracy_mean"] - df["accuracy_std"]).clip(lower=0)
    df["high"] = (df["accuracy_mean"] + df["accuracy_std"]).clip(upper=1)
    series = list(dict.fromkeys(df["series"]))
    targets = list(dict.fromkeys(df["target"]))
    cols = ["target", "representation", "K", "series", "accuracy_mean", "accuracy_std"]
    cols += ["chance", "low", "high"]
    data = alt.InlineData(values=json.loads(df[cols].to_json(orient="records")))
    x = alt.X("target:N", sort=targets, title=None, axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("series:N", sort=series)
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=x,
        xOffset=offset,
        y=alt.Y("accuracy_mean:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("representation:N", sort=reps, title="representation"),
        opacity=alt.Opacity("K:O", scale=alt.Scale(range=[0.45, 1.0]), title="K"),
        tooltip=[
            alt.Tooltip("target:N"),
            alt.Tooltip("representation:N"),
            alt.Tooltip("K:O"),
            alt.Tooltip("accuracy_mean:Q", format=".3f", title="accuracy"),
            alt.Tooltip("accuracy_std:Q", format=".3f", title="std"),
            alt.Tooltip("chance:Q", format=".3f"),
        ],
    )
    errors = base.mark_errorbar(ticks=True).encode(
        x=x, xOffset=offset, y=alt.Y("low:Q", title="accuracy"), y2="high:Q"
    )
    chance_data = df.groupby("target", sort=False)["chance"].first().reset_index()
    chance = (
        alt.Chart(alt.InlineData(values=json.loads(chance_data.to_json(orient="records"))))
        .mark_tick(color="black", thickness=2, size=width_per_target - 20)
        .encode(x=x, y="chance:Q", tooltip=[alt.Tooltip("chance:Q", format=".3f")])
    )
    return alt.layer(bars, errors, chance).properties(
        width=width_per_target * len(targets),
        height=height,
        title="Hyper-parameter classification by linear SVMs (chance: black tick)",
    )


def _color_type(values: pd.Series) -> str:
    """Vega-Lite type for a color column: nominal for labels and few-valued integers."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "N"
    if pd.api.types.is_integer_dtype(values) and values.nunique() <= 12:
        return "N"
    return "Q"


def embedding_grid(
    library: Any,
    color: str = "initialization",
    representations: Sequence[Any] = DEFAULT_REPRESENTATIONS,
    dim: int = 1024,
    random_state: int | None = 0,
    *,
    weights: Sequence[Any] | None = None,
    standardize: Sequence[str] = ("stats",),
    method: str = "umap",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    pca_components: int | None = 50,
    columns: int | None = None,
    progress: bool | None = None,
) -> Any:
    """Figure 4 as Altair small multiples: one UMAP embedding per representation.

    Every representation is fitted on the whole library (a visualization, not a test) and
    projected with :func:`miwd_widget.projection.project` (the atlas' own UMAP, with its PCA
    pre-reduction), so the MI-WD panel is what the atlas shows for the same range.

    Parameters
    ----------
    library
        A library with weight files in ``metadata["source"]`` (or pass ``weights``).
    color
        Metadata column that colors the points (the paper: ``"initialization"``).
    representations
        Names or ``(label, name, kwargs)`` tuples, as in :func:`probe`.
    dim
        K for every representation but ``stats`` (16). PCA is capped at the number of models.
    random_state
        Seed of PCA, random projection and UMAP.
    standardize
        Representations whose features are standardized before UMAP: by default only the
        global statistics, whose 16 features have different units.
    method
        ``"umap"`` (the paper's) or ``"pca"`` (two principal components: a fast, linear look).
    n_neighbors, min_dist, pca_components
        Passed to :func:`~miwd_widget.projection.project`.
    columns
        Panels per row (default: all in one row up to 5).

    Returns
    -------
    altair.FacetChart
        Faceted by ``panel`` ("<representation> (K=<k>)"), independent x/y scales.

    Examples
    --------
    >>> embedding_grid(lib, color="optimizer", dim=256).save("figure4.html")  # doctest: +SKIP
    """
    alt = _altair()
    from sklearn.preprocessing import StandardScaler

    from ..projection import project
    from ..representations import resample_models

    md = library.metadata
    if color not in md.columns:
        raise ValueError(
            f"embedding_grid: color {color!r} is not a metadata column (have {list(md.columns)})"
        )
    specs = parse_representations(
        [representations] if isinstance(representations, str) else representations
    )
    thetas = library_weights(library, weights, progress)
    n = len(thetas)
    resampled: dict[int, np.ndarray] = {}
    frames = []
    panels = []
    for spec in specs:
        kw = spec.kwargs
        k = 16 if spec.name == "stats" else int(dim)
        if spec.name == "pca" and k > n:
            k = n
        kw.setdefault("progress", progress)
        rep = make_any_representation(spec.name, None if spec.name == "stats" else k, **kw)
        if spec.name in ("pca", "random"):
            kw.setdefault("random_state", random_state)
            rep.set_params(random_state=kw["random_state"])
            X_hat = resampled.get(rep.n_points)
            if X_hat is None:
                X_hat = resampled[rep.n_points] = resample_models(
                    thetas, rep.n_points, progress=progress
                )
            X = rep.fit_resampled(X_hat).transform_resampled(X_hat)
        else:
            X = rep.fit_transform(thetas)
        if spec.label in standardize or spec.name in standardize:
            X = StandardScaler().fit_transform(X).astype(np.float32)
        xy, _ = project(
            X,
            method=method,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            pca_components=pca_components,
            random_state=random_state,
        )
        panel = f"{spec.label} (K={k})"
        panels.append(panel)
        frames.append(
            pd.DataFrame(
                {
                    "panel": panel,
                    "representation": spec.label,
                    "x": xy[:, 0].astype(float),
                    "y": xy[:, 1].astype(float),
                    "id": md["id"].astype(str).to_numpy() if "id" in md else np.arange(n),
                    color: md[color].to_numpy(),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    ctype = _color_type(md[color])
    data = alt.InlineData(values=json.loads(df.to_json(orient="records")))
    chart = (
        alt.Chart(data)
        .mark_circle(size=14, opacity=0.7)
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False)),
            color=alt.Color(f"{color}:{ctype}", title=color),
            tooltip=[alt.Tooltip("id:N"), alt.Tooltip(f"{color}:{ctype}")],
        )
        .properties(width=200, height=200)
    )
    return (
        chart.facet(
            facet=alt.Facet("panel:N", sort=panels, title=None),
            columns=columns or min(len(panels), 5),
        )
        .resolve_scale(x="independent", y="independent")
        .properties(title=f"UMAP embeddings of weight representations, colored by {color}")
    )


def compare_chart(
    result: pd.DataFrame,
    accuracy: pd.DataFrame | None = None,
    alpha: float = 0.05,
    top: int = 8,
    width: int = 260,
) -> Any:
    """Figure 5 as an Altair chart: what characterizes each cluster, and how well it scores.

    Left, one row of bars per cluster: its over-represented hyper-parameter values
    (``lift > 1``; at most ``top`` per cluster, by lift), the bar length the lift, solid when
    the Benjamini-Hochberg adjusted p-value is below ``alpha`` (and marked ``*``), faded
    otherwise. Right (when ``accuracy`` is given), each cluster's accuracy distribution as a
    box plot: whiskers min to max, box the quartiles, a tick at the median.

    Parameters
    ----------
    result
        The table of :meth:`ModelLibrary.compare <miwd_widget.library.ModelLibrary.compare>`.
    accuracy
        The table of :meth:`ModelLibrary.cluster_accuracy
        <miwd_widget.library.ModelLibrary.cluster_accuracy>` (optional).
    alpha
        Significance level of the adjusted p-values.
    top
        Values shown per cluster.
    width
        Width of each panel in pixels.

    Returns
    -------
    altair.Chart
        A faceted bar chart, concatenated with the box plot when ``accuracy`` is given.

    Examples
    --------
    >>> from miwd_widget.library.compare import cluster_accuracy, compare
    >>> md = pd.DataFrame({"opt": list("aaaabbbb"), "accuracy_norm": np.linspace(0, 1, 8)})
    >>> clusters = {"A": [0, 1, 2], "B": [5, 6, 7]}
    >>> chart = compare_chart(compare(md, clusters), cluster_accuracy(md, clusters))
    >>> sorted(chart.to_dict())[:3]
    ['$schema', 'config', 'datasets']
    """
    alt = _altair()

    need = {"cluster", "column", "kind", "value", "count", "lift", "p_value", "p_adjusted"}
    missing = need - set(result.columns)
    if missing:
        raise ValueError(f"compare_chart: result lacks columns {sorted(missing)} (use compare())")
    clusters = [str(c) for c in dict.fromkeys(result["cluster"])]
    df = result[(result["kind"] == "category") & (result["lift"] > 1) & (result["count"] > 0)]
    df = df.assign(cluster=df["cluster"].astype(str))
    df = df.sort_values(["lift", "count"], ascending=False, kind="stable")
    df = df.groupby("cluster", sort=False).head(top).copy()
    df["label"] = df["column"].astype(str) + " = " + df["value"].astype(str)
    df["significant"] = df["p_adjusted"] < alpha
    df["mark"] = np.where(df["significant"], "*", "")
    cols = ["cluster", "label", "column", "count", "share_cluster", "share_library", "lift"]
    cols += ["p_value", "p_adjusted", "significant", "mark"]
    bars_data = alt.InlineData(values=json.loads(df[cols].to_json(orient="records")))
    y = alt.Y("label:N", sort="-x", title=None)
    base = alt.Chart(bars_data)
    bars = base.mark_bar().encode(
        x=alt.X("lift:Q", title="lift (share in cluster / share in library)"),
        y=y,
        color=alt.Color("column:N", title="hyper-parameter"),
        opacity=alt.condition("datum.significant", alt.value(1.0), alt.value(0.35)),
        tooltip=[
            alt.Tooltip("label:N", title="value"),
            alt.Tooltip("count:Q"),
            alt.Tooltip("share_cluster:Q", format=".2f", title="share in cluster"),
            alt.Tooltip("share_library:Q", format=".2f", title="share in library"),
            alt.Tooltip("lift:Q", format=".2f"),
            alt.Tooltip("p_adjusted:Q", format=".2g", title="adjusted p"),
        ],
    )
    marks = base.mark_text(align="left", dx=3, fontWeight="bold").encode(
        x="lift:Q", y=y, text="mark:N"
    )
    values = (
        alt.layer(bars, marks)
        .properties(width=width, height=alt.Step(16))
        .facet(row=alt.Row("cluster:N", sort=clusters, title=None))
        .resolve_scale(y="independent")
        .properties(title=f"Over-represented values (* adjusted p < {alpha:g})")
    )
    if accuracy is None:
        return values
    acc = accuracy[accuracy["count"] > 0].assign(cluster=lambda a: a["cluster"].astype(str))
    if acc.empty:
        return values
    name = next((str(c) for c in acc["column"] if c is not None), "accuracy")
    keep = ["cluster", "n", "count", "mean", "std", "min", "q1", "median", "q3", "max"]
    box_data = alt.InlineData(values=json.loads(acc[keep].to_json(orient="records")))
    yc = alt.Y("cluster:N", sort=clusters, title=None)
    box = alt.Chart(box_data)
    x_acc = alt.X("min:Q", title=name, scale=alt.Scale(zero=False))
    whisker = box.mark_rule().encode(x=x_acc, x2="max:Q", y=yc)
    quartiles = box.mark_bar(size=14).encode(
        x="q1:Q",
        x2="q3:Q",
        y=yc,
        color=alt.Color("cluster:N", sort=clusters, legend=None),
        tooltip=[
            alt.Tooltip("cluster:N"),
            alt.Tooltip("count:Q", title="models"),
            alt.Tooltip("median:Q", format=".3f"),
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("std:Q", format=".3f"),
        ],
    )
    median = box.mark_tick(color="black", size=14, thickness=2).encode(x="median:Q", y=yc)
    dist = alt.layer(whisker, quartiles, median).properties(
        width=width, title=f"{name} per cluster"
    )
    return alt.hconcat(values, dist)
