"""A library of models: descriptors, metadata and (once projected) a 2-D atlas embedding.

:class:`ModelLibrary` is a small facade over the parts:

- :mod:`.sources`: where models come from (files + tables, in-memory models, zoos, NWS);
- :mod:`.build`: the two passes (``"auto"`` range, then descriptors), run in batches by
  :mod:`.executor` (this process, joblib processes or a dask cluster);
- :mod:`.builders` (and :mod:`.chunked`, :mod:`.cnn_zoo`): a library's
  :class:`~.parts.LibraryParts` from each kind of source, on the options of :mod:`.options`;
  the ``from_*`` constructors (:mod:`.file_constructors`, :mod:`.zoo_constructors`,
  :mod:`.hub_constructors`, on the base :mod:`.constructors`) are these builders;
- :mod:`.storage`: parts in one Parquet file;
- :mod:`.atlas_projection`: the 2-D atlas (on :mod:`.atlas_space`) and new models placed in it;
- :mod:`.neighbors`: nearest models in descriptor space; :mod:`.clusters`, :mod:`.compare`:
  named clusters and what characterizes them;
- :mod:`.summary`: what a selection has in common;
- :mod:`.demo`: the demo library shipped with the package.

Examples
--------
>>> import numpy as np
>>> from miwd_widget.library import ModelLibrary
>>> rng = np.random.default_rng(0)
>>> ModelLibrary.from_models({f"m{i}": {"w": rng.normal(size=(16, 16))} for i in range(4)}, S=4, B=8)
ModelLibrary(4 models, descriptors 4x8, not projected)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use: a build's worker processes import .workers through this package
# and should not pay for pandas (about a second of every parallel build's start-up).
_EXPORTS = {
    "ModelLibrary": "model_library",
    "LibraryParts": "parts",
    "SelectionSummary": "summary",
    "expand_paths": "sources",
    "load_demo_library": "demo",
    "FORMAT_VERSION": "storage",
    "MODEL_SUFFIXES": "sources",
}

if TYPE_CHECKING:
    from .demo import load_demo_library
    from .model_library import ModelLibrary
    from .parts import LibraryParts
    from .sources import MODEL_SUFFIXES, expand_paths
    from .storage import FORMAT_VERSION
    from .summary import SelectionSummary

__all__ = [
    "ModelLibrary",
    "LibraryParts",
    "SelectionSummary",
    "expand_paths",
    "load_demo_library",
    "FORMAT_VERSION",
    "MODEL_SUFFIXES",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
