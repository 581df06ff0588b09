"""The stacked network: layout, initialization, and that a group equals its models run alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miwd_widget.zoo.network import CONSTANT_INIT, GroupNet, Layout, build_model_shapes, init_flat

ARCH = dict(filter_size=3, depth_conv=2, depth_fc=2, width_conv=4, width_fc=16)


def test_model_shapes_by_hand():
    shapes = build_model_shapes(dict(ARCH, filter_size=5))
    # 16x16x3 -> conv 4 -> pool 8x8 -> conv 4 -> pool 4x4 -> 64 features -> 16 -> 16 -> 10
    assert shapes == [
        ("l00.0.conv.weight", (4, 3, 5, 5)), ("l00.1.conv.bias", (4,)),
        ("l00.2.norm.weight", (4,)), ("l00.3.norm.bias", (4,)),
        ("l01.0.conv.weight", (4, 4, 5, 5)), ("l01.1.conv.bias", (4,)),
        ("l01.2.norm.weight", (4,)), ("l01.3.norm.bias", (4,)),
        ("l02.0.fc.weight", (16, 64)), ("l02.1.fc.bias", (16,)),
        ("l03.0.fc.weight", (16, 16)), ("l03.1.fc.bias", (16,)),
        ("l04.0.fc.weight", (10, 16)), ("l04.1.fc.bias", (10,)),
    ]  # fmt: skip
    assert [n for n, _ in shapes] == sorted(n for n, _ in shapes)


def test_layout_split_round_trips_the_flat_vector():
    layout = Layout.of(ARCH)
    flat = np.arange(layout.n_params, dtype=np.float32)
    parts = layout.split(flat)
    assert list(parts) == [n for n, _ in layout.shapes]
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in parts.values()]), flat)


@pytest.mark.parametrize("init", ["constant", "random_normal", "glorot_uniform", "glorot_normal"])
def test_initializations(init):
    layout = Layout.of(ARCH)
    parts = layout.split(init_flat(torch, layout, init, seed=1).numpy())
    conv = parts["l00.0.conv.weight"]
    assert (parts["l00.1.conv.bias"] == 0).all() and (parts["l00.2.norm.weight"] == 1).all()
    if init == "constant":
        assert (conv == np.float32(CONSTANT_INIT)).all()
    else:
        assert conv.std() > 0.01
        again = layout.split(init_flat(torch, layout, init, seed=1).numpy())["l00.0.conv.weight"]
        np.testing.assert_array_equal(conv, again)
    if init == "glorot_uniform":
        fan_in, fan_out = 3 * 9, 4 * 9
        assert np.abs(conv).max() <= np.sqrt(6 / (fan_in + fan_out)) + 1e-6


def test_a_group_computes_what_its_models_compute_alone(monkeypatch):
    import miwd_widget.zoo.network as network

    monkeypatch.setattr(network, "DROPOUT", 0.0)  # dropout draws differ between calls
    layout = Layout.of(ARCH)
    acts = ["relu", "tanh", "sigmoid"]
    flat = torch.stack([init_flat(torch, layout, "glorot_normal", s) for s in range(3)])
    x = torch.randn(3, 5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for train in (True, False):
        together = GroupNet(torch, layout, ARCH, acts)(flat, x, train=train)
        assert together.shape == (3, 5, 10)
        for g, act in enumerate(acts):
            alone = GroupNet(torch, layout, ARCH, [act])(flat[g : g + 1], x[g : g + 1], train)
            torch.testing.assert_close(together[g], alone[0], rtol=1e-4, atol=1e-5)
    # and the models do differ from each other (the comparison above can fail)
    assert (together[0] - together[1]).abs().max() > 1e-2


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        GroupNet(torch, Layout.of(ARCH), ARCH, ["swish"])
