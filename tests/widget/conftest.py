"""The widget tests' library (200 models, see test_widget.make_library) and its Atlas.

A test file that wants another library defines its own ``library``; ``atlas`` shows it.
"""

from __future__ import annotations

import pytest
from test_widget import make_library

from miwd_widget import Atlas, ModelLibrary


@pytest.fixture(scope="module")
def library() -> ModelLibrary:
    return make_library()


@pytest.fixture
def atlas(library: ModelLibrary) -> Atlas:
    return Atlas(library)
