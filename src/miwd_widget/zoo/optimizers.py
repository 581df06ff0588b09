"""Adam, RMSprop and SGD with momentum for a stacked group, one optimizer per model.

Hand-written: ``torch.optim`` steps one parameter set with one rule and one learning rate, but
a training group is one ``(G, P)`` tensor whose rows each have their own rule, learning rate
and "still training" flag. These are the standard update rules (Keras' constants, as NWS used
TensorFlow), applied row by row with ``(G, 1)`` coefficient columns.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPTIMIZERS", "GroupOptimizer"]

OPTIMIZERS = ("adam", "rmsprop", "sgd_momentum")
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-7
RMSPROP_RHO, RMSPROP_EPS = 0.9, 1e-7
SGD_MOMENTUM = 0.95


class GroupOptimizer:
    """Per-row optimizer state and update for a ``(G, P)`` parameter tensor.

    Parameters
    ----------
    torch
        The torch module.
    names
        One optimizer name per row (from :data:`OPTIMIZERS`).
    n_params
        P, the parameters per model.

    Examples
    --------
    >>> import torch
    >>> opt = GroupOptimizer(torch, ["adam", "sgd_momentum"], 3)
    >>> p = torch.zeros(2, 3); g = torch.ones(2, 3)
    >>> opt.step(p, g, lr=torch.tensor([0.1, 0.1]), active=torch.tensor([True, False]))
    >>> p[:, 0].tolist()  # the stopped row does not move
    [-0.10000000149011612, 0.0]
    """

    def __init__(self, torch: Any, names: list[str], n_params: int) -> None:
        unknown = sorted({n for n in names if n not in OPTIMIZERS})
        if unknown:
            raise ValueError(f"unknown optimizer(s) {unknown}; choose from {list(OPTIMIZERS)}")
        self.torch = torch
        G = len(names)

        def column(values: list[float]) -> Any:
            return torch.tensor(values, dtype=torch.float32).view(G, 1)

        self.is_adam = torch.tensor([n == "adam" for n in names]).view(G, 1)
        self.is_sgd = torch.tensor([n == "sgd_momentum" for n in names]).view(G, 1)
        # first moment: Adam's mean of gradients, or SGD's momentum buffer
        self.beta1 = column([ADAM_BETAS[0] if n == "adam" else SGD_MOMENTUM for n in names])
        self.gain1 = column([1 - ADAM_BETAS[0] if n == "adam" else 1.0 for n in names])
        # second moment: Adam's or RMSprop's mean of squared gradients
        self.beta2 = column([ADAM_BETAS[1] if n == "adam" else RMSPROP_RHO for n in names])
        self.eps = column([ADAM_EPS if n == "adam" else RMSPROP_EPS for n in names])
        self.m = torch.zeros(G, n_params)
        self.v = torch.zeros(G, n_params)
        self.t = 0

    def step(self, params: Any, grads: Any, lr: Any, active: Any) -> None:
        """Update the rows of `params` whose `active` flag is set, in place.

        `lr` and `active` have shape (G,). Non-finite gradients must be zeroed by the caller.
        """
        torch = self.torch
        self.t += 1
        act = active.view(-1, 1)
        m = torch.where(act, self.beta1 * self.m + self.gain1 * grads, self.m)
        v = torch.where(act, self.beta2 * self.v + (1 - self.beta2) * grads * grads, self.v)
        self.m, self.v = m, v
        b1, b2 = ADAM_BETAS
        adam = (m / (1 - b1**self.t)) / ((v / (1 - b2**self.t)).sqrt() + self.eps)
        rms = grads / (v.sqrt() + self.eps)
        update = torch.where(self.is_adam, adam, torch.where(self.is_sgd, m, rms))
        params.sub_(torch.where(act, lr.view(-1, 1) * update, torch.zeros_like(update)))
