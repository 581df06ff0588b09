"""js/README.md's module table names every front-end module (js/src/**/*.ts but the tests)."""

from __future__ import annotations

import pathlib
import re

JS = pathlib.Path(__file__).parents[1] / "js"


def table_modules(readme: str) -> list[str]:
    """The modules of the table's first column: one backquoted path per row.

    Examples
    --------
    >>> table_modules("| module | role |\\n| --- | --- |\\n| `views/a.ts` | A |\\nNot `b.ts`.")
    ['views/a.ts']
    """
    return re.findall(r"^\|\s*`([\w/.-]+\.ts)`\s*\|", readme, flags=re.M)


def source_modules() -> list[str]:
    return sorted(
        path.relative_to(JS / "src").as_posix()
        for path in (JS / "src").rglob("*.ts")
        if not path.name.endswith((".test.ts", ".d.ts"))
    )


def test_every_module_is_in_the_readme_table_and_every_row_is_a_module():
    listed = table_modules((JS / "README.md").read_text(encoding="utf-8"))
    assert len(listed) == len(set(listed)), "a module is listed twice"
    modules = source_modules()
    assert sorted(set(modules) - set(listed)) == [], "modules missing from js/README.md"
    assert sorted(set(listed) - set(modules)) == [], "js/README.md lists modules that do not exist"


def test_the_table_parser_reads_rows_only():
    readme = "| module | role |\n| --- | --- |\n| `a.ts` | x |\n| `views/b.ts` | y |\ntext `c.ts`\n"
    assert table_modules(readme) == ["a.ts", "views/b.ts"]
