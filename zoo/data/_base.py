"""What every data adapter shares: the options, the adapter registry, the reader that records
every file it reads, one-line errors, and the assembly of a :class:`Dataset` from an adapter's
parts. Nothing here writes a file."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from zoo.datasets.common import Dataset, Split, split_sha256
from zoo.errors import DataError

SPLITS = ("train", "val", "test")
KINDS = ("image-classification", "audio-classification", "token-classification", "knowledge-tracing", "generic")
FRONTENDS = ("logmel",)
MAX_LEN_CAP = 128  # the longest sequence a default max_len grows to

T = TypeVar("T")


@dataclass(frozen=True)
class DataOptions:
    """How to read a team's data; every field has a default that suits the standard layouts.

    ``group`` is a CSV column, or for file layouts a regex with one capture group applied to each
    file's path relative to the data folder (e.g. ``r"^[^/]+/([^_]+)_"``: the part of the file
    name before the first ``_``). Speech Commands groups by speaker by default, DKT always by
    student; elsewhere each sample is its own group.
    """

    format: str | None = None  # adapter name; None: detect from the path
    seed: int = 0  # for splits made here
    val_fraction: float = 0.1  # of the samples (or groups) when no validation split is declared
    test_fraction: float = 0.2  # when no test split is declared
    group: str | None = None
    label_column: str = "label"  # CSV
    image_size: tuple[int, int] | None = None  # (height, width) to resize to (bilinear); None: all must agree
    channels: int | None = None  # 1 (L) or 3 (RGB); None: 3 if any image has colour, else 1
    sample_rate: int = 16000  # audio is resampled to this
    clip_samples: int = 16000  # audio is zero-padded at the end, or cut around its centre, to this
    frontend: str | None = None  # None: raw waveform; "logmel": zoo.datasets.speech.logmel (16 kHz, 1 s)
    max_len: int | None = None  # token and answer sequences; None: longest training sequence, at most 128


class Source:
    """The file or folder a dataset is read from. Every file goes through :meth:`read_bytes`, which
    records its sha256 so that ``info["source_sha256"]`` covers exactly what was read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path if path.is_dir() else path.parent
        self._digests: dict[str, str] = {}

    def rel(self, p: Path) -> str:
        """``p`` relative to the data folder (the file's own folder for a one-file source), with ``/``."""
        return p.relative_to(self.root).as_posix()

    def read_bytes(self, p: Path) -> bytes:
        """The bytes of ``p``, recorded. Raises DataError when it cannot be read."""
        try:
            data = p.read_bytes()
        except OSError as e:
            raise fail(
                p, f"cannot be read ({e.strerror or type(e).__name__})", "check that it is a readable file"
            ) from e
        self._digests[self.rel(p)] = hashlib.sha256(data).hexdigest()
        return data

    def read_text(self, p: Path) -> str:
        """The UTF-8 text of ``p`` (a byte-order mark is dropped). Raises DataError for other encodings."""
        data = self.read_bytes(p)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise fail(p, f"is not UTF-8 text (byte {e.start})", "save it with UTF-8 encoding") from e

    def entries(self, folder: Path) -> list[Path]:
        """The entries of ``folder`` sorted by name, hidden ones (``.DS_Store``, ``.git``) left out."""
        try:
            return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
        except OSError as e:
            raise fail(folder, f"cannot be listed ({e.strerror or type(e).__name__})", "check its permissions") from e

    def sha256(self) -> str:
        """sha256 over the sorted (relative path, sha256) of every file read."""
        h = hashlib.sha256()
        for rel, digest in sorted(self._digests.items()):
            h.update(f"{rel}\0{digest}\n".encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Request:
    """What an adapter is asked to read. With ``evaluate``, only the declared test split (or every
    sample when there is none) is wanted, as one ``"test"`` split, and nothing is split here."""

    source: Source
    options: DataOptions
    like: Dataset | None = None
    evaluate: bool = False


@dataclass(frozen=True)
class Parts:
    """What an adapter returns: the splits (``train``, ``val``, ``test``; only ``test`` when
    evaluating), the label names, the split names the layout declared, the record of splits made
    here (or None) and the adapter's own info fields."""

    splits: dict[str, Split]
    labels: tuple[str, ...]
    declared: tuple[str, ...]
    made: dict[str, Any] | None
    info: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Request], Parts]


@dataclass(frozen=True)
class Adapter:
    """A data layout: its name (``DataOptions.format``), the task kind it suggests, one line for
    ``--help``, whether a path looks like it (``detect`` never raises) and its reader."""

    name: str
    kind: str
    summary: str
    detect: Callable[[Path], bool]
    read: Reader


_ADAPTERS: dict[str, Adapter] = {}


def register_adapter(
    name: str, *, kind: str, summary: str, detect: Callable[[Path], bool]
) -> Callable[[Reader], Reader]:
    """Decorator that registers ``read`` as the adapter ``name``. Raises ValueError for a name
    registered twice or a kind outside :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"adapter {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")

    def decorate(read: Reader) -> Reader:
        if name in _ADAPTERS and _ADAPTERS[name].read is not read:
            raise ValueError(f"data adapter {name!r} is registered twice")
        _ADAPTERS[name] = Adapter(name, kind, summary, detect, read)
        return read

    return decorate


def adapters() -> list[Adapter]:
    """The registered adapters, in the order they were registered."""
    return list(_ADAPTERS.values())


def _detects(adapter: Adapter, path: Path) -> bool:
    try:
        return bool(adapter.detect(path))
    except (OSError, ValueError):
        return False  # a detector that cannot look does not claim the path


def pick_adapter(path: Path, fmt: str | None) -> Adapter:
    """The adapter named ``fmt``, or the one adapter whose ``detect`` accepts ``path``. Raises
    DataError for an unknown name, a path no layout fits, or one that several fit."""
    known = ", ".join(_ADAPTERS)
    if fmt is not None:
        if fmt not in _ADAPTERS:
            raise fail(path, f"unknown data format {fmt!r}", f"use one of: {known}")
        return _ADAPTERS[fmt]
    matches = [a for a in _ADAPTERS.values() if _detects(a, path)]
    if not matches:
        raise fail(
            path, "matches no known data layout", f"arrange it as one of: {known} (see the README's Data layouts)"
        )
    if len(matches) > 1:
        names = ", ".join(a.name for a in matches)
        raise fail(path, f"looks like several data layouts ({names})", "name the format to use")
    return matches[0]


# --------------------------------------------------------------------------- errors and checks


def fail(path: Path | str, what: str, remedy: str, *, line: int | None = None) -> DataError:
    """A DataError whose message is one line: ``<path>[:<line>]: <what>; <remedy>``."""
    where = f"{path}:{line}" if line is not None else str(path)
    message = f"{where}: {what}; {remedy}"
    return DataError(" ".join(message.split()), source=str(path))


def check_options(path: Path, o: DataOptions) -> None:
    """Raises DataError (naming the data path) for options that cannot describe any data."""

    def bad(what: str, remedy: str) -> DataError:
        return fail(path, what, remedy)

    if isinstance(o.seed, bool) or not isinstance(o.seed, int) or o.seed < 0:
        raise bad(f"seed {o.seed!r} is not a non-negative integer", "give a seed such as 0")
    for name in ("val_fraction", "test_fraction"):
        v = getattr(o, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not (0 < v < 1) or not math.isfinite(v):
            raise bad(f"{name} {v!r} is not between 0 and 1", f"give {name} such as 0.1")
    if o.val_fraction + o.test_fraction >= 1:
        raise bad(
            f"val_fraction + test_fraction = {o.val_fraction + o.test_fraction:g} leaves nothing to train on",
            "keep their sum below 1",
        )
    if o.image_size is not None and (
        len(o.image_size) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in o.image_size)
    ):
        raise bad(f"image_size {o.image_size!r} is not (height, width) in pixels", "give two positive integers")
    if o.channels not in (None, 1, 3):
        raise bad(f"channels {o.channels!r} is neither 1 nor 3", "use 1 (grey) or 3 (RGB)")
    for name in ("sample_rate", "clip_samples"):
        v = getattr(o, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(f"{name} {v!r} is not a positive integer", f"give {name} such as 16000")
    if o.frontend is not None and o.frontend not in FRONTENDS:
        raise bad(f"unknown audio front end {o.frontend!r}", f"use one of: {', '.join(FRONTENDS)}, or none")
    if o.max_len is not None and (isinstance(o.max_len, bool) or not isinstance(o.max_len, int) or o.max_len < 1):
        raise bad(f"max_len {o.max_len!r} is not a positive integer", "give max_len such as 64")
    if not o.label_column:
        raise bad("label_column is empty", "name the column that holds the labels")


def group_pattern(path: Path, pattern: str) -> re.Pattern[str]:
    """The compiled group regex. Raises DataError when it does not compile or lacks exactly one capture group."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise fail(path, f"the group pattern {pattern!r} is not a regular expression ({e})", "fix the pattern") from e
    if rx.groups != 1:
        raise fail(
            path,
            f"the group pattern {pattern!r} has {rx.groups} capture groups",
            r"give exactly one, e.g. '^[^/]+/([^_]+)_'",
        )
    return rx


def group_of(rx: re.Pattern[str], source: Source, p: Path) -> str:
    """The group key the regex captures from ``p``'s relative path. Raises DataError when it does not match."""
    rel = source.rel(p)
    m = rx.search(rel)
    if m is None or m.group(1) is None:
        raise fail(
            p,
            f"its path {rel!r} does not match the group pattern {rx.pattern!r}",
            "make the pattern match every file's path relative to the data folder",
        )
    return m.group(1)


def label_index(labels: Sequence[str]) -> dict[str, int]:
    return {label: i for i, label in enumerate(labels)}


def take(items: Mapping[str, Sequence[T]], pieces: Sequence[tuple[str, np.ndarray]]) -> list[T]:
    """The items a split's pieces (pool name, indices into that pool) select, in order."""
    return [items[pool][int(i)] for pool, idx in pieces for i in idx]


def like_info(like: Dataset | None, key: str, path: Path, what: str) -> Any:
    """``like.info[key]``, or DataError when the training data has none (it was read from another layout)."""
    assert like is not None
    if key not in like.info:
        raise fail(path, f"the training data has no {what} to read this data with", "read both with the same layout")
    return like.info[key]


# --------------------------------------------------------------------------- assembly


def _group_count(split: Split) -> int:
    g = split.meta.get("group")
    return int(np.unique(g).size) if g is not None else int(split.y.shape[0])


def _check_like(path: Path, split: Split, like: Dataset | None, name: str) -> None:
    if like is None:
        return
    want = like.train.x
    if split.x.shape[1:] != want.shape[1:] or split.x.dtype != want.dtype:
        raise fail(
            path,
            f"its {name} samples are {split.x.dtype}{list(split.x.shape[1:])} but the training data's are "
            f"{want.dtype}{list(want.shape[1:])}",
            "read both with the same options, or convert this data to match",
        )


def assemble(adapter: Adapter, request: Request, parts: Parts) -> Dataset:
    """The Dataset of an adapter's parts, with the provenance every layout records. Raises
    DataError for an empty split or arrays that do not match ``request.like``."""
    path = request.source.path
    for name in SPLITS:
        split = parts.splits[name]
        if split.y.shape[0] == 0 and not (name == "train" and parts.info.get("training_split") is False):
            raise fail(
                path,
                f"the {name} split is empty",
                "add samples to it, or drop the split from the data so that edzoo makes it",
            )
        _check_like(path, split, request.like, name)
    info: dict[str, Any] = {
        "source": str(path),
        "format": adapter.name,
        "kind": adapter.kind,
        "splits": {
            "declared": list(parts.declared),
            "made": parts.made,
            "groups": {name: _group_count(parts.splits[name]) for name in SPLITS},
        },
        "sizes": {name: int(parts.splits[name].y.shape[0]) for name in SPLITS},
        "source_sha256": request.source.sha256(),
        **parts.info,
    }
    info["sha256"] = {name: split_sha256(parts.splits[name]) for name in SPLITS}
    info = json.loads(json.dumps(info))  # JSON-native, exactly as a consumer that stores it reads it back
    s = parts.splits
    return Dataset(s["train"], s["val"], s["test"], tuple(parts.labels), info)


def assemble_eval(adapter: Adapter, request: Request, parts: Parts) -> tuple[Split, dict[str, Any]]:
    """The evaluation split of an adapter's parts and its provenance. Raises DataError when it is
    empty or does not match ``request.like``."""
    path = request.source.path
    split = parts.splits["test"]
    if split.y.shape[0] == 0:
        raise fail(path, "holds no samples to evaluate on", "add samples, or point to the folder that holds them")
    _check_like(path, split, request.like, "test")
    info: dict[str, Any] = {
        "source": str(path),
        "format": adapter.name,
        "kind": adapter.kind,
        "split": "test" if "test" in parts.declared else "all",
        "splits": {"declared": list(parts.declared), "made": None, "groups": {"test": _group_count(split)}},
        "sizes": {"test": int(split.y.shape[0])},
        "source_sha256": request.source.sha256(),
        **parts.info,
        "sha256": split_sha256(split),
    }
    return split, json.loads(json.dumps(info))
