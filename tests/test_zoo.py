"""The zoo: sampler, batched training, optimizers, files on disk, reproducibility, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

from miwd_widget import zoo
from miwd_widget.zoo import (
    GROUPED,
    METADATA_COLUMNS,
    SEARCH_SPACE,
    build_model_shapes,
    retrain_model,
    sample_configs,
    train_cohort,
    train_zoo,
)

CONTRACT_COLUMNS = [
    "id", "path", "dataset", "lr", "batch_size", "augmentation", "optimizer", "activation",
    "initialization", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc",
    "test_accuracy", "train_accuracy", "epochs", "n_params", "seed",
]  # fmt: skip
TINY = dict(datasets=["digits"], n_jobs=1, max_epochs=2, max_train=96, progress=False)


# --- sampler --------------------------------------------------------------------------------


def test_sample_configs_cohorts_share_grouped_values_and_marginals_match():
    cfg = sample_configs(4000, seed=3, cohort_size=8)
    assert list(cfg["id"][:2]) == ["m00000", "m00001"] and cfg["id"].is_unique
    assert (cfg.groupby("cohort")[list(GROUPED)].nunique() == 1).all().all()
    assert cfg["lr"].between(2e-4, 5e-3).all()
    # log-uniform: log(lr) has the mean of its interval
    assert abs(np.log(cfg["lr"]).mean() - np.log([2e-4, 5e-3]).mean()) < 0.05
    for key in ("dataset", "batch_size", "optimizer", "activation", "initialization",
                "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc",
                "augmentation"):  # fmt: skip
        shares = cfg[key].value_counts(normalize=True)
        assert set(shares.index) == set(SEARCH_SPACE[key]), key
        assert shares.max() - shares.min() < 0.12, (key, shares.to_dict())
    # per-model values vary inside a cohort
    assert cfg.groupby("cohort")["seed"].nunique().min() == 8
    pd.testing.assert_frame_equal(cfg, sample_configs(4000, seed=3, cohort_size=8))


def test_sample_configs_bad_arguments():
    with pytest.raises(ValueError, match="unknown datasets"):
        sample_configs(3, datasets=["cifar10"])
    with pytest.raises(ValueError, match="n must be"):
        sample_configs(0)


def test_model_shapes_by_hand():
    cfg = dict(dataset="shapes", filter_size=5, depth_conv=2, depth_fc=2, width_conv=8,
               width_fc=32)  # fmt: skip
    shapes = build_model_shapes(cfg)
    # 10x10x3 -> conv 8 -> pool 5x5 -> conv 8 -> pool 2x2 (floor) -> 32 features -> 32 -> 32 -> 6
    assert shapes == [
        ("l00.conv.0.weight", (8, 3, 5, 5)), ("l00.conv.1.bias", (8,)),
        ("l01.conv.0.weight", (8, 8, 5, 5)), ("l01.conv.1.bias", (8,)),
        ("l02.fc.0.weight", (32, 32)), ("l02.fc.1.bias", (32,)),
        ("l03.fc.0.weight", (32, 32)), ("l03.fc.1.bias", (32,)),
        ("l04.fc.0.weight", (6, 32)), ("l04.fc.1.bias", (6,)),
    ]  # fmt: skip
    assert [n for n, _ in shapes] == sorted(n for n, _ in shapes)


# --- hand-written optimizers agree with torch.optim, per model ------------------------------


@pytest.mark.parametrize(
    "name,make",
    [
        ("adam", lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-7)),
        ("rmsprop", lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7)),
        ("sgd_momentum", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.95)),
    ],
)
def test_functional_optimizer_matches_torch_optim_with_per_model_lr(name, make):
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(3, 4, 5, generator=gen)
    grads = [torch.randn(3, 4, 5, generator=gen) for _ in range(4)]
    lrs = torch.tensor([1e-3, 3e-3, 1e-2])
    stacked = {"w": start.clone()}
    state = zoo._opt_init(torch, name, stacked)
    active = torch.tensor([True, True, False])  # the third model is stopped
    for g in grads:
        zoo._opt_step(torch, name, stacked, {"w": g}, state, lrs, active)
    for m in range(2):
        p = torch.nn.Parameter(start[m].clone())
        opt = make([p], float(lrs[m]))
        for g in grads:
            p.grad = g[m].clone()
            opt.step()
        torch.testing.assert_close(stacked["w"][m], p.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stacked["w"][2], start[2], rtol=0, atol=0)


# --- training --------------------------------------------------------------------------------


def test_trained_models_beat_chance_on_digits():
    rows = [
        dict(id=f"t{i}", cohort=0, dataset="digits", lr=lr, batch_size=32, augmentation=aug,
             optimizer="adam", activation="relu", initialization="glorot_uniform",
             filter_size=3, depth_conv=1, depth_fc=1, width_conv=8, width_fc=32, seed=i)
        for i, (lr, aug) in enumerate([(3e-3, False), (2e-3, False)])
    ]  # fmt: skip
    results, weights = train_cohort(rows, max_train=300, max_epochs=4, patience=2)
    for r in results:
        assert r["test_accuracy"] > 0.5  # chance is 0.1
        assert 1 <= r["best_epoch"] <= r["epochs"] <= 4
        assert not r["diverged"]
    assert not np.array_equal(weights[0]["l00.conv.0.weight"], weights[1]["l00.conv.0.weight"])


def test_cohort_rejects_mixed_grouped_values():
    cfg = sample_configs(8, seed=0, cohort_size=4)
    with pytest.raises(ValueError, match="grouped hyper-parameters"):
        train_cohort(cfg, max_train=16, max_epochs=1)


def test_tiny_zoo_files_metadata_and_ranges(tmp_path):
    meta = train_zoo(4, tmp_path, cohort_size=2, **TINY)
    assert list(meta.columns) == METADATA_COLUMNS
    assert METADATA_COLUMNS[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert list(meta["id"]) == ["m00000", "m00001", "m00002", "m00003"]
    assert meta["test_accuracy"].between(0, 1).all() and meta["train_accuracy"].between(0, 1).all()
    assert meta["epochs"].between(1, 2).all()
    assert set(meta["optimizer"]) <= set(SEARCH_SPACE["optimizer"])
    on_disk = pd.read_csv(tmp_path / "metadata.csv", dtype={"id": str})
    pd.testing.assert_frame_equal(on_disk, meta)
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert info["status"] == "complete" and info["n_models"] == 4
    assert info["settings"]["seed"] == 0 and info["runs"][0]["wall_seconds"] > 0
    for row in meta.itertuples():
        path = tmp_path / row.path
        with safe_open(str(path), framework="np") as f:
            order = json.loads(f.metadata()["order"])
        weights = load_file(str(path))
        shapes = build_model_shapes(row._asdict())
        assert order == [n for n, _ in shapes] == sorted(weights)
        assert [weights[n].shape for n in order] == [s for _, s in shapes]
        assert sum(w.size for w in weights.values()) == row.n_params
        assert all(w.dtype == np.float32 for w in weights.values())


def test_reproducible_from_config_and_seed(tmp_path):
    meta = train_zoo(2, tmp_path, cohort_size=2, **TINY)
    saved = load_file(str(tmp_path / meta.loc[1, "path"]))
    # the whole cohort again: bit for bit
    cfg = sample_configs(2, seed=0, datasets=["digits"], cohort_size=2)
    _, again = train_cohort(cfg, max_train=96, max_epochs=2)
    for k in saved:
        np.testing.assert_array_equal(again[1][k], saved[k])
    # the model alone, from its metadata row: within float tolerance
    alone = retrain_model(tmp_path, "m00001")
    for k in saved:
        np.testing.assert_allclose(alone[k], saved[k], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no model 'm09999'"):
        retrain_model(tmp_path, "m09999")


def test_resume_skips_finished_cohorts_and_retrains_cut_ones(tmp_path):
    train_zoo(4, tmp_path, cohort_size=2, **TINY)
    meta_path = tmp_path / "metadata.csv"
    full = pd.read_csv(meta_path, dtype={"id": str})
    kept = tmp_path / "models" / "m00000.safetensors"
    kept_bytes, kept_mtime = kept.read_bytes(), kept.stat().st_mtime_ns
    # simulate an interrupted run: the second cohort wrote one file and a torn csv line
    (tmp_path / "models" / "m00003.safetensors").unlink()
    text = meta_path.read_text().splitlines()
    meta_path.write_text("\n".join(text[:3] + [text[3][:15]]) + "\n")
    meta = train_zoo(4, tmp_path, cohort_size=2, **TINY)
    assert kept.stat().st_mtime_ns == kept_mtime and kept.read_bytes() == kept_bytes
    assert (tmp_path / "models" / "m00003.safetensors").exists()
    pd.testing.assert_frame_equal(meta, full)
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert [r["trained"] for r in info["runs"]] == [4, 2]
    with pytest.raises(ValueError, match="other settings"):
        train_zoo(4, tmp_path, cohort_size=2, **{**TINY, "max_epochs": 3})


def test_failed_cohort_is_recorded_and_the_zoo_goes_on(tmp_path, monkeypatch):
    real = zoo.train_cohort

    def flaky(rows, **kw):
        if rows[0]["cohort"] == 0:
            raise RuntimeError("boom")
        return real(rows, **kw)

    monkeypatch.setattr(zoo, "train_cohort", flaky)
    meta = train_zoo(4, tmp_path, cohort_size=2, **TINY)
    assert list(meta["id"]) == ["m00002", "m00003"]
    info = json.loads((tmp_path / "zoo.json").read_text())
    assert info["status"] == "incomplete"
    assert info["failures"] == [{"cohort": 0, "error": "RuntimeError: boom"}]
