"""The package imports fast: heavy dependencies load only when needed; no import cycles."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import miwd_widget

HEAVY = ("numba", "torch", "umap", "sklearn", "pandas", "anywidget", "pyarrow", "scipy")
PACKAGE = Path(miwd_widget.__file__).parent


def loaded_after(code: str) -> list[str]:
    """Heavy modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_dependency():
    assert loaded_after("import miwd_widget") == []


def test_cli_help_loads_no_heavy_dependency():
    code = (
        "import contextlib, io\n"
        "from miwd_widget.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0"
    )
    assert loaded_after(code) == []


def test_describe_loads_numba_only_when_it_computes():
    assert "numba" not in loaded_after("from miwd_widget import describe, ModelLibrary")
    assert "numba" in loaded_after(
        "import numpy as np, miwd_widget as mw; mw.mi_wd(np.array([0.0, 1.0]), S=1, B=2)"
    )


def test_version_comes_from_the_installed_metadata():
    assert miwd_widget.__version__ == version("miwd-widget")


def test_lazy_exports_are_the_real_objects():
    from miwd_widget.library import ModelLibrary
    from miwd_widget.weights import flatten_weights

    assert miwd_widget.ModelLibrary is ModelLibrary
    assert miwd_widget.flatten_weights is flatten_weights
    assert set(miwd_widget.__all__) <= set(dir(miwd_widget))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except what an ``if TYPE_CHECKING:`` block holds (never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path, name: str) -> set[str]:
    """Package modules ``path`` imports, at module level or lazily inside functions.

    Lazy imports count: a cycle hidden in a function is still a cycle in the design.
    """
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("miwd_widget"):
                continue
            for alias in node.names:  # `from . import storage` imports a module
                sub = PACKAGE.parent / f"{target}.{alias.name}".replace(".", "/")
                is_module = sub.with_suffix(".py").exists() or sub.is_dir()
                out.add(f"{target}.{alias.name}" if is_module else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("miwd_widget")}
    return out


def test_the_import_graph_has_no_cycle():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        graph[name] = _imports(path, name)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph.get(node, ()):
            if dep == node or dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], json.dumps(cycles, indent=1)
