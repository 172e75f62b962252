"""Handwritten digits, capital letters and ``+ - =`` for early numeracy and literacy apps.

39 classes, :data:`LABELS`: ``"0"``..``"9"``, ``"A"``..``"Z"``, ``"+"``, ``"-"``, ``"="``
(the class id is the index). Nothing is downloaded: the digits ship inside scikit-learn and
the letters are drawn from Debian font packages installed with apt.

Sources
-------
Digits
    scikit-learn's :func:`sklearn.datasets.load_digits`: 1,797 real handwritten digits, the
    test set of the UCI "Optical Recognition of Handwritten Digits" data (optdigits; E.
    Alpaydin and C. Kaynak, 1998; CC BY 4.0), written by 13 people on NIST forms. NIST's
    programs normalized each digit to a 32×32 bitmap; counting the ink pixels of each 4×4
    block gave an 8×8 grid of values 0..16. Every digit fills the full height of the grid and
    its ink covers 30.5 % ± 3.4 % of it, whatever the class: the normalization evens out
    stroke width.
Letters and signs
    Synthetic: rendered from the handwriting-style fonts of the Debian packages in
    :data:`FONT_PACKAGES`, distorted at random, then put through the optdigits pipeline so
    that they look like the digits (see Pipeline). Two packages suggested for this are left
    out: ``fonts-femkeklaver`` draws hollow outlined letters with a shadow, which become
    blobs at 8×8, and ``fonts-kristi``'s thin slanted capitals were unreadable at 8×8 (a
    classifier trained on the other non-test families recognized 31 % of them, against
    42–67 % for every other family).

Splits
------
The test split is held out: nothing may be trained, calibrated or chosen on it.

* Letters and signs hold out whole font *families* (the family name inside the font file,
  so the bold or italic of a test font never trains). Families are sorted by their first
  font file name (case-insensitive); position ``i % 5 == 2`` goes to test, ``i % 5 == 4`` to
  validation, the rest to training. With the packages of :data:`FONT_PACKAGES` that is
  test: Because We Create, Comic Neue (7 files); validation: Because We Mentor,
  DkgHandwriting (5 files); training: the other 8 families (10 files). The assignment does
  not depend on the seed.
* Digits: a seeded split stratified by class, 70 % train, 10 % validation, 20 % test.
  The 13 writers' identities are not published, so **writers overlap across the digit
  splits**: digit accuracy on the test split overstates accuracy on new writers.
* A training or validation image byte-identical to a test image is dropped
  (``info["dropped_duplicates"]`` counts them).
* Synthetic samples per class and per font family: :data:`PROFILES` (``quick``: 16 for
  training, so ~128 per letter like the ~126 per digit; ``full``: 5× as many).

Pipeline (synthetic samples; numbers are :class:`GenerationParams` defaults)
-----------------------------------------------------------------------------
1. Render the character with Pillow (FreeType, basic layout) at 160 pt and crop it to its
   ink. A character the font lacks (it renders as the ``.notdef`` glyph) or that draws
   nothing is skipped for that font (``info`` lists them). Glyphs narrower than 0.6 of
   their height are widened by up to 1.3× (condensed fonts are narrower than the digits'
   handwriting). Fit into 36×36 px, aspect ratio kept, centred on a 64×64 canvas.
2. Random affine about the canvas centre: rotation ±12°, horizontal shear ±0.25 (tangent),
   scale ×0.85..1.15 (log-uniform) with aspect ×1/1.15..1.15, translation ±4 px.
3. Elastic distortion (Simard, Steinkraus and Platt, 2003): two fields of uniform(-1, 1)
   noise, each smoothed by a Gaussian of σ = 6 px (truncated at 3σ, zero outside) and
   scaled by α = 45, move every output pixel's sampling point. The displacement has a
   standard deviation of about 1.2 px per axis, 3.4 % of the 36-px glyph; Simard's
   α = 34, σ = 4 on MNIST moves 8.5 % of a 20-px digit, which smeared many letters beyond
   reading at 8×8. Bilinear sampling, then threshold at half intensity.
4. Crop to the ink and fit into a 64×64 frame: the longer side fills it, aspect ratio
   kept, centred (as the digits fill the height of theirs).
5. Stroke thickness: dilate, or erode by at most 2 px, by thresholding the Euclidean
   distance to the stroke edge, so that after re-fitting the ink covers a random fraction
   of the frame: f ~ N(0.305, 0.034) clipped to [0.22, 0.40] (the digits' mean and spread),
   times min(1, w / 0.61) where w is the shorter side over the longer (0.61 is the digits'
   typical width/height): narrow glyphs get the digits' ink *density* instead of filling
   their counters.
6. Reduce 2×2 blocks to a 32×32 binary bitmap (on when at least two of four are on), then
   count on-pixels in non-overlapping 4×4 blocks: an 8×8 grid of values 0..16.

Every sample has its own :class:`numpy.random.Generator`, seeded from (seed, font file name,
class index, sample index); nothing else feeds it (no global random state, no dict or set
order, no parallelism), so the same profile and seed give byte-identical arrays with the
same library and font versions (``info["versions"]`` and ``info["sources"]`` record them).

Model input (every class)
-------------------------
:func:`preprocess`: the 8×8 grid as float32 divided by 16, resized to 16×16 bilinearly with
half-pixel centres and clamped edges (the convention of TF2's ``tf.image.resize``), shape
``(N, 16, 16, 1)``, ink high. Splits hold these inputs; :func:`split_sha256` hashes them.

Limitations
-----------
* Synthetic letters are not children's handwriting: they are fonts designed to look
  handwritten, bent at random. Accuracy on children's letters is not measured here, and the
  test letters come from only two font families.
* Digits are adult handwriting (13 writers) and their writers overlap across splits.
* Digits are real and letters synthetic, so a model may partly learn "real strokes mean a
  digit"; letters in a child's real handwriting may drift towards the digit classes.
* Class sizes differ: digits have what scikit-learn has (~126 training samples per class),
  letters and signs what the profile asks for; ``info["counts"]`` lists them per split.
"""

from __future__ import annotations

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
import sklearn
from PIL import Image, ImageDraw, ImageFont
from PIL import features as pil_features
from scipy import ndimage
from sklearn.datasets import load_digits

from registry.core.errors import EdzooError

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
    "split_sha256",
]

LABELS: tuple[str, ...] = tuple("0123456789") + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + ("+", "-", "=")
_FIRST_SYNTHETIC = 10  # LABELS[10:] are rendered from fonts; LABELS[:10] come from load_digits

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
    "fonts-femkeklaver": "hollow outlined letters with a shadow; they become blobs at 8x8",
    "fonts-kristi": "thin slanted capitals, unreadable at 8x8 (leave-one-family-out accuracy 31 %)",
}
_APT = "apt-get install -y " + " ".join(FONT_PACKAGES)

_DIGITS_LICENSE = "CC BY 4.0 (UCI Machine Learning Repository, optdigits)"
_FORMAT = 1  # bump when the generator changes in a way GenerationParams does not capture


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
    frame: int = 64  # the normalized frame stroke thickness is set in (2× the 32×32 bitmap)
    ink_mean: float = 0.305  # ink fraction of the frame: load_digits' mean ...
    ink_std: float = 0.034  # ... and standard deviation
    ink_range: tuple[float, float] = (0.22, 0.40)  # the drawn fraction is clipped to this
    ink_ref_aspect: float = 0.61  # narrower glyphs aim at ink_fraction × width/height ÷ this
    max_erode_px: float = 2.0  # erosion never goes deeper than this into a stroke (frame px)
    digits_split: tuple[float, float, float] = (0.7, 0.1, 0.2)  # train, val, test share per digit


@dataclass(frozen=True)
class Profile:
    """Synthetic samples per class and per font family, for each split."""

    train: int
    val: int
    test: int


#: ``quick`` (~5k training images, a few seconds) fits CI; ``full`` has 5× the synthetic training letters.
PROFILES: dict[str, Profile] = {
    "quick": Profile(train=16, val=16, test=20),
    "full": Profile(train=80, val=40, test=60),
}


@dataclass(frozen=True)
class Split:
    """Model inputs ``x`` (float32, (N, 16, 16, 1), in [0, 1]) and labels ``y`` (int64, (N,))."""

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


def _upsample_matrix(n: int) -> np.ndarray:
    """(2n, n) matrix of 2× bilinear interpolation, half-pixel centres, edges clamped."""
    m = np.zeros((2 * n, n), dtype=np.float64)
    for i in range(2 * n):
        src = (i + 0.5) / 2 - 0.5
        lo = int(np.floor(src))
        frac = src - lo
        m[i, min(max(lo, 0), n - 1)] += 1 - frac
        m[i, min(max(lo + 1, 0), n - 1)] += frac
    return m


def preprocess(grids: np.ndarray) -> np.ndarray:
    """Model input from optdigits grids: (N, 8, 8) values 0..16 -> float32 (N, 16, 16, 1) in [0, 1].

    Divides by 16, then resizes bilinearly to 16×16 (half-pixel centres, clamped edges).
    Raises ValueError for another shape.
    """
    grids = np.asarray(grids)
    if grids.ndim != 3 or grids.shape[1:] != (8, 8):
        raise ValueError(f"expected grids of shape (N, 8, 8), got {grids.shape}")
    u = _upsample_matrix(8)
    x = np.einsum("ij,njk,lk->nil", u, grids.astype(np.float64) / 16.0, u)
    return np.clip(x, 0.0, 1.0).astype(np.float32)[..., None]


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
    """One distorted sample of ``glyph`` as an 8×8 optdigits grid (uint8, 0..16)."""
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
        return np.zeros((8, 8), dtype=np.uint8)
    extent = min(box[1] - box[0], box[3] - box[2])
    ink = _set_ink(frame, ink_target * min(1.0, extent / p.frame / p.ink_ref_aspect), p)
    half = p.frame // 32
    bitmap = ink.reshape(32, half, 32, half).sum(axis=(1, 3)) * 2 >= half * half
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.uint8)


def _font_key(path: Path) -> int:
    return int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:8], "big")


def _synthetic_split(
    fonts: list[_Font], n_per_family: int, seed: int, p: GenerationParams
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Samples of every synthetic class from ``fonts`` (one split's families): for each family
    and class, ``n_per_family`` samples drawn round-robin from the family's files that have the
    glyph. Returns grids, labels and the characters each font file lacks."""
    families: dict[str, list[_Font]] = {}
    for f in fonts:
        families.setdefault(f.family, []).append(f)
    grids, labels = [], []
    lacking: dict[str, list[str]] = {f.path.name: [] for f in fonts}
    for family in sorted(families):
        members = families[family]
        loaded = [ImageFont.truetype(str(f.path), p.render_pt, layout_engine=ImageFont.Layout.BASIC) for f in members]
        for cls in range(_FIRST_SYNTHETIC, len(LABELS)):
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
    x = np.stack(grids) if grids else np.zeros((0, 8, 8), dtype=np.uint8)
    return x, np.asarray(labels, dtype=np.int64), lacking


# --------------------------------------------------------------------------- digits


def _digits_split(seed: int, p: GenerationParams) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """load_digits split per class with a seeded permutation; returns splits and the DESCR."""
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    target = bunch.target.astype(np.int64)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _SPLITS}
    for cls in range(10):
        idx = np.flatnonzero(target == cls)
        idx = idx[np.random.default_rng([seed, 0xD161, cls]).permutation(idx.size)]
        n_test = round(idx.size * p.digits_split[2])
        n_val = round(idx.size * p.digits_split[1])
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    out = {}
    for name in _SPLITS:
        idx = np.sort(np.concatenate(parts[name]))
        out[name] = (images[idx], target[idx])
    return out, bunch.DESCR


def _digits_sha256() -> str:
    bunch = load_digits()
    return hashlib.sha256(bunch.images.astype("<f8").tobytes() + bunch.target.astype("<i8").tobytes()).hexdigest()


# --------------------------------------------------------------------------- assembly


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
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
        "digits": _digits_sha256(),
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


def _digits_description(descr: str) -> str:
    text = descr.split(".. dropdown::")[0]
    return "\n".join(line for line in text.splitlines() if not line.startswith(".. _")).strip()


def _generate(
    profile: str, seed: int, p: GenerationParams, fonts: list[_Font]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    counts = PROFILES[profile]
    family_split = _family_splits(fonts)
    digits, descr = _digits_split(seed, p)
    grids: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    lacking: dict[str, list[str]] = {}
    for name in ("test", "val", "train"):
        members = [f for f in fonts if family_split[f.family] == name]
        sx, sy, miss = _synthetic_split(members, getattr(counts, name), seed, p)
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
        arrays[f"grids_{name}"] = grids[name]
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
            "digits": {
                "loader": "sklearn.datasets.load_digits",
                "sklearn_version": sklearn.__version__,
                "sha256": _digits_sha256(),
                "description": _digits_description(descr),
                "license": _DIGITS_LICENSE,
                "writers": "13 writers; their identities are not published, so writers overlap across splits",
            },
            "fonts": font_info,
            "excluded_font_packages": EXCLUDED_PACKAGES,
        },
        "splits": {
            "fonts": {name: sorted({f.family for f in fonts if family_split[f.family] == name}) for name in _SPLITS},
            "rule": "font families sorted by first font file name: i % 5 == 2 test, i % 5 == 4 val, else train; "
            f"digits stratified {p.digits_split[0]:.0%}/{p.digits_split[1]:.0%}/{p.digits_split[2]:.0%} "
            "(train/val/test), seeded",
        },
        "generation": {
            "params": asdict(p),
            "samples_per_class_per_family": asdict(counts),
            "seeding": "numpy default_rng([seed, first 8 bytes of sha256(font file name), class index, sample index])",
            "format": _FORMAT,
        },
        "preprocessing": "8x8 grid of ink counts 0..16 -> /16 -> bilinear 2x (half-pixel centres, clamped edges) "
        "-> float32 (N, 16, 16, 1)",
        "dropped_duplicates": dropped,
        "versions": _versions(),
        "license": f"digits: {_DIGITS_LICENSE}; letters and signs: rendered from Debian fonts under their own "
        "licences (see sources.fonts[].license); the generated images are derived from those fonts",
    }
    return arrays, info


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    splits = {
        name: Split(preprocess(arrays[f"grids_{name}"]), arrays[f"y_{name}"].astype(np.int64)) for name in _SPLITS
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

    With ``cache_dir``, the generated grids are stored there as ``.npz``, keyed by profile,
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
