"""Seeded images of simple shapes (circle, square, triangle, cross, ring, bar): an image
classifier that is none of the reference models, for tests and benchmarks of
``edzoo optimize``. Each image is drawn with numpy alone: a random size, position, stroke
colour and background, and pixel noise. Nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LABELS", "images", "write_folder"]

LABELS = ("circle", "square", "triangle", "cross", "ring", "bar")


def _mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.2, 0.38) * size
    cy, cx = (rng.uniform(r, size - r) for _ in range(2))
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return dy * dy + dx * dx <= r * r
    if kind == "ring":
        d = np.sqrt(dy * dy + dx * dx)
        return (d <= r) & (d >= 0.55 * r)
    if kind == "square":
        return (np.abs(dy) <= 0.8 * r) & (np.abs(dx) <= 0.8 * r)
    if kind == "triangle":
        return (dy <= 0.8 * r) & (dy >= -r + 2.0 * np.abs(dx))
    if kind == "cross":
        w = 0.25 * r
        return ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | ((np.abs(dx) <= w) & (np.abs(dy) <= r))
    if kind == "bar":
        return (np.abs(dy) <= 0.3 * r) & (np.abs(dx) <= 1.1 * r)
    raise ValueError(f"unknown shape {kind!r}")


def images(
    n: int, *, size: int = 16, channels: int = 1, seed: int = 0, classes: int = len(LABELS), noise: float = 0.08
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (float32, NHWC, values in [0, 1]) and their class ids, balanced over the
    first ``classes`` shapes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    x = np.empty((n, size, size, channels), np.float32)
    for i, c in enumerate(y):
        mask = _mask(LABELS[c], size, rng)
        ink = rng.uniform(0.6, 1.0, channels)
        paper = rng.uniform(0.0, 0.3, channels)
        img = np.where(mask[..., None], ink, paper) + rng.normal(0, noise, (size, size, channels))
        x[i] = np.clip(img, 0.0, 1.0)
    return x, y.astype(np.int64)


def write_folder(root: object, per_class: int, *, size: int = 16, seed: int = 0, classes: int = 3) -> None:
    """An image folder (``root/<label>/<writer>_<n>.png``, grayscale): the layout the image
    adapter reads. ``writer`` cycles over four names so a group split has groups to keep apart."""
    from pathlib import Path

    from PIL import Image

    x, y = images(per_class * classes, size=size, channels=1, seed=seed, classes=classes)
    root = Path(str(root))
    for i, (img, c) in enumerate(zip(x, y, strict=True)):
        folder = root / LABELS[c]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[..., 0] * 255).round().astype(np.uint8), mode="L").save(folder / f"w{i % 4}_{i}.png")
