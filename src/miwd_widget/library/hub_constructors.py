"""The ``ModelLibrary.from_huggingface`` constructor: Hugging Face folders and the hub cache.

See :mod:`.constructors` for what every constructor does, :mod:`.huggingface` for the reading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..descriptors.config import DescriptorConfig
from . import builders
from .constructors import Library, LibraryConstructors
from .options import build_options

__all__ = ["HubConstructors"]


class HubConstructors(LibraryConstructors):
    """The constructor of :class:`~miwd_widget.library.ModelLibrary` from Hugging Face model
    folders and the hub cache."""

    @classmethod
    def from_huggingface(
        cls: type[Library],
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        adapter: str = "weights",
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from Hugging Face model folders or the Hugging Face hub cache;
        see :mod:`miwd_widget.library.huggingface`.

        Nothing is executed: safetensors files are read in place, ``.bin`` checkpoints are
        read with ``torch.load(weights_only=True)``, no ``transformers`` is needed.

        Parameters
        ----------
        paths
            A model folder (``config.json`` + ``model.safetensors``, sharded safetensors with
            their index, or ``pytorch_model.bin``), a hub cache root (e.g.
            ``~/.cache/huggingface/hub``), one ``models--ORG--NAME`` entry or snapshot, a
            folder of model folders, or a list of these. A PEFT adapter folder
            (``adapter_config.json`` + ``adapter_model.safetensors``) is a model folder too.
        adapter
            How adapters are read: ``"weights"``, their own tensors (natural order of the
            names: ``lora_A`` before ``lora_B`` in each module), or ``"update"``, the update
            ``(lora_alpha / r) * B @ A`` each LoRA module applies to its base weight
            (:mod:`miwd_widget.weights.adapters`). Full models are read as they are.
        config, **options
            As in :meth:`from_files`.

        Returns
        -------
        ModelLibrary
            One row per model folder or cache snapshot: ``id`` (the repository, with
            ``@revision`` when the cache holds several of it, else the folder name),
            ``source`` (the weight file), ``repo``, ``revision`` and ``ref`` for cache
            snapshots, and the scalar fields of ``config.json`` (``model_type``,
            ``architectures``, ``hidden_size``, ``num_hidden_layers``, ``torch_dtype``,
            ``vocab_size``, ...); for adapters ``peft_type``, ``base_model_name_or_path``,
            ``task_type``, ``r``, ``lora_alpha``, ``target_modules`` (sorted, comma-joined),
            ``use_rslora``, ``use_dora``. Folders without weights, and adapters of a type
            that cannot be read so, are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_huggingface("~/.cache/huggingface/hub")  # doctest: +SKIP
        """
        config, runner = build_options("from_huggingface", config, options)
        return cls.from_parts(builders.huggingface_parts(paths, config, runner, adapter))
