"""Every notebook runs top to bottom (small settings) and shows what it promises.

The first cell of each notebook installs miwd-widget from what the user provides (the checkout
or an uploaded wheel). Where the package and the notebook's extras are installed, as here, it
does nothing, so its install logic is tested on its own below with pip replaced by a recorder;
tests/test_wheel.py runs it for real in a fresh virtual environment.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


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


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    stale = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not stale, f"{name}: cells {stale} were committed with outputs"


# third-party modules a notebook may import -> the extra of pyproject.toml that installs them
EXTRA_OF_MODULE = {"torch": "torch", "onnx": "onnx", "h5py": "keras", "altair": "evaluate"}
# miwd_widget subpackages whose functions need an extra
EXTRA_OF_SUBPACKAGE = {"zoo": "torch", "evaluate": "evaluate"}


def install_cell(nb) -> str:
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "install" in code[0].metadata.get("tags", []), (
        "the first code cell is not the install cell"
    )
    return code[0].source


def cell_constant(source: str, name: str):
    """A constant assigned in the install cell (its one IPython magic line left out)."""
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    for node in ast.parse(python).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"the install cell assigns no {name}")


def imported_modules(nb) -> set[str]:
    """Top-level modules and miwd_widget subpackages the notebook's code cells import."""
    names: set[str] = set()
    for cell in nb.cells[1:]:
        if cell.cell_type != "code":
            continue
        python = "\n".join(
            ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(python)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                if node.module == "miwd_widget":
                    names.update(f"miwd_widget.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_install_cell_installs_only_what_the_user_provides(name):
    source = install_cell(nbformat.read(NOTEBOOKS / name, as_version=4))
    pip_lines = [
        line.strip() for line in source.splitlines() if "pip" in line and "install" in line
    ]
    assert pip_lines == ['%pip install -q "{spec}"'], pip_lines  # a wheel or checkout path, no name
    assert "!" not in source.replace("!=", "") and "subprocess" not in source  # no other way out
    assert "never by name from a package index" in source  # says so, in its first sentence


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_install_cell_installs_the_extras_the_notebook_imports(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    source = install_cell(nb)
    extras = {e for e in cell_constant(source, "EXTRAS").split(",") if e}
    needed = set(cell_constant(source, "NEEDED"))
    imports = imported_modules(nb)
    tops = {m.split(".")[0] for m in imports}
    want = {EXTRA_OF_MODULE[m] for m in tops if m in EXTRA_OF_MODULE}
    want |= {x for sub, x in EXTRA_OF_SUBPACKAGE.items() if f"miwd_widget.{sub}" in imports}
    assert want <= extras, f"{name} imports modules of the extras {sorted(want - extras)}"
    assert {m for m in tops if m in EXTRA_OF_MODULE} <= needed
    assert "miwd_widget" in needed
    pyproject = (NOTEBOOKS.parent / "pyproject.toml").read_text()
    for extra in extras:
        assert re.search(rf"^{extra} = \[", pyproject, re.M), (
            f"no extra {extra!r} in pyproject.toml"
        )


RECORD_PIP = """
import importlib.util, json, sys
from IPython.core.interactiveshell import InteractiveShell
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == "miwd_widget" else real(name, *a)
shell = InteractiveShell.instance()
calls = []
shell.register_magic_function(calls.append, "line", "pip")
result = shell.run_cell(open(sys.argv[1]).read())
print(json.dumps({"calls": calls, "error": str(result.error_in_exec or "")}))
"""


def run_install_cell(name: str, cwd: Path) -> dict:
    """Run a notebook's install cell in IPython with miwd_widget missing and pip recorded."""
    cell = cwd.parent / f"{name}.install.ipy"  # outside cwd, where the cell looks for wheels
    cell.write_text(install_cell(nbformat.read(NOTEBOOKS / name, as_version=4)))
    out = subprocess.run(
        [sys.executable, "-c", RECORD_PIP, str(cell)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_install_cell_takes_an_uploaded_wheel(tmp_path):
    session = tmp_path / "content"
    session.mkdir()
    (session / "miwd_widget-0.0.9-py3-none-any.whl").write_bytes(b"")
    os.utime(session / "miwd_widget-0.0.9-py3-none-any.whl", (1, 1))
    (session / "miwd_widget-0.1.0-py3-none-any.whl").write_bytes(b"")
    result = run_install_cell("03_black_box_models.ipynb", session)
    wheel = session / "miwd_widget-0.1.0-py3-none-any.whl"
    assert result == {"calls": [f'install -q "{wheel}[torch,onnx,evaluate]"'], "error": ""}
    assert run_install_cell("01_quickstart.ipynb", session)["calls"] == [f'install -q "{wheel}"']


def test_install_cell_takes_the_checkout(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "miwd-widget"\n')
    (tmp_path / "notebooks").mkdir()
    result = run_install_cell("02_reproduce_paper.ipynb", tmp_path / "notebooks")
    assert result == {"calls": [f'install -q "{tmp_path}[torch,evaluate]"'], "error": ""}


def test_install_cell_without_a_source_says_what_to_do(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    (tmp_path / "empty").mkdir()
    result = run_install_cell("01_quickstart.ipynb", tmp_path / "empty")
    assert result["calls"] == []
    assert "no miwd_widget-*.whl in" in result["error"] and "make wheel" in result["error"]


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
    assert has_chart(outputs(nb, "compare_chart"))  # the paper's Figure 5
    assert "A" in text_of(outputs(nb, "bad_summary"))  # a median accuracy per cluster
