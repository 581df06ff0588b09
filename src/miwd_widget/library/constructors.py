"""The base of the ``ModelLibrary.from_*`` constructors: ``from_parts``, which they end in.

The constructors are classmethods of :class:`~miwd_widget.library.ModelLibrary`, kept
apart from the library's instance API in base classes, one per kind of source, each a
subclass of :class:`LibraryConstructors`: :mod:`.file_constructors` (model files and
folders, in-memory models, descriptors computed elsewhere, large matrices in chunks),
:mod:`.zoo_constructors` (the layouts of model zoos and collections) and
:mod:`.hub_constructors` (Hugging Face). Each one checks its options in one place
(:func:`.options.build_options`: ``config=``, the keyword shortcuts ``S``, ``B``,
``value_range``, ``percentiles``, ``clip``, ``nan_policy`` and the worker options
``n_jobs``, ``client``, ``batch_size``, ``progress``; an unknown keyword is a TypeError
naming the valid ones), runs a builder (:mod:`.builders`, :mod:`.chunked`, :mod:`.cnn_zoo`,
:mod:`.model_zoos`) and makes the library of its :class:`~.parts.LibraryParts` with
:meth:`LibraryConstructors.from_parts`.
"""

from __future__ import annotations

from typing import TypeVar

from .parts import LibraryParts

__all__ = ["LibraryConstructors", "Library"]

#: The library class a constructor is called on (``ModelLibrary`` or a subclass).
Library = TypeVar("Library", bound="LibraryConstructors")


class LibraryConstructors:
    """The base of the constructors of :class:`~miwd_widget.library.ModelLibrary`.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> ModelLibrary.from_models([np.arange(64.0)], S=4, B=4, bins=4)
    Traceback (most recent call last):
    ...
    TypeError: from_models() got an unexpected keyword argument 'bins'; valid: config, S, B, value_range, percentiles, clip, nan_policy, n_jobs, client, batch_size, progress
    """

    @classmethod
    def from_parts(cls: type[Library], parts: LibraryParts) -> Library:
        """A library of ``parts`` (what builders and :func:`.storage.load` return).

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> ModelLibrary.from_parts(ModelLibrary(np.zeros((2, 3, 4))).parts())
        ModelLibrary(2 models, descriptors 3x4, not projected)
        """
        return cls(  # type: ignore[call-arg]
            parts.descriptors,
            parts.metadata,
            parts.embedding,
            errors=parts.errors,
            attrs=parts.attrs,
            clusters=parts.clusters,
            config=parts.config,
        )
