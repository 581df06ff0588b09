"""The built front end: js/src bundled by js/build.mjs into ``miwd_widget/static/``.

Importing the package works without it (an editable install without Node): the widget then
says how to build it instead of failing at import, and ``save_html`` raises.
"""

from __future__ import annotations

import pathlib

__all__ = [
    "BUNDLE_CSS",
    "BUNDLE_JS",
    "MISSING_BUNDLE_ESM",
    "bundle_texts",
    "widget_css",
    "widget_esm",
]

STATIC = pathlib.Path(__file__).parent.parent / "static"
#: The ESM bundle anywidget loads (and ``save_html`` inlines), and its CSS.
BUNDLE_JS = STATIC / "widget.js"
BUNDLE_CSS = STATIC / "widget.css"
#: What the widget shows instead of the atlas when the bundle is missing.
MISSING_BUNDLE_ESM = """
export default { render({ el }) {
  el.textContent = "miwd-widget: the front end is not built (run `make js`, then restart).";
} };
"""


def widget_esm() -> pathlib.Path | str:
    """The widget's ``_esm``: the bundle's path (anywidget reads it), or the fallback."""
    return BUNDLE_JS if BUNDLE_JS.exists() else MISSING_BUNDLE_ESM


def widget_css() -> pathlib.Path | str:
    """The widget's ``_css``: the bundle's CSS path, or none."""
    return BUNDLE_CSS if BUNDLE_CSS.exists() else ""


def bundle_texts() -> tuple[str, str]:
    """The bundle's JavaScript and CSS, to inline in a page (an error if it is not built)."""
    if not BUNDLE_JS.exists():
        raise FileNotFoundError(f"{BUNDLE_JS} is missing: build the front end first (make js)")
    css = BUNDLE_CSS.read_text(encoding="utf-8") if BUNDLE_CSS.exists() else ""
    return BUNDLE_JS.read_text(encoding="utf-8"), css
