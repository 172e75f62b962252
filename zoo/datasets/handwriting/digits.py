"""The real digits: SD-3 and ``pendigits.tra`` for training and validation, SD-1 for the test, with
jittered copies; and the held-out source, the 14 writers of ``pendigits.tes`` (:func:`heldout`)."""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from registry.core.preprocess import mnist_layout

from .. import sources
from ._base import _SPLITS, PROFILES, GenerationParams, Profile, Split, preprocess


def _take(idx: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    """``idx`` in a seeded order, the first ``n`` of them (all when ``n`` is None)."""
    idx = idx[rng.permutation(idx.size)]
    return idx if n is None else idx[:n]


@functools.cache
def _pen_images(p: GenerationParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pendigits digit drawn once per process (training and the held-out source share it)."""
    points, y, writers = sources.pendigits()
    images = np.round(sources.render_pen(points, p.size, p.box, p.pen_width) * 255.0).astype(np.uint8)
    for a in (images, y, writers, points):
        a.setflags(write=False)  # shared by every caller of this process
    return images, y, writers, points


def _affine(rng: np.random.Generator, p: GenerationParams) -> np.ndarray:
    """A random 2x2 map (rotation . shear . aspect) for a jittered copy."""
    theta = np.deg2rad(rng.uniform(-p.copy_rotation_deg, p.copy_rotation_deg))
    shear = rng.uniform(-p.copy_shear, p.copy_shear)
    aspect = np.exp(rng.uniform(-np.log(p.copy_aspect), np.log(p.copy_aspect)))
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([aspect, 1 / aspect])


def _pen_copy(points: np.ndarray, rng: np.random.Generator, p: GenerationParams) -> np.ndarray:
    """Pen points moved by a random affine and Gaussian noise, drawn with a random stroke width."""
    moved = points.astype(np.float64) @ _affine(rng, p).T + rng.normal(0.0, p.pen_noise, points.shape)
    width = rng.uniform(*p.pen_width_range)
    return np.round(sources.render_pen(moved[None], p.size, p.box, width)[0] * 255.0).astype(np.uint8)


def _image_copy(image: np.ndarray, rng: np.random.Generator, p: GenerationParams) -> np.ndarray:
    """An MNIST image under a random affine about its centre, laid out again."""
    inverse = np.linalg.inv(_affine(rng, p))
    centre = np.array([(image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2])
    warped = ndimage.affine_transform(
        image.astype(np.float32), inverse, offset=centre - inverse @ centre, order=1, mode="constant", cval=0.0
    )
    return np.clip(np.round(mnist_layout(warped, p.size, p.box)), 0, 255).astype(np.uint8)


def _digits_split(seed: int, p: GenerationParams, counts: Profile) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real digits per split: SD-3 and pendigits.tra for training and validation (per class, a
    seeded share to validation; training also gets ``counts.real_copies`` jittered copies of
    each of its digits), SD-1 for the test."""
    mnist, mnist_y, origin = sources.mnist_t10k()
    pen, pen_y, writers, points = _pen_images(p)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in _SPLITS}
    for key, (images, labels, keep) in enumerate(((mnist, mnist_y, origin == 0), (pen, pen_y, writers == 0))):
        for cls in range(10):
            idx = _take(
                np.flatnonzero(keep & (labels == cls)), counts.digits, np.random.default_rng([seed, 0xD161, key, cls])
            )
            n_val = round(idx.size * p.digits_val)
            parts["val"].append((images[idx[:n_val]], labels[idx[:n_val]]))
            parts["train"].append((images[idx[n_val:]], labels[idx[n_val:]]))
            copies = [
                _pen_copy(points[i], rng, p) if key else _image_copy(images[i], rng, p)
                for i in idx[n_val:]
                for rng in (np.random.default_rng([seed, 0xC0B1, key, int(i), k]) for k in range(counts.real_copies))
            ]
            if copies:
                parts["train"].append((np.stack(copies), np.full(len(copies), cls, np.int64)))
    for cls in range(10):
        idx = _take(
            np.flatnonzero((origin == 1) & (mnist_y == cls)),
            counts.test_digits,
            np.random.default_rng([seed, 0x7E57, cls]),
        )
        parts["test"].append((mnist[np.sort(idx)], mnist_y[np.sort(idx)]))
    return {
        name: (np.concatenate([a for a, _ in parts[name]]), np.concatenate([b for _, b in parts[name]]))
        for name in _SPLITS
    }


def heldout(profile: str = "quick", seed: int = 0) -> tuple[str, Split]:
    """The held-out source: digits the 14 writers of ``pendigits.tes`` wrote on a tablet (never
    trained, calibrated or chosen on), laid out like the training images; ``quick`` takes
    :attr:`Profile.heldout_digits` per class. Returns (description, split)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    p = GenerationParams()
    pen, pen_y, writers, _ = _pen_images(p)
    n = PROFILES[profile].heldout_digits
    idx = np.sort(
        np.concatenate(
            [
                _take(np.flatnonzero((writers == 1) & (pen_y == cls)), n, np.random.default_rng([seed, 0x4E1D, cls]))
                for cls in range(10)
            ]
        )
    )
    split = Split(preprocess(pen[idx]), pen_y[idx].astype(np.int64))
    return (
        f"UCI pendigits.tes: {idx.size:,} digits by 14 writers never seen, written on a tablet and drawn as strokes",
        split,
    )
