"""The dataset: the real digits and the synthetic characters of each split, deduplicated, and the
cache (:func:`load`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import scipy
from PIL import features as pil_features

from .. import sources
from ._base import (
    _FIRST_LETTER,
    _FORMAT,
    _SPLITS,
    EXCLUDED_PACKAGES,
    FONT_ROOT,
    LABELS,
    PROFILES,
    Dataset,
    GenerationParams,
    Split,
    _Font,
    preprocess,
    split_sha256,
)
from .digits import _digits_split
from .fonts import _family_splits, _find_fonts, _package_license, _run
from .synthesis import _synthetic_split


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
