"""Train one training group: G models stacked into one network, each on its own task.

Training follows NWS: cross-entropy, the learning rate decayed by 0.96 per epoch, early
stopping on the validation split (after ``min_epochs``, stop a model once ``patience`` epochs
passed without a better validation accuracy), and the best-validation weights kept. A model
whose loss or weights become non-finite is frozen and marked ``diverged``; its best earlier
weights are kept. A snapshot of every model is taken at initialization (epoch 0) and after
every epoch, with its validation and test accuracy, so the atlas can show training paths.

Each model's data order, augmentation draws and initial weights come from its own seed only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .datasets import DATASETS, load_dataset
from .network import GroupNet, Layout, init_flat
from .optimizers import GroupOptimizer
from .sampling import BATCHING_KEYS

__all__ = ["TrainSettings", "GroupResult", "train_group", "require_torch"]

LR_DECAY = 0.96
SHIFT = 2  # augmentation: random translation of up to +-2 px
JITTER = 0.2  # augmentation: per-image colour gain and offset, in standardized units


def require_torch() -> Any:
    """Import torch, or explain how to install the CPU build."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "miwd_widget.zoo needs PyTorch: pip install torch==2.13.0 (the CPU build; an "
            "unpinned torch may pull a multi-GB CUDA build), or the 'torch' extra of your "
            "miwd-widget wheel or checkout"
        ) from err
    return torch


@dataclass(frozen=True)
class TrainSettings:
    """How every model of a zoo is trained (recorded in ``zoo.json``).

    Examples
    --------
    >>> TrainSettings(max_epochs=3).max_epochs
    3
    """

    max_epochs: int = 10
    min_epochs: int = 4
    patience: int = 3
    data_seed: int = 0
    max_train: int | None = None

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.patience < 1 or self.min_epochs < 0:
            raise ValueError(
                "TrainSettings: max_epochs and patience must be >= 1 and min_epochs >= 0, "
                f"got {self.max_epochs}, {self.patience}, {self.min_epochs}"
            )
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"TrainSettings: max_train must be >= 1, got {self.max_train}")


@dataclass
class GroupResult:
    """What training a group produced.

    Attributes
    ----------
    rows
        One metadata dict per model (its config plus accuracies, epochs, n_params, diverged).
    best
        ``(G, P)`` float32: each model's best-validation weights, in layer order.
    snapshots
        Per snapshot: ``(epoch, weights (G, P), val_acc (G,), test_acc (G,), train_acc (G,),
        taken (G,) bool)``; ``taken`` is False for models that had stopped by then.
    layout
        The shared architecture's layout (names and shapes).
    """

    rows: list[dict[str, Any]]
    best: np.ndarray
    snapshots: list[tuple] = field(default_factory=list)
    layout: Layout | None = None


class _Tasks:
    """Every model's task, stacked: ``train_x[d]`` is dataset d's training images, etc."""

    def __init__(self, torch: Any, datasets: list[str], settings: TrainSettings) -> None:
        names = sorted(set(datasets))
        parts = [
            load_dataset(n, seed=settings.data_seed, max_train=settings.max_train) for n in names
        ]
        sizes = {len(p[1]) for p in parts}
        if len(sizes) != 1:  # pragma: no cover - every task has the same split sizes
            raise ValueError(f"tasks of one group must have the same split sizes, got {sizes}")

        def stack(i: int) -> Any:
            return torch.from_numpy(np.stack([np.asarray(p[i]) for p in parts]))

        self.train_x, self.train_y, self.val_x, self.val_y, self.test_x, self.test_y = (
            stack(i) for i in range(6)
        )
        self.index = torch.tensor([names.index(d) for d in datasets])
        self.flip_ok = torch.tensor([DATASETS[d].flip_ok for d in datasets])
        self.n_train = int(self.train_y.shape[1])


def _accuracy(torch: Any, net: GroupNet, flat: Any, running: list, x: Any, y: Any) -> Any:
    """Each model's accuracy on its own split; non-finite logits count as wrong."""
    with torch.no_grad():
        logits = net(flat, x, train=False, running=running)
        ok = (logits.argmax(-1) == y) & torch.isfinite(logits).all(-1)
    return ok.double().mean(1)


def _augment(torch: Any, xb: Any, rng: list[np.random.Generator], aug: Any, tasks: _Tasks) -> Any:
    """Shifts (per model and step), flips where the task allows, colour gain/offset per image."""
    G, n = xb.shape[:2]
    out = []
    for g in range(G):
        x = xb[g]
        if bool(aug[g]):
            dy, dx = (int(v) for v in rng[g].integers(-SHIFT, SHIFT + 1, 2))
            x = torch.roll(x, (dy, dx), dims=(-2, -1))
            if bool(tasks.flip_ok[g]):
                flip = torch.from_numpy(rng[g].random(n) < 0.5).view(n, 1, 1, 1)
                x = torch.where(flip, x.flip(-1), x)
            gain = torch.from_numpy(rng[g].normal(1, JITTER, (n, 3, 1, 1)).astype(np.float32))
            offset = torch.from_numpy(rng[g].normal(0, JITTER, (n, 3, 1, 1)).astype(np.float32))
            x = x * gain + offset
        out.append(x)
    return torch.stack(out)


@dataclass
class _Progress:
    """Per-model early-stopping state."""

    active: Any
    diverged: Any
    best_val: Any
    best_epoch: Any
    epochs: Any
    waited: Any
    best_train: Any


def _check_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        raise ValueError("train_group: no configs given")
    mixed = [k for k in BATCHING_KEYS if any(r[k] != rows[0][k] for r in rows)]
    if mixed:
        raise ValueError(f"train_group: models of one group differ in {mixed}")


def train_group(
    configs: pd.DataFrame | Sequence[dict[str, Any]],
    settings: TrainSettings | None = None,
    snapshots: bool = True,
) -> GroupResult:
    """Train models that share an architecture and batch size together, as one stacked net.

    Parameters
    ----------
    configs
        Rows as made by :func:`~miwd_widget.zoo.sampling.sample_configs`, all with the same
        :data:`~miwd_widget.zoo.sampling.BATCHING_KEYS` values.
    settings
        Epochs, patience, data seed (default :class:`TrainSettings`).
    snapshots
        Keep a snapshot per epoch (and of the initialization).

    Returns
    -------
    GroupResult

    Examples
    --------
    >>> from miwd_widget.zoo.sampling import sample_configs
    >>> cfg = sample_configs(1, seed=0)
    >>> res = train_group(cfg, TrainSettings(max_epochs=1, min_epochs=0, max_train=64))
    >>> res.best.shape[0], [s[0] for s in res.snapshots]
    (1, [0, 1])
    """
    torch = require_torch()
    settings = settings or TrainSettings()
    rows = configs.to_dict("records") if isinstance(configs, pd.DataFrame) else list(configs)
    _check_rows(rows)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic sums, and one core per worker process
    try:
        return _train(torch, rows, settings, snapshots)
    finally:
        torch.set_num_threads(threads)


def _train(torch: Any, rows: list[dict], settings: TrainSettings, keep: bool) -> GroupResult:
    G = len(rows)
    first = rows[0]
    layout = Layout.of(first)
    net = GroupNet(torch, layout, first, [r["activation"] for r in rows])
    tasks = _Tasks(torch, [r["dataset"] for r in rows], settings)
    flat = torch.stack(
        [init_flat(torch, layout, r["initialization"], r["seed"]) for r in rows]
    ).requires_grad_(True)
    opt = GroupOptimizer(torch, [r["optimizer"] for r in rows], layout.n_params)
    lr0 = torch.tensor([float(r["lr"]) for r in rows], dtype=torch.float32)
    aug = [bool(r["augmentation"]) for r in rows]
    # dropout masks: the group's own stream, from its members' seeds
    dropout_rng = torch.Generator().manual_seed(
        int(np.random.default_rng([int(r["seed"]) for r in rows]).integers(2**62))
    )
    bs = int(first["batch_size"])
    val_x, val_y = tasks.val_x[tasks.index], tasks.val_y[tasks.index]
    test_x, test_y = tasks.test_x[tasks.index], tasks.test_y[tasks.index]

    state = _Progress(
        active=torch.ones(G, dtype=torch.bool),
        diverged=torch.zeros(G, dtype=torch.bool),
        best_val=torch.full((G,), -1.0, dtype=torch.float64),
        best_epoch=torch.zeros(G, dtype=torch.long),
        epochs=torch.zeros(G, dtype=torch.long),
        waited=torch.zeros(G, dtype=torch.long),
        best_train=torch.full((G,), float("nan"), dtype=torch.float64),
    )
    best = flat.detach().clone()
    best_running = [(m.clone(), v.clone()) for m, v in net.running]
    snaps: list[tuple] = []

    def evaluate(epoch: int, train_acc: Any) -> Any:
        # evaluation mode only reads the running statistics: no copy needed
        val = _accuracy(torch, net, flat.detach(), net.running, val_x, val_y)
        test = _accuracy(torch, net, flat.detach(), net.running, test_x, test_y)
        if keep:
            snaps.append(
                (
                    epoch,
                    flat.detach().numpy().astype(np.float32).copy(),
                    val.numpy().copy(),
                    test.numpy().copy(),
                    train_acc.numpy().copy(),
                    state.active.numpy().copy(),
                )
            )
        return val

    evaluate(0, torch.full((G,), float("nan"), dtype=torch.float64))
    for epoch in range(settings.max_epochs):
        if not bool(state.active.any()):
            break
        train_acc = _train_epoch(
            torch, net, flat, opt, tasks, rows, aug, bs, lr0, epoch, state, dropout_rng
        )
        with torch.no_grad():
            # a step can also produce non-finite weights with a finite loss
            bad = ~torch.isfinite(flat.detach()).all(1)
            state.diverged |= state.active & bad
            state.active &= ~bad
        val = evaluate(epoch + 1, train_acc)
        improved = state.active & (val > state.best_val)
        mask = improved.view(G, 1)
        best = torch.where(mask, flat.detach(), best)
        best_running = [
            (torch.where(_rows(improved, bm), m, bm), torch.where(_rows(improved, bv), v, bv))
            for (m, v), (bm, bv) in zip(net.running, best_running, strict=True)
        ]
        state.best_val = torch.where(improved, val, state.best_val)
        state.best_train = torch.where(improved, train_acc, state.best_train)
        state.best_epoch = torch.where(improved, torch.full_like(state.best_epoch, epoch + 1),
                                       state.best_epoch)  # fmt: skip
        state.waited = torch.where(improved, torch.zeros_like(state.waited), state.waited + 1)
        if epoch + 1 >= settings.min_epochs:
            state.active &= state.waited < settings.patience

    with torch.no_grad():
        test = _accuracy(torch, net, best, best_running, test_x, test_y)
        val = _accuracy(torch, net, best, best_running, val_x, val_y)
    out_rows = []
    for g, r in enumerate(rows):
        out_rows.append(
            {
                **r,
                "test_accuracy": float(test[g]),
                "val_accuracy": float(val[g]),
                "train_accuracy": float(state.best_train[g]),
                "epochs": int(state.epochs[g]),
                "best_epoch": int(state.best_epoch[g]),
                "n_params": layout.n_params,
                "diverged": bool(state.diverged[g]),
            }
        )
    return GroupResult(out_rows, best.numpy().astype(np.float32), snaps, layout)


def _rows(mask: Any, stats: Any) -> Any:
    """Expand a per-model mask (G,) to a per-channel one (G * C,) for batch-norm statistics."""
    return mask.repeat_interleave(stats.numel() // mask.numel())


def _train_epoch(
    torch: Any,
    net: GroupNet,
    flat: Any,
    opt: GroupOptimizer,
    tasks: _Tasks,
    rows: list[dict],
    aug: list[bool],
    bs: int,
    lr0: Any,
    epoch: int,
    state: _Progress,
    dropout_rng: Any,
) -> Any:
    """One pass over every model's training set; returns the accuracy on its batches."""
    F = torch.nn.functional
    G, n_train = len(rows), tasks.n_train
    rngs = [np.random.default_rng([int(r["seed"]), epoch]) for r in rows]
    order = torch.from_numpy(np.stack([g.permutation(n_train) for g in rngs]))
    lr = lr0 * (LR_DECAY**epoch)
    state.epochs += state.active.long()
    correct = torch.zeros(G, dtype=torch.float64)
    seen = 0
    for start in range(0, n_train - bs + 1 if n_train >= bs else 1, bs):
        idx = order[:, start : start + bs]
        xb = tasks.train_x[tasks.index.view(G, 1), idx]
        yb = tasks.train_y[tasks.index.view(G, 1), idx]
        if any(aug):
            xb = _augment(torch, xb, rngs, aug, tasks)
        logits = net(flat, xb, train=True, generator=dropout_rng)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none"
        ).view(G, -1).mean(1)  # fmt: skip
        finite = torch.isfinite(loss)
        if not bool(finite.all()):
            state.diverged |= state.active & ~finite
            state.active &= finite
        total = torch.where(state.active, loss, torch.zeros_like(loss)).sum()
        (grad,) = torch.autograd.grad(total, [flat])
        with torch.no_grad():
            opt.step(flat, torch.nan_to_num(grad), lr, state.active)
            correct += (logits.argmax(-1) == yb).double().sum(1)
        seen += yb.shape[1]
    return correct / max(seen, 1)
