"""The demo library shipped in the wheel (built by scripts/build_demo_library.py)."""

from __future__ import annotations

from .model_library import ModelLibrary

__all__ = ["load_demo_library", "DEMO_LIBRARY"]

DEMO_LIBRARY = "demo_library.parquet"


def load_demo_library() -> ModelLibrary:
    """The demo library shipped with the package: a projected zoo of trained CNNs.

    Built by ``scripts/build_demo_library.py`` from a zoo trained by :mod:`miwd_widget.zoo`
    (its config is in ``library.attrs["zoo"]``); descriptors, metadata and atlas only, no
    weights (so ``source`` is absent and :meth:`ModelLibrary.locate` places new models by
    their nearest library models). Loads offline from the package data.

    Examples
    --------
    >>> lib = load_demo_library()  # doctest: +SKIP
    >>> lib.embedding.shape  # doctest: +SKIP
    (2000, 2)
    """
    from importlib.resources import as_file, files

    resource = files("miwd_widget") / "data" / DEMO_LIBRARY
    if not resource.is_file():
        raise FileNotFoundError(
            f"{resource}: the demo library is not installed; build it with "
            "scripts/build_demo_library.py"
        )
    with as_file(resource) as path:
        return ModelLibrary.load(path)
