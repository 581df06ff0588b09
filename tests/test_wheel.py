"""The wheel: what it ships, and that its core dependencies suffice in a fresh environment.

The wheel is built once per module (`pip wheel`, as `make wheel` does) from the bundle already
in src/miwd_widget/static/. The fresh virtual environment gets miwd-widget through notebook
01's install cell, from a wheel "uploaded" into the session folder as in Colab, so pip resolves
the core dependencies from the package index and nothing from this checkout's environment is
visible; the cell needs IPython, which ipywidgets (a core dependency) requires anyway.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "miwd_widget" / "static"
LOCK = json.loads((ROOT / "js" / "package-lock.json").read_text())["packages"]

# one sentence of each licence the bundled packages use (package-lock.json's "license")
LICENCE_PHRASE = {
    "MIT": "Permission is hereby granted, free of charge",
    "ISC": "Permission to use, copy, modify, and/or distribute this software",
    "BSD-3-Clause": "Redistribution and use in source and binary forms",
}
# modules of the extras, which the core install must not bring
EXTRA_MODULES = ("torch", "onnx", "h5py", "altair", "dask")


def expected_notices() -> dict[str, str]:
    """name@version -> licence of the front end's npm dependencies and of the packages that
    regl-scatterplot's prebuilt code inlines (its own dependencies, never imported apart)."""
    direct = json.loads((ROOT / "js" / "package.json").read_text())["dependencies"]
    inlined = LOCK["node_modules/regl-scatterplot"]["dependencies"]
    out = {}
    for name in [*direct, *inlined]:
        entry = LOCK[f"node_modules/{name}"]
        out[f"{name}@{entry['version']}"] = entry["license"]
    return out


def bundle_notices(js: str) -> str:
    """The notices at the end of a bundle: esbuild's legal comments, then build.mjs's."""
    start = js.rfind("/*!")
    assert start >= 0 and js.rstrip().endswith("*/"), "widget.js ends with no /*! notice */"
    legal = js.find("/*! Bundled license information:")
    return js[legal if legal >= 0 else start :]


def assert_notices(text: str, where: str) -> None:
    for package, licence in expected_notices().items():
        assert package in text, f"{where} lost the notice of {package}"
        assert LICENCE_PHRASE[licence] in text, f"{where} lacks the {licence} text ({package})"
    for vendored in ("KDBush", "simplify-js"):  # code regl-scatterplot inlines without a package
        assert vendored in text, f"{where} lost the notice of {vendored}"


def test_bundle_keeps_the_licence_notices():
    js = (STATIC / "widget.js").read_text()
    assert_notices(bundle_notices(js), "widget.js")
    notices = (STATIC / "THIRD_PARTY_NOTICES.txt").read_text()
    assert notices.startswith("Third-party software bundled in widget.js")
    assert_notices(notices, "THIRD_PARTY_NOTICES.txt")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("miwd_widget-*.whl")
    return built


def test_wheel_ships_the_front_end_the_demo_library_and_the_licences(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        for shipped in ("widget.js", "widget.css", "THIRD_PARTY_NOTICES.txt"):
            assert f"miwd_widget/static/{shipped}" in names
        js = whl.read("miwd_widget/static/widget.js").decode()
        assert_notices(bundle_notices(js), "the wheel's widget.js")
        assert_notices(whl.read("miwd_widget/static/THIRD_PARTY_NOTICES.txt").decode(), "the wheel")
        assert "miwd_widget/data/demo_library.parquet" in names
        (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        assert whl.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        metadata = whl.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    core = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)[^;\n]*$", metadata, re.M)
    assert "altair" not in core and "torch" not in core
    assert "Provides-Extra: evaluate" in metadata
    assert re.search(r"^Requires-Dist: altair.*extra == 'evaluate'", metadata, re.M)


CHECK = """
import importlib.util, sys
from pathlib import Path
import miwd_widget as mw
assert Path(mw.__file__).is_relative_to(sys.prefix), mw.__file__   # the installed wheel
lib = mw.load_demo_library()
atlas = mw.Atlas(lib, color="accuracy_norm", axes=["dataset", "optimizer", "lr"])
atlas.save_html("atlas.html")
page = Path("atlas.html").read_text()
assert "regl-scatterplot@" in page                                  # notices travel along
print(len(lib.metadata), Path("atlas.html").stat().st_size)
print(sorted(m for m in {extras!r} if importlib.util.find_spec(m)))
"""


@pytest.mark.slow
def test_core_install_in_a_fresh_environment(wheel, tmp_path):
    """Notebook 01's install cell installs the uploaded wheel with the core dependencies only,
    and import, load_demo_library, Atlas(...) and save_html work there."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    venv = tmp_path / "venv"
    session = tmp_path / "content"  # the folder a Colab session uploads to
    session.mkdir()
    shutil.copy(wheel, session)
    cell = tmp_path / "install_cell.ipy"
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    cell.write_text(next(c.source for c in nb.cells if "install" in c.metadata.get("tags", [])))
    python = venv / "bin" / "python"

    def run(*args: str | Path) -> str:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=session,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    run(python, "-m", "pip", "install", "-q", "ipython")  # what runs a notebook cell
    assert "miwd" not in run(python, "-m", "pip", "list")
    run(venv / "bin" / "ipython", "--no-banner", cell)
    installed = time.perf_counter() - start
    assert "miwd-widget" in run(python, "-m", "pip", "list")
    run(python, "-m", "pip", "check")
    counts, extras = run(python, "-c", CHECK.format(extras=EXTRA_MODULES)).splitlines()
    n, size = map(int, counts.split())
    assert n == 2000 and size > 100_000
    assert extras == "[]", f"the core install brought {extras}"
    print(f"fresh venv + core install: {installed:.0f} s")
