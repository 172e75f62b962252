"""A team's data: read through the adapters of :mod:`zoo.data`, checked against the model's input and output."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.errors import DataError

from .. import kinds
from ..buildtypes import Shift
from ..datasets.common import Dataset, Split, split_sha256
from .model import _input_shape


def _dataset(data: Any, model_shape: tuple[int | None, ...], options: Any) -> Dataset:
    if isinstance(data, Dataset):
        return data
    from .. import data as adapters

    opts = options or adapters.DataOptions()
    if opts.image_size is None and len(model_shape) == 3 and all(model_shape):
        h, w, c = model_shape
        opts = _replace(opts, image_size=(int(h), int(w)), channels=opts.channels or int(c))  # type: ignore[arg-type]
    if opts.max_len is None and len(model_shape) == 1 and model_shape[0]:
        opts = _replace(opts, max_len=int(model_shape[0]))
    return adapters.load_data(data, opts)


def _replace(options: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(options, **changes)


def _check_fits(model: Any, data: Dataset, kind: kinds.Kind, where: str) -> None:
    """Shapes and labels against the model, before anything is trained or written."""
    want = _input_shape(model)
    for name in ("train", "val", "test"):
        split: Split = getattr(data, name)
        if not len(split.y):
            continue
        got = tuple(split.x.shape[1:])
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got, strict=False)):
            raise DataError(
                f"{where}: the {name} split's samples have shape {list(got)}, the model's input is "
                f"{[d if d is not None else 'any' for d in want]}: resize or re-encode the data to match",
                source=where,
            )
    if not len(data.test.y):
        raise DataError(f"{where}: no test split to measure the variants on (declare one, or let edzoo split)")
    out_shape = tuple(model.outputs[0].shape[1:])
    classes = int(out_shape[-1]) if out_shape else 1
    ys = np.concatenate([np.asarray(s.y).ravel() for s in (data.train, data.val, data.test)])
    top = int(ys.max()) if len(ys) else 0
    if kind.output == "softmax" and classes > 1 and top >= classes:
        raise DataError(
            f"{where}: labels go up to class {top} ({data.labels[top] if top < len(data.labels) else top!r}), the "
            f"model has {classes} outputs: the labels are outside its classes",
            source=where,
        )
    if len(data.labels) > classes > 1 and kind.output == "softmax":
        raise DataError(
            f"{where}: the data names {len(data.labels)} classes, the model has {classes} outputs", source=where
        )


def _shift(source: Any, data: Dataset, options: Any, name: str) -> Shift:
    if isinstance(source, Split):
        return Shift(name, source, split_sha256(source))
    if isinstance(source, Dataset):
        return Shift(name, source.test, split_sha256(source.test))
    from .. import data as adapters

    split, info = adapters.load_eval(source, options or adapters.DataOptions(), like=data)
    return Shift(str(source), split, info.get("sha256") or split_sha256(split))
