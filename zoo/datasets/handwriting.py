"""Handwritten digits, capital letters and ``+ - =`` for early numeracy and literacy apps.

39 classes, :data:`LABELS`: ``"0"``..``"9"``, ``"A"``..``"Z"``, ``"+"``, ``"-"``, ``"="``
(the class id is the index). Every image is laid out as MNIST lays out a digit, which is what
a tablet app gets from a drawing canvas after :func:`registry.core.preprocess.mnist_character`:
28×28 grayscale, ink high, the character scaled to fit a 20×20 box (aspect kept) and placed
with its centre of mass at the centre. Nothing is downloaded: the real digits are vendored in
:mod:`zoo.datasets.sources` and the letters are drawn from Debian font packages.

Sources
-------
Real digits, written on paper (MNIST test set, :func:`zoo.datasets.sources.mnist_t10k`)
    NIST SD-3 (Census Bureau employees, its first 5,000 digits) trains and validates; NIST SD-1
    (high-school students, the other 5,000; writers disjoint from SD-3's) is the digits of the
    **test split**: every test digit is by a writer the model never saw. CC BY-SA 3.0.
Real digits, written on a tablet (UCI pendigits, :func:`zoo.datasets.sources.pendigits`)
    Pen coordinates (8 points per digit), drawn as strokes 2.2 px wide and laid out the same
    way (:func:`zoo.datasets.sources.render_pen`). The 30 writers of ``pendigits.tra`` train
    and validate; the 14 writers of ``pendigits.tes`` are the **held-out source**
    (:func:`heldout`): another collection, another input device, writers never seen. CC BY 4.0.
Synthetic characters (all 39 classes; letters and signs have no other source)
    Rendered from the handwriting-style fonts of the Debian packages in
    :data:`FONT_PACKAGES`, distorted at random (see Pipeline). Two packages are left out:
    ``fonts-femkeklaver`` draws hollow outlined letters with a shadow, and
    ``fonts-kristi``'s thin slanted capitals were unreadable at low resolution.

Splits
------
The test split and the held-out source are never trained, calibrated or chosen on.

* Digits: train and validation are SD-3 and ``pendigits.tra``, split per class with a seeded
  permutation (:attr:`GenerationParams.digits_val` to validation); test is SD-1. Each training
  digit also gets :attr:`Profile.real_copies` jittered copies (rotation ±10°, shear ±0.2,
  aspect ×1/1.15..1.15; tablet digits move their pen points, add Gaussian noise of 1.5 units
  per point and take a stroke width of 1.6–3.0 px; paper digits are warped and laid out again).
* Letters and signs hold out whole font *families* (the family name inside the font file,
  so the bold or italic of a test font never trains). Families are sorted by their first
  font file name (case-insensitive); position ``i % 5 == 2`` goes to test, ``i % 5 == 4`` to
  validation, the rest to training. With the packages of :data:`FONT_PACKAGES` that is
  test: Because We Create, Comic Neue (7 files); validation: Because We Mentor,
  DkgHandwriting (5 files); training: the other 8 families (10 files). Training and
  validation fonts also draw digits, so "drawn by a font" never means "a letter"; test fonts
  draw only letters and signs (test digits are all real).
* A training or validation image byte-identical to a test image is dropped
  (``info["dropped_duplicates"]`` counts them).
* Sizes: :data:`PROFILES` (``quick`` subsamples the digits per class and draws 16 synthetic
  samples per class and family for training; ``full`` uses every digit and 5× the fonts).

Pipeline (synthetic samples; numbers are :class:`GenerationParams` defaults)
-----------------------------------------------------------------------------
1. Render the character with Pillow (FreeType, basic layout) at 160 pt and crop it to its
   ink. A character the font lacks (it renders as the ``.notdef`` glyph) or that draws
   nothing is skipped for that font (``info`` lists them). Glyphs narrower than 0.6 of
   their height are widened by up to 1.3×. Fit into 36×36 px, aspect ratio kept, centred on
   a 64×64 canvas.
2. Random affine about the canvas centre: rotation ±12°, horizontal shear ±0.25 (tangent),
   scale ×0.85..1.15 (log-uniform) with aspect ×1/1.15..1.15, translation ±4 px.
3. Elastic distortion (Simard, Steinkraus and Platt, 2003): two fields of uniform(-1, 1)
   noise, each smoothed by a Gaussian of σ = 6 px and scaled by α = 45, move every output
   pixel's sampling point (about 1.2 px per axis). Bilinear sampling, threshold at half.
4. Crop to the ink and fit into a 64×64 frame (the longer side fills it, aspect kept).
5. Stroke thickness: dilate, or erode by at most 2 px, by thresholding the Euclidean distance
   to the stroke edge, so that the ink covers a random fraction of the frame:
   f ~ N(0.26, 0.073) clipped to [0.12, 0.40] — MNIST SD-3's digits, binarized at half and
   measured in the square of their longer side — times min(1, w / 0.7) where w is the
   shorter side over the longer (0.7 is MNIST's median): narrow glyphs get the digits' ink
   *density* instead of filling their counters.
6. MNIST layout (:func:`registry.core.preprocess.mnist_layout`): the binary frame reduced
   with an anti-aliasing filter to fit 20×20, centre of mass at (14, 14), 0..255.

Every sample has its own :class:`numpy.random.Generator`, seeded from (seed, font file name,
class index, sample index); nothing else feeds it (no global random state, no dict or set
order, no parallelism), so the same profile and seed give byte-identical arrays with the
same library and font versions (``info["versions"]`` and ``info["sources"]`` record them).

Model input (every class)
-------------------------
:func:`preprocess`: the 28×28 uint8 image as float32 divided by 255, shape ``(N, 28, 28, 1)``,
ink high. Splits hold these inputs; :func:`split_sha256` hashes them.

Limitations
-----------
* No child wrote any of it: the digits are by adults (Census employees) and high-school
  students on paper, and by 44 adults on a tablet; letters and signs are fonts made to look
  handwritten, bent at random. Accuracy on young children's handwriting is not measured.
* Letters are never tested on real handwriting: their test is two held-out font families.
* Class sizes differ: ``info["counts"]`` lists them per split.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import scipy
from PIL import Image, ImageDraw, ImageFont
from PIL import features as pil_features
from scipy import ndimage

from registry.core.errors import EdzooError
from registry.core.preprocess import mnist_layout

from . import sources

__all__ = [
    "EXCLUDED_PACKAGES",
    "FONT_PACKAGES",
    "LABELS",
    "PROFILES",
    "Dataset",
    "FontsMissingError",
    "GenerationParams",
    "Profile",
    "Split",
    "load",
    "preprocess",
    "heldout",
    "split_sha256",
]

LABELS: tuple[str, ...] = tuple("0123456789") + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + ("+", "-", "=")
_FIRST_LETTER = 10  # LABELS[10:] are letters and signs: fonts are their only source

#: Debian package -> the folder under :data:`FONT_ROOT` that holds its .ttf/.otf files.
FONT_PACKAGES: dict[str, str] = {
    "fonts-breip": "truetype/breip",
    "fonts-bwht": "opentype/bwht",
    "fonts-comic-neue": "opentype/comic-neue",
    "fonts-dancingscript": "opentype/dancingscript",
    "fonts-dkg-handwriting": "truetype/fifthhorseman",
    "fonts-humor-sans": "truetype/humor-sans",
    "fonts-rufscript": "truetype/rufscript",
}
FONT_ROOT = Path("/usr/share/fonts")
#: Handwriting font packages deliberately not used, and why (the module docstring has more).
EXCLUDED_PACKAGES: dict[str, str] = {
    "fonts-femkeklaver": "hollow outlined letters with a shadow; they become blobs at low resolution",
    "fonts-kristi": "thin slanted capitals, unreadable at low resolution (leave-one-family-out accuracy 31 % at 8x8)",
}
_APT = "apt-get install -y " + " ".join(FONT_PACKAGES)

_FORMAT = 2  # bump when the generator changes in a way GenerationParams does not capture


class FontsMissingError(EdzooError, FileNotFoundError):
    """The Debian handwriting font packages the letters are drawn from are not installed."""

    code = "fonts_missing"
    exit_code = 11


@dataclass(frozen=True)
class GenerationParams:
    """How synthetic letters and signs are drawn; the module docstring explains each step."""

    render_pt: int = 160  # font size the glyph is rasterized at before fitting
    canvas: int = 64  # side of the square canvas the distortions run on (px)
    glyph_box: int = 36  # the glyph is fitted into this square, centred on the canvas
    widen_below: float = 0.6  # glyphs with width/height below this are widened towards it ...
    max_widen: float = 1.3  # ... by at most this factor
    rotation_deg: float = 12.0  # uniform in ±rotation_deg
    shear: float = 0.25  # horizontal shear, tangent uniform in ±shear
    scale: tuple[float, float] = (0.85, 1.15)  # log-uniform size factor
    aspect: float = 1.15  # width/height factor, log-uniform in [1/aspect, aspect]
    translate_px: float = 4.0  # uniform in ±translate_px on each axis
    elastic_alpha: float = 45.0  # scale of the smoothed displacement field (Simard's α)
    elastic_sigma: float = 6.0  # Gaussian smoothing of the displacement field, px (Simard's σ)
    frame: int = 64  # the normalized frame stroke thickness is set in
    ink_mean: float = 0.26  # ink fraction of the frame: MNIST SD-3's mean ...
    ink_std: float = 0.073  # ... and standard deviation
    ink_range: tuple[float, float] = (0.12, 0.40)  # the drawn fraction is clipped to this
    ink_ref_aspect: float = 0.7  # narrower glyphs aim at ink_fraction × width/height ÷ this
    max_erode_px: float = 2.0  # erosion never goes deeper than this into a stroke (frame px)
    size: int = 28  # the image side (MNIST)
    box: int = 20  # the character's longer side (MNIST)
    pen_width: float = 2.2  # tablet strokes, px at the final scale
    digits_val: float = 0.1  # share of each class of the training digits kept for validation
    # Jittered copies of the real training digits (Profile.real_copies): a random affine of the
    # pen points or of the image (rotation, shear, aspect, like the synthetic glyphs' step 2,
    # milder), pen points moved by Gaussian noise, tablet strokes of a random width.
    copy_rotation_deg: float = 10.0
    copy_shear: float = 0.2
    copy_aspect: float = 1.15
    pen_noise: float = 1.5  # per-point standard deviation, in pendigits units (0..100)
    pen_width_range: tuple[float, float] = (1.6, 3.0)


@dataclass(frozen=True)
class Profile:
    """Synthetic samples per class and per font family for each split, and real digits per
    class and per source (None: all of them)."""

    train: int
    val: int
    test: int
    digits: int | None = None  # per class from SD-3 and from pendigits.tra, before the validation share
    test_digits: int | None = None  # per class from SD-1
    heldout_digits: int | None = None  # per class from pendigits.tes
    real_copies: int = 0  # jittered copies of every real training digit (not of validation)


#: ``quick`` (~5k training images, a few seconds) fits CI; ``full`` is what gets published.
PROFILES: dict[str, Profile] = {
    "quick": Profile(train=16, val=16, test=20, digits=150, test_digits=100, heldout_digits=50, real_copies=1),
    "full": Profile(train=80, val=40, test=60, real_copies=2),
}


@dataclass(frozen=True)
class Split:
    """Model inputs ``x`` (float32, (N, 28, 28, 1), in [0, 1]) and labels ``y`` (int64, (N,))."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Dataset:
    """Three splits, the label strings (index = class id) and JSON-serializable provenance."""

    train: Split
    val: Split
    test: Split
    labels: tuple[str, ...]
    info: dict[str, Any]


@dataclass(frozen=True)
class _Font:
    path: Path
    package: str
    family: str
    style: str
    sha256: str


_SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------- public helpers


def split_sha256(split: Split) -> str:
    """sha256 of ``x`` as C-ordered little-endian float32 bytes followed by ``y`` as
    little-endian int64 bytes."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(split.x, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(split.y, dtype="<i8").tobytes())
    return h.hexdigest()


def preprocess(images: np.ndarray) -> np.ndarray:
    """Model input from 28×28 images: (N, 28, 28) values 0..255 -> float32 (N, 28, 28, 1) in [0, 1].

    Raises ValueError for another shape."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected images of shape (N, 28, 28), got {images.shape}")
    return (images.astype(np.float32) / 255.0)[..., None]


# --------------------------------------------------------------------------- fonts


def _run(args: list[str]) -> str | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _package_license(package: str) -> str | None:
    try:
        text = Path("/usr/share/doc", package, "copyright").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("License:"):
            return line.removeprefix("License:").strip()
    return None


def _find_fonts(root: Path) -> list[_Font]:
    """Every font file of :data:`FONT_PACKAGES`, sorted by path. Raises FontsMissingError."""
    missing = []
    fonts = []
    for package, folder in sorted(FONT_PACKAGES.items()):
        files = sorted(p for p in (root / folder).glob("*") if p.suffix.lower() in (".ttf", ".otf"))
        if not files:
            missing.append(package)
        for path in files:
            family, style = ImageFont.truetype(str(path), 12).getname()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            fonts.append(_Font(path, package, family or path.stem, style or "", digest))
    if missing:
        raise FontsMissingError(
            f"handwriting fonts not installed: {', '.join(missing)} (no .ttf/.otf under {root}); "
            f"install them with: {_APT}"
        )
    return sorted(fonts, key=lambda f: str(f.path))


def _family_splits(fonts: list[_Font]) -> dict[str, str]:
    """Family -> split, by position in the families sorted by their first font file name."""
    first: dict[str, str] = {}
    for f in fonts:
        name = f.path.name.lower()
        first[f.family] = min(first.get(f.family, name), name)
    order = sorted(first, key=lambda fam: (first[fam], fam))
    return {fam: ("test" if i % 5 == 2 else "val" if i % 5 == 4 else "train") for i, fam in enumerate(order)}


def _raster(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    """The text's ink (uint8), cropped to its bounding box; empty array when it has none."""
    left, top, right, bottom = font.getbbox(text)
    pad = font.size // 2
    img = Image.new("L", (int(right - left + 2 * pad), int(bottom - top + 2 * pad)), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=255)
    a = np.asarray(img)
    rows, cols = np.nonzero(a)
    if rows.size == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    return a[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _glyph(font: ImageFont.FreeTypeFont, char: str, p: GenerationParams) -> np.ndarray | None:
    """The character centred on the canvas (float32, ink 1), or None when the font lacks it."""
    ink = _raster(font, char)
    if ink.size == 0:
        return None
    notdef = _raster(font, "\uffff")  # a noncharacter: every font draws its .notdef glyph
    if notdef.shape == ink.shape and np.array_equal(notdef, ink):
        return None
    h, w = ink.shape
    widen = min(max(1.0, p.widen_below * h / w), p.max_widen)
    s = p.glyph_box / max(h, w * widen)
    nh, nw = max(1, round(h * s)), max(1, round(w * widen * s))
    small = np.asarray(Image.fromarray(ink).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float32)
    canvas = np.zeros((p.canvas, p.canvas), dtype=np.float32)
    y0, x0 = (p.canvas - nh) // 2, (p.canvas - nw) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = np.clip(small / 255.0, 0.0, 1.0)
    return canvas


# --------------------------------------------------------------------------- synthesis


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


# --------------------------------------------------------------------------- digits


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


# --------------------------------------------------------------------------- assembly


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pillow": PIL.__version__,
        "freetype": str(pil_features.version("freetype2")),
    }


def _cache_key(profile: str, seed: int, p: GenerationParams, fonts: list[_Font]) -> str:
    material = {
        "format": _FORMAT,
        "profile": profile,
        "counts": asdict(PROFILES[profile]),
        "seed": seed,
        "params": asdict(p),
        "fonts": [[f.path.name, f.sha256] for f in fonts],
        "digits": {key: sources.info(key).sha256 for key in ("mnist-t10k", "pendigits")},
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def _drop_duplicates(
    grids: np.ndarray, labels: np.ndarray, forbidden: set[bytes]
) -> tuple[np.ndarray, np.ndarray, int]:
    keep = np.array([g.tobytes() not in forbidden for g in grids], dtype=bool)
    return grids[keep], labels[keep], int((~keep).sum())


def _counts(y: np.ndarray) -> dict[str, int]:
    n = np.bincount(y, minlength=len(LABELS))
    return {label: int(n[i]) for i, label in enumerate(LABELS)}


def _generate(
    profile: str, seed: int, p: GenerationParams, fonts: list[_Font]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    counts = PROFILES[profile]
    family_split = _family_splits(fonts)
    digits = _digits_split(seed, p, counts)
    grids: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    lacking: dict[str, list[str]] = {}
    for name in ("test", "val", "train"):
        members = [f for f in fonts if family_split[f.family] == name]
        first = _FIRST_LETTER if name == "test" else 0  # test digits are all real
        sx, sy, miss = _synthetic_split(members, getattr(counts, name), seed, p, first)
        lacking.update(miss)
        dx, dy = digits[name]
        grids[name] = np.concatenate([dx, sx])
        labels[name] = np.concatenate([dy, sy])
    test_images = {g.tobytes() for g in grids["test"]}
    dropped = {}
    for name in ("train", "val"):
        grids[name], labels[name], dropped[name] = _drop_duplicates(grids[name], labels[name], test_images)

    arrays = {}
    for name in _SPLITS:
        arrays[f"images_{name}"] = grids[name]
        arrays[f"y_{name}"] = labels[name]
    packages = {
        pkg: {"version": _run(["dpkg-query", "-W", "-f=${Version}", pkg]), "license": _package_license(pkg)}
        for pkg in sorted({f.package for f in fonts})
    }
    font_info = [
        {
            "file": f.path.name,
            "path": str(f.path),
            "family": f.family,
            "style": f.style,
            "package": f.package,
            "package_version": packages[f.package]["version"],
            "sha256": f.sha256,
            "license": packages[f.package]["license"],
            "split": family_split[f.family],
            "missing_glyphs": lacking.get(f.path.name, []),
        }
        for f in fonts
    ]
    info: dict[str, Any] = {
        "dataset": "edzoo handwriting",
        "profile": profile,
        "seed": seed,
        "labels": list(LABELS),
        "sources": {
            "digits": {key: sources.info(key).to_dict() for key in ("mnist-t10k", "pendigits")},
            "digits_use": {
                "train_val": "MNIST SD-3 (Census Bureau employees) and pendigits.tra (30 tablet writers)",
                "test": "MNIST SD-1 (high-school students; writers disjoint from SD-3)",
                "heldout": "pendigits.tes (14 tablet writers never seen): heldout()",
            },
            "fonts": font_info,
            "excluded_font_packages": EXCLUDED_PACKAGES,
        },
        "splits": {
            "fonts": {name: sorted({f.family for f in fonts if family_split[f.family] == name}) for name in _SPLITS},
            "rule": "font families sorted by first font file name: i % 5 == 2 test, i % 5 == 4 val, else train; "
            f"digits: SD-3 and pendigits.tra, {p.digits_val:.0%} of each class to validation (seeded); "
            "test: SD-1",
        },
        "generation": {
            "params": asdict(p),
            "samples_per_class_per_family": asdict(counts),
            "seeding": "numpy default_rng([seed, first 8 bytes of sha256(font file name), class index, sample index]); "
            "digits: default_rng([seed, 0xD161, source, class]) (train/val), [seed, 0x7E57, class] (test)",
            "format": _FORMAT,
        },
        "preprocessing": "28x28 MNIST layout (20x20 box, centre of mass at the centre), 0..255 ink high -> /255 "
        "-> float32 (N, 28, 28, 1)",
        "dropped_duplicates": dropped,
        "versions": _versions(),
        "license": "digits: MNIST CC BY-SA 3.0, pendigits CC BY 4.0 (sources.digits); letters and signs: rendered "
        "from Debian fonts under their own licences (see sources.fonts[].license); the generated images are "
        "derived from those fonts",
    }
    return arrays, info


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    splits = {
        name: Split(preprocess(arrays[f"images_{name}"]), arrays[f"y_{name}"].astype(np.int64)) for name in _SPLITS
    }
    info = json.loads(json.dumps(info))  # JSON-native (tuples become lists), as a cache gives it back
    info["counts"] = {name: _counts(splits[name].y) for name in _SPLITS}
    info["sizes"] = {name: int(splits[name].y.size) for name in _SPLITS}
    info["sha256"] = {name: split_sha256(splits[name]) for name in _SPLITS}
    return Dataset(splits["train"], splits["val"], splits["test"], LABELS, info)


def _read_cache(path: Path) -> Dataset | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k != "info"}
            info = json.loads(bytes(npz["info"]).decode())
    except (OSError, ValueError, KeyError):
        return None
    try:
        data = _finish(arrays, {k: v for k, v in info.items() if k not in ("counts", "sizes", "sha256")})
    except (KeyError, ValueError):
        return None
    if data.info["sha256"] != info.get("sha256"):
        return None
    return data


def _write_cache(path: Path, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, info=np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8), **arrays)  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".incomplete")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(profile: str = "quick", seed: int = 0, cache_dir: Path | None = None) -> Dataset:
    """The handwriting dataset for ``profile`` (a key of :data:`PROFILES`) and ``seed``.

    With ``cache_dir``, the generated images are stored there as ``.npz``, keyed by profile,
    seed, the generation parameters, the font files' sha256 and the library versions; a
    cached file whose splits do not hash to the sha256 recorded in it is regenerated.
    Raises ValueError for an unknown profile or a negative seed, and FontsMissingError when
    the font packages are not installed (the message names the apt command).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    params = GenerationParams()
    fonts = _find_fonts(FONT_ROOT)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"handwriting-{profile}-seed{seed}-{_cache_key(profile, seed, params, fonts)}.npz"
        if path.exists():
            cached = _read_cache(path)
            if cached is not None:
                return cached
    arrays, info = _generate(profile, seed, params, fonts)
    data = _finish(arrays, info)
    if path is not None:
        _write_cache(path, arrays, data.info)
    return data
