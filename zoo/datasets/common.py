"""What every zoo dataset shares: the split and dataset types, the split digest, and an ``.npz``
cache that is only ever replaced whole and is regenerated when its content does not hash to
what it recorded."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Dataset", "Split", "cached", "check_seed", "split_sha256"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Model inputs ``x``, targets ``y`` (int64, one per sample) and per-sample metadata
    (``meta``: arrays of the same length, e.g. the SNR of a speech clip or the error type of a
    sentence) that evaluation reports break results down by."""

    x: np.ndarray
    y: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """Three splits, the label strings (index = class id) and JSON-serializable provenance
    (``info["sha256"][split]`` is each split's :func:`split_sha256`)."""

    train: Split
    val: Split
    test: Split
    labels: tuple[str, ...]
    info: dict[str, Any]


def split_sha256(split: Split) -> str:
    """sha256 of ``x`` (C order, little-endian, its own dtype) then ``y`` as little-endian int64."""
    h = hashlib.sha256()
    x = np.ascontiguousarray(split.x)
    h.update(x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes())
    h.update(np.ascontiguousarray(split.y, dtype="<i8").tobytes())
    return h.hexdigest()


def check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _write(path: Path, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    blob = np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8)
    np.savez_compressed(buf, __info__=blob, **arrays)  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".incomplete")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    try:
        # np.load leaves the file open when the archive is cut short; close it ourselves.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k != "__info__"}
            info = json.loads(bytes(npz["__info__"]).decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    return arrays, info


def cached(
    path: Path | None,
    generate: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]],
    finish: Callable[[dict[str, np.ndarray], dict[str, Any]], Dataset],
) -> Dataset:
    """``finish(*generate())``, through an ``.npz`` cache at ``path`` when one is given.

    ``generate`` returns raw arrays and JSON-serializable info; ``finish`` turns them into the
    Dataset and must add ``info["sha256"]``. A cache file that cannot be read or whose splits
    no longer hash to the recorded digests is regenerated and replaced atomically.
    """
    if path is not None and path.exists():
        got = _read(path)
        if got is not None:
            arrays, info = got
            recorded = info.pop("sha256", None)
            try:
                data = finish(arrays, info)
            except (KeyError, ValueError):
                data = None
            if data is not None and data.info.get("sha256") == recorded:
                return data
    arrays, info = generate()
    info = json.loads(json.dumps(info))  # JSON-native, as a cache gives it back
    data = finish(arrays, dict(info))
    if path is not None:
        _write(path, arrays, {**info, "sha256": data.info["sha256"]})
    return data
