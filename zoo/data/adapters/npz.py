"""The ``npz`` layout: one ``.npz`` of ``x_train``, ``y_train``, ``x_test``, ``y_test`` (and maybe
``x_val``, ``y_val``, ``labels``, ``g_<split>`` groups)."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from zoo.data._base import SPLITS, Parts, Request, Source, fail, label_index, register_adapter
from zoo.data.splits import Plan
from zoo.datasets.common import Dataset, Split

from ._common import _for_request, _plan


def _npz_x(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        raise fail(path, f"{key} is a single value, not one row per sample", f"store {key} with samples first")
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    if a.dtype.kind in "iub":
        if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
            raise fail(path, f"{key} holds integers beyond int32", "store them as floats, or scale them down")
        return a.astype(np.int32)
    raise fail(path, f"{key} has dtype {a.dtype}, not numbers", f"store {key} as a float or integer array")


def _npz_y(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        raise fail(path, f"{key} is a single value, not one target per sample", f"store {key} with samples first")
    if a.dtype.kind not in "iub":
        raise fail(path, f"{key} has dtype {a.dtype}, not integer class ids", f"store {key} as integers (-1: no label)")
    y = a.astype(np.int64)
    if y.size and y.min() < -1:
        raise fail(path, f"{key} holds {int(y.min())}", "use class ids 0..K-1, and -1 only where there is no label")
    return y


def _npz_labels(path: Path, arrays: dict[str, np.ndarray]) -> tuple[str, ...] | None:
    if "labels" not in arrays:
        return None
    a = arrays["labels"]
    if a.ndim != 1 or a.dtype.kind not in "US":
        raise fail(path, f"labels has dtype {a.dtype} and shape {a.shape}", "store labels as a 1-D array of strings")
    labels = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in a.tolist())
    if len(set(labels)) != len(labels):
        raise fail(path, "labels names a class twice", "give each class one distinct name")
    return labels


def _is_npz(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".npz"


def _npz_arrays(src: Source, path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read without unpickling. Raises DataError for a file that is
    not a readable .npz."""
    blob = src.read_bytes(path)
    if not blob.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # what np.load would take for a pickle
        raise fail(
            path, "is not a .npz archive (not a zip file)", "write it with numpy.savez or numpy.savez_compressed"
        )
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as e:  # object arrays (np.load will not unpickle them) or a malformed header
        raise fail(
            path,
            "holds an array that cannot be read without unpickling, or a malformed one",
            "store numbers and strings",
        ) from e
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise fail(
            path, f"is not a readable .npz archive ({type(e).__name__})", "write it again with numpy.savez"
        ) from e


def _labelled(
    path: Path, arrays: dict[str, np.ndarray], ys: dict[str, np.ndarray], like: Dataset | None
) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """The label names (``like``'s, the archive's ``labels``, or the class ids) and the targets
    mapped onto them. Raises DataError for a class id without a name or a label ``like`` lacks."""
    declared_labels = _npz_labels(path, arrays)
    top = max((int(y.max()) for y in ys.values() if y.size), default=-1)
    if like is not None:
        labels = like.labels
        if declared_labels is not None:
            known = label_index(labels)
            if top >= len(declared_labels):
                raise fail(path, f"holds class {top} but labels names {len(declared_labels)}", "fix y or labels")
            missing = [name for name in declared_labels if name not in known]
            if missing:
                raise fail(
                    path,
                    f"has the label {missing[0]!r}, which the training data does not have",
                    f"use its labels: {', '.join(labels)}",
                )
            lut = np.array([known[name] for name in declared_labels], np.int64)
            ys = {s: np.where(y >= 0, lut[np.maximum(y, 0)], -1) for s, y in ys.items()}
        elif top >= len(labels):
            raise fail(path, f"holds class {top} but the training data has {len(labels)} labels", "fix y")
    elif declared_labels is not None:
        if top >= len(declared_labels):
            raise fail(path, f"holds class {top} but labels names {len(declared_labels)}", "fix y or labels")
        labels = declared_labels
    else:
        if top < 0:
            raise fail(path, "has no labelled sample (every y is -1)", "store the class ids in y")
        labels = tuple(str(i) for i in range(top + 1))

    return labels, ys


@register_adapter(
    "npz",
    kind="generic",
    summary="one .npz: x_train, y_train, x_test, y_test [x_val, y_val, labels, g_<split> groups]",
    detect=_is_npz,
)
def read_npz(request: Request) -> Parts:
    """Arrays saved by ``numpy.savez``; a missing validation split is carved from train (by
    ``g_train`` groups when given). Raises DataError as the module says."""
    src, like, path = request.source, request.like, request.source.path
    if not path.is_file():
        raise fail(path, "is not a file", "give one .npz archive written by numpy.savez")
    arrays = _npz_arrays(src, path)
    present = [s for s in SPLITS if f"x_{s}" in arrays or f"y_{s}" in arrays]
    for s in present:
        if f"x_{s}" not in arrays or f"y_{s}" not in arrays:
            have, lack = (f"x_{s}", f"y_{s}") if f"x_{s}" in arrays else (f"y_{s}", f"x_{s}")
            raise fail(path, f"has {have} but no {lack}", "store inputs and targets of every split")
    # Without a training split only the recipes that convert can run: they calibrate on x_val.
    calibration_only = not request.evaluate and "train" not in present
    if calibration_only and not {"val", "test"} <= set(present):
        raise fail(
            path,
            "has no x_train and y_train",
            "store the training split as x_train and y_train (or, for recipes that only convert, "
            "calibration samples as x_val and y_val beside x_test and y_test)",
        )
    if not present:
        raise fail(path, "holds no x_<split> and y_<split> arrays", "store x_test and y_test")
    pools = _for_request(request, {s: s for s in present})
    xs = {s: _npz_x(path, f"x_{s}", arrays[f"x_{s}"]) for s in pools}
    ys = {s: _npz_y(path, f"y_{s}", arrays[f"y_{s}"]) for s in pools}
    gs: dict[str, np.ndarray] = {}
    first = next(iter(pools))
    for s in pools:
        n = xs[s].shape[0]
        if ys[s].shape[0] != n:
            raise fail(path, f"x_{s} has {n} samples but y_{s} has {ys[s].shape[0]}", "give both the same length")
        if xs[s].shape[1:] != xs[first].shape[1:] or xs[s].dtype != xs[first].dtype:
            raise fail(
                path,
                f"x_{s} holds {xs[s].dtype}{list(xs[s].shape[1:])} samples but x_{first} {xs[first].dtype}"
                f"{list(xs[first].shape[1:])}",
                "give every split samples of one shape and type",
            )
        if f"g_{s}" in arrays:
            g = arrays[f"g_{s}"]
            if g.shape != (n,):
                raise fail(path, f"g_{s} has shape {g.shape}, not one group key per sample ({n})", f"fix g_{s}")
            gs[s] = g.astype(str)

    labels, ys = _labelled(path, arrays, ys, like)

    # Only the training split is ever carved: its groups are the ones that matter.
    keys = {s: gs.get(s, np.arange(xs[s].shape[0])) for s in pools}
    if calibration_only:
        p = Plan({s: ((s, np.arange(xs[s].shape[0])),) for s in ("val", "test")}, tuple(present), None)
    else:
        p = _plan(request, keys, "g_train" if "train" in gs else "sample", present)
    splits = {}
    for name, pieces in p.pieces.items():
        meta = {}
        if all(pool in gs for pool, _ in pieces):
            meta["group"] = np.concatenate([gs[pool][idx] for pool, idx in pieces])
        splits[name] = Split(
            np.concatenate([xs[pool][idx] for pool, idx in pieces]),
            np.concatenate([ys[pool][idx] for pool, idx in pieces]),
            meta,
        )
    if calibration_only:
        splits["train"] = Split(xs["test"][:0], ys["test"][:0], {})
    return Parts(splits, labels, p.declared, p.made, {"arrays": sorted(arrays), "training_split": not calibration_only})
