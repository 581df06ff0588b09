"""Check the paper's claims on a model library: hyper-parameter probes, embeddings, invariance.

Eilertsen et al. (2024), section 3:

- :func:`probe` and :func:`probe_chart` -- "Untangling hyper-parameters" (Figure 3): linear
  SVMs predict each training hyper-parameter from a weight representation (MI-WD and the
  baselines of :mod:`miwd_widget.representations`, or the variants of
  :mod:`~miwd_widget.evaluate.variants`) under stratified k-fold cross-validation, grouped
  by training group when the zoo records one.
- :func:`probe_accuracy` -- beyond the paper, as Unterthiner et al. (2020) and the Model
  Zoos benchmark (Schürholt et al. 2022): regress each model's test accuracy on a
  representation (R² and Kendall's tau over grouped folds); the benchmark's per-layer
  statistics are the ``"layer-quintiles"`` representation.
- :func:`embedding_grid` -- Figure 4: one UMAP embedding per representation, colored by a
  hyper-parameter.
- :func:`compare_chart` -- Figure 5: what characterizes each named cluster
  (:meth:`ModelLibrary.compare <miwd_widget.library.ModelLibrary.compare>`) and its accuracy.
- :func:`invariance` -- how far the MI-WD descriptor moves under function-preserving changes
  of a model (hidden neurons permuted, weight matrices stored column-major) compared with
  the distance between independently trained models of the same configuration.

Modules: :mod:`.weights` (a library's weights, through the readers), :mod:`.probing`,
:mod:`.variants`, :mod:`.charts`, :mod:`.symmetry` (invariance). Weights are read from the
files in ``library.metadata["source"]`` (the zoo's safetensors files), or given explicitly
with ``weights=``. Importing this package is cheap: scikit-learn, numba and Altair load
when a function first needs them.

Examples
--------
>>> from miwd_widget.evaluate import probe, probe_chart  # doctest: +SKIP
>>> result = probe(ModelLibrary.from_zoo("zoo"))  # doctest: +SKIP
>>> probe_chart(result).save("figure3.html")  # doctest: +SKIP
"""

from __future__ import annotations

from .charts import compare_chart, embedding_grid, probe_chart
from .probing import (
    DEFAULT_REPRESENTATIONS,
    DEFAULT_TARGETS,
    balanced_indices,
    make_any_representation,
    probe,
    probe_accuracy,
)
from .symmetry import column_major, invariance, permute_hidden_neurons
from .weights import LibraryWeightsError, library_weights

__all__ = [
    "probe",
    "probe_accuracy",
    "probe_chart",
    "embedding_grid",
    "compare_chart",
    "invariance",
    "balanced_indices",
    "library_weights",
    "permute_hidden_neurons",
    "column_major",
    "make_any_representation",
    "LibraryWeightsError",
    "DEFAULT_TARGETS",
    "DEFAULT_REPRESENTATIONS",
]
