"""What every part of the handwriting dataset shares: the labels, the profiles and generation
parameters, the errors, the split digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from registry.core.errors import EdzooError

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
