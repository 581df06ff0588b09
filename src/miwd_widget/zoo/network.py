"""The zoo's CNN: parameter layout, initialization, and a forward pass over a stacked group.

Architecture (NWS's, scaled to 16x16x3 inputs): ``depth_conv`` x [conv (same padding) ->
batch norm -> activation -> 2x2 max-pool] -> flatten -> ``depth_fc`` x [linear(width_fc) ->
activation] -> dropout 0.5 -> linear(10). The architecture depends only on its own
hyper-parameters, never on the dataset: every task has the same input shape and class count.

A training group of G models lives in one flat ``(G, P)`` tensor, each row one model's
parameters in layer order (the MI-WD order). The forward pass takes views of it: convolutions
of all G models run as one grouped convolution, linear layers as one batched matmul. Each
model keeps its own activation function, and its own batch-norm statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .datasets import INPUT_SHAPE, N_CLASSES

__all__ = ["Layout", "build_model_shapes", "init_flat", "GroupNet", "CONSTANT_INIT"]

CONSTANT_INIT = 0.05  # value of every weight under "constant" initialization (biases are 0)
NORMAL_INIT_STD = 0.05  # Keras' RandomNormal default, as NWS (TensorFlow) used
DROPOUT = 0.5  # before the output layer, as NWS
BN_MOMENTUM, BN_EPS = 0.1, 1e-5


def build_model_shapes(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of one model's parameters, in layer order.

    Names sort naturally into layer order (``l00.0.conv.weight``, ``l00.1.conv.bias``,
    ``l00.2.norm.weight``, ...), as the zoo layout requires of its safetensors files.

    Examples
    --------
    >>> cfg = dict(filter_size=3, depth_conv=1, depth_fc=1, width_conv=4, width_fc=32)
    >>> build_model_shapes(cfg)  # doctest: +NORMALIZE_WHITESPACE
    [('l00.0.conv.weight', (4, 3, 3, 3)), ('l00.1.conv.bias', (4,)),
     ('l00.2.norm.weight', (4,)), ('l00.3.norm.bias', (4,)),
     ('l01.0.fc.weight', (32, 256)), ('l01.1.fc.bias', (32,)),
     ('l02.0.fc.weight', (10, 32)), ('l02.1.fc.bias', (10,))]
    """
    k = int(config["filter_size"])
    channels, size = INPUT_SHAPE[0], INPUT_SHAPE[1]
    shapes: list[tuple[str, tuple[int, ...]]] = []
    layer = 0
    for _ in range(int(config["depth_conv"])):
        out = int(config["width_conv"])
        shapes += [
            (f"l{layer:02d}.0.conv.weight", (out, channels, k, k)),
            (f"l{layer:02d}.1.conv.bias", (out,)),
            (f"l{layer:02d}.2.norm.weight", (out,)),
            (f"l{layer:02d}.3.norm.bias", (out,)),
        ]
        channels, size, layer = out, size // 2, layer + 1
    features = channels * size * size
    for width in [int(config["width_fc"])] * int(config["depth_fc"]) + [N_CLASSES]:
        shapes.append((f"l{layer:02d}.0.fc.weight", (width, features)))
        shapes.append((f"l{layer:02d}.1.fc.bias", (width,)))
        features, layer = width, layer + 1
    return shapes


@dataclass(frozen=True)
class Layout:
    """Where each named parameter sits in a model's flat vector."""

    shapes: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def of(cls, config: dict[str, Any]) -> Layout:
        """The layout of `config`'s architecture."""
        return cls(tuple(build_model_shapes(config)))

    @property
    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, shape in self.shapes:
            size = int(np.prod(shape))
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def n_params(self) -> int:
        return int(sum(np.prod(s) for _, s in self.shapes))

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """One model's flat vector as named float32 arrays, in layer order."""
        sl = self.slices
        return {
            name: np.ascontiguousarray(flat[sl[name]].reshape(shape), dtype=np.float32)
            for name, shape in self.shapes
        }


def init_flat(torch: Any, layout: Layout, initialization: str, seed: int) -> Any:
    """One model's initial flat parameter vector, from its own seed only.

    Biases start at 0 and batch-norm scales at 1, under every scheme.
    """
    gen = torch.Generator().manual_seed(int(seed))
    parts = []
    for name, shape in layout.shapes:
        if name.endswith("bias"):
            parts.append(torch.zeros(shape))
            continue
        if ".norm." in name:
            parts.append(torch.ones(shape))
            continue
        receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
        if initialization == "constant":
            w = torch.full(shape, CONSTANT_INIT)
        elif initialization == "random_normal":
            w = torch.randn(shape, generator=gen) * NORMAL_INIT_STD
        elif initialization == "glorot_uniform":
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w = (torch.rand(shape, generator=gen) * 2 - 1) * bound
        elif initialization == "glorot_normal":
            w = torch.randn(shape, generator=gen) * math.sqrt(2.0 / (fan_in + fan_out))
        else:
            raise ValueError(f"unknown initialization {initialization!r}")
        parts.append(w)
    return torch.cat([p.reshape(-1) for p in parts])


def _activations(torch: Any) -> dict[str, Any]:
    return {
        "relu": torch.relu,
        "elu": torch.nn.functional.elu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }


class GroupNet:
    """Forward pass of G stacked models that share an architecture.

    Parameters
    ----------
    torch
        The torch module (imported by the caller, so this module stays importable without it).
    layout
        The shared architecture's parameter layout.
    config
        The shared architecture (``filter_size``, ``depth_conv``, ...).
    activations
        One activation name per model.
    """

    def __init__(self, torch: Any, layout: Layout, config: dict[str, Any], activations: list):
        self.torch = torch
        self.F = torch.nn.functional
        self.layout = layout
        self.G = len(activations)
        self.padding = int(config["filter_size"]) // 2
        fns = _activations(torch)
        unknown = sorted({a for a in activations if a not in fns})
        if unknown:
            raise ValueError(f"unknown activation(s) {unknown}")
        # runs of consecutive models with the same activation, applied slice by slice
        self.runs: list[tuple[int, int, Any]] = []
        for g, name in enumerate(activations):
            if self.runs and self.runs[-1][2] is fns[name]:
                self.runs[-1] = (self.runs[-1][0], g + 1, fns[name])
            else:
                self.runs.append((g, g + 1, fns[name]))
        self.layers: list[tuple[str, dict[str, slice], tuple]] = []
        sl = layout.slices
        names = [n for n, _ in layout.shapes]
        shapes = dict(layout.shapes)
        for prefix in sorted({n.split(".")[0] for n in names}):
            own = {n.split(".", 2)[2]: sl[n] for n in names if n.startswith(prefix + ".")}
            kind = "conv" if "conv.weight" in own else "fc"
            weight = shapes[f"{prefix}.0.{kind}.weight"]
            self.layers.append((kind, own, weight))
        # batch-norm running mean and variance of every conv layer, per model and channel
        self.running = [
            (torch.zeros(self.G * w[0]), torch.ones(self.G * w[0]))
            for kind, _, w in self.layers
            if kind == "conv"
        ]

    def _act(self, h: Any, dim: int) -> Any:
        if len(self.runs) == 1:
            return self.runs[0][2](h)
        pieces = [fn(h.narrow(dim, a, b - a)) for a, b, fn in self.runs]
        return self.torch.cat(pieces, dim)

    def __call__(
        self, flat: Any, x: Any, train: bool, running: list | None = None, generator: Any = None
    ) -> Any:
        """Logits ``(G, n, 10)`` of every model on its own inputs ``x`` of shape (G, n, C, H, W).

        In training mode batch norm uses the batch statistics and updates ``running`` (the
        group's running statistics, by default its own); in evaluation mode it uses them.
        Dropout masks are drawn from `generator` (the group's own, so that a group's training
        does not depend on what else ran in the process).
        """
        torch, F, G = self.torch, self.F, self.G
        running = self.running if running is None else running
        n = x.shape[1]
        h = x.transpose(0, 1).reshape(n, G * x.shape[2], x.shape[3], x.shape[4])
        conv_i = 0
        last = len(self.layers) - 1
        for i, (kind, sl, wshape) in enumerate(self.layers):
            if kind == "conv":
                out = wshape[0]
                w = flat[:, sl["conv.weight"]].reshape(G * out, *wshape[1:])
                b = flat[:, sl["conv.bias"]].reshape(G * out)
                h = F.conv2d(h, w, b, padding=self.padding, groups=G)
                mean, var = running[conv_i]
                h = F.batch_norm(
                    h,
                    mean,
                    var,
                    flat[:, sl["norm.weight"]].reshape(G * out),
                    flat[:, sl["norm.bias"]].reshape(G * out),
                    training=train,
                    momentum=BN_MOMENTUM,
                    eps=BN_EPS,
                )
                conv_i += 1
                c, s = h.shape[1], h.shape[-1]
                h = self._act(h.view(n, G, out, s, s), 1).view(n, c, s, s)
                # 2x2 max-pool as reshape + amax: faster than max_pool2d on small maps here
                half = s // 2
                h = h.reshape(n, c, half, 2, half, 2).amax((3, 5))
                if i + 1 < len(self.layers) and self.layers[i + 1][0] == "fc":
                    h = h.reshape(n, G, -1).transpose(0, 1)  # (G, n, features)
            else:
                out, inp = wshape
                w = flat[:, sl["fc.weight"]].view(G, out, inp).transpose(1, 2)
                b = flat[:, sl["fc.bias"]].view(G, 1, out)
                if i == last:
                    if train and DROPOUT > 0:
                        # by hand: F.dropout cannot take a generator
                        keep = torch.rand(h.shape, generator=generator) >= DROPOUT
                        h = h * keep / (1 - DROPOUT)
                    h = torch.baddbmm(b, h, w)
                else:
                    h = self._act(torch.baddbmm(b, h, w), 0)
        return h
