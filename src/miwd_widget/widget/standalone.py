"""The standalone, offline HTML page of an atlas: bundle, CSS and data inlined.

The page computes every selection's gallery itself (js/src/wire/local_descriptors.ts) from the
library's descriptors embedded as uint16 codes: ``value = offset + code * step`` with one
``offset``/``step`` for the whole library, deflate-compressed, base64 text. The rounding
error of a value is at most ``step / 2`` (7.6e-6 for histograms in [0, 1]), and so is the
error of a selection's mean and of its standard deviation. uint8 codes were measured on
the 2,000-model demo library (benchmarks/bench_standalone.py): 0.0019 error, about 2.6 of
the gallery's 256 colour levels; uint16 is invisible, and deflate brings its size back to
about that of raw uint8.

The page has no kernel to ask: its state (:func:`page_state`) holds every column in
``_columns`` (the text columns sent, the deferred ones, and the ids for its CSV download),
and its menus offer only those.
"""

from __future__ import annotations

import base64
import html
import json
import warnings
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .codec import encode_text, pack_labels, state_to_base64
from .frontend import bundle_texts
from .gallery import captions, descriptor_reply
from .traits import STANDALONE_TRAITS, selection_to_json

if TYPE_CHECKING:
    from ..library import ModelLibrary
    from .traits import AtlasTraits

__all__ = [
    "DEFAULT_MAX_DESCRIPTOR_BYTES",
    "json_for_script",
    "library_payload",
    "page",
    "atlas_page",
    "page_state",
    "quantize_descriptors",
]

#: Largest uint16 descriptor block (before compression) a page embeds: 64 MiB, e.g. 32,768
#: models of 32x32 descriptors. Beyond it the page holds only the saved selection's gallery.
DEFAULT_MAX_DESCRIPTOR_BYTES = 64 * 2**20

_CODE_MAX = np.iinfo(np.uint16).max
# Rows quantized and compressed per step: bounds the float64 temporaries to a few MB.
_CHUNK_VALUES = 1 << 20


def quantize_descriptors(
    descriptors: np.ndarray, chunk_values: int = _CHUNK_VALUES
) -> tuple[bytes, float, float]:
    """uint16 codes of ``descriptors`` (little-endian, deflate-compressed), offset and step.

    ``offset + code * step`` is within ``step / 2`` of every value; the offset is the
    smallest value, the step spans the largest in 65,535 steps (0 for a constant array).

    Examples
    --------
    >>> data, offset, step = quantize_descriptors(np.array([[0.0, 0.5, 1.0]], np.float32))
    >>> codes = np.frombuffer(zlib.decompress(data), "<u2")
    >>> codes.tolist(), offset, step == 1 / 65535
    ([0, 32768, 65535], 0.0, True)
    """
    flat = np.asarray(descriptors).reshape(-1)
    if flat.size and not np.isfinite(flat).all():
        raise ValueError("descriptors: contain NaN or infinite values, which uint16 cannot code")
    offset = float(flat.min()) if flat.size else 0.0
    top = float(flat.max()) if flat.size else 0.0
    step = (top - offset) / _CODE_MAX
    packer = zlib.compressobj(6)
    parts = []
    for start in range(0, flat.size, chunk_values):
        block = flat[start : start + chunk_values].astype(np.float64)
        codes = np.rint((block - offset) / step) if step > 0 else np.zeros_like(block)
        parts.append(packer.compress(np.clip(codes, 0, _CODE_MAX).astype("<u2").tobytes()))
    parts.append(packer.flush())
    return b"".join(parts), offset, step


def library_payload(
    descriptors: np.ndarray, labels: Callable[[], list[str]], max_bytes: int
) -> dict[str, Any] | None:
    """The embedded descriptors of every model, or None (with a warning) beyond ``max_bytes``.

    ``labels()`` gives the gallery captions of the models (one per row; only called when the
    descriptors are embedded). The result holds the
    compressed codes as base64 text, ``offset``, ``step``, ``max_error`` (step / 2) and
    ``shape``; js/src/wire/local_descriptors.ts decodes it.

    Examples
    --------
    >>> out = library_payload(np.zeros((2, 1, 3), np.float32), lambda: ["a", "b"], 1 << 20)
    >>> out["shape"], out["max_error"]
    ([2, 1, 3], 0.0)
    """
    if int(max_bytes) < 0:
        raise ValueError(f"max_descriptor_bytes: must be >= 0, got {max_bytes}")
    needed = int(np.prod(descriptors.shape)) * 2
    reason = None
    if needed > max_bytes:
        reason = (
            f"the {len(descriptors):,} models' descriptors need {needed / 2**20:.1f} MiB as uint16, "
            f"more than max_descriptor_bytes={int(max_bytes):,}"
        )
    else:
        try:
            data, offset, step = quantize_descriptors(descriptors)
        except ValueError as err:
            reason = str(err)
    if reason is not None:
        warnings.warn(
            f"save_html: {reason}; the page embeds only the saved selection's gallery "
            "(other selections show it, marked as the saved one)",
            stacklevel=3,
        )
        return None
    captions = labels()
    if len(captions) != len(descriptors):
        raise ValueError(f"labels: {len(captions)} for {len(descriptors)} descriptors")
    return {
        "codes": base64.b64encode(data).decode("ascii"),
        "compression": "deflate",
        "dtype": "uint16",
        "shape": [int(s) for s in descriptors.shape],
        "offset": offset,
        "step": step,
        "max_error": step / 2,
        "labels": state_to_base64(pack_labels(captions)),
    }


def page_state(
    state: dict[str, Any],
    text_columns: dict[str, Any],
    deferred: list[str],
    meta: pd.DataFrame,
) -> dict[str, Any]:
    """The synced state a page opens with: the widget's, holding every column in ``_columns``.

    ``state`` is the widget's (``get_state``), ``text_columns`` and ``deferred`` its
    ``_text_columns`` and ``_deferred_columns``; ``meta`` the library's metadata.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["m0"], "lr": [0.1], "path": ["a/b"]})
    >>> state = {"_columns": {}, "_all_columns": ["id", "lr", "path"]}
    >>> out = page_state(state, {}, ["path"], meta)
    >>> sorted(out["_columns"]), out["_all_columns"], out["_deferred_columns"]
    (['id', 'path'], ['id', 'path'], [])
    """
    columns = state["_columns"]
    held = {**columns, **{k: v for k, v in text_columns.items() if k not in columns}}
    extra = [*deferred, *(["id"] if "id" in meta else [])]
    held.update({name: encode_text(meta[name]) for name in extra if name not in held})
    return {
        **state,
        "_columns": held,
        "_deferred_columns": [],
        "_all_columns": [c for c in state["_all_columns"] if c in held],
    }


def atlas_page(
    atlas: AtlasTraits,
    library: ModelLibrary,
    selection: list[int],
    title: str = "",
    max_descriptor_bytes: int = DEFAULT_MAX_DESCRIPTOR_BYTES,
) -> str:
    """The page of ``atlas`` (showing ``library``), opening with ``selection``.

    It embeds the state (:func:`page_state`), the exact gallery reply of ``selection`` and
    the library's descriptors (:func:`library_payload`), buffers as base64 text, and the
    front-end bundle (an error if it is not built).
    """
    js, css = bundle_texts()
    meta = library.metadata
    state = page_state(
        atlas.get_state(key=list(STANDALONE_TRAITS)),
        atlas._text_columns,
        atlas._deferred_columns,
        meta,
    )
    state["selection"] = selection_to_json(selection)
    reply, reply_buffers = descriptor_reply(library, selection, "saved", atlas.gallery_size)
    payload = {
        "state": state_to_base64(state),
        "descriptors": {
            "content": reply,
            "buffers": state_to_base64(reply_buffers),
            "selection": [int(row) for row in selection],
        },
        "library": library_payload(
            library.descriptors,
            lambda: captions(meta, np.arange(len(library.descriptors))),
            max_descriptor_bytes,
        ),
    }
    return page(title or f"MI-WD atlas of {atlas.n} models", css, payload, js)


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
