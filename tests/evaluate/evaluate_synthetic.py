"""Synthetic models shared by the evaluate tests (imported by conftest and the tests)."""

from __future__ import annotations

import numpy as np

N_MODELS = 72


def mlp(rng: np.random.Generator, width: int, shape: str, scale: float) -> dict[str, np.ndarray]:
    """A 3-layer MLP state dict whose hidden weights come from a normal or uniform law."""

    def draw(size):
        # like independently trained models, each layer ends with its own scale (+-25%)
        std = scale * np.exp(rng.normal(0.0, 0.25))
        if shape == "normal":
            return rng.normal(0.0, std, size=size)
        # uniform with the same standard deviation as the normal
        return rng.uniform(-np.sqrt(3) * std, np.sqrt(3) * std, size=size)

    return {
        "l00.fc.0.weight": draw((width, 24)).astype(np.float32),
        "l00.fc.1.bias": (0.01 * rng.normal(size=width)).astype(np.float32),
        "l01.fc.0.weight": draw((width, width)).astype(np.float32),
        "l01.fc.1.bias": (0.01 * rng.normal(size=width)).astype(np.float32),
        "l02.fc.0.weight": rng.normal(0, 0.1, size=(5, width)).astype(np.float32),
        "l02.fc.1.bias": np.zeros(5, np.float32),
    }


# The paper resamples to 65,536 values (tested in test_representations); 4,096 keeps these
# probes fast.
SMALL = {"n_points": 4096}
FAST_REPRESENTATIONS = [
    ("miwd", "miwd", {"percentiles": (1, 99)}),
    "raw",
    "stats",
    ("pca", "pca", SMALL),
    ("random", "random", SMALL),
]
