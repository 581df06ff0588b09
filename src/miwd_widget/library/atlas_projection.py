"""A library's 2-D atlas: laying it out (``project``) and placing new models in it (``locate``).

:class:`AtlasProjection` is the base class of :class:`~miwd_widget.library.ModelLibrary`
that holds them, kept apart from the library's data and persistence. The vectors the atlas
is laid out on come from :mod:`.atlas_space` (the library's MI-WD descriptors or another
representation); the projection itself and the placement of new models from
:mod:`miwd_widget.projection`; nearest models from :mod:`.neighbors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from ..columns import ID
from .atlas_space import (
    LIBRARY_MIWD,
    AtlasSpace,
    library_space,
    refit_space,
    resolve_representation,
    stored_record,
    with_failed_rows,
)
from .build import errors_frame

if TYPE_CHECKING:
    from ..representations import Representation
    from .neighbors import DescriptorIndex

__all__ = ["AtlasProjection"]

Atlas = TypeVar("Atlas", bound="AtlasProjection")


class AtlasProjection:
    """The atlas of :class:`~miwd_widget.library.ModelLibrary` (its base class): project
    the library to 2-D, place new models in it.

    The library provides ``descriptors``, ``metadata``, ``embedding``, ``errors``,
    ``attrs``, ``S``, ``B``, ``len()``, ``describe`` and ``descriptor_index`` (from
    :class:`~miwd_widget.library.neighbors.NearestModels`), and the caches ``_projector``
    (the fitted projection, not saved) and ``_space`` (the atlas' representation when not
    MI-WD), which it resets whenever its descriptors change.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> ModelLibrary(np.zeros((3, 2, 2))).locate_descriptors(np.zeros((1, 2, 2)))
    Traceback (most recent call last):
    ...
    RuntimeError: the library is not projected: call project() first
    """

    _projector: Any
    _space: AtlasSpace | None

    def project(
        self: Atlas,
        method: str = "umap",
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        pca_components: int | None = 50,
        random_state: int | None = 0,
        metric: str = "euclidean",
        *,
        fit_sample: int | None = None,
        sample_placement: str = "neighbors",
        backend: str = "umap-learn",
        representation: str | Representation = LIBRARY_MIWD,
        weights: Sequence[Any] | None = None,
        progress: bool | None = None,
    ) -> Atlas:
        """Project the library to the 2-D atlas (sets ``embedding``; the parameters go to
        ``attrs["projection"]``, the fitted pipeline is kept for :meth:`locate`); returns
        ``self``. See :func:`miwd_widget.projection.project` (``fit_sample`` for large
        libraries, ``backend="cuml"`` for a GPU).

        The atlas is laid out on ``representation``: ``"miwd"`` (default), the library's
        own descriptors, or any other of the package's representations, by name
        (``"stats"``, ``"window-moments"``, ``"layer-quintiles"``, ``"raw"``, ``"pca"``,
        ``"random"``, ...; see :func:`~miwd_widget.library.atlas_space.representation_names`)
        with its defaults, or as a :class:`~miwd_widget.representations.Representation`
        with its own parameters, e.g. ``MIWDRepresentation(256, value_range=(-5, 5))`` for
        MI-WD on another grid and range. Which one was used is recorded in
        ``attrs["representation"]`` (saved with the library; :attr:`representation` gives
        its name) and :meth:`locate` places new models with it. The gallery and
        :meth:`neighbors` keep using the MI-WD descriptors.

        Every representation but ``"miwd"`` reads the models' weights again, one model at a
        time with a progress bar, from the files in ``metadata["source"]`` (or from
        ``weights``, one model per row), holding every model's weights in memory as the probe
        does. It is fitted on the library's models only (a data-dependent range, a PCA basis,
        a random projection) and, for ``stats``, ``window-moments`` and ``layer-quintiles``
        (features of different units), followed by a standardization fitted on the library.
        A model that cannot be read is recorded in :attr:`errors` (with a warning) and
        placed by its nearest models in MI-WD descriptor space; a representation that
        cannot be computed for this library at all (no weight files, ``layer-quintiles`` on
        flat weight vectors or on models of different depths) raises ValueError.

        Examples
        --------
        >>> lib.project(n_neighbors=30).embedding.shape  # doctest: +SKIP
        (2000, 2)
        >>> lib.project(representation="stats").representation  # doctest: +SKIP
        'stats'
        """
        from ..projection import project

        params: dict[str, Any] = dict(method=method, n_neighbors=n_neighbors, min_dist=min_dist)
        params.update(pca_components=pca_components, random_state=random_state, metric=metric)
        if fit_sample is not None:
            params.update(fit_sample=fit_sample, sample_placement=sample_placement)
        if backend != "umap-learn":
            params["backend"] = backend
        rep = resolve_representation(representation, len(self))
        if rep is None and weights is not None:
            raise ValueError(
                "weights: the 'miwd' atlas is laid out on the library's descriptors and reads "
                "no weights; give weights= with another representation"
            )
        if rep is None:
            self.embedding, self._projector = project(self.descriptors, **params)
            self._space = None
            self.attrs["representation"] = stored_record(self.S, self.B)
        else:
            space, failed = library_space(self, rep, weights, progress)
            fitted, self._projector = project(space.vectors, **params)
            self.embedding = self._with_failed_rows(space.rows, fitted, params, failed)
            self._space = space
            self.attrs["representation"] = space.record
        self.attrs["projection"] = params
        return self

    def _with_failed_rows(
        self,
        rows: np.ndarray,
        fitted: np.ndarray,
        params: dict[str, Any],
        failed: list[tuple[str, str]],
    ) -> np.ndarray:
        embedding, placed = with_failed_rows(self, rows, fitted, int(params["n_neighbors"]), failed)
        if placed:
            self.errors = pd.concat([self.errors, errors_frame(placed)]).drop_duplicates(
                ignore_index=True
            )
        return embedding

    def _atlas_space(self) -> AtlasSpace:
        """The atlas' representation (not MI-WD): from :meth:`project`, or after a load
        fitted again on the library's weight files with the recorded parameters."""
        if self._space is None:
            self._space = refit_space(self, self._atlas_record())
        return self._space

    @property
    def representation(self) -> str:
        """The name of the representation the atlas was projected from (``"miwd"`` when the
        library's own descriptors, or before any projection); see :meth:`project`.

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> ModelLibrary(np.zeros((3, 2, 2))).representation
        'miwd'
        """
        return str((self.attrs.get("representation") or {}).get("name", LIBRARY_MIWD))

    def locate(self, models: Any, k: int = 5, placement: str = "auto") -> pd.DataFrame:
        """Place new (black-box) models in the atlas and find their nearest library models.

        New models are put in the representation the atlas was projected from
        (:meth:`project`'s ``representation``, recorded in ``attrs["representation"]``),
        with the state fitted on the library (never refitted on them). By default that is
        the library's MI-WD: the query descriptors are computed on the library's grid (S, B,
        value range). For another representation the library's own vectors are kept from
        :meth:`project`; after :meth:`load` they are computed again once from the weight
        files in ``metadata["source"]`` (a progress bar; the files must be unchanged).
        Neighbours are the k nearest library models in that space: the euclidean distance
        between vectors (scikit-learn ``NearestNeighbors``, distances recomputed exactly in
        float64, so a library model finds itself at 0).

        The atlas position ``x, y`` of a query depends on ``placement``:

        - ``"transform"``: the fitted projection's ``transform`` (PCA, then UMAP's
          transform). After :meth:`load` the fitted UMAP is not in the file; it is refit
          once with the saved parameters and ``random_state`` (UMAP is deterministic with a
          seed) and must reproduce the saved atlas, else a RuntimeError says so. Refitting
          costs UMAP's numba compilation (tens of seconds in a fresh process) plus the fit.
        - ``"neighbors"``: the inverse-distance weighted mean of the k neighbours' atlas
          positions (what UMAP's transform starts from before it optimizes); needs no UMAP,
          always in the saved atlas' frame, and a library model lands on itself.
        - ``"auto"`` (default): ``"transform"`` if the fitted projection is in memory (the
          library was projected in this session), else ``"neighbors"`` (e.g. after load).

        Parameters
        ----------
        models
            One model or a list (paths, arrays, dicts, torch modules).
        k
            Neighbours per query.
        placement
            ``"auto"``, ``"transform"`` or ``"neighbors"``.

        Returns
        -------
        pandas.DataFrame
            One row per (query, neighbour): ``query`` (int), ``query_name``, ``x``, ``y``,
            ``rank`` (1 = nearest), ``neighbor`` (library row position), ``id``, ``distance``.

        Examples
        --------
        >>> lib.locate("my_model.safetensors", k=3)  # doctest: +SKIP
        """
        from ..descriptors.compute import is_single

        if not self._atlas_record().get("descriptors", True):
            self._check_locatable(placement)
            space = self._atlas_space()
            vectors, names = space.transform([models] if is_single(models) else list(models))
            return self._locate_vectors(
                vectors, names, k, placement, space.index(), space.vectors, space.rows
            )
        d = self.describe(models)
        d = d[None] if is_single(models) else d
        names = list(d.names) if getattr(d, "names", None) else None
        return self.locate_descriptors(np.asarray(d), names, k=k, placement=placement)

    def locate_descriptors(
        self,
        descriptors: np.ndarray,
        names: Sequence[str] | None = None,
        k: int = 5,
        placement: str = "auto",
    ) -> pd.DataFrame:
        """:meth:`locate` for descriptors already computed on this library's grid (an atlas
        projected from the library's MI-WD descriptors only).

        Examples
        --------
        >>> lib.locate_descriptors(lib.descriptors[:2], k=1)  # doctest: +SKIP
        """
        from ..projection import vectorize

        record = self._atlas_record()
        if not record.get("descriptors", True):
            raise ValueError(
                f"descriptors: the atlas is projected from the representation "
                f"{record.get('name')!r}, not from MI-WD descriptors; use locate(models)"
            )
        self._check_locatable(placement)
        q = vectorize(descriptors)
        names = [str(i) for i in range(len(q))] if names is None else [str(n) for n in names]
        return self._locate_vectors(
            q, names, k, placement, self.descriptor_index(), self.descriptors, None
        )

    def _atlas_record(self) -> dict[str, Any]:
        """``attrs["representation"]`` (``{}`` for libraries projected before it existed)."""
        return dict(self.attrs.get("representation") or {})

    def _check_locatable(self, placement: str) -> None:
        from ..projection import PLACEMENTS

        if placement not in PLACEMENTS:
            raise ValueError(
                f"placement must be 'auto', 'transform' or 'neighbors', got {placement!r}"
            )
        if self.embedding is None:
            raise RuntimeError("the library is not projected: call project() first")
        if len(self) == 0:
            raise RuntimeError("the library holds no models")

    def _locate_vectors(
        self,
        q: np.ndarray,
        names: list[str],
        k: int,
        placement: str,
        index: DescriptorIndex,
        fitted_on: np.ndarray,
        rows: np.ndarray | None,
    ) -> pd.DataFrame:
        """Neighbours of queries ``q`` in ``index`` (built on ``fitted_on``, the vectors of
        library ``rows``; None: every row) and their atlas positions."""
        from ..projection import locate_table, place

        neighbor, distance = index.query(q, k)
        embedding = self.embedding if rows is None else self.embedding[rows]
        if placement == "transform" and self._projector is None:
            from ..projection import refit

            params = self.attrs.get("projection") or {}
            self._projector = refit(fitted_on, embedding, params)
        projector = self._projector if placement != "neighbors" else None
        xy = place(embedding, neighbor, distance, q, projector)
        neighbor = neighbor if rows is None else rows[neighbor]
        return locate_table(xy, neighbor, distance, names, self.metadata[ID].to_numpy())
