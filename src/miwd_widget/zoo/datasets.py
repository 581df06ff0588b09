"""Five offline image tasks for the zoo, all 16x16x3 with 10 classes, like NWS's five datasets.

NWS (the paper's data) trains on MNIST, Fashion-MNIST, CIFAR-10, SVHN and STL-10, all resized
to 32x32x3 with 10 classes, so a network's architecture says nothing about its dataset: what
differs is the images' content, colour statistics and difficulty. Nothing can be downloaded
here, so the zoo uses one real task (scikit-learn's bundled digits) and four generated ones,
all at one input shape, 16x16x3 (half NWS's side: a quarter of the compute, so that 2,000 CNNs
train in under an hour on two CPU cores), and 10 classes:

=============  =====================================================  ================  ==========
name           what it is                                             colour            NWS analog
=============  =====================================================  ================  ==========
digits         scikit-learn's handwritten digits (1,797 real 8x8      grey              MNIST
               scans) upsampled; training images jittered copies
glyphs         ten silhouettes (disc, square, triangle, ring, cross,  grey              Fashion
               bars, diamond, X, L) at random place, size, contrast
colour_digits  the same digits in random foreground and background    random hues       SVHN
               colours, with a clipped neighbouring digit as clutter
textures       ten colour texture families (checks, dots, stripes in  random hues       CIFAR-10
               three orientations, blobs, speckle, rings, grid, ramp)
gratings       sinusoidal gratings in ten orientations (18 deg        two random hues   STL-10
               apart), random period, phase, contrast and noise
=============  =====================================================  ================  ==========

Splits are fixed: 2,000 training, 400 validation and 800 test images per task. The digits
tasks split the 1,797 real scans first (test and validation scans are never seen in training)
and build their training images as randomly shifted and scaled copies of the training scans.
Every task is a deterministic function of its seed. Images are standardized per channel with
the training split's mean and standard deviation and returned as float32 NCHW arrays, labels
as int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "dataset_names", "INPUT_SHAPE", "N_CLASSES"]

SIZE = 16
INPUT_SHAPE = (3, SIZE, SIZE)
N_CLASSES = 10
N_TRAIN, N_VAL, N_TEST = 2000, 400, 800


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one task.

    Attributes
    ----------
    name
        The task's name.
    flip_ok
        Whether a horizontal flip keeps the label (used by augmentation).
    description
        One line for humans.
    n_train, n_val, n_test
        Split sizes.
    """

    name: str
    flip_ok: bool
    description: str
    n_train: int = N_TRAIN
    n_val: int = N_VAL
    n_test: int = N_TEST
    channels: int = INPUT_SHAPE[0]
    size: int = SIZE
    n_classes: int = N_CLASSES

    @property
    def shape(self) -> tuple[int, int, int]:
        """Input shape (C, H, W), the same for every task."""
        return INPUT_SHAPE


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", False, "scikit-learn handwritten digits, grey (MNIST-like)"),
    "glyphs": DatasetInfo("glyphs", False, "ten grey silhouettes (Fashion-like)"),
    "colour_digits": DatasetInfo(
        "colour_digits", False, "digits in random colours with clutter (SVHN-like)"
    ),
    "textures": DatasetInfo("textures", True, "ten colour texture families (CIFAR-like)"),
    "gratings": DatasetInfo("gratings", False, "gratings in ten orientations (STL-like, hardest)"),
}


def dataset_names() -> list[str]:
    """Names of the available tasks, in a fixed order.

    Examples
    --------
    >>> dataset_names()
    ['digits', 'glyphs', 'colour_digits', 'textures', 'gratings']
    """
    return list(DATASETS)


# --- helpers ---------------------------------------------------------------------------------


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return yy + 0.5, xx + 0.5


def _warp(images: np.ndarray, rng: np.random.Generator, jitter: bool) -> np.ndarray:
    """Resample (n, 8, 8) scans onto 16x16, with a random shift and scale when `jitter`.

    Bilinear sampling written out (scipy's map_coordinates per image would be a Python loop
    over thousands of images; this is one vectorized gather).
    """
    n = len(images)
    yy, xx = _grid()
    if jitter:
        scale = rng.uniform(0.85, 1.15, n)[:, None, None]
        shift = rng.uniform(-1.5, 1.5, (n, 2))
    else:
        scale = np.ones((n, 1, 1))
        shift = np.zeros((n, 2))
    # output pixel centre -> input coordinate in the 8x8 scan (0.5 px per output px)
    sy = ((yy[None] - SIZE / 2 - shift[:, 0, None, None]) / scale + SIZE / 2) * 0.5 - 0.5
    sx = ((xx[None] - SIZE / 2 - shift[:, 1, None, None]) / scale + SIZE / 2) * 0.5 - 0.5
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    sy, sx = np.clip(sy + 1, 0, 8.999), np.clip(sx + 1, 0, 8.999)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    fy, fx = sy - y0, sx - x0
    idx = np.arange(n)[:, None, None]
    top = padded[idx, y0, x0] * (1 - fx) + padded[idx, y0, x0 + 1] * fx
    bottom = padded[idx, y0 + 1, x0] * (1 - fx) + padded[idx, y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _digit_scans(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Scans split into train/val/test *before* any copy is made, and the jittered training set."""
    from sklearn.datasets import load_digits

    d = load_digits()
    scans, labels = (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)
    perm = rng.permutation(len(labels))
    scans, labels = scans[perm], labels[perm]
    n_hold = N_VAL + N_TEST
    held_scans, held_y = scans[:n_hold], labels[:n_hold]
    train_scans, train_y = scans[n_hold:], labels[n_hold:]
    pick = rng.integers(0, len(train_y), N_TRAIN)
    x_train = _warp(train_scans[pick], rng, jitter=True)
    x_held = _warp(held_scans, rng, jitter=False)
    x = np.concatenate([x_train, x_held])
    y = np.concatenate([train_y[pick], held_y])
    return x, y


# --- generators (each returns n images (n, 3, 16, 16) in roughly [0, 1] and labels) ----------


def _digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _digit_scans(rng)
    x = x + rng.normal(0, 0.05, x.shape).astype(np.float32)
    return np.repeat(x[:, None], 3, axis=1), y


def _colour_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _digit_scans(rng)
    # clutter: a neighbouring digit shifted half out of the frame, at lower contrast
    other = np.roll(x, 1, axis=0)
    side = np.where(rng.random(len(x)) < 0.5, -11, 11)
    clutter = np.stack([np.roll(o, s, axis=1) for o, s in zip(other, side, strict=True)])
    ink = np.clip(x + 0.45 * clutter, 0, 1)
    fg = rng.uniform(0, 1, (len(x), 3, 1, 1))
    bg = rng.uniform(0, 1, (len(x), 3, 1, 1))
    # keep the digit legible: push foreground and background apart in brightness
    flip = fg.mean(1, keepdims=True) < bg.mean(1, keepdims=True)
    fg, bg = np.where(flip, bg, fg), np.where(flip, fg, bg)
    fg, bg = np.clip(fg + 0.2, 0, 1), np.clip(bg - 0.2, 0, 1)
    img = bg + (fg - bg) * ink[:, None]
    img = img + rng.normal(0, 0.08, img.shape)
    return img.astype(np.float32), y


def _glyph_mask(label: int, dy: np.ndarray, dx: np.ndarray, r: float) -> np.ndarray:
    ady, adx = np.abs(dy), np.abs(dx)
    arm = max(1.2, r * 0.3)
    if label == 0:  # disc
        return dy**2 + dx**2 <= r**2
    if label == 1:  # square
        return (ady <= r * 0.8) & (adx <= r * 0.8)
    if label == 2:  # upward triangle
        return (dy <= r * 0.7) & (dy >= -r) & (adx <= (dy + r) * 0.6)
    if label == 3:  # ring
        d2 = dy**2 + dx**2
        return (d2 <= r**2) & (d2 >= (r * 0.55) ** 2)
    if label == 4:  # plus
        return ((ady <= arm) | (adx <= arm)) & (ady <= r) & (adx <= r)
    if label == 5:  # horizontal bar
        return (ady <= arm) & (adx <= r)
    if label == 6:  # vertical bar
        return (adx <= arm) & (ady <= r)
    if label == 7:  # diamond
        return ady + adx <= r
    if label == 8:  # X
        return ((np.abs(dy - dx) <= arm) | (np.abs(dy + dx) <= arm)) & (ady <= r) & (adx <= r)
    # L shape
    return ((adx <= r) & (np.abs(dy - r * 0.7) <= arm) | (np.abs(dx + r * 0.7) <= arm)) & (
        (ady <= r) & (adx <= r)
    )


def _glyphs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = _grid()
    y = np.arange(n) % N_CLASSES
    rng.shuffle(y)
    images = np.empty((n, 3, SIZE, SIZE), np.float32)
    for i, label in enumerate(y):
        r = rng.uniform(5.0, 7.0)
        cy, cx = rng.uniform(r - 1, SIZE - r + 1, size=2)
        mask = _glyph_mask(int(label), yy - cy, xx - cx, r)
        fg, bg = rng.uniform(0.6, 1.0), rng.uniform(0.0, 0.35)
        img = np.where(mask, fg, bg) + rng.normal(0, 0.08, mask.shape)
        images[i] = img[None]
    return images, y.astype(np.int64)


def _smooth_noise(rng: np.random.Generator, cell: int) -> np.ndarray:
    """Bilinearly upsampled coarse noise: blobs of roughly `cell` pixels."""
    k = SIZE // cell + 2
    coarse = rng.normal(0, 1, (k, k))
    pos = (np.arange(SIZE) + 0.5) / cell
    i0 = np.floor(pos).astype(int)
    f = pos - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    return rows[:, i0] * (1 - f)[None] + rows[:, i0 + 1] * f[None]


def _texture(label: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = _grid()
    oy, ox = rng.uniform(0, 8, 2)
    y, x = yy + oy, xx + ox
    if label == 0:  # checkerboard
        cell = rng.integers(2, 5)
        return (np.floor(y / cell) + np.floor(x / cell)) % 2
    if label == 1:  # dots on a lattice
        step, rad = rng.uniform(4.0, 6.0), rng.uniform(0.8, 1.5)
        return ((y % step - step / 2) ** 2 + (x % step - step / 2) ** 2 <= rad**2) * 1.0
    if label in (2, 3, 4):  # stripes: horizontal, vertical, diagonal
        width = rng.uniform(1.5, 3.0)
        proj = {2: y, 3: x, 4: (x + y) / np.sqrt(2)}[label]
        return np.floor(proj / width) % 2
    if label == 5:  # smooth blobs
        return (_smooth_noise(rng, int(rng.integers(4, 7))) > 0) * 1.0
    if label == 6:  # fine speckle
        return (rng.random((SIZE, SIZE)) < rng.uniform(0.3, 0.7)) * 1.0
    if label == 7:  # concentric rings
        cy, cx = rng.uniform(4, 12, 2)
        return np.floor(np.hypot(yy - cy, xx - cx) / rng.uniform(1.5, 2.5)) % 2
    if label == 8:  # grid lines
        step = rng.integers(4, 7)
        return ((np.floor(y) % step == 0) | (np.floor(x) % step == 0)) * 1.0
    # smooth ramp in a random direction
    ang = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(ang) * (xx - SIZE / 2) + np.sin(ang) * (yy - SIZE / 2)
    return ramp / SIZE + 0.5


def _textures(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % N_CLASSES
    rng.shuffle(y)
    images = np.empty((n, 3, SIZE, SIZE), np.float32)
    for i, label in enumerate(y):
        pattern = _texture(int(label), rng)[None]
        c1, c2 = rng.uniform(0.45, 1.0, (3, 1, 1)), rng.uniform(0.0, 0.55, (3, 1, 1))
        img = c1 * pattern + c2 * (1 - pattern)
        images[i] = img + rng.normal(0, 0.12, img.shape)
    return images, y.astype(np.int64)


def _gratings(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = _grid()
    y = np.arange(n) % N_CLASSES
    rng.shuffle(y)
    theta = y * (np.pi / N_CLASSES) + rng.normal(0, 0.03, n)
    period = rng.uniform(4.0, 8.0, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    contrast = rng.uniform(0.5, 1.0, n)[:, None, None]
    proj = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
    wave = 0.5 + 0.5 * contrast * np.sin(2 * np.pi * proj / period + phase)
    c1, c2 = rng.uniform(0.4, 1.0, (n, 3, 1, 1)), rng.uniform(0.0, 0.6, (n, 3, 1, 1))
    img = c2 + (c1 - c2) * wave[:, None]
    img = img + rng.normal(0, 0.15, img.shape)
    return img.astype(np.float32), y.astype(np.int64)


_GENERATORS = {
    "digits": _digits,
    "glyphs": _glyphs,
    "colour_digits": _colour_digits,
    "textures": _textures,
    "gratings": _gratings,
}


@lru_cache(maxsize=16)
def _load_cached(name: str, seed: int) -> tuple[np.ndarray, ...]:
    # a distinct, stable stream per task so adding a task never changes another one
    stream = np.random.default_rng([seed, sorted(DATASETS).index(name)])
    x, y = _GENERATORS[name](stream, N_TRAIN + N_VAL + N_TEST)
    a, b = N_TRAIN, N_TRAIN + N_VAL
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
        One of :func:`dataset_names`.
    seed
        Seed of the generated images and of the digits split; the same seed gives the same
        arrays.
    max_train
        Keep only the first `max_train` images of each split, for quick tests. None keeps
        everything.

    Returns
    -------
    x_train, y_train, x_val, y_val, x_test, y_test
        Read-only arrays; images standardized per channel with training statistics.

    Examples
    --------
    >>> x_train, y_train, x_val, y_val, x_test, y_test = load_dataset("gratings")
    >>> x_train.shape, x_train.dtype, int(y_train.max()) + 1
    ((2400, 3, 16, 16), dtype('float32'), 10)
    """
    if name not in DATASETS:
        raise ValueError(f"load_dataset: unknown dataset {name!r}; choose from {dataset_names()}")
    if max_train is not None and max_train < 1:
        raise ValueError(f"load_dataset: max_train must be >= 1, got {max_train}")
    parts = _load_cached(name, int(seed))
    if max_train is None:
        return parts  # type: ignore[return-value]
    return tuple(p[:max_train] for p in parts)  # type: ignore[return-value]
