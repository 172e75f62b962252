"""The ``csv`` layout: a header row, a label column, numeric feature columns, optional group and
``split`` columns."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from zoo.data._base import SPLITS, Parts, Request, fail, label_index, like_info, register_adapter, take
from zoo.datasets.common import Split

from ._common import _SPLIT_NAMES, _for_request, _groups, _plan, _sniff


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
