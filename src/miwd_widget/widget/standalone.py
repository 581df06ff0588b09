"""The standalone, offline HTML page of an atlas: bundle, CSS and data inlined."""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["page", "json_for_script"]


def page(title: str, css: str, payload: Any, bundle: str) -> str:
    """The page: ``payload`` (state + descriptors) and the JS ``bundle`` as inert JSON.

    Examples
    --------
    >>> "<title>t &lt;1&gt;</title>" in page("t <1>", "", {}, "export {}")
    True
    """
    return _HTML_TEMPLATE.format(
        title=html.escape(title),
        css=css.replace("</", "<\\/"),
        payload=json_for_script(payload),
        bundle=json_for_script(bundle),
    )


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' characters at all."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_HTML_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 16px; font-family: system-ui, sans-serif; }}
{css}
</style>
</head>
<body>
<div id="miwd-root"></div>
<script type="application/json" id="miwd-payload">{payload}</script>
<script type="application/json" id="miwd-bundle">{bundle}</script>
<script type="module">
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const url = URL.createObjectURL(new Blob([read("miwd-bundle")], {{ type: "text/javascript" }}));
const mod = await import(url);
URL.revokeObjectURL(url);
mod.renderStandalone(document.getElementById("miwd-root"), read("miwd-payload"));
</script>
</body>
</html>
"""
