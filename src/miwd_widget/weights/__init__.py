"""Read the weights of a model from anything: arrays, mappings, torch modules, model files.

A reader turns a *source* into a :class:`WeightSource`: an ordered list of floating-point
tensors (possibly memory-mapped, never concatenated) plus a report of what was skipped.

Layout (no module imports one that imports it back):

- :mod:`.source`: ``Tensor``, ``WeightSource``, errors, ``natural_key`` (numpy only);
- :mod:`.objects`: in-memory objects (arrays, mappings, lists, torch modules) and
  ``build_source``, which classifies entries and applies ``order=``;
- :mod:`.formats`: one module per file format, each defining a ``FileFormat``;
- :mod:`.quantized`: quantized checkpoints (GPTQ, AWQ, scaled fp8) dequantized block by
  block, other methods refused by name;
- :mod:`.registry`: the explicit list of formats, dispatch by suffix, directories;
- :mod:`.adapters`: PEFT adapter folders (``adapter_config.json``): the adapter's own
  tensors, or the update each LoRA module applies, computed as it is read;
- :mod:`.open`: :func:`open_weights` and :func:`flatten_weights`.

Order of the tensors (theta is the tensors concatenated in this order): see
:mod:`.objects` for in-memory objects and each format module for files; ``order=`` (a list
of tensor names) overrides every rule and also selects. Integer and boolean tensors
(position ids, step counters) are not weights: they are skipped and listed in
:attr:`WeightSource.skipped` with the reason. Readers know nothing of descriptors or widgets.

Examples
--------
>>> import numpy as np
>>> ws = open_weights({"w": np.ones((2, 3), np.float32), "step": np.array(3)})
>>> ws.n, ws.skipped
(6, [('step', 'int64 tensor is not a weight')])
"""

from __future__ import annotations

from .objects import build_source, is_tensor_like
from .open import flatten_weights, open_weights
from .registry import FORMATS, MODEL_SUFFIXES, format_for
from .source import (
    MissingDependencyError,
    Quantization,
    Skip,
    Tensor,
    WeightReadError,
    WeightSource,
    natural_key,
)

__all__ = [
    "Tensor",
    "WeightSource",
    "WeightReadError",
    "MissingDependencyError",
    "open_weights",
    "flatten_weights",
    "natural_key",
    "build_source",
    "is_tensor_like",
    "Skip",
    "Quantization",
    "FORMATS",
    "MODEL_SUFFIXES",
    "format_for",
]
