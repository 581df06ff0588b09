"""The vectors a library's atlas is projected from: its MI-WD descriptors or another representation.

``ModelLibrary.project(representation=...)`` lays the atlas out on any representation the
package has (:mod:`miwd_widget.representations` and the variants of
:mod:`miwd_widget.evaluate.variants`); ``"miwd"``, the default, is the library's own
descriptors. Every other representation needs the models' weights, which a library does not
keep: they are read again from ``metadata["source"]`` (or given with ``weights=``), as the
probe reads them (:mod:`miwd_widget.evaluate.weights`). The representation is fitted on the
library's models only (the MI-WD ``"auto"`` range, the PCA basis, ...) and, for
representations whose features have different units, followed by a standardization fitted
on the library; :meth:`AtlasSpace.transform` puts new models through the same fitted steps.

What was used is recorded as a JSON-able dict (:func:`stored_record`, :func:`fitted_record`),
saved with the library in ``attrs["representation"]``; :func:`library_space` rebuilds the
space from it after a load.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> models = [rng.normal(0, s, 300) for s in (0.1, 0.2, 0.3, 0.4)]
>>> space, failed = fit_space(resolve_representation("stats", 4), models, progress=False)
>>> space.vectors.shape, space.record["name"], space.record["standardized"], failed
((4, 16), 'stats', True, [])
>>> representation_label(space.record)
'stats (K=16)'
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._progress import progress as progress_bar
from ..columns import ID, SOURCE

if TYPE_CHECKING:
    from ..representations import Representation
    from .neighbors import DescriptorIndex

__all__ = [
    "LIBRARY_MIWD",
    "STANDARDIZED",
    "AtlasSpace",
    "RepresentationUnavailable",
    "representation_names",
    "resolve_representation",
    "stored_record",
    "fitted_record",
    "representation_from_record",
    "representation_label",
    "fit_space",
    "library_space",
    "refit_space",
    "with_failed_rows",
]

#: The name of the library's own MI-WD descriptors, the default representation.
LIBRARY_MIWD = "miwd"

#: Representations whose features have different units (moments, percentiles, log scales):
#: standardized with the library's means and standard deviations before the projection, as
#: the probe standardizes every representation before its SVM (``miwd+stats`` standardizes
#: itself).
STANDARDIZED = frozenset({"stats", "window-moments", "layer-quintiles"})


class RepresentationUnavailable(ValueError):
    """A representation cannot be computed for this library (no weights, no layers, ...)."""


@dataclass
class AtlasSpace:
    """The library's vectors in a fitted representation, and how to put new models there.

    Attributes
    ----------
    record
        What was used (JSON-able): see :func:`fitted_record`.
    representation
        The fitted representation.
    scaler
        The fitted standardization (scikit-learn ``StandardScaler``) or None.
    vectors
        (m, K) float32 vectors of the library rows ``rows`` (the models that could be read).
    rows
        (m,) int64 library row positions of ``vectors``.
    """

    record: dict[str, Any]
    representation: Representation
    scaler: Any
    vectors: np.ndarray
    rows: np.ndarray
    _index: DescriptorIndex | None = field(default=None, repr=False)

    def index(self) -> DescriptorIndex:
        """The exact kNN index over :attr:`vectors` (built on first use)."""
        if self._index is None:
            from .neighbors import DescriptorIndex

            self._index = DescriptorIndex(self.vectors)
        return self._index

    def transform(self, models: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
        """New models' vectors (read as the library's models were, then the fitted
        representation and standardization; nothing is fitted on them) and their names.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> train = [rng.normal(0, s, 300) for s in (0.1, 0.2, 0.3)]
        >>> space, _ = fit_space(resolve_representation("stats", 3), train, progress=False)
        >>> q, names = space.transform([train[1]])
        >>> bool(np.allclose(q, space.vectors[1], atol=1e-5)), names
        (True, ['array'])
        """
        layers = _needs_layers(self.representation)
        names, read = [], []
        for model in models:
            name, weights = _read(model, layers)
            names.append(name)
            read.append(weights)
        vectors = np.asarray(self.representation.transform(read), dtype=np.float32)
        if self.scaler is not None:
            vectors = self.scaler.transform(vectors).astype(np.float32)
        return vectors, names


def representation_names() -> list[str]:
    """Every name ``project(representation=...)`` accepts.

    Examples
    --------
    >>> {"miwd", "stats", "window-moments", "layer-quintiles"} <= set(representation_names())
    True
    """
    from ..evaluate.variants import VARIANTS
    from ..representations import REPRESENTATIONS

    return sorted(set(REPRESENTATIONS) | set(VARIANTS))


def resolve_representation(representation: Any, n_models: int) -> Representation | None:
    """The representation to fit: None for ``"miwd"`` (the library's own descriptors).

    A name gets the representation's defaults (K = 1024; PCA capped at ``n_models``
    components, as PCA has at most that many); a
    :class:`~miwd_widget.representations.Representation` instance (e.g.
    ``MIWDRepresentation(256, value_range=(-5, 5))``) is copied unfitted with its parameters.

    Examples
    --------
    >>> resolve_representation("miwd", 10) is None
    True
    >>> resolve_representation("pca", 10).dim
    10
    >>> resolve_representation("umap", 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: representation: unknown name 'umap'; valid names: ...
    """
    from sklearn.base import clone

    from ..evaluate.probing import make_any_representation
    from ..representations import Representation

    names = representation_names()
    if isinstance(representation, Representation):
        if representation.name not in names:
            raise ValueError(
                f"representation: {type(representation).__name__} (name "
                f"{representation.name!r}) is not one of the package's representations "
                f"{names}; only those can be saved with the library and rebuilt"
            )
        return clone(representation)
    if not isinstance(representation, str):
        raise ValueError(
            f"representation: expected a name or a Representation, got "
            f"{type(representation).__name__}; valid names: {names}"
        )
    if representation not in names:
        raise ValueError(f"representation: unknown name {representation!r}; valid names: {names}")
    if representation == LIBRARY_MIWD:
        return None
    rep = make_any_representation(representation)
    if representation == "pca":
        rep.set_params(dim=min(int(rep.dim), int(n_models)))
    return rep


def _json(value: Any) -> Any:
    """``value`` as it comes back from the library's JSON metadata (tuples become lists)."""

    def default(v: Any) -> Any:
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, (tuple, np.ndarray)):
            return list(v)
        raise TypeError(f"{type(v).__name__} is not JSON serializable")

    return json.loads(json.dumps(value, default=default))


def stored_record(S: int, B: int) -> dict[str, Any]:
    """The record of an atlas on the library's own S x B descriptors.

    Examples
    --------
    >>> representation_label(stored_record(32, 32))
    'miwd (32×32)'
    """
    return {"name": LIBRARY_MIWD, "descriptors": True, "S": int(S), "B": int(B), "K": S * B}


def fitted_record(rep: Representation, K: int, standardized: bool) -> dict[str, Any]:
    """The record of a fitted representation: its name, parameters (a data-dependent MI-WD
    range replaced by the range fitted), K and whether it was standardized.

    Examples
    --------
    >>> from miwd_widget.representations import MIWDRepresentation
    >>> rep = MIWDRepresentation(16).fit([np.linspace(-1, 1, 101)])
    >>> [round(x, 6) for x in fitted_record(rep, 16, False)["params"]["value_range"]]
    [-0.9, 0.9]
    """
    params = {k: v for k, v in rep.get_params().items() if k != "progress"}
    fitted_range = getattr(rep, "value_range_", None)
    if fitted_range is not None:  # new models are described on the library's range
        params["value_range"] = [float(x) for x in fitted_range]
    record = {"name": rep.name, "descriptors": False, "params": params, "K": int(K)}
    record["standardized"] = bool(standardized)
    return _json(record)


def representation_from_record(record: Mapping[str, Any]) -> Representation:
    """An unfitted representation with the recorded name and parameters.

    Examples
    --------
    >>> from miwd_widget.representations import RawRepresentation
    >>> rep = representation_from_record(fitted_record(RawRepresentation(8), 8, False))
    >>> type(rep).__name__, rep.dim
    ('RawRepresentation', 8)
    """
    from ..evaluate.probing import make_any_representation

    params = {k: tuple(v) if isinstance(v, list) else v for k, v in record["params"].items()}
    return make_any_representation(str(record["name"]), params.pop("dim", None), **params)


def representation_label(record: Mapping[str, Any] | None) -> str:
    """A short name for captions: ``"miwd (32×32)"``, ``"stats (K=16)"``, ...

    Examples
    --------
    >>> representation_label(None)
    'miwd'
    """
    if not record:
        return LIBRARY_MIWD
    name = str(record.get("name", LIBRARY_MIWD))
    if record.get("descriptors"):
        return f"{name} ({record['S']}×{record['B']})"
    if name == LIBRARY_MIWD:
        K = int(record["K"])
        windows = record.get("params", {}).get("windows") or round(K**0.5)
        return f"{name} ({windows}×{K // windows})"
    return f"{name} (K={record['K']})"


def _needs_layers(rep: Representation) -> bool:
    from ..representations import LayerQuintilesRepresentation

    return isinstance(rep, LayerQuintilesRepresentation)


def _read(model: Any, layers: bool) -> tuple[str, Any]:
    """One model's name and weights as the representations take them.

    Per-layer representations get the list of its tensors (their boundaries kept), the
    others its theta, read once here so that no representation reads the file again.
    """
    from ..weights import flatten_weights, open_weights

    ws = open_weights(model)
    if not layers:
        return ws.name, flatten_weights(ws)
    if len(ws.tensors) == 1 and isinstance(model, np.ndarray):
        raise RepresentationUnavailable(
            f"{ws.name}: a flat weight vector has no layer (tensor) boundaries, which the "
            f"per-layer statistics need; give the models as state dicts or weight files"
        )
    return ws.name, [np.concatenate(list(t.chunks())) for t in ws.tensors]


def fit_space(
    rep: Representation,
    models: Sequence[Any],
    labels: Sequence[str] | None = None,
    progress: bool | None = None,
) -> tuple[AtlasSpace, list[tuple[str, str]]]:
    """Read ``models`` (one per library row), fit ``rep`` on those read, and standardize.

    A model that cannot be read is left out and reported as ``(label, error)``; the
    representation is fitted on the others only.

    Raises
    ------
    RepresentationUnavailable
        No model could be read, or the representation cannot be computed on these models
        (e.g. ``layer-quintiles`` for models of different depths or without layers).
    """
    from sklearn.preprocessing import StandardScaler

    from .executor import error_text

    labels = [str(i) for i in range(len(models))] if labels is None else list(labels)
    layers = _needs_layers(rep)
    read, rows, failed = [], [], []
    for i, model in enumerate(progress_bar(models, desc=f"reading for {rep.name}", show=progress)):
        try:
            read.append(_read(model, layers)[1])
        except RepresentationUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing or broken file: record, go on
            failed.append((labels[i], f"representation {rep.name!r}: {error_text(exc)}"))
        else:
            rows.append(i)
    if not read:
        first = failed[0][1] if failed else "no models"
        raise RepresentationUnavailable(
            f"representation {rep.name!r}: none of the {len(models)} models could be read "
            f"(first error: {first})"
        )
    if hasattr(rep, "progress"):
        rep.set_params(progress=progress)
    try:
        vectors = rep.fit_transform(read)
    except (ValueError, ArithmeticError) as exc:
        raise RepresentationUnavailable(
            f"representation {rep.name!r} cannot be computed for this library: {exc}"
        ) from exc
    vectors = np.asarray(vectors, dtype=np.float32)
    scaler = None
    if rep.name in STANDARDIZED:
        scaler = StandardScaler().fit(vectors)
        vectors = scaler.transform(vectors).astype(np.float32)
    record = fitted_record(rep, vectors.shape[1], scaler is not None)
    space = AtlasSpace(record, rep, scaler, vectors, np.asarray(rows, dtype=np.int64))
    return space, failed


def _library_models(
    library: Any, weights: Sequence[Any] | None, name: str
) -> tuple[list[Any], list[str]]:
    """One model per library row (``weights``, else ``metadata["source"]``) and their labels."""
    md = library.metadata
    n = len(md)
    ids = md[ID].astype(str).tolist() if ID in md.columns else [str(i) for i in range(n)]
    if weights is not None:
        models = list(weights)
        if len(models) != n:
            raise ValueError(f"weights: {len(models)} models given, the library has {n} rows")
        return models, [f"row {i} (id {ids[i]!r})" for i in range(n)]
    if SOURCE not in md.columns:
        raise RepresentationUnavailable(
            f"representation {name!r} needs the models' weights, and the library has none: its "
            "metadata has no 'source' column (each model's weight file). Build it with "
            "ModelLibrary.from_files/from_zoo, or pass weights=[...] with one model per row."
        )
    sources = md[SOURCE]
    shared = sources[sources.notna() & sources.duplicated(keep=False)]
    if len(shared):
        raise RepresentationUnavailable(
            f"representation {name!r} needs one weight file per model, and "
            f"metadata['source'] names {shared.iloc[0]!r} for {int((sources == shared.iloc[0]).sum())} "
            f"rows (a zoo stored as one matrix?); pass weights=[...] with one model per row"
        )
    labels = [
        str(s) if isinstance(s, str) else f"row {i} (id {ids[i]!r})" for i, s in enumerate(sources)
    ]
    return sources.tolist(), labels


def library_space(
    library: Any,
    rep: Representation,
    weights: Sequence[Any] | None = None,
    progress: bool | None = None,
) -> tuple[AtlasSpace, list[tuple[str, str]]]:
    """:func:`fit_space` on the library's models: ``weights`` or the files of
    ``metadata["source"]`` (read with a progress bar; unreadable ones reported).

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> lib = ModelLibrary(np.zeros((3, 2, 2), np.float32))
    >>> rep = resolve_representation("raw", 3).set_params(dim=8)
    >>> space, failed = library_space(lib, rep, weights=[np.arange(9.0)] * 3, progress=False)
    >>> space.vectors.shape, space.rows.tolist()
    ((3, 8), [0, 1, 2])
    """
    models, labels = _library_models(library, weights, rep.name)
    return fit_space(rep, models, labels, progress)


def refit_space(library: Any, record: Mapping[str, Any]) -> AtlasSpace:
    """The atlas space ``record`` describes, fitted again on the library's weight files (its
    vectors are not saved with the library); a warning names the files that failed."""
    try:
        rep = representation_from_record(record)
        space, failed = library_space(library, rep)
    except RepresentationUnavailable as exc:
        raise RepresentationUnavailable(
            f"the atlas is laid out on {record.get('name')!r}; its library vectors are "
            f"not saved with the library and are computed again from the weights: {exc}"
        ) from exc
    if failed:
        warnings.warn(
            f"{len(failed)} library models could not be read again for "
            f"{record.get('name')!r} (first: {failed[0][1]}); new models are placed "
            f"among the others",
            RuntimeWarning,
            stacklevel=4,
        )
    return space


def with_failed_rows(
    library: Any,
    rows: np.ndarray,
    fitted: np.ndarray,
    n_neighbors: int,
    failed: list[tuple[str, str]],
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The (n, 2) atlas: ``fitted`` at ``rows``; the other rows (models that could not be
    read) placed by their nearest ``rows`` in MI-WD descriptor space. Also the
    ``(source, error)`` pairs to record, and a warning when there are any."""
    from ..projection import place
    from .neighbors import DescriptorIndex

    embedding = np.empty((len(library), 2), np.float32)
    embedding[rows] = fitted
    if not failed:
        return embedding, []
    others = np.setdiff1d(np.arange(len(library)), rows)
    index = DescriptorIndex(library.descriptors[rows])
    neighbor, distance = index.query(library.descriptors[others], n_neighbors)
    embedding[others] = place(fitted, neighbor, distance, None)
    note = "; placed in the atlas by its MI-WD neighbours"
    warnings.warn(
        f"{len(failed)} of {len(library)} models could not be read for the representation "
        f"(first: {failed[0][1]}); they are placed by their MI-WD neighbours and listed in "
        f"library.errors",
        RuntimeWarning,
        stacklevel=4,
    )
    return embedding, [(source, error + note) for source, error in failed]
