"""The API reference builds from the docstrings without a warning; the citation metadata agrees.

`make docs` runs pdoc on the modules and with the options named in the Makefile; this test reads
them from there, so the two cannot drift apart.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_variable(name: str) -> list[str]:
    """The words of a `NAME := ...` variable of the Makefile (continued lines joined)."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name} := (.*)$", text, re.M)
    assert match, f"the Makefile defines no {name}"
    return match.group(1).split()


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("api")
    modules = make_variable("DOC_MODULES")
    run = subprocess.run(
        [sys.executable, "-m", "pdoc", *make_variable("PDOC_OPTIONS"), "-o", str(out), *modules],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,  # the template directory is relative to the checkout
    )
    assert run.returncode == 0, run.stderr
    # pdoc reports a module it cannot import, a bad annotation or docstring as a warning
    assert run.stderr.strip() == "", f"pdoc warned:\n{run.stderr}"
    return out


@pytest.mark.slow
def test_every_module_has_a_page(api):
    top = (api / "miwd_widget.html").read_text()  # index.html redirects there
    assert "miwd_widget.html" in (api / "index.html").read_text()
    for module in make_variable("DOC_MODULES")[1:]:
        page = module.replace(".", "/") + ".html"
        assert (api / page).is_file(), f"no page for {module}"
        assert f'href="{page}"' in top, f"the top page does not link to {module}"


@pytest.mark.slow
def test_the_public_names_are_documented_from_their_docstrings(api):
    import miwd_widget

    top = (api / "miwd_widget.html").read_text()
    for name in miwd_widget.__all__:
        if name != "__version__":
            assert f'id="{name}"' in top, f"miwd_widget.{name} is not in the API reference"
    # numpy-style sections are rendered as headings, none is left as underlined text
    assert '<h6 id="parameters">Parameters' in top and '<h6 id="examples">Examples' in top
    for page in api.rglob("*.html"):
        assert "\n-----" not in page.read_text(), f"{page.name}: a docstring section is not parsed"
    evaluate = (api / "miwd_widget" / "evaluate.html").read_text()
    assert 'id="probe"' in evaluate and 'id="invariance"' in evaluate


def test_citation_cites_the_paper_with_the_project_doi():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()  # tomllib is Python >= 3.11 only

    def field(name: str) -> str:
        return re.search(rf'^{name} = "([^"]*)"', pyproject, re.M).group(1)

    paper = citation["preferred-citation"]
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == field("version")
    assert citation["license"] == field("license")
    assert [a["family-names"] for a in paper["authors"]] == [
        "Eilertsen",
        "Jönsson",
        "Unger",
        "Ynnerman",
    ]
    assert paper["year"] == 2024 and "EuroVis 2024" in paper["collection-title"]
    assert field("Paper") == f"https://doi.org/{paper['doi']}"
