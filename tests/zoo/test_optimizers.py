"""The per-model optimizers agree with torch.optim, model by model, and stopped rows stay put."""

from __future__ import annotations

import pytest
import torch

from miwd_widget.zoo.optimizers import GroupOptimizer

TORCH_OPTIM = {
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-7),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7),
    "sgd_momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.95),
}


def test_mixed_optimizers_in_one_group_match_torch_optim():
    names = ["adam", "rmsprop", "sgd_momentum", "adam"]
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(4, 7, generator=gen)
    grads = [torch.randn(4, 7, generator=gen) for _ in range(5)]
    lrs = torch.tensor([1e-3, 3e-3, 1e-2, 5e-3])
    active = torch.tensor([True, True, True, False])  # the last model has stopped
    params = start.clone()
    opt = GroupOptimizer(torch, names, 7)
    for g in grads:
        opt.step(params, g, lrs, active)
    for m, name in enumerate(names[:3]):
        p = torch.nn.Parameter(start[m].clone())
        ref = TORCH_OPTIM[name]([p], float(lrs[m]))
        for g in grads:
            p.grad = g[m].clone()
            ref.step()
        torch.testing.assert_close(params[m], p.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(params[3], start[3], rtol=0, atol=0)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer"):
        GroupOptimizer(torch, ["adagrad"], 3)
