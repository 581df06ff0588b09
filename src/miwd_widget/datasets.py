"""Small offline image classification tasks for training a model zoo.

NWS (the paper's data) trains on five datasets (MNIST, Fashion, CIFAR-10, SVHN, STL-10) whose
content, colour and class structure differ (NWS resizes them all to 32x32x3). Nothing can be
downloaded here, so the zoo uses scikit-learn's bundled ``digits`` (real) plus three procedurally
generated tasks; they differ in content, channels, class count and (8 vs 10 px) input size, so
the first layer's shape, and with it the weights, depend on the task:

============  ==========  =======  ===============================================================
name          shape       classes  what it is
============  ==========  =======  ===============================================================
digits        1 x 8 x 8   10       scikit-learn's handwritten digits (1,797 real images)
shapes        3 x 10 x 10 6        a bright disc, square, triangle, cross, ring or bar at a
                                   random place, size and hue on a dark noisy background
gratings      1 x 10 x 10 8        a sinusoidal grating in one of 8 orientations (22.5 deg apart),
                                   random period, phase and contrast, pixel noise (sd 0.3)
textures      3 x 10 x 10 5        checkerboard, dots, stripes, smooth blobs or fine speckle, bright
                                   on dark in random hues, scales and phases, with pixel noise
============  ==========  =======  ===============================================================

Every generated task is a deterministic function of its seed; splits are fixed (train / val /
test: digits 500 / 200 / 1,097, generated tasks 320 / 200 / 400). The tasks are deliberately
small and the training splits short so that 2,000 CNNs train in minutes on two CPU cores; a
well-configured small CNN reaches roughly 0.9 (digits) and 0.5-0.7 (generated tasks) test
accuracy within 10 epochs, so accuracies spread widely across the zoo. Images are standardized per channel with the training split's mean and std and returned as
float32 NCHW arrays, labels as int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "dataset_names"]


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one task.

    Attributes
    ----------
    name, channels, size, n_classes
        Identity and input shape (channels x size x size) and class count.
    n_train, n_val, n_test
        Split sizes.
    flip_ok
        Whether a horizontal flip keeps the label (used by augmentation).
    description
        One line for humans.
    """

    name: str
    channels: int
    size: int
    n_classes: int
    n_train: int
    n_val: int
    n_test: int
    flip_ok: bool
    description: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """Input shape (C, H, W)."""
        return (self.channels, self.size, self.size)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "digits", 1, 8, 10, 500, 200, 1097, False, "scikit-learn handwritten digits 8x8"
    ),
    "shapes": DatasetInfo(
        "shapes", 3, 10, 6, 320, 200, 400, True, "coloured shapes on noisy backgrounds 10x10"
    ),
    "gratings": DatasetInfo(
        "gratings", 1, 10, 8, 320, 200, 400, False, "noisy oriented gratings 10x10, 8 angles"
    ),
    "textures": DatasetInfo(
        "textures", 3, 10, 5, 320, 200, 400, True, "five texture families in colour 10x10"
    ),
}


def dataset_names() -> list[str]:
    """Names of the available tasks, in a fixed order.

    Examples
    --------
    >>> dataset_names()
    ['digits', 'shapes', 'gratings', 'textures']
    """
    return list(DATASETS)


# --- generators (each returns images N x C x H x W in roughly [0, 1] and labels) -------------


def _digits(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy + 0.5, xx + 0.5


def _shapes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 10
    yy, xx = _grid(size)
    y = np.arange(n) % 6
    rng.shuffle(y)
    images = np.empty((n, 3, size, size), np.float32)
    for i, label in enumerate(y):
        r = rng.uniform(2.8, 4.5)
        cy, cx = rng.uniform(r, size - r, size=2)
        dy, dx = yy - cy, xx - cx
        if label == 0:  # disc
            mask = dy**2 + dx**2 <= r**2
        elif label == 1:  # axis-aligned square
            mask = (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
        elif label == 2:  # upward triangle
            mask = (dy <= r * 0.7) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
        elif label == 3:  # plus-shaped cross
            arm = max(1.0, r * 0.3)
            mask = (
                ((np.abs(dy) <= arm) | (np.abs(dx) <= arm)) & (np.abs(dy) <= r) & (np.abs(dx) <= r)
            )
        elif label == 4:  # ring
            d2 = dy**2 + dx**2
            mask = (d2 <= r**2) & (d2 >= (r * 0.55) ** 2)
        else:  # horizontal or vertical bar
            long_, short = r, max(1.0, r * 0.35)
            mask = (np.abs(dy) <= short) & (np.abs(dx) <= long_)
            if rng.random() < 0.5:
                mask = mask.T
        # a bright shape on a dark background, hues random
        fg = rng.uniform(0.55, 1.0, 3)
        bg = rng.uniform(0.0, 0.45, 3)
        img = np.where(mask[None], fg[:, None, None], bg[:, None, None])
        images[i] = img + rng.normal(0, 0.1, img.shape)
    return images, y.astype(np.int64)


def _gratings(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 10
    yy, xx = _grid(size)
    y = np.arange(n) % 8
    rng.shuffle(y)
    theta = y * (np.pi / 8) + rng.normal(0, 0.06, n)
    period = rng.uniform(3.0, 7.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    contrast = rng.uniform(0.4, 1.0, n)
    proj = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
    img = 0.5 + 0.5 * contrast[:, None, None] * np.sin(
        2 * np.pi * proj / period[:, None, None] + phase[:, None, None]
    )
    img = img + rng.normal(0, 0.3, img.shape)
    return img[:, None].astype(np.float32), y.astype(np.int64)


def _smooth_noise(rng: np.random.Generator, size: int, cell: int) -> np.ndarray:
    """Bilinearly upsampled coarse noise: blobs of roughly `cell` pixels."""
    k = size // cell + 2
    coarse = rng.normal(0, 1, (k, k))
    pos = (np.arange(size) + 0.5) / cell
    i0 = np.floor(pos).astype(int)
    f = pos - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    return rows[:, i0] * (1 - f)[None] + rows[:, i0 + 1] * f[None]


def _textures(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 10
    yy, xx = _grid(size)
    y = np.arange(n) % 5
    rng.shuffle(y)
    images = np.empty((n, 3, size, size), np.float32)
    for i, label in enumerate(y):
        oy, ox = rng.uniform(0, 8, 2)
        if label == 0:  # checkerboard
            cell = rng.integers(2, 4)
            pattern = ((np.floor((yy + oy) / cell) + np.floor((xx + ox) / cell)) % 2).astype(float)
        elif label == 1:  # dots on a lattice
            step = rng.uniform(3.0, 4.5)
            rad = rng.uniform(0.6, 1.1)
            dy = (yy + oy) % step - step / 2
            dx = (xx + ox) % step - step / 2
            pattern = (dy**2 + dx**2 <= rad**2).astype(float)
        elif label == 2:  # square-wave stripes, random orientation
            ang = rng.uniform(0, np.pi)
            width = rng.uniform(1.2, 2.8)
            proj = np.cos(ang) * (xx + ox) + np.sin(ang) * (yy + oy)
            pattern = (np.floor(proj / width) % 2).astype(float)
        elif label == 3:  # smooth blobs
            pattern = (_smooth_noise(rng, size, int(rng.integers(3, 6))) > 0).astype(float)
        else:  # fine speckle
            pattern = (rng.random((size, size)) < rng.uniform(0.3, 0.7)).astype(float)
        c1 = rng.uniform(0.5, 1.0, 3)  # pattern bright, ground dark, hues random
        c2 = rng.uniform(0.0, 0.5, 3)
        img = c1[:, None, None] * pattern[None] + c2[:, None, None] * (1 - pattern[None])
        images[i] = img + rng.normal(0, 0.15, img.shape)
    return images, y.astype(np.int64)


_GENERATORS = {"shapes": _shapes, "gratings": _gratings, "textures": _textures}


@lru_cache(maxsize=16)
def _load_cached(name: str, seed: int) -> tuple[np.ndarray, ...]:
    info = DATASETS[name]
    # a distinct, stable stream per task so adding a task never changes another one
    stream = np.random.default_rng([seed, list(DATASETS).index(name)])
    if name == "digits":
        x, y = _digits(stream)
    else:
        x, y = _GENERATORS[name](stream, info.n_train + info.n_val + info.n_test)
    a, b = info.n_train, info.n_train + info.n_val
    x_train, x_val, x_test = x[:a], x[a:b], x[b:]
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    parts = []
    for xs, ys in ((x_train, y[:a]), (x_val, y[a:b]), (x_test, y[b:])):
        parts.append(np.ascontiguousarray(((xs - mean) / std).astype(np.float32)))
        parts.append(np.ascontiguousarray(ys.astype(np.int64)))
    for arr in parts:
        arr.setflags(write=False)
    return tuple(parts)


def load_dataset(
    name: str, seed: int = 0, max_train: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load one task's fixed splits as float32 NCHW images and int64 labels.

    Parameters
    ----------
    name
        One of :func:`dataset_names` ("digits", "shapes", "gratings", "textures").
    seed
        Seed of the generated tasks and of the digits split; the same seed gives the same arrays.
    max_train
        Keep only the first `max_train` training images (and at most as many val/test images),
        for quick tests. None keeps everything.

    Returns
    -------
    x_train, y_train, x_val, y_val, x_test, y_test
        Read-only arrays; images standardized per channel with training statistics.

    Examples
    --------
    >>> x_train, y_train, x_val, y_val, x_test, y_test = load_dataset("gratings")
    >>> x_train.shape, x_train.dtype, int(y_train.max()) + 1
    ((320, 1, 10, 10), dtype('float32'), 8)
    """
    if name not in DATASETS:
        raise ValueError(f"load_dataset: unknown dataset {name!r}; choose from {dataset_names()}")
    if max_train is not None and max_train < 1:
        raise ValueError(f"load_dataset: max_train must be >= 1, got {max_train}")
    parts = _load_cached(name, int(seed))
    if max_train is None:
        return parts  # type: ignore[return-value]
    return tuple(p[:max_train] for p in parts)  # type: ignore[return-value]
