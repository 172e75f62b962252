"""Synthetic characters: a glyph fitted, distorted and inked like a pen stroke, per font and split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import ImageFont
from scipy import ndimage

from registry.core.preprocess import mnist_layout

from ._base import LABELS, GenerationParams, _Font
from .fonts import _glyph


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the True pixels, bottom and right exclusive; None if none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    """Crop ``img`` to its ink (> 0.5) and resample it bilinearly so the longer side fills a
    size×size frame, centred; returns float32. An image without ink gives an empty frame."""
    box = _bbox(img > 0.5)
    if box is None:
        return np.zeros((size, size), dtype=np.float32)
    y0, y1, x0, x1 = box
    step = max(y1 - y0, x1 - x0) / size  # source pixels per frame pixel
    start = (0.5 - size / 2) * step - 0.5  # frame pixel 0's centre, relative to the box centre
    return ndimage.affine_transform(
        img.astype(np.float32),
        [step, step],
        offset=[(y0 + y1) / 2 + start, (x0 + x1) / 2 + start],
        output_shape=(size, size),
        order=1,
        mode="constant",
        cval=0.0,
    )


def _set_ink(frame: np.ndarray, fraction: float, p: GenerationParams) -> np.ndarray:
    """Dilate or erode the fitted binary ``frame`` so that, once re-fitted, its ink covers
    about ``fraction`` of it.

    Dilating by r widens the bounding box by about 2r and the re-fit shrinks the ink by the
    square of that ratio, so the pixel count aimed at is corrected once for it."""
    size = frame.shape[0]
    pad = size // 8
    ink = np.pad(frame > 0.5, pad)
    have = int(ink.sum())
    k = max(1, round(fraction * size * size))
    if have < k:  # dilate: add the background pixels nearest to the ink
        dist = ndimage.distance_transform_edt(~ink).ravel()
        radius = float(np.partition(dist, k - 1)[k - 1])
        k = min(dist.size, round(k * ((size + 2 * radius) / size) ** 2))
        keep = dist <= np.partition(dist, k - 1)[k - 1]
    elif have > k:  # erode: keep the ink pixels farthest from the background, at most max_erode_px deep
        dist = ndimage.distance_transform_edt(ink).ravel()
        cut = float(np.partition(dist, dist.size - k)[dist.size - k])
        keep = dist >= min(cut, 1.0 + p.max_erode_px)
    else:
        return frame > 0.5
    return _fit(keep.reshape(ink.shape).astype(np.float32), size) > 0.5


def _synthesize(glyph: np.ndarray, rng: np.random.Generator, p: GenerationParams) -> np.ndarray:
    """One distorted sample of ``glyph`` as a 28×28 MNIST-style image (uint8, 0..255, ink high)."""
    n = p.canvas
    theta = np.deg2rad(rng.uniform(-p.rotation_deg, p.rotation_deg))
    shear = rng.uniform(-p.shear, p.shear)
    scale = np.exp(rng.uniform(np.log(p.scale[0]), np.log(p.scale[1])))
    aspect = np.exp(rng.uniform(-np.log(p.aspect), np.log(p.aspect)))
    shift = rng.uniform(-p.translate_px, p.translate_px, size=2)
    noise = rng.uniform(-1.0, 1.0, size=(2, n, n))
    ink_target = float(np.clip(rng.normal(p.ink_mean, p.ink_std), *p.ink_range))

    # forward map in (y, x): rotate . shear (x += k y) . scale; sampling needs its inverse
    c, s = np.cos(theta), np.sin(theta)
    forward = (
        np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [shear, 1.0]]) @ np.diag([scale / aspect, scale * aspect])
    )
    inverse = np.linalg.inv(forward)
    displacement = ndimage.gaussian_filter(
        noise, sigma=(0, p.elastic_sigma, p.elastic_sigma), mode="constant", truncate=3.0
    )
    displacement *= p.elastic_alpha
    centre = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    qy = yy + displacement[0] - centre - shift[0]
    qx = xx + displacement[1] - centre - shift[1]
    src_y = inverse[0, 0] * qy + inverse[0, 1] * qx + centre
    src_x = inverse[1, 0] * qy + inverse[1, 1] * qx + centre
    warped = ndimage.map_coordinates(glyph, [src_y, src_x], order=1, mode="constant", cval=0.0)

    frame = _fit((warped > 0.5).astype(np.float32), p.frame)
    box = _bbox(frame > 0.5)
    if box is None:
        return np.zeros((p.size, p.size), dtype=np.uint8)
    extent = min(box[1] - box[0], box[3] - box[2])
    ink = _set_ink(frame, ink_target * min(1.0, extent / p.frame / p.ink_ref_aspect), p)
    image = mnist_layout(ink.astype(np.float32), p.size, p.box) * 255.0
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _font_key(path: Path) -> int:
    return int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:8], "big")


def _synthetic_split(
    fonts: list[_Font], n_per_family: int, seed: int, p: GenerationParams, first_class: int = 0
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Samples of the classes from ``first_class`` on, drawn from ``fonts`` (one split's
    families): for each family and class, ``n_per_family`` samples drawn round-robin from the
    family's files that have the glyph. Returns images, labels and the characters each font
    file lacks."""
    families: dict[str, list[_Font]] = {}
    for f in fonts:
        families.setdefault(f.family, []).append(f)
    grids, labels = [], []
    lacking: dict[str, list[str]] = {f.path.name: [] for f in fonts}
    for family in sorted(families):
        members = families[family]
        loaded = [ImageFont.truetype(str(f.path), p.render_pt, layout_engine=ImageFont.Layout.BASIC) for f in members]
        for cls in range(first_class, len(LABELS)):
            char = LABELS[cls]
            have = []
            for f, font in zip(members, loaded, strict=True):
                g = _glyph(font, char, p)
                if g is None:
                    lacking[f.path.name].append(char)
                else:
                    have.append((f, g))
            for k in range(n_per_family if have else 0):
                f, g = have[k % len(have)]
                rng = np.random.default_rng([seed, _font_key(f.path), cls, k // len(have)])
                grids.append(_synthesize(g, rng, p))
                labels.append(cls)
    x = np.stack(grids) if grids else np.zeros((0, p.size, p.size), dtype=np.uint8)
    return x, np.asarray(labels, dtype=np.int64), lacking
