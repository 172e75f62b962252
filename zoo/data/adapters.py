"""The standard layouts a team's data comes in, one adapter each: ``npz``, ``image-folder``,
``speech-commands``, ``conll``, ``dkt`` and ``csv``. Each reads files through the request's
:class:`~zoo.data._base.Source` (which records what it read), lets :func:`zoo.data.splits.plan`
decide the splits and returns :class:`~zoo.data._base.Parts`. Every problem a user can cause
is a one-line DataError naming the file (and line) and what to do.
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import wave
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data._base import (
    MAX_LEN_CAP,
    SPLITS,
    DataOptions,
    Parts,
    Request,
    Source,
    fail,
    group_of,
    group_pattern,
    label_index,
    like_info,
    register_adapter,
    take,
)
from zoo.data.splits import Plan, plan
from zoo.datasets.common import Split

__all__ = ["IMAGE_SUFFIXES", "TEXT_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_SUFFIXES = (".txt", ".conll", ".tsv")
_DKT_SUFFIXES = (".txt", ".csv")
_SPLIT_NAMES = {"train": "train", "val": "val", "validation": "val", "test": "test"}  # folders, CSV values
_CONLL_NAMES = (("train", re.compile("train")), ("val", re.compile("dev|val")), ("test", re.compile("test")))
_DKT_NAMES = (("train", re.compile("train")), ("test", re.compile("test")))
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _plan(request: Request, pools: dict[str, np.ndarray], group: str, layout: Iterable[str]) -> Plan:
    """The splits of ``pools`` (those being read of the ``layout``'s pools) for the request's options."""
    o = request.options
    return plan(
        pools,
        seed=o.seed,
        val_fraction=o.val_fraction,
        test_fraction=o.test_fraction,
        group=group,
        source=request.source.path,
        evaluate=request.evaluate,
        layout=layout,
    )


def _for_request(request: Request, pools: dict[str, Any]) -> dict[str, Any]:
    """Only the declared test pool when evaluating on a layout that has one: nothing else is read."""
    if request.evaluate and "test" in pools:
        return {"test": pools["test"]}
    return pools


def _groups(keys: Sequence[str] | None, n: int) -> np.ndarray:
    return np.asarray(keys, dtype=str) if keys is not None else np.arange(n)


def _sniff(p: Path) -> str | None:
    """``"dkt"`` or ``"conll"`` from the first lines of a text file, else None; never raises."""
    try:
        with p.open("rb") as f:
            head = f.read(8192)
    except OSError:
        return None
    lines = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    if (
        len(lines) >= 2
        and re.fullmatch(r"\s*[0-9]+\s*", lines[0])
        and re.fullmatch(r"[0-9\s,-]*", lines[1])
        and (len(lines) < 3 or re.fullmatch(r"[01\s,]*", lines[2]))
    ):
        return "dkt"
    for line in lines:
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            return "conll" if len(fields) >= 2 else None
    return None


def _named_files(
    source: Source, folder: Path, suffixes: tuple[str, ...], names: tuple[tuple[str, re.Pattern[str]], ...], what: str
) -> dict[str, Path]:
    """Split name -> the one file of ``folder`` whose name contains it. Raises DataError for a file
    that fits two splits, two files for one split, or none at all."""
    found: dict[str, Path] = {}
    for f in source.entries(folder):
        if not (f.is_file() and f.suffix.lower() in suffixes):
            continue
        fits = [split for split, rx in names if rx.search(f.name.lower())]
        if len(fits) > 1:
            raise fail(f, f"its name fits several splits ({', '.join(fits)})", "name each file after one split")
        if fits and fits[0] in found:
            raise fail(f, f"is a second {fits[0]} file beside {found[fits[0]].name}", "merge them into one file")
        if fits:
            found[fits[0]] = f
    if not found:
        spelled = " / ".join(rx.pattern for _, rx in names)
        raise fail(folder, f"holds no {what} file named after a split ({spelled})", "name the files e.g. train.txt")
    return {split: found[split] for split in SPLITS if split in found}


def _folder_has(p: Path, suffixes: tuple[str, ...], depth: int) -> bool:
    """Whether a file with one of ``suffixes`` sits ``depth`` folders below ``p`` (hidden ones skipped)."""
    for child in p.iterdir():
        if child.name.startswith("."):
            continue
        if depth == 0 and child.suffix.lower() in suffixes and child.is_file():  # the cheap test first
            return True
        if depth > 0 and child.is_dir() and _folder_has(child, suffixes, depth - 1):
            return True
    return False


# --------------------------------------------------------------------------- npz


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
    blob = src.read_bytes(path)
    if not blob.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # what np.load would take for a pickle
        raise fail(
            path, "is not a .npz archive (not a zip file)", "write it with numpy.savez or numpy.savez_compressed"
        )
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
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


# --------------------------------------------------------------------------- image folder


@dataclass(frozen=True)
class _Image:
    path: Path
    label: str
    pixels: np.ndarray  # uint8 (height, width, 3)
    grey: bool
    resized: bool


def _decode_image(source: Source, p: Path, size: tuple[int, int] | None) -> _Image:
    from PIL import Image

    blob = source.read_bytes(p)
    try:
        with Image.open(io.BytesIO(blob)) as im:
            im.load()
            grey = im.mode in _GREY_MODES
            if im.mode.startswith("I;16"):  # 16-bit grey: convert() would clip it at 255, keep the high byte
                rgb = Image.fromarray((np.asarray(im, np.uint16) >> 8).astype(np.uint8), "L").convert("RGB")
            else:
                rgb = im.convert("RGB")  # alpha is dropped, as Keras' image loading does
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise fail(
            p, f"is not a readable image ({type(e).__name__}: {e})", "re-save it as PNG or JPEG, or remove it"
        ) from e
    resized = size is not None and rgb.size != (size[1], size[0])
    if resized:
        assert size is not None
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    a = np.asarray(rgb, dtype=np.uint8)
    if not grey:  # an RGB file of grey pixels is grey
        grey = bool(np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]))
    return _Image(p, p.parent.name, a, grey, resized)


def _pixels(images: list[_Image], channels: int) -> np.ndarray:
    """float32 NHWC in [0, 1]; one channel is the grey value, or ITU-R 601 luma of a colour image."""
    rgb = np.stack([im.pixels for im in images]).astype(np.float32) / np.float32(255)
    if channels == 3:
        return rgb
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    grey = np.array([im.grey for im in images])[:, None, None]
    return np.where(grey, rgb[..., 0], luma)[..., None].astype(np.float32)


def _split_folders(source: Source, root: Path) -> dict[str, Path]:
    """Declared split folders (train/, val/ or validation/, test/) or ``{"all": root}``. Raises
    DataError for split folders beside class folders, or both val/ and validation/."""
    folders = [d for d in source.entries(root) if d.is_dir()]
    named = [d for d in folders if d.name.lower() in _SPLIT_NAMES]
    if not named:
        return {"all": root}
    if len(named) != len(folders):
        others = [d.name for d in folders if d not in named]
        raise fail(
            root,
            f"holds split folders ({', '.join(d.name for d in named)}) beside class folders ({', '.join(others[:4])})",
            "put every class folder under train/, val/ and test/, or rename the split folders",
        )
    pools: dict[str, Path] = {}
    for d in named:
        split = _SPLIT_NAMES[d.name.lower()]
        if split in pools:
            raise fail(root, f"has both {pools[split].name}/ and {d.name}/", "keep one validation folder")
        pools[split] = d
    return {split: pools[split] for split in SPLITS if split in pools}


def _is_image_folder(p: Path) -> bool:
    if not p.is_dir():
        return False
    if _folder_has(p, IMAGE_SUFFIXES, 1):
        return True
    return any(d.is_dir() and d.name.lower() in _SPLIT_NAMES and _folder_has(d, IMAGE_SUFFIXES, 1) for d in p.iterdir())


@register_adapter(
    "image-folder",
    kind="image-classification",
    summary="root/<class>/*.png|jpg|jpeg|bmp|gif, or root/{train,val,test}/<class>/...",
    detect=_is_image_folder,
)
def read_image_folder(request: Request) -> Parts:
    """One folder of images per class (labels: sorted folder names), optionally under split
    folders. Raises DataError as the module says."""
    src, o, like, root = request.source, request.options, request.like, request.source.path
    if not root.is_dir():
        raise fail(root, "is not a folder", "give the folder that holds one folder of images per class")
    size, channels = o.image_size, o.channels
    if like is not None:
        shape = like_info(like, "image", root, "image size")
        size, channels = (shape["height"], shape["width"]), shape["channels"]
    rx = group_pattern(root, o.group) if o.group else None
    layout = _split_folders(src, root)
    folders = _for_request(request, layout)
    images: dict[str, list[_Image]] = {}
    classes: dict[str, list[str]] = {}
    skipped = 0
    first: _Image | None = None
    for pool, folder in folders.items():
        class_dirs = []
        for e in src.entries(folder):
            if e.is_dir():
                class_dirs.append(e)
            elif e.suffix.lower() in IMAGE_SUFFIXES:
                raise fail(e, "is an image outside a class folder", f"move it into {folder}/<class>/")
            else:
                skipped += 1
        if not class_dirs:
            raise fail(folder, "holds no class folders", "put each class's images in a folder named after the class")
        classes[pool] = [d.name for d in class_dirs]
        images[pool] = []
        for d in class_dirs:
            entries = src.entries(d)
            files = [f for f in entries if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
            skipped += len(entries) - len(files)
            if not files:
                raise fail(
                    d, "is a class folder without images", f"add images ({' '.join(IMAGE_SUFFIXES)}) or remove it"
                )
            for f in files:
                im = _decode_image(src, f, size)
                if size is None and first is not None and im.pixels.shape != first.pixels.shape:
                    h, w = im.pixels.shape[:2]
                    fh, fw = first.pixels.shape[:2]
                    raise fail(
                        f,
                        f"is {h}x{w} pixels (height x width) but {src.rel(first.path)} is {fh}x{fw}",
                        "give images of one size, or set image_size (height, width) to resize them while reading",
                    )
                first = first or im
                images[pool].append(im)

    if like is not None:
        labels = like.labels
        for pool, names in classes.items():
            for name in names:
                if name not in labels:
                    raise fail(
                        folders[pool] / name,
                        "is a class the training data does not have",
                        f"use its classes: {', '.join(labels)}",
                    )
    else:
        ref = next(iter(classes))
        for pool, names in classes.items():
            if set(names) != set(classes[ref]):
                raise fail(
                    folders[pool],
                    f"has the classes {', '.join(sorted(names))} but {folders[ref].name} has "
                    f"{', '.join(sorted(classes[ref]))}",
                    "give every split folder the same class folders",
                )
        labels = tuple(sorted(classes[ref]))
    every = [im for pool in images.values() for im in pool]
    channels = channels or (1 if all(im.grey for im in every) else 3)
    keys = {pool: [group_of(rx, src, im.path) for im in ims] for pool, ims in images.items()} if rx else None
    pools = {pool: _groups(keys[pool] if keys else None, len(ims)) for pool, ims in images.items()}
    p = _plan(request, pools, o.group or "image", layout)
    index = label_index(labels)
    splits = {}
    for name, pieces in p.pieces.items():
        chosen = take(images, pieces)
        meta = {"group": np.array(take(keys, pieces), dtype=str)} if keys else {}
        splits[name] = Split(_pixels(chosen, channels), np.array([index[im.label] for im in chosen], np.int64), meta)
    h, w = every[0].pixels.shape[:2]
    info = {
        "image": {
            "height": int(h),
            "width": int(w),
            "channels": int(channels),
            "resized": sum(im.resized for im in every),
            "colour_images": sum(not im.grey for im in every),
        },
        "skipped_files": skipped,
    }
    return Parts(splits, labels, p.declared, p.made, info)


# --------------------------------------------------------------------------- speech commands

_LISTS = (("val", "validation_list.txt"), ("test", "testing_list.txt"))


def _audio_settings(request: Request) -> tuple[int, int, bool]:
    """(sample rate, clip samples, log-mel?): the training data's when reading ``like`` it. Raises
    DataError when the log-mel front end is asked for other than 1 s at 16 kHz."""
    o, root = request.options, request.source.path
    rate, clip, logmel = o.sample_rate, o.clip_samples, o.frontend == "logmel"
    if request.like is not None:
        audio = like_info(request.like, "audio", root, "audio settings")
        rate, clip, logmel = int(audio["sample_rate"]), int(audio["clip_samples"]), bool(audio["frontend"])
    if logmel:
        from zoo.datasets.speech import CLIP_SAMPLES, SAMPLE_RATE

        if (rate, clip) != (SAMPLE_RATE, CLIP_SAMPLES):
            raise fail(
                root,
                f"the logmel front end reads {CLIP_SAMPLES} samples at {SAMPLE_RATE} Hz, not {clip} at {rate} Hz",
                f"set sample_rate and clip_samples to {SAMPLE_RATE}, or use no front end",
            )
    return rate, clip, logmel


def _read_wav(source: Source, p: Path, rate: int, clip: int, counts: Counter[str]) -> np.ndarray:
    """One clip as float32 (clip,) in [-1, 1]: channels averaged, resampled, zero-padded at the
    end or cut around the centre. Raises DataError for a file ``wave`` cannot read."""
    from scipy.signal import resample_poly

    blob = source.read_bytes(p)
    try:
        with wave.open(io.BytesIO(blob), "rb") as w:
            channels, width, framerate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError, OSError) as e:
        raise fail(
            p,
            f"is not a readable PCM .wav file ({e or type(e).__name__})",
            "convert it to 16-bit PCM, e.g. with: sox in.wav -b 16 out.wav",
        ) from e
    if width not in (1, 2, 3, 4) or channels < 1 or framerate < 1:
        raise fail(p, f"has {8 * width}-bit samples at {framerate} Hz", "convert it to 16-bit PCM")
    usable = len(frames) // (width * channels) * (width * channels)
    raw = np.frombuffer(frames[:usable], dtype=np.uint8)
    if width == 1:
        s = (raw.astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        s = raw.view("<i2") / 32768.0
    elif width == 3:
        b = raw.reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        s = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        s = raw.view("<i4") / float(1 << 31)
    s = s.reshape(-1, channels).mean(axis=1)
    if s.size == 0:
        raise fail(p, "holds no samples", "record it again, or remove it")
    counts["converted"] += width != 2 or channels != 1
    if framerate != rate:
        g = math.gcd(rate, framerate)
        s = resample_poly(s, rate // g, framerate // g)
        counts["resampled"] += 1
    s = np.clip(s, -1.0, 1.0)
    if s.size < clip:
        counts["padded"] += 1
        s = np.pad(s, (0, clip - s.size))
    elif s.size > clip:
        counts["cut"] += 1
        start = (s.size - clip) // 2
        s = s[start : start + clip]
    return s.astype(np.float32)


def _logmel(audio: np.ndarray) -> np.ndarray:
    from zoo.datasets.speech import logmel

    return logmel(audio)


def _logmel_shape(clip: int, use_logmel: bool) -> tuple[int, ...]:
    if not use_logmel:
        return (clip,)
    from zoo.datasets.speech import FRONTEND

    return tuple(FRONTEND["output_shape"])


def _speaker(p: Path, rel: str) -> str:
    return p.name.split("_nohash_")[0] if "_nohash_" in p.name else rel.rsplit(".", 1)[0]


def _is_speech(p: Path) -> bool:
    if not p.is_dir():
        return False
    if any((p / name).is_file() for _, name in _LISTS):
        return True
    return _folder_has(p, (".wav",), 1)


@register_adapter(
    "speech-commands",
    kind="audio-classification",
    summary="root/<word>/<speaker>_nohash_<n>.wav [validation_list.txt, testing_list.txt]",
    detect=_is_speech,
)
def read_speech_commands(request: Request) -> Parts:
    """The Speech Commands layout: one folder of .wav clips per word (folders starting with ``_``
    skipped), optional validation and testing lists; grouped by speaker. Raises DataError as the
    module says."""
    src, o, like, root = request.source, request.options, request.like, request.source.path
    if not root.is_dir():
        raise fail(root, "is not a folder", "give the folder that holds one folder of .wav clips per word")
    rate, clip, use_logmel = _audio_settings(request)
    rx = group_pattern(root, o.group) if o.group else None
    words: list[Path] = []
    skipped: list[Path] = []
    for e in src.entries(root):
        if e.is_dir():
            (skipped if e.name.startswith("_") else words).append(e)
    if not words:
        raise fail(root, "holds no word folders of .wav clips", "put each word's clips in <root>/<word>/")
    clips: dict[str, Path] = {}
    for d in words:
        if like is not None and d.name not in like.labels:
            raise fail(d, "is a word the training data does not have", f"use its words: {', '.join(like.labels)}")
        wavs = [f for f in src.entries(d) if f.is_file() and f.suffix.lower() == ".wav"]
        if not wavs:
            raise fail(d, "is a word folder without .wav clips", "add clips or remove the folder")
        clips.update((src.rel(f), f) for f in wavs)
    listed: dict[str, str] = {}
    declared_lists = []
    for split, name in _LISTS:
        if not (root / name).is_file():
            continue
        declared_lists.append(split)
        lines = src.read_text(root / name).splitlines()
        if not any(line.strip() for line in lines):
            raise fail(root / name, "lists no clips", "list one clip per line (word/file.wav), or delete the file")
        for i, line in enumerate(lines, 1):
            rel = line.strip().replace("\\", "/")
            if not rel:
                continue
            if rel not in clips:
                raise fail(root / name, f"names {rel!r}, not a clip of a word folder", "remove the line", line=i)
            if rel in listed:
                raise fail(root / name, f"lists {rel!r}, already in the {listed[rel]} list", "list it once", line=i)
            listed[rel] = split
    if declared_lists:
        pools = {split: [f for rel, f in clips.items() if listed.get(rel, "train") == split] for split in SPLITS}
        pools = {split: files for split, files in pools.items() if split == "train" or split in declared_lists}
    else:
        pools = {"all": list(clips.values())}
    layout = tuple(pools)
    pools = _for_request(request, pools)
    keys = {
        pool: [group_of(rx, src, f) if rx else _speaker(f, src.rel(f)) for f in files] for pool, files in pools.items()
    }
    p = _plan(request, {pool: _groups(k, len(k)) for pool, k in keys.items()}, o.group or "speaker", layout)
    labels = like.labels if like is not None else tuple(sorted(d.name for d in words))
    index = label_index(labels)
    counts: Counter[str] = Counter()
    splits = {}
    for name, pieces in p.pieces.items():
        files = take(pools, pieces)
        x = np.empty((len(files), *_logmel_shape(clip, use_logmel)), np.float32)
        # Chunks of clips, so that with the front end no split's raw audio is ever held whole.
        for start in range(0, len(files), 256):
            chunk = np.stack([_read_wav(src, f, rate, clip, counts) for f in files[start : start + 256]])
            x[start : start + len(chunk)] = _logmel(chunk) if use_logmel else chunk
        y = np.array([index[f.parent.name] for f in files], np.int64)
        splits[name] = Split(x, y, {"group": np.asarray(take(keys, pieces), dtype=str)})
    frontend: dict[str, Any] | None = None
    if use_logmel:
        from zoo.datasets.speech import FRONTEND

        frontend = FRONTEND
    info = {
        "audio": {"sample_rate": rate, "clip_samples": clip, "frontend": frontend},
        "clips": {k: int(counts[k]) for k in ("converted", "resampled", "padded", "cut")},
        "skipped_folders": [d.name for d in skipped],
    }
    return Parts(splits, labels, p.declared, p.made, info)


# --------------------------------------------------------------------------- CoNLL


@dataclass(frozen=True)
class _Sentence:
    path: Path
    tokens: tuple[str, ...]  # lowercased
    labels: tuple[str, ...]
    lines: tuple[int, ...]  # of each token, for errors


def _parse_conll(source: Source, p: Path) -> list[_Sentence]:
    out: list[_Sentence] = []
    tokens: list[str] = []
    labels: list[str] = []
    lines: list[int] = []

    def end_sentence() -> None:
        if tokens:
            out.append(_Sentence(p, tuple(tokens), tuple(labels), tuple(lines)))
            tokens.clear()
            labels.clear()
            lines.clear()

    for i, raw in enumerate(source.read_text(p).splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0] == "-DOCSTART-":
            end_sentence()
            continue
        if len(fields) < 2:
            raise fail(p, f"has the token {fields[0]!r} but no label", "put the label in the last column", line=i)
        tokens.append(fields[0].lower())
        labels.append(fields[-1])
        lines.append(i)
    end_sentence()
    if not out:
        raise fail(p, "holds no sentences", "give one token and its label per line, a blank line between sentences")
    return out


def _is_conll(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() in TEXT_SUFFIXES and _sniff(p) == "conll"
    if not p.is_dir():
        return False
    return any(
        f.is_file() and f.suffix.lower() in TEXT_SUFFIXES and _sniff(f) == "conll"
        for f in p.iterdir()
        if any(rx.search(f.name.lower()) for _, rx in _CONLL_NAMES)
    )


def _max_len(o: DataOptions, train_lengths: Sequence[int]) -> int:
    return o.max_len or min(MAX_LEN_CAP, max(train_lengths, default=1))


@register_adapter(
    "conll",
    kind="token-classification",
    summary="token-per-line files (token first, label last, blank line between sentences); "
    "a file, or a folder of train/dev/test files",
    detect=_is_conll,
)
def read_conll(request: Request) -> Parts:
    """CoNLL-style token files; the vocabulary comes from the training split (``like``'s when
    given). Raises DataError as the module says."""
    src, o, like, path = request.source, request.options, request.like, request.source.path
    if path.is_file():
        files = {"all": path}
    elif path.is_dir():
        files = _named_files(src, path, TEXT_SUFFIXES, _CONLL_NAMES, "token")
    else:
        raise fail(path, "is neither a file nor a folder", "give a CoNLL file or a folder of them")
    sentences = {pool: _parse_conll(src, f) for pool, f in _for_request(request, files).items()}
    p = _plan(request, {pool: np.arange(len(s)) for pool, s in sentences.items()}, "sentence", files)
    chosen = {name: take(sentences, pieces) for name, pieces in p.pieces.items()}
    if like is not None:
        vocab = list(like_info(like, "vocab", path, "vocabulary"))
        max_len = int(like_info(like, "max_len", path, "sequence length"))
        labels = like.labels
    else:
        counts = Counter(t for s in chosen["train"] for t in s.tokens)
        vocab = ["[PAD]", "[UNK]", *sorted(counts, key=lambda t: (-counts[t], t))]
        max_len = _max_len(o, [len(s.tokens) for s in chosen["train"]])
        found = {label for pool in sentences.values() for s in pool for label in s.labels}
        labels = (("O",) if "O" in found else ()) + tuple(sorted(found - {"O"}))
    ids = {t: i for i, t in enumerate(vocab)}
    index = label_index(labels)
    splits, truncated, unknown = {}, {}, {}
    for name, group in chosen.items():
        x = np.zeros((len(group), max_len), np.int32)
        y = np.full((len(group), max_len), -1, np.int64)
        for k, s in enumerate(group):
            for j, (token, label) in enumerate(zip(s.tokens[:max_len], s.labels[:max_len], strict=True)):
                if label not in index:
                    raise fail(
                        s.path,
                        f"has the label {label!r}, which the training data does not have",
                        f"use its labels: {', '.join(labels)}",
                        line=s.lines[j],
                    )
                x[k, j] = ids.get(token, 1)
                y[k, j] = index[label]
        truncated[name] = sum(len(s.tokens) > max_len for s in group)
        unknown[name] = int(((x == 1) & (y >= 0)).sum())
        splits[name] = Split(x, y, {})
    info = {"vocab": vocab, "max_len": max_len, "truncated": truncated, "unknown_tokens": unknown}
    return Parts(splits, labels, p.declared, p.made, info)


# --------------------------------------------------------------------------- DKT


@dataclass(frozen=True)
class _Student:
    key: str  # "<file>:<n>", the n-th student of the file: the group
    path: Path
    line: int  # of the student's first line
    skills: tuple[int, ...]  # original skill ids
    correct: tuple[int, ...]


def _ints(p: Path, text: str, what: str, line: int) -> list[int]:
    items = [t.strip() for t in text.split(",")]
    if items[-1] == "":  # a trailing comma, as the original files have, or no answers at all
        items.pop()
    try:
        return [int(t) for t in items]
    except ValueError:
        raise fail(
            p, f"has {what} that are not integers ({text[:40]!r})", "give comma-separated integers", line=line
        ) from None


def _parse_dkt(source: Source, p: Path) -> list[_Student]:
    lines = source.read_text(p).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 3:
        raise fail(
            p,
            f"has {len(lines)} lines, not a multiple of 3",
            "give each student three lines: the number of answers, the skill ids, the 0/1 answers",
        )
    if not lines:
        raise fail(p, "holds no students", "give each student three lines")
    students = []
    for k in range(0, len(lines), 3):
        count = lines[k].strip()
        if not re.fullmatch(r"[0-9]+", count):
            raise fail(p, f"should give a number of answers, not {count[:40]!r}", "give a whole number", line=k + 1)
        n = int(count)
        skills = _ints(p, lines[k + 1], "skill ids", k + 2)
        correct = _ints(p, lines[k + 2], "answers", k + 3)
        for got, what, line in ((skills, "skill ids", k + 2), (correct, "answers", k + 3)):
            if len(got) != n:
                raise fail(
                    p, f"lists {len(got)} {what} but line {k + 1} says {n}", "make the count match the list", line=line
                )
        if any(c not in (0, 1) for c in correct):
            raise fail(p, "has answers other than 0 and 1", "mark each answer 1 (right) or 0 (wrong)", line=k + 3)
        students.append(_Student(f"{source.rel(p)}:{k // 3 + 1}", p, k + 1, tuple(skills), tuple(correct)))
    return students


def _is_dkt(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() in _DKT_SUFFIXES and _sniff(p) == "dkt"
    if not p.is_dir():
        return False
    return any(
        f.is_file() and f.suffix.lower() in _DKT_SUFFIXES and _sniff(f) == "dkt"
        for f in p.iterdir()
        if any(rx.search(f.name.lower()) for _, rx in _DKT_NAMES)
    )


@register_adapter(
    "dkt",
    kind="knowledge-tracing",
    summary="3 lines per student (answer count; skill ids; 0/1 answers); a file, or a folder of train/test files",
    detect=_is_dkt,
)
def read_dkt(request: Request) -> Parts:
    """Deep Knowledge Tracing text files, one group per student, cut into windows of ``max_len``
    answers. Raises DataError as the module says."""
    src, o, like, path = request.source, request.options, request.like, request.source.path
    if path.is_file():
        files = {"all": path}
    elif path.is_dir():
        files = _named_files(src, path, _DKT_SUFFIXES, _DKT_NAMES, "DKT")
    else:
        raise fail(path, "is neither a file nor a folder", "give a DKT file or a folder of train and test files")
    read = {pool: _parse_dkt(src, f) for pool, f in _for_request(request, files).items()}
    if like is not None:
        skills = [int(s) for s in like_info(like, "skills", path, "skill mapping")]
        max_len: int | None = int(like_info(like, "max_len", path, "sequence length"))
    else:
        skills = sorted({s for pool in read.values() for st in pool for s in st.skills})
        max_len = None
    mapping = {s: i for i, s in enumerate(skills)}
    n_skills = len(mapping)
    for pool in read.values():
        for st in pool:
            for s in st.skills:
                if s not in mapping:
                    raise fail(
                        st.path,
                        f"has skill {s}, which the training data does not have",
                        "map it to a known skill, or drop the answer",
                        line=st.line + 1,
                    )
    students = {pool: [st for st in sts if len(st.skills) >= 2] for pool, sts in read.items()}
    keys = {pool: np.asarray([st.key for st in sts], dtype=str) for pool, sts in students.items()}
    p = _plan(request, keys, "student", files)
    chosen = {name: take(students, pieces) for name, pieces in p.pieces.items()}
    if max_len is None:
        max_len = _max_len(o, [len(st.skills) - 1 for st in chosen["train"]])
    splits = {}
    for name, group in chosen.items():
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
        for st in group:
            skill_ids = np.array([mapping[v] for v in st.skills], np.int64)
            right = np.array(st.correct, np.int64)
            inputs = 1 + skill_ids[:-1] + n_skills * right[:-1]
            targets, target_skills = right[1:], skill_ids[1:]
            for start in range(0, len(inputs), max_len):
                window = slice(start, start + max_len)
                rows.append((inputs[window], targets[window], target_skills[window], st.key))
        x = np.zeros((len(rows), max_len), np.int32)
        y = np.full((len(rows), max_len), -1, np.int64)
        skill = np.full((len(rows), max_len), -1, np.int64)
        for k, (a, b, c_, _) in enumerate(rows):
            x[k, : len(a)], y[k, : len(b)], skill[k, : len(c_)] = a, b, c_
        splits[name] = Split(x, y, {"skill": skill, "group": np.asarray([r[3] for r in rows], dtype=str)})
    info = {
        "skills": skills,
        "n_skills": n_skills,
        "max_len": max_len,
        "students": {name: len(group) for name, group in chosen.items()},
        "skipped_students": sum(len(read[pool]) - len(students[pool]) for pool in read),
        "encoding": "x = 1 + skill + n_skills * correct of the answers before each step (0: padding); "
        "y: the next answer's correctness, meta skill: its skill (-1: padding)",
    }
    return Parts(splits, ("wrong", "right"), p.declared, p.made, info)


# --------------------------------------------------------------------------- CSV


def _is_csv(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".csv" and _sniff(p) != "dkt"


def _column(path: Path, names: list[str], name: str, what: str) -> int:
    if name not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise fail(path, f"has no {what} column {name!r} (its columns: {shown})", f"add it, or name the {what} column")
    return names.index(name)


@register_adapter(
    "csv",
    kind="generic",
    summary="a header row; a label column, numeric feature columns, optional group and split (train/val/test) columns",
    detect=_is_csv,
)
def read_csv(request: Request) -> Parts:
    """A table: one sample per row, every column but the label, group and ``split`` ones a float
    feature. Raises DataError as the module says."""
    src, o, like, path = request.source, request.options, request.like, request.source.path
    if not path.is_file():
        raise fail(path, "is not a file", "give one .csv file with a header row")
    reader = csv.reader(io.StringIO(src.read_text(path), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise fail(path, "is empty", "give a header row, then one row per sample")
        names = [h.strip() for h in header]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise fail(path, f"names the column {twice[0]!r} twice", "give every column its own name", line=1)
        li = _column(path, names, o.label_column, "label")
        gi = _column(path, names, o.group, "group") if o.group else None
        si = names.index("split") if "split" in names and "split" not in (o.label_column, o.group) else None
        features = [j for j in range(len(names)) if j not in (li, gi, si)]
        if not features:
            raise fail(path, "has no feature column", "add numeric columns beside the label", line=1)
        feature_names = [names[j] for j in features]
        if like is not None and feature_names != list(like_info(like, "features", path, "feature columns")):
            raise fail(
                path,
                f"has the feature columns {', '.join(feature_names)} but the training data has "
                f"{', '.join(like.info['features'])}",
                "give the same columns in the same order",
                line=1,
            )
        rows: dict[str, list[tuple[list[float], str, str, int]]] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise fail(
                    path, f"has {len(row)} fields, the header {len(names)}", "give one value per column", line=line
                )
            label = row[li].strip()
            if not label:
                raise fail(path, f"has no label in column {names[li]!r}", "label every row, or drop it", line=line)
            values = []
            for j in features:
                try:
                    v = float(row[j])
                except ValueError:
                    v = math.nan
                if not math.isfinite(v):
                    raise fail(
                        path,
                        f"column {names[j]!r} holds {row[j]!r}, not a number",
                        "give numbers only in feature columns (fill in missing values), or drop the column",
                        line=line,
                    )
                values.append(v)
            pool = "all"
            if si is not None:
                pool = _SPLIT_NAMES.get(row[si].strip().lower(), "")
                if not pool:
                    raise fail(path, f"has split {row[si]!r}", "use train, val or test in the split column", line=line)
            rows.setdefault(pool, []).append((values, label, row[gi].strip() if gi is not None else "", line))
    except csv.Error as e:
        raise fail(path, f"is not valid CSV ({e})", "check its quoting", line=reader.line_num) from e
    if not rows:
        raise fail(path, "has a header but no rows", "add one row per sample")
    pools = _for_request(request, {s: rows[s] for s in (*SPLITS, "all") if s in rows})
    if like is not None:
        labels = like.labels
        for pool in pools.values():
            for _, label, _, line in pool:
                if label not in labels:
                    raise fail(
                        path,
                        f"has the label {label!r}, which the training data does not have",
                        f"use its labels: {', '.join(labels)}",
                        line=line,
                    )
    else:
        labels = tuple(sorted({label for pool in rows.values() for _, label, _, _ in pool}))
    keys = {pool: [r[2] for r in rs] if gi is not None else None for pool, rs in pools.items()}
    p = _plan(request, {pool: _groups(keys[pool], len(rs)) for pool, rs in pools.items()}, o.group or "row", rows)
    index = label_index(labels)
    splits = {}
    for name, pieces in p.pieces.items():
        chosen = take(pools, pieces)
        x = np.array([r[0] for r in chosen], np.float64).reshape(len(chosen), len(features)).astype(np.float32)
        meta = {"group": np.asarray([r[2] for r in chosen], dtype=str)} if gi is not None else {}
        splits[name] = Split(x, np.array([index[r[1]] for r in chosen], np.int64), meta)
    info = {"features": feature_names, "label_column": o.label_column, "group_column": o.group}
    return Parts(splits, labels, p.declared, p.made, info)
