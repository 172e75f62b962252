"""The fonts: finding the Debian font packages, their licences, splitting families across the
splits, and drawing a glyph."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._base import _APT, FONT_PACKAGES, FontsMissingError, GenerationParams, _Font


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
