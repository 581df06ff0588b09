"""Fixtures of the evaluate tests: a tiny synthetic library with real safetensors files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluate_synthetic import FAST_REPRESENTATIONS, N_MODELS, mlp
from safetensors.numpy import save_file

from miwd_widget.evaluate import probe
from miwd_widget.library import ModelLibrary
from miwd_widget.representations import describe_flat


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    """48 models in safetensors files: 'shape' (normal vs uniform weights, same variance)
    and 'scale' are real signals; 'shuffled' is an independent random label."""
    root = tmp_path_factory.mktemp("zoo")
    rng = np.random.default_rng(0)
    rows, paths = [], []
    for i in range(N_MODELS):
        shape = ("normal", "uniform")[i % 2]
        scale = (0.05, 0.2)[(i // 2) % 2]
        width = (16, 24, 32)[(i // 4) % 3]
        state = mlp(rng, width, shape, scale)
        path = root / "models" / f"m{i:05d}.safetensors"
        path.parent.mkdir(exist_ok=True)
        save_file(state, str(path), metadata={"order": json.dumps(list(state))})
        paths.append(str(path))
        rows.append(
            {
                "id": f"m{i:05d}",
                "source": str(path),
                "shape": shape,
                "scale": scale,
                "width": width,
                "lr": float(rng.uniform(1e-4, 1e-2)),
                "shuffled": rng.choice(["a", "b"]),
                "seed": i,
            }
        )
    meta = pd.DataFrame(rows)
    descriptors = np.stack([describe_flat(p, 4, 4, (-0.5, 0.5)).reshape(4, 4) for p in paths])
    return ModelLibrary(descriptors, meta)


@pytest.fixture(scope="session")
def result(library):
    return probe(
        library,
        targets=["shape", "scale", "shuffled"],
        representations=FAST_REPRESENTATIONS,
        dims=(16, 64),
        folds=4,
        random_state=0,
    )
