"""Griffe extension for the API reference: Sphinx cross-reference roles read as code.

The docstrings are numpy style and name other objects with Sphinx roles
(``:func:`describe```, ``:mod:`.config```, ``:meth:`Title <target>```), which Markdown would
show with the role's name in front. Each role becomes the code span a reader of the source
sees: its title if it has one, the last component after ``~``, else the target as written
(without a leading ``.``). No link is made: many targets are private modules the reference
does not render, and a link to a missing page fails the strict build.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):"
    r"`(?P<tilde>~?)(?P<text>[^`<]+?)(?:\s*<(?P<target>[^>`]+)>)?`"
)


def role_as_code(match: re.Match[str]) -> str:
    """The code span a role stands for."""
    text = match["text"].strip()
    if match["target"] is None:
        text = text.rsplit(".", 1)[-1] if match["tilde"] else text.lstrip(".")
    return f"`{text}`"


def plain_roles(docstring: str) -> str:
    """Every Sphinx role of ``docstring`` as a code span.

    Examples
    --------
    >>> plain_roles(":func:`describe` and :mod:`~miwd_widget.zoo.run`")
    '`describe` and `run`'
    """
    return ROLE.sub(role_as_code, docstring)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite the roles of every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
