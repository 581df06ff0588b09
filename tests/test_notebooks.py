"""Every notebook runs top to bottom (small settings) and shows what it promises."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, tmp_path: Path, env: dict[str, str] | None = None):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        NotebookClient(
            nb,
            timeout=600,
            # a kernel on a machine busy with other work can take more than the default 60 s
            startup_timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def outputs(nb, tag: str) -> list[dict]:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return cells[0].outputs


def text_of(outs: list[dict]) -> str:
    parts = []
    for o in outs:
        if o.get("output_type") == "stream":
            parts.append(o["text"])
        elif "data" in o:
            parts.append(o["data"].get("text/plain", ""))
    return "\n".join(parts)


def has_mime(outs: list[dict], mime: str) -> bool:
    return any(mime in o.get("data", {}) for o in outs)


def has_chart(outs: list[dict]) -> bool:
    """An Altair chart: a Vega-Lite bundle, or its HTML rendering outside a Jupyter front end."""
    for o in outs:
        data = o.get("data", {})
        if any("vegalite" in m for m in data) or "vega-lite" in data.get("text/html", ""):
            return True
    return False


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    stale = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not stale, f"{name}: cells {stale} were committed with outputs"


def test_quickstart(tmp_path):
    nb = run_notebook("01_quickstart.ipynb", tmp_path)
    assert "dataset" in text_of(outputs(nb, "metadata"))
    assert has_mime(outputs(nb, "atlas"), "application/vnd.jupyter.widget-view+json")
    selected = text_of(outputs(nb, "select"))
    n_selected = int(selected.split()[0])
    assert n_selected > 0
    assert f"{n_selected}" in text_of(outputs(nb, "selected"))  # the count row of describe()
    assert "constant" in text_of(outputs(nb, "summary"))
    assert (tmp_path / "atlas.html").stat().st_size > 10_000


def test_black_box_models(tmp_path):
    nb = run_notebook("03_black_box_models.ipynb", tmp_path)
    assert "model_c.onnx" in text_of(outputs(nb, "write"))
    assert has_chart(outputs(nb, "describe"))
    located = text_of(outputs(nb, "locate"))
    assert "model_a.pt" in located and "distance" in located
    assert has_mime(outputs(nb, "atlas"), "application/vnd.jupyter.widget-view+json")


def test_reproduce_paper_small(tmp_path):
    env = {
        "MIWD_NOTEBOOK_MODELS": "64",
        "MIWD_NOTEBOOK_EPOCHS": "2",
        "MIWD_NOTEBOOK_FOLDS": "2",
        "MIWD_NOTEBOOK_ZOO": str(tmp_path / "zoo"),
    }
    nb = run_notebook("02_reproduce_paper.ipynb", tmp_path, env)
    zoo = text_of(outputs(nb, "zoo"))
    assert "64 models in" in zoo and "training groups" in zoo
    for task in ("digits", "glyphs", "colour_digits", "textures", "gratings"):
        assert task in zoo
    for tag in ("training_paths", "paths_atlas", "probe_chart", "embedding_grid"):
        assert has_chart(outputs(nb, tag)), tag
    probe = text_of(outputs(nb, "probe"))
    assert "StratifiedGroupKFold(train_group)" in probe
    for rep in ("miwd", "raw", "stats", "pca", "random"):
        assert rep in probe
    assert "chance" in text_of(outputs(nb, "probe_median"))
    invariance = text_of(outputs(nb, "invariance"))
    assert "permute_hidden" in invariance and "independent_same_config" in invariance
    assert "NaN" not in invariance  # every kind has pairs, the baseline among them
    assert "lift" in text_of(outputs(nb, "good_summary"))
