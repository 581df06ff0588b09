"""Train a zoo of small CNNs the way the NWS dataset was made, fast, on the CPU.

Each model's hyper-parameters are sampled like NWS's (Eilertsen et al. 2020), scaled down to
the small offline tasks of :mod:`miwd_widget.datasets`:

==============  ======================================  =========  ===================
hyper-parameter values                                  NWS        grouped in a cohort
==============  ======================================  =========  ===================
dataset         digits, shapes, gratings, textures      5 sets     yes
lr              log-uniform in [2e-4, 5e-3]             uniform    no (per model)
batch_size      32, 64, 128, 256                        same       yes
augmentation    False, True (random +-1 px shifts;      + colour   no (per model)
                horizontal flips where labels allow)
optimizer       adam, rmsprop, sgd_momentum (0.95)      same       yes
activation      relu, elu, sigmoid, tanh                same       yes
initialization  constant, random_normal,                same       no (per model)
                glorot_uniform, glorot_normal
filter_size     3, 5                                    3, 5, 7    yes
depth_conv      1, 2, 3                                 3, 4, 5    yes
depth_fc        1, 2 (hidden layers, + output layer)    2, 3, 4    yes
width_conv      4, 8, 12 (channels of every conv)       4, 8, 12   yes
width_fc        32, 64                                  64..192    yes
==============  ======================================  =========  ===================

Architecture: ``depth_conv`` x [conv (same padding) -> activation -> 2x2 max-pool] -> flatten ->
``depth_fc`` x [linear(width_fc) -> activation] -> linear(n_classes). No batch norm and no dropout
(NWS used both): they would need per-model running statistics and masks inside the batched step,
and the zoo is meant to show a wide spread of outcomes anyway. Inputs are 8x8 to 16x16, so
depth and widths are scaled down from NWS's 32x32 inputs; max-pooling keeps 3 conv layers valid
on 8x8 inputs.

Training: cross-entropy, learning rate decayed by 0.96 per epoch (as NWS), at most
``max_epochs`` epochs, early stopping on the validation split (patience epochs without a better
validation accuracy); the best-validation weights are kept and saved. A model whose loss becomes
non-finite is frozen and marked ``diverged``; its best earlier weights (or its initial ones) are
kept.

Speed: models come in *cohorts* of up to ``cohort_size`` models that share the grouped
hyper-parameters (dataset, architecture, activation, optimizer, batch size) and are trained
together as one stacked network with ``torch.func.vmap``; each model keeps its own learning
rate, initialization, augmentation flag, seed (initial weights, data order, augmentation draws)
and early stopping. Every grouped value is drawn per cohort from the same distribution the
per-model sampler would use, so each hyper-parameter's marginal distribution is NWS-like; models
in one cohort are correlated in the grouped values (record ``cohort`` when analysing). Cohorts
run in ``n_jobs`` worker processes with one torch thread each.

Reproducibility: a model's weights are a deterministic function of its row in ``metadata.csv``
(its config and seed), the zoo's ``data_seed`` and ``max_train``, and the training settings in
``zoo.json``. Retraining a model alone (:func:`retrain_model`, a cohort of one) gives the same
weights within float tolerance, not bit for bit: a stacked (grouped) convolution sums in a
different order from a single one, so the last bits differ and grow over epochs (measured on
the 2,000-model zoo: max |difference| 5e-3 for weights up to 0.6 after 10 Adam epochs; 1e-5 after
2 epochs in the tests). Retraining its whole cohort (:func:`train_cohort` on the cohort's rows)
reproduces it bit for bit on the same machine and torch version.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datasets import DATASETS, dataset_names, load_dataset

__all__ = [
    "SEARCH_SPACE",
    "GROUPED",
    "METADATA_COLUMNS",
    "sample_configs",
    "train_zoo",
    "train_cohort",
    "retrain_model",
    "build_model_shapes",
]

SEARCH_SPACE: dict[str, Any] = {
    "dataset": dataset_names(),
    "lr": (2e-4, 5e-3),  # log-uniform
    "batch_size": [32, 64, 128, 256],
    "augmentation": [False, True],
    "optimizer": ["adam", "rmsprop", "sgd_momentum"],
    "activation": ["relu", "elu", "sigmoid", "tanh"],
    "initialization": ["constant", "random_normal", "glorot_uniform", "glorot_normal"],
    "filter_size": [3, 5],
    "depth_conv": [1, 2, 3],
    "depth_fc": [1, 2],
    "width_conv": [4, 8, 12],
    "width_fc": [32, 64],
}
#: hyper-parameters shared by all models of a cohort (trained together as one stacked network)
GROUPED = (
    "dataset",
    "batch_size",
    "optimizer",
    "activation",
    "filter_size",
    "depth_conv",
    "depth_fc",
    "width_conv",
    "width_fc",
)
METADATA_COLUMNS = [
    "id",
    "path",
    "dataset",
    "lr",
    "batch_size",
    "augmentation",
    "optimizer",
    "activation",
    "initialization",
    "filter_size",
    "depth_conv",
    "depth_fc",
    "width_conv",
    "width_fc",
    "test_accuracy",
    "train_accuracy",
    "epochs",
    "n_params",
    "seed",
    # beyond the contract
    "cohort",
    "val_accuracy",
    "best_epoch",
    "diverged",
]
LR_DECAY = 0.96
CONSTANT_INIT = 0.05  # value of every weight under "constant" initialization (biases are 0)
NORMAL_INIT_STD = 0.05  # Keras' RandomNormal default, as NWS (TensorFlow) used
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-7  # Keras defaults
RMSPROP_RHO, RMSPROP_EPS = 0.9, 1e-7
SGD_MOMENTUM = 0.95


def _require_torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "miwd_widget.zoo needs PyTorch: pip install 'miwd-widget[torch]' "
            "(install the CPU build of torch first to avoid a multi-GB CUDA download)"
        ) from err
    return torch


# --------------------------------------------------------------------------------------------
# sampling


def sample_configs(
    n: int,
    seed: int = 0,
    datasets: Sequence[str] | None = None,
    cohort_size: int = 32,
) -> pd.DataFrame:
    """Sample `n` NWS-like model configurations, in cohorts of up to `cohort_size`.

    Grouped hyper-parameters (:data:`GROUPED`) are drawn once per cohort, uniformly from
    :data:`SEARCH_SPACE`; datasets are balanced over cohorts (a shuffled round robin). Per model:
    lr (log-uniform), augmentation, initialization and a seed.

    Parameters
    ----------
    n
        Number of models.
    seed
        Seed of the sampler; the same arguments give the same table.
    datasets
        Subset of :func:`~miwd_widget.datasets.dataset_names` (default: all).
    cohort_size
        Models per cohort (the last one may be smaller).

    Returns
    -------
    pandas.DataFrame
        Columns id, cohort, the hyper-parameters and seed; one row per model.

    Examples
    --------
    >>> cfg = sample_configs(10, seed=1, cohort_size=4)
    >>> list(cfg["cohort"])
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    >>> int(cfg.groupby("cohort")["dataset"].nunique().max())
    1
    """
    if n < 1:
        raise ValueError(f"sample_configs: n must be >= 1, got {n}")
    if cohort_size < 1:
        raise ValueError(f"sample_configs: cohort_size must be >= 1, got {cohort_size}")
    names = list(datasets) if datasets is not None else dataset_names()
    unknown = [d for d in names if d not in DATASETS]
    if unknown or not names:
        raise ValueError(
            f"sample_configs: unknown datasets {unknown} (choose from {dataset_names()})"
        )
    rng = np.random.default_rng(seed)
    n_cohorts = math.ceil(n / cohort_size)
    ds_order = np.concatenate(
        [rng.permutation(len(names)) for _ in range(math.ceil(n_cohorts / len(names)))]
    )[:n_cohorts]
    lo, hi = SEARCH_SPACE["lr"]
    rows = []
    for c in range(n_cohorts):
        group = {"dataset": names[ds_order[c]]}
        for key in GROUPED[1:]:
            values = SEARCH_SPACE[key]
            group[key] = values[rng.integers(len(values))]
        size = min(cohort_size, n - c * cohort_size)
        lrs = np.exp(rng.uniform(np.log(lo), np.log(hi), size))
        augs = rng.integers(2, size=size).astype(bool)
        inits = rng.integers(len(SEARCH_SPACE["initialization"]), size=size)
        seeds = rng.integers(0, 2**31 - 1, size=size)
        for j in range(size):
            i = c * cohort_size + j
            rows.append(
                {
                    "id": f"m{i:05d}",
                    "cohort": c,
                    **group,
                    "lr": float(lrs[j]),
                    "augmentation": bool(augs[j]),
                    "initialization": SEARCH_SPACE["initialization"][inits[j]],
                    "seed": int(seeds[j]),
                }
            )
    cols = ["id", "cohort", "dataset", "lr", "batch_size", "augmentation", "optimizer"]
    cols += ["activation", "initialization", "filter_size", "depth_conv", "depth_fc"]
    cols += ["width_conv", "width_fc", "seed"]
    out = pd.DataFrame(rows)[cols]
    for key in ("batch_size", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc"):
        out[key] = out[key].astype(int)
    return out


# --------------------------------------------------------------------------------------------
# the network


def build_model_shapes(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of one model's parameters, in layer order.

    Names sort naturally into layer order ("l00.conv.0.weight", "l00.conv.1.bias", ...), as
    the zoo layout contract requires of safetensors files.

    Examples
    --------
    >>> cfg = dict(dataset="digits", filter_size=3, depth_conv=1, depth_fc=1,
    ...            width_conv=4, width_fc=32)
    >>> build_model_shapes(cfg)  # doctest: +NORMALIZE_WHITESPACE
    [('l00.conv.0.weight', (4, 1, 3, 3)), ('l00.conv.1.bias', (4,)),
     ('l01.fc.0.weight', (32, 64)), ('l01.fc.1.bias', (32,)),
     ('l02.fc.0.weight', (10, 32)), ('l02.fc.1.bias', (10,))]
    """
    info = DATASETS[config["dataset"]]
    k = int(config["filter_size"])
    channels, size = info.channels, info.size
    shapes: list[tuple[str, tuple[int, ...]]] = []
    layer = 0
    for _ in range(int(config["depth_conv"])):
        out = int(config["width_conv"])
        shapes.append((f"l{layer:02d}.conv.0.weight", (out, channels, k, k)))
        shapes.append((f"l{layer:02d}.conv.1.bias", (out,)))
        channels, size, layer = out, max(1, size // 2), layer + 1
    features = channels * size * size
    widths = [int(config["width_fc"])] * int(config["depth_fc"]) + [info.n_classes]
    for width in widths:
        shapes.append((f"l{layer:02d}.fc.0.weight", (width, features)))
        shapes.append((f"l{layer:02d}.fc.1.bias", (width,)))
        features, layer = width, layer + 1
    return shapes


def _init_params(torch: Any, shapes: list, initialization: str, seed: int) -> dict:
    gen = torch.Generator().manual_seed(int(seed))
    params = {}
    for name, shape in shapes:
        if name.endswith("bias"):
            params[name] = torch.zeros(shape)
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
        params[name] = w
    return params


def _activation(torch: Any, name: str) -> Any:
    fns = {
        "relu": torch.relu,
        "elu": torch.nn.functional.elu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }
    if name not in fns:
        raise ValueError(f"unknown activation {name!r}")
    return fns[name]


def _make_forward(torch: Any, names: list[str], activation: str, padding: int) -> Any:
    F = torch.nn.functional
    act = _activation(torch, activation)
    layers = sorted({n.split(".")[0] for n in names})
    kinds = {n.split(".")[0]: n.split(".")[1] for n in names}

    def forward(params: dict, x: Any) -> Any:
        h = x
        last = layers[-1]
        for layer in layers:
            w, b = (
                params[f"{layer}.{kinds[layer]}.0.weight"],
                params[f"{layer}.{kinds[layer]}.1.bias"],
            )
            if kinds[layer] == "conv":
                h = act(F.conv2d(h, w, b, padding=padding))
                if h.shape[-1] >= 2:
                    # 2x2 max-pool (floor) as reshape + amax: much faster than max_pool2d
                    # under vmap on this CPU
                    c, hh, ww = h.shape[-3], h.shape[-2] // 2, h.shape[-1] // 2
                    h = h[..., : 2 * hh, : 2 * ww].reshape(-1, c, hh, 2, ww, 2).amax((3, 5))
            else:
                if h.dim() > 2:
                    h = h.flatten(1)
                h = F.linear(h, w, b)
                if layer != last:
                    h = act(h)
        return h

    return forward


# --------------------------------------------------------------------------------------------
# functional optimizers
#
# Hand-written: torch.optim steps one parameter set with one learning rate, but a cohort is one
# stacked tensor per parameter holding G models, each with its own learning rate and its own
# "stopped" flag. These are the standard update rules with a (G, 1, ...) learning-rate tensor.


def _opt_init(torch: Any, optimizer: str, params: dict) -> dict:
    state: dict[str, Any] = {"t": 0}
    for k, p in params.items():
        if optimizer == "adam":
            state[k] = (torch.zeros_like(p), torch.zeros_like(p))
        elif optimizer in ("rmsprop", "sgd_momentum"):
            state[k] = torch.zeros_like(p)
        else:
            raise ValueError(f"unknown optimizer {optimizer!r}")
    return state


def _opt_step(
    torch: Any, optimizer: str, params: dict, grads: dict, state: dict, lr: Any, active: Any
) -> None:
    """Update `params` in place; `lr` and `active` have shape (G,)."""
    state["t"] += 1
    t = state["t"]
    for k, p in params.items():
        g = grads[k]
        shape = (-1,) + (1,) * (p.dim() - 1)
        lr_k, mask = lr.view(shape), active.view(shape)
        if optimizer == "adam":
            m, v = state[k]
            m_new = ADAM_BETAS[0] * m + (1 - ADAM_BETAS[0]) * g
            v_new = ADAM_BETAS[1] * v + (1 - ADAM_BETAS[1]) * g * g
            m_hat = m_new / (1 - ADAM_BETAS[0] ** t)
            v_hat = v_new / (1 - ADAM_BETAS[1] ** t)
            update = lr_k * m_hat / (v_hat.sqrt() + ADAM_EPS)
            state[k] = (torch.where(mask, m_new, m), torch.where(mask, v_new, v))
        elif optimizer == "rmsprop":
            v = state[k]
            v_new = RMSPROP_RHO * v + (1 - RMSPROP_RHO) * g * g
            update = lr_k * g / (v_new.sqrt() + RMSPROP_EPS)
            state[k] = torch.where(mask, v_new, v)
        else:  # sgd with momentum, torch's convention: v = mu v + g; p -= lr v
            buf = state[k]
            buf_new = SGD_MOMENTUM * buf + g
            update = lr_k * buf_new
            state[k] = torch.where(mask, buf_new, buf)
        p.copy_(torch.where(mask, p - update, p))


# --------------------------------------------------------------------------------------------
# training one cohort


def _augment(torch: Any, xb: Any, shift: Any, flip: Any, aug: Any, flip_ok: bool) -> Any:
    """Per-sample +-1 px shifts (zero fill) and optional horizontal flips, for models with `aug`."""
    G, B, C, H, W = xb.shape
    flat = xb.reshape(G * B, C, H, W)
    padded = torch.nn.functional.pad(flat, (1, 1, 1, 1))
    s = shift.reshape(G * B, 2)
    rows = torch.arange(H)[None, :] + 1 + s[:, :1]
    cols = torch.arange(W)[None, :] + 1 + s[:, 1:]
    n_idx = torch.arange(G * B)[:, None, None, None]
    c_idx = torch.arange(C)[None, :, None, None]
    out = padded[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]
    if flip_ok:
        out = torch.where(flip.reshape(G * B, 1, 1, 1), out.flip(-1), out)
    out = out.reshape(G, B, C, H, W)
    return torch.where(aug.view(G, 1, 1, 1, 1), out, xb)


def _accuracy(torch: Any, vforward: Any, params: dict, x: Any, y: Any, chunk: int = 1024) -> Any:
    """Accuracy of each stacked model on the shared set (x, y); non-finite logits count wrong."""
    correct = None
    with torch.no_grad():
        for start in range(0, len(y), chunk):
            logits = vforward(params, x[start : start + chunk])
            ok = (logits.argmax(-1) == y[start : start + chunk]) & torch.isfinite(logits).all(-1)
            c = ok.sum(1)
            correct = c if correct is None else correct + c
    return correct.double() / len(y)


def train_cohort(
    configs: pd.DataFrame | Sequence[dict],
    *,
    data_seed: int = 0,
    max_train: int | None = None,
    max_epochs: int = 10,
    patience: int = 3,
) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """Train models that share the grouped hyper-parameters together, as one stacked network.

    Parameters
    ----------
    configs
        Rows as made by :func:`sample_configs` (all with the same :data:`GROUPED` values).
    data_seed, max_train
        Passed to :func:`~miwd_widget.datasets.load_dataset`.
    max_epochs, patience
        At most `max_epochs` epochs; stop a model after `patience` epochs without a better
        validation accuracy.

    Returns
    -------
    results, weights
        Per model: a metadata dict (accuracies, epochs, n_params, ...) and its best-validation
        weights (name -> float32 array, in layer order).

    Examples
    --------
    >>> cfg = sample_configs(2, seed=0, datasets=["digits"], cohort_size=2)
    >>> results, weights = train_cohort(cfg, max_train=64, max_epochs=1)
    >>> len(results), sorted(weights[0]) == list(weights[0])
    (2, True)
    """
    torch = _require_torch()
    rows = configs.to_dict("records") if isinstance(configs, pd.DataFrame) else list(configs)
    if not rows:
        raise ValueError("train_cohort: no configs given")
    first = rows[0]
    mixed = [k for k in GROUPED if any(r[k] != first[k] for r in rows)]
    if mixed:
        raise ValueError(f"train_cohort: configs differ in grouped hyper-parameters {mixed}")
    info = DATASETS[first["dataset"]]
    G = len(rows)
    shapes = build_model_shapes(first)
    names = [n for n, _ in shapes]
    n_params = int(sum(np.prod(s) for _, s in shapes))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic sums, and one core per worker process
    try:
        xs = load_dataset(first["dataset"], seed=data_seed, max_train=max_train)
        x_train, y_train, x_val, y_val, x_test, y_test = (torch.tensor(np.array(a)) for a in xs)
        n_train = len(y_train)
        bs = int(first["batch_size"])
        forward = _make_forward(torch, names, first["activation"], int(first["filter_size"]) // 2)
        vforward_train = torch.func.vmap(forward, in_dims=(0, 0))
        vforward_eval = torch.func.vmap(forward, in_dims=(0, None))

        inits = [_init_params(torch, shapes, r["initialization"], r["seed"]) for r in rows]
        params = {k: torch.stack([p[k] for p in inits]).requires_grad_(True) for k in names}
        best = {k: v.detach().clone() for k, v in params.items()}
        state = _opt_init(torch, first["optimizer"], {k: v.detach() for k, v in params.items()})
        lr0 = torch.tensor([float(r["lr"]) for r in rows], dtype=torch.float32)
        aug = torch.tensor([bool(r["augmentation"]) for r in rows])
        active = torch.ones(G, dtype=torch.bool)
        diverged = torch.zeros(G, dtype=torch.bool)
        best_val = torch.full((G,), -1.0, dtype=torch.float64)
        best_epoch = torch.zeros(G, dtype=torch.long)
        epochs = torch.zeros(G, dtype=torch.long)
        waited = torch.zeros(G, dtype=torch.long)

        for epoch in range(max_epochs):
            if not bool(active.any()):
                break
            # each model's data order and augmentation draws come from its own seed only
            rngs = [np.random.default_rng([int(r["seed"]), epoch]) for r in rows]
            order = torch.from_numpy(np.stack([g.permutation(n_train) for g in rngs]))
            shift = torch.from_numpy(np.stack([g.integers(-1, 2, (n_train, 2)) for g in rngs]))
            flip = torch.from_numpy(np.stack([g.random(n_train) < 0.5 for g in rngs]))
            lr = lr0 * (LR_DECAY**epoch)
            epochs += active.long()
            for start in range(0, n_train, bs):
                idx = order[:, start : start + bs]
                xb, yb = x_train[idx], y_train[idx]
                if bool(aug.any()):
                    sl = slice(start, start + bs)
                    xb = _augment(torch, xb, shift[:, sl], flip[:, sl], aug, info.flip_ok)
                logits = vforward_train(params, xb)
                loss = (
                    torch.nn.functional.cross_entropy(
                        logits.reshape(-1, info.n_classes), yb.reshape(-1), reduction="none"
                    )
                    .view(G, -1)
                    .mean(1)
                )
                finite = torch.isfinite(loss)
                if not bool(finite.all()):
                    diverged |= active & ~finite
                    active &= finite
                total = torch.where(active, loss, torch.zeros_like(loss)).sum()
                grads = torch.autograd.grad(total, [params[k] for k in names])
                with torch.no_grad():
                    grad_map = {k: torch.nan_to_num(g) for k, g in zip(names, grads, strict=True)}
                    _opt_step(torch, first["optimizer"], params, grad_map, state, lr, active)
            with torch.no_grad():
                # a step can also produce non-finite weights with a finite loss
                for k in names:
                    bad = ~torch.isfinite(params[k].reshape(G, -1)).all(1)
                    diverged |= active & bad
                    active &= ~bad
                val = _accuracy(torch, vforward_eval, params, x_val, y_val)
                improved = active & (val > best_val)
                for k in names:
                    mask = improved.view((-1,) + (1,) * (params[k].dim() - 1))
                    best[k] = torch.where(mask, params[k].detach(), best[k])
                best_val = torch.where(improved, val, best_val)
                best_epoch = torch.where(
                    improved, torch.full_like(best_epoch, epoch + 1), best_epoch
                )
                waited = torch.where(improved, torch.zeros_like(waited), waited + 1)
                active &= waited < patience

        with torch.no_grad():
            train_acc = _accuracy(torch, vforward_eval, best, x_train, y_train)
            test_acc = _accuracy(torch, vforward_eval, best, x_test, y_test)
            val_acc = _accuracy(torch, vforward_eval, best, x_val, y_val)
    finally:
        torch.set_num_threads(threads)

    results, weights = [], []
    for g, r in enumerate(rows):
        results.append(
            {
                **r,
                "test_accuracy": float(test_acc[g]),
                "train_accuracy": float(train_acc[g]),
                "val_accuracy": float(val_acc[g]),
                "epochs": int(epochs[g]),
                "best_epoch": int(best_epoch[g]),
                "n_params": n_params,
                "diverged": bool(diverged[g]),
            }
        )
        weights.append({k: best[k][g].numpy().astype(np.float32).copy() for k in names})
    return results, weights


# --------------------------------------------------------------------------------------------
# the zoo on disk


def _save_model(path: Path, weights: dict[str, np.ndarray], config: dict[str, Any]) -> None:
    from safetensors.numpy import save_file

    meta = {"order": json.dumps(list(weights)), "format": "miwd-zoo"}
    meta["config"] = json.dumps({k: v for k, v in config.items() if k != "path"}, default=str)
    tmp = path.with_name(path.name + ".tmp")
    save_file(weights, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _run_cohort(
    rows: list[dict],
    out_dir: str,
    data_seed: int,
    max_train: int | None,
    max_epochs: int,
    patience: int,
) -> tuple[list[dict], str | None, int]:
    """Worker: train one cohort, write its files; return metadata rows or the error."""
    try:
        results, weights = train_cohort(
            rows,
            data_seed=data_seed,
            max_train=max_train,
            max_epochs=max_epochs,
            patience=patience,
        )
        for res, w in zip(results, weights, strict=True):
            res["path"] = f"models/{res['id']}.safetensors"
            _save_model(Path(out_dir) / res["path"], w, res)
        return results, None, int(rows[0]["cohort"])
    except Exception as err:  # a failed cohort is recorded; the zoo goes on
        return [], f"{type(err).__name__}: {err}", int(rows[0]["cohort"])


def _cohort_cost(rows: list[dict]) -> float:
    """Rough relative cost, to start the slowest cohorts first."""
    r = rows[0]
    info = DATASETS[r["dataset"]]
    steps = math.ceil(info.n_train / r["batch_size"])
    return steps * (
        20 + r["batch_size"] * info.size**2 * r["width_conv"] * r["filter_size"] ** 2 / 4000
    )


_INT_COLUMNS = ["batch_size", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc"]
_INT_COLUMNS += ["epochs", "n_params", "seed", "cohort", "best_epoch"]


def _read_metadata(path: Path) -> pd.DataFrame:
    """Read metadata.csv, dropping a torn or incomplete row (an interrupted append)."""
    try:
        df = pd.read_csv(path, dtype={"id": str, "path": str}, on_bad_lines="skip")
    except (pd.errors.EmptyDataError, FileNotFoundError):
        return pd.DataFrame(columns=METADATA_COLUMNS)
    df = df.reindex(columns=METADATA_COLUMNS).dropna()
    for col in _INT_COLUMNS:
        df[col] = df[col].astype(np.int64)
    for col in ("augmentation", "diverged"):
        df[col] = df[col].astype(str).str.lower().eq("true")
    return df.reset_index(drop=True)


def train_zoo(
    n: int,
    out_dir: str | os.PathLike,
    seed: int = 0,
    datasets: Sequence[str] | None = None,
    n_jobs: int = 2,
    cohort_size: int = 32,
    max_epochs: int = 10,
    progress: bool = True,
    *,
    patience: int = 3,
    max_train: int | None = None,
    data_seed: int = 0,
) -> pd.DataFrame:
    """Train `n` NWS-like CNNs into `out_dir` (the zoo layout), resuming a previous run.

    Writes ``zoo.json`` (config and timing), ``metadata.csv`` (one row per model, appended
    after every cohort, so an interrupted run keeps what finished) and
    ``models/<id>.safetensors``. Run again with the same arguments to resume: finished cohorts
    are skipped. A cohort that fails is recorded in ``zoo.json`` under "failures" and the run
    goes on.

    Parameters
    ----------
    n
        Number of models.
    out_dir
        Zoo directory (created if missing).
    seed
        Sampler seed (:func:`sample_configs`).
    datasets
        Subset of the tasks (default: all four).
    n_jobs
        Worker processes (each uses one torch thread); 1 trains in this process.
    cohort_size
        Models trained together as one stacked network.
    max_epochs, patience
        Early stopping on the validation split.
    progress
        Show a tqdm progress bar over models.
    max_train
        Cap on training images per task (quick tests); None uses the full splits.
    data_seed
        Seed of the generated tasks.

    Returns
    -------
    pandas.DataFrame
        The metadata table (sorted by id).

    Examples
    --------
    >>> import tempfile
    >>> meta = train_zoo(2, tempfile.mkdtemp(), datasets=["digits"], n_jobs=1,
    ...                  max_epochs=1, max_train=64, progress=False)
    >>> meta[["id", "path"]].values.tolist()
    [['m00000', 'models/m00000.safetensors'], ['m00001', 'models/m00001.safetensors']]
    """
    from tqdm.auto import tqdm

    _require_torch()
    from . import __version__

    if n_jobs < 1:
        raise ValueError(f"train_zoo: n_jobs must be >= 1, got {n_jobs}")
    if max_epochs < 1 or patience < 1:
        raise ValueError("train_zoo: max_epochs and patience must be >= 1")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"train_zoo: out_dir {out} exists and is not a directory")
    configs = sample_configs(n, seed=seed, datasets=datasets, cohort_size=cohort_size)
    settings = {
        "n": n,
        "seed": seed,
        "datasets": dataset_names() if datasets is None else list(datasets),
        "cohort_size": cohort_size,
        "max_epochs": max_epochs,
        "patience": patience,
        "max_train": max_train,
        "data_seed": data_seed,
    }
    zoo_json = out / "zoo.json"
    previous: dict[str, Any] = {}
    if zoo_json.exists():
        previous = json.loads(zoo_json.read_text())
        old = previous.get("settings", {})
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ:
            raise ValueError(
                f"train_zoo: {out} holds a zoo with other settings ({differ}); "
                "use another directory or the same arguments to resume"
            )
    (out / "models").mkdir(parents=True, exist_ok=True)

    meta_path = out / "metadata.csv"
    done = _read_metadata(meta_path)
    done = done[done["id"].isin(configs["id"])] if len(done) else done
    if len(done):
        # keep only whole cohorts whose files exist; a cohort cut short is trained again
        have = done[[(out / p).exists() for p in done["path"]]]
        sizes = configs.groupby("cohort").size()
        counts = have.groupby("cohort").size()
        whole = counts[counts == sizes.reindex(counts.index)].index
        done = have[have["cohort"].isin(whole)]
    done = done.reindex(columns=METADATA_COLUMNS)
    done.to_csv(meta_path, index=False)  # rewrite: drops a torn last line or a partial cohort

    todo = [
        g.to_dict("records")
        for c, g in configs.groupby("cohort", sort=True)
        if c not in set(done["cohort"].astype(int))
    ]
    todo.sort(key=_cohort_cost, reverse=True)

    info = {
        "format": "miwd-zoo/1",
        "package_version": __version__,
        "torch_version": _require_torch().__version__,
        "settings": settings,
        "search_space": {
            k: list(v) if not isinstance(v, str) else v for k, v in SEARCH_SPACE.items()
        },
        "grouped": list(GROUPED),
        "training": {
            "lr_decay_per_epoch": LR_DECAY,
            "constant_init": CONSTANT_INIT,
            "normal_init_std": NORMAL_INIT_STD,
            "adam": {"betas": ADAM_BETAS, "eps": ADAM_EPS},
            "rmsprop": {"rho": RMSPROP_RHO, "eps": RMSPROP_EPS},
            "sgd_momentum": SGD_MOMENTUM,
            "batch_norm": False,
            "dropout": 0.0,
            "augmentation": "random +-1 px shifts; horizontal flips on shapes/textures",
        },
        "datasets_info": {k: vars(DATASETS[k]) for k in settings["datasets"]},
        "failures": previous.get("failures", []),
        "status": "running",
        "runs": previous.get("runs", []),
    }
    _write_json(zoo_json, info)

    start = time.perf_counter()
    n_todo = sum(len(r) for r in todo)
    bar = tqdm(total=n, initial=len(done), disable=not progress, unit="model", desc="zoo")
    failures: list[dict] = []
    header = not meta_path.exists() or meta_path.stat().st_size == 0
    args = (str(out), data_seed, max_train, max_epochs, patience)
    if n_jobs == 1:
        results = (_run_cohort(rows, *args) for rows in todo)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_run_cohort)(rows, *args) for rows in todo
        )
    with open(meta_path, "a", newline="") as fh:
        for rows_done, error, cohort in results:
            if error is not None:
                failures.append({"cohort": cohort, "error": error})
                continue
            frame = pd.DataFrame(rows_done).reindex(columns=METADATA_COLUMNS)
            frame.to_csv(fh, header=header, index=False)
            header = False
            fh.flush()
            bar.update(len(rows_done))
    bar.close()
    elapsed = time.perf_counter() - start

    meta = _read_metadata(meta_path).sort_values("id").reset_index(drop=True)
    meta.to_csv(meta_path, index=False)
    info["failures"] = info["failures"] + failures
    info["runs"] = info["runs"] + [
        {
            "trained": n_todo
            - sum(len(configs[configs["cohort"] == f["cohort"]]) for f in failures),
            "wall_seconds": round(elapsed, 2),
            "models_per_second": round(n_todo / elapsed, 3) if elapsed > 0 else None,
            "n_jobs": n_jobs,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ]
    info["status"] = "complete" if len(meta) == n else "incomplete"
    info["n_models"] = int(len(meta))
    _write_json(zoo_json, info)
    return meta


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def retrain_model(zoo_dir: str | os.PathLike, model_id: str) -> dict[str, np.ndarray]:
    """Retrain one zoo model alone from its recorded config and seed; return its weights.

    Matches the saved weights within float tolerance (see the module notes on why not bit for
    bit).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = train_zoo(1, d, datasets=["digits"], n_jobs=1, max_epochs=1, max_train=64,
    ...               progress=False)
    >>> sorted(retrain_model(d, "m00000"))[0]
    'l00.conv.0.weight'
    """
    zoo = Path(zoo_dir)
    info = json.loads((zoo / "zoo.json").read_text())
    s = info["settings"]
    meta = _read_metadata(zoo / "metadata.csv")
    row = meta[meta["id"] == model_id]
    if row.empty:
        raise ValueError(f"retrain_model: no model {model_id!r} in {zoo / 'metadata.csv'}")
    cfg = row.iloc[0].to_dict()
    cfg["augmentation"] = str(cfg["augmentation"]) == "True"
    _, weights = train_cohort(
        [cfg],
        data_seed=s["data_seed"],
        max_train=s["max_train"],
        max_epochs=s["max_epochs"],
        patience=s["patience"],
    )
    return weights[0]
