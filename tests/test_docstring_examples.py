"""The examples in the docstrings of the core modules run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "miwd_widget",
    "miwd_widget._positions",
    "miwd_widget._progress",
    "miwd_widget.columns",
    "miwd_widget.cli",
    "miwd_widget.weights",
    "miwd_widget.weights.source",
    "miwd_widget.weights.objects",
    "miwd_widget.weights.open",
    "miwd_widget.weights.registry",
    "miwd_widget.weights.quantized",
    "miwd_widget.weights.formats._base",
    "miwd_widget.descriptors",
    "miwd_widget.descriptors.config",
    "miwd_widget.descriptors.value_range",
    "miwd_widget.descriptors.kernel",
    "miwd_widget.descriptors.compute",
    "miwd_widget.representations",
    "miwd_widget.library",
    "miwd_widget.library.atlas_space",
    "miwd_widget.library.atlas_projection",
    "miwd_widget.library.build",
    "miwd_widget.library.builders",
    "miwd_widget.library.clusters",
    "miwd_widget.library.constructors",
    "miwd_widget.library.file_constructors",
    "miwd_widget.library.zoo_constructors",
    "miwd_widget.library.hub_constructors",
    "miwd_widget.library.options",
    "miwd_widget.library.parts",
    "miwd_widget.library.executor",
    "miwd_widget.library.sources",
    "miwd_widget.library.summary",
    "miwd_widget.library.compare",
    "miwd_widget.library.neighbors",
    "miwd_widget.library.model_library",
    "miwd_widget.library.model_zoos",
    "miwd_widget.projection",
    "miwd_widget.widget.clusters",
    "miwd_widget.widget.codec",
    "miwd_widget.widget.column_transport",
    "miwd_widget.widget.defaults",
    "miwd_widget.widget.gallery",
    "miwd_widget.widget.messages",
    "miwd_widget.widget.overlays",
    "miwd_widget.widget.standalone",
    "miwd_widget.widget.traits",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import numpy as np
    import pandas as pd

    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"np": np, "pd": pd},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
