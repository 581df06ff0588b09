"""Tests of the invariance check (miwd_widget.evaluate.symmetry)."""

from __future__ import annotations

import numpy as np
import pytest
from evaluate_synthetic import mlp

from miwd_widget.descriptors import describe
from miwd_widget.evaluate import column_major, invariance, permute_hidden_neurons

# ----------------------------------------------------------------------------- invariance


def _forwardmlp(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = x
    weights = [k for k in state if state[k].ndim == 2]
    for i, w in enumerate(weights):
        h = h @ state[w].T + state[w.replace("0.weight", "1.bias")]
        if i < len(weights) - 1:
            h = np.tanh(h)
    return h


def test_permutation_preserves_the_mlp_function():
    rng = np.random.default_rng(0)
    state = mlp(rng, 16, "normal", 0.3)
    state["l02.fc.1.bias"] = rng.normal(size=5).astype(np.float32)
    permuted = permute_hidden_neurons(state, random_state=1)
    x = rng.normal(size=(7, 24)).astype(np.float32)
    np.testing.assert_allclose(
        _forwardmlp(permuted, x), _forwardmlp(state, x), rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(permuted["l00.fc.0.weight"], state["l00.fc.0.weight"])
    # the same multiset of weights in every tensor, the output layer's rows in place
    for k in state:
        np.testing.assert_array_equal(np.sort(permuted[k], axis=None), np.sort(state[k], axis=None))
    np.testing.assert_array_equal(
        np.sort(permuted["l02.fc.0.weight"], axis=1), np.sort(state["l02.fc.0.weight"], axis=1)
    )
    assert list(permuted) == list(state)


def test_permutation_preserves_a_conv_net_with_batchnorm():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    state = {
        "c0.weight": torch.randn(6, 3, 3, 3),
        "c0.bias": torch.randn(6),
        "bn0.weight": torch.rand(6) + 0.5,
        "bn0.bias": torch.randn(6),
        "bn0.running_mean": torch.randn(6),
        "bn0.running_var": torch.rand(6) + 0.5,
        "bn0.num_batches_tracked": torch.tensor(10),
        "c1.weight": torch.randn(4, 6, 3, 3),
        "c1.bias": torch.randn(4),
        "fc.weight": torch.randn(3, 4 * 2 * 2),  # flattened 4 x 2 x 2 feature map
        "fc.bias": torch.randn(3),
    }
    state_np = {k: v.numpy() for k, v in state.items()}

    def forward(s):
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in s.items()}
        x = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
        h = F.conv2d(x, t["c0.weight"], t["c0.bias"], padding=1)
        h = F.batch_norm(
            h, t["bn0.running_mean"], t["bn0.running_var"], t["bn0.weight"], t["bn0.bias"]
        )
        h = F.max_pool2d(torch.relu(h), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, t["c1.weight"], t["c1.bias"], padding=1)), 2)
        return F.linear(h.flatten(1), t["fc.weight"], t["fc.bias"]).numpy()

    permuted = permute_hidden_neurons(state_np, random_state=3)
    np.testing.assert_allclose(forward(permuted), forward(state_np), rtol=1e-4, atol=1e-5)
    assert not np.allclose(permuted["c1.weight"], state_np["c1.weight"])
    assert permuted["bn0.num_batches_tracked"] == 10


def test_permutation_rejects_unsupported_architectures():
    skip = {"w0": np.ones((8, 4)), "w1": np.ones((8, 5))}  # 5 inputs after 8 outputs
    with pytest.raises(ValueError, match="takes 5 inputs but layer 0 .* has 8 outputs"):
        permute_hidden_neurons(skip)
    with pytest.raises(ValueError, match="has 3 values but the layer before"):
        permute_hidden_neurons({"w0": np.ones((8, 4)), "b0": np.ones(3), "w1": np.ones((2, 8))})
    with pytest.raises(ValueError, match="at least two weight layers"):
        permute_hidden_neurons({"w0": np.ones((8, 4))})


def test_column_major_storage():
    state = {
        "w": np.arange(6.0).reshape(2, 3),
        "b": np.arange(2.0),
        "k": np.arange(8.0).reshape(2, 2, 2),
    }
    out = column_major(state)
    np.testing.assert_array_equal(out["w"].ravel(), [0, 3, 1, 4, 2, 5])
    np.testing.assert_array_equal(out["k"].ravel(), state["k"].ravel(order="F"))
    np.testing.assert_array_equal(out["b"], state["b"])


def test_invariance_is_exact_with_one_window():
    # With S = 1 the descriptor is the histogram of all weights: no reordering can move it.
    rng = np.random.default_rng(0)
    models = [mlp(rng, 16, "normal", s) for s in (0.1, 0.1, 0.3, 0.3)]
    out = invariance(models, groups=["a", "a", "b", "b"], S=1, B=16, n_repeats=2)
    dist = out.set_index("kind")["distance_mean"]
    assert dist["permute_hidden"] == pytest.approx(0.0, abs=1e-7)
    assert dist["column_major"] == pytest.approx(0.0, abs=1e-7)
    assert dist["independent_same_config"] > 0.01
    assert out.set_index("kind")["n"].to_dict() == {
        "permute_hidden": 8,
        "column_major": 4,
        "permute_hidden+column_major": 8,
        "independent_same_config": 2,
    }


def test_invariance_detail_distances_by_hand():
    rng = np.random.default_rng(1)
    models = [mlp(rng, 16, "normal", 0.2) for _ in range(3)]
    detail = invariance(models, S=8, B=8, value_range=(-1, 1), summary=False, n_repeats=1)
    pairs = detail[detail.kind == "independent_same_config"]
    assert sorted(zip(pairs.model, pairs.other, strict=True)) == [
        ("0", "1"),
        ("0", "2"),
        ("1", "2"),
    ]
    d = describe(models, S=8, B=8, value_range=(-1, 1)).reshape(3, -1).astype(np.float64)
    expected = np.linalg.norm(d[0] - d[2])
    got = pairs[(pairs.model == "0") & (pairs.other == "2")]["distance"].iloc[0]
    assert got == pytest.approx(expected, rel=1e-6)
    cm = detail[(detail.kind == "column_major") & (detail.model == "1")]["distance"].iloc[0]
    d_cm = describe(column_major(models[1]), S=8, B=8, value_range=(-1, 1)).astype(np.float64)
    assert cm == pytest.approx(np.linalg.norm(d_cm.reshape(-1) - d[1]), rel=1e-6)


def test_invariance_on_a_library(library):
    out = invariance(library, S=8, B=8, n_repeats=1)
    # default grouping: every hyper-parameter column but id/source/seed and the continuous lr
    assert out.attrs["by"] == ["shape", "scale", "width", "shuffled"]
    out = invariance(library, by=["shape", "scale", "width"], S=8, B=8, n_repeats=1)
    assert out.attrs["by"] == ["shape", "scale", "width"]
    ratio = out.set_index("kind")["ratio_to_independent"]
    # 12 configurations of 6 models: 12 * 15 independent pairs
    assert out.set_index("kind").loc["independent_same_config", "n"] == 180
    # Reordering weights moves the descriptor less than retraining does. (Measured ~0.6 here:
    # permuting re-samples the iid weights of each window, the sampling noise that independent
    # models also show; these differ in addition by their per-layer scales.)
    assert ratio["permute_hidden"] < 0.8 and ratio["column_major"] < 0.8
    assert ratio["independent_same_config"] == 1.0
    with pytest.warns(
        UserWarning, match=r"no two models share a configuration \(grouped by \['lr'\]"
    ):
        alone = invariance(library, by=["lr"], S=8, B=8, n_repeats=1)
    assert np.isnan(alone.set_index("kind").loc["permute_hidden", "ratio_to_independent"])
