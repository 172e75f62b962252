"""What the layouts share: the split plan of a request, sniffing a text file, the files of a folder
named after a split."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data._base import SPLITS, Request, Source, fail
from zoo.data.splits import Plan, plan

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
