"""The documentation site builds without a warning; README's links resolve; the citation agrees.

`make docs` runs `mkdocs build` with `mkdocs.yml`; these tests build the same site with
`--strict`, so a warning (a docstring mkdocstrings cannot parse, a broken link or anchor, a
page missing from the navigation) fails them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: The packages the API reference documents, one page each (not their private submodules).
PUBLIC_PACKAGES = [
    "miwd_widget",
    "miwd_widget.descriptors",
    "miwd_widget.weights",
    "miwd_widget.library",
    "miwd_widget.projection",
    "miwd_widget.representations",
    "miwd_widget.widget",
    "miwd_widget.evaluate",
    "miwd_widget.zoo",
    "miwd_widget.columns",
]


def api_pages() -> dict[str, Path]:
    """Package -> the page of docs/api/ that renders it with a `::: package` line."""
    pages = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for package in re.findall(r"^::: (\S+)$", page.read_text(), re.M):
            pages[package] = page
    return pages


def built_page(site: Path, page: Path) -> Path:
    """The HTML file mkdocs writes for a Markdown page (use_directory_urls)."""
    relative = page.relative_to(DOCS).with_suffix("")
    return site / (relative.parent if relative.name == "index" else relative) / "index.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,  # mkdocs.yml and the paths in it are relative to the checkout
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert "WARNING" not in log, f"mkdocs warned:\n{log}"
    return out


@pytest.mark.slow
def test_every_public_package_has_a_page_in_the_navigation(site):
    pages = api_pages()
    assert sorted(pages) == sorted(PUBLIC_PACKAGES)
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = re.findall(r"api/\w+\.md", str(nav))
    for package, page in pages.items():
        assert str(page.relative_to(DOCS)) in listed, f"{page.name} is not in the navigation"
        html = built_page(site, page).read_text()
        assert f'id="{package}"' in html, f"no reference of {package} on {page.name}"


@pytest.mark.slow
def test_the_public_names_are_documented_from_their_docstrings(site):
    import miwd_widget

    top = built_page(site, api_pages()["miwd_widget"]).read_text()
    for name in miwd_widget.__all__:
        if name != "__version__":
            assert f'id="miwd_widget.{name}"' in top, f"miwd_widget.{name} is not documented"
    # numpy-style sections are rendered as sections, none is left as underlined text
    assert 'doc-section-title">Parameters' in top and 'doc-section-title">Examples' in top
    for page in (site / "api").rglob("*.html"):
        text = page.read_text()
        assert "\n-----" not in text, f"{page}: a docstring section is not parsed"
        # Sphinx roles are shown as code, not as ":func:" in front of it
        assert not re.search(r":(mod|func|class|meth|attr|data):<code>", text), page
    evaluate = built_page(site, api_pages()["miwd_widget.evaluate"]).read_text()
    assert 'id="miwd_widget.evaluate.probe"' in evaluate
    assert 'id="miwd_widget.evaluate.invariance"' in evaluate


@pytest.mark.slow
def test_every_public_method_of_the_atlas_is_documented_on_both_pages(site):
    # Most of them live in mixins (one module a concept), which mkdocstrings leaves out
    # unless docs/api asks for inherited members.
    from miwd_widget import Atlas
    from miwd_widget.widget.traits import AtlasTraits

    public = {n for n in dir(Atlas) if not n.startswith("_")} - set(dir(AtlasTraits))
    assert {"select", "add_cluster", "locate", "save_html"} <= public
    for package in ("miwd_widget", "miwd_widget.widget"):
        html = built_page(site, api_pages()[package]).read_text()
        for name in sorted(public):
            assert f'id="{package}.Atlas.{name}"' in html, f"Atlas.{name} is not on {package}"


@pytest.mark.slow
def test_the_guide_pages_and_the_results_are_built(site):
    for page in ["index.md", "results.md", "benchmarks.md", "guide/atlas.md"]:
        assert built_page(site, DOCS / page).is_file(), page
    assert (site / "atlas.png").is_file() and (site / "results" / "probe.png").is_file()


def heading_slugs(markdown: str) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub and mkdocs' toc make them."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)  # not the code blocks
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_the_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if re.match(r"[a-z]+:", link):  # an absolute URL: not checked offline
            continue
        path, _, anchor = link.partition("#")
        target = (ROOT / path) if path else ROOT / "README.md"
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor:
            assert anchor in heading_slugs(target.read_text()), f"README.md: no anchor {link}"


def test_the_readme_is_a_front_page_with_the_quick_start():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "![" in readme and "(docs/atlas.png)" in readme
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, re.M | re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert "make demo" in commands and "make test" in commands


def test_sphinx_roles_are_shown_as_code():
    sys.path.insert(0, str(DOCS))
    try:
        from griffe_sphinx_roles import plain_roles
    finally:
        sys.path.remove(str(DOCS))
    assert plain_roles(":func:`describe`, :mod:`.config`") == "`describe`, `config`"
    assert plain_roles(":mod:`~miwd_widget.zoo.run`") == "`run`"
    assert plain_roles(":meth:`compare <miwd_widget.library.ModelLibrary.compare>`") == "`compare`"
    assert plain_roles("``code`` stays") == "``code`` stays"


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
