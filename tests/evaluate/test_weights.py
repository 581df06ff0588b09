"""Tests of miwd_widget.evaluate.weights: a library's weights, read through the readers."""

from __future__ import annotations

import numpy as np
import pytest
from evaluate_synthetic import N_MODELS, mlp
from safetensors.numpy import save_file

from miwd_widget.evaluate import LibraryWeightsError, library_weights, probe
from miwd_widget.evaluate.weights import state_dict
from miwd_widget.library import ModelLibrary


def test_library_weights_reads_sources_in_row_order(library):
    thetas = library_weights(library)
    assert len(thetas) == N_MODELS and all(t.dtype == np.float32 for t in thetas)
    width = library.metadata["width"].to_numpy()
    np.testing.assert_array_equal(
        [t.size for t in thetas], width * 24 + width * width + 7 * width + 5
    )


def test_library_without_weights_says_so(library):
    no_source = ModelLibrary(library.descriptors, library.metadata.drop(columns="source"))
    with pytest.raises(LibraryWeightsError, match="the library has no weights.*'source'"):
        probe(no_source, targets=["shape"])
    md = library.metadata.copy()
    md.loc[3, "source"] = "/nonexistent/m3.safetensors"
    broken = ModelLibrary(library.descriptors, md)
    with pytest.raises(LibraryWeightsError, match=r"no weights for 1 of 72.*row 3 \(id 'm00003'\)"):
        probe(broken, targets=["shape"])
    with pytest.raises(ValueError, match="targets \\['optimizer'\\] are not metadata columns"):
        probe(library, targets=["optimizer"])


def test_state_dict_keeps_order_and_shapes(tmp_path):
    import json

    state = mlp(np.random.default_rng(0), 8, "normal", 0.1)
    state["counter"] = np.array([3], dtype=np.int64)  # not a weight: the readers skip it
    path = tmp_path / "m.safetensors"
    order = [k for k in state if k != "counter"]
    save_file(state, str(path), metadata={"order": json.dumps(order + ["counter"])})
    out = state_dict(path)
    assert list(out) == order  # the file's own order, not safetensors' sorted keys
    for k in order:
        np.testing.assert_array_equal(out[k], state[k])
    np.savez(tmp_path / "m.npz", **{k: state[k] for k in order})
    assert {k: v.shape for k, v in state_dict(tmp_path / "m.npz").items()} == {
        k: state[k].shape for k in order
    }
    with pytest.raises(ValueError, match="reads .safetensors and .npz"):
        np.save(tmp_path / "m.npy", state[order[0]])
        state_dict(tmp_path / "m.npy")


def test_importing_evaluate_stays_light():
    """scikit-learn, numba, Altair, UMAP and torch load when a function needs them."""
    import subprocess
    import sys

    code = (
        "import sys, miwd_widget.evaluate\n"
        "heavy = ('sklearn', 'numba', 'altair', 'umap', 'torch')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
