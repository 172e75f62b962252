"""A team's own data for ``edzoo optimize``: the standard layouts (``npz``, ``image-folder``,
``speech-commands``, ``conll``, ``dkt``, ``csv``) read into a :class:`~zoo.datasets.common.Dataset`.

:func:`load_data` reads training data, keeps the splits the layout declares and makes the
missing ones with a seed, whole groups (speakers, students, writers) to one split.
:func:`load_eval` reads a second, shifted source with the training data's vocabulary, labels
and shapes. Adapters register with :func:`register_adapter`; :func:`adapters` lists them.
Every problem with the data is a :class:`~zoo.errors.DataError` (exit 14) with a
one-line message naming the file; nothing is ever written. No TensorFlow is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.data import adapters as _builtin  # noqa: F401  (registers the standard layouts)
from zoo.data._base import (
    KINDS,
    Adapter,
    DataOptions,
    Parts,
    Request,
    Source,
    adapters,
    assemble,
    assemble_eval,
    check_options,
    fail,
    pick_adapter,
    register_adapter,
)
from zoo.data.splits import split_groups
from zoo.datasets.common import Dataset, Split

__all__ = [
    "KINDS",
    "Adapter",
    "DataOptions",
    "Parts",
    "Request",
    "Source",
    "adapters",
    "load_data",
    "load_eval",
    "register_adapter",
    "split_groups",
]


def _request(path: str | Path, options: DataOptions, like: Dataset | None, evaluate: bool) -> tuple[Adapter, Request]:
    p = Path(path)
    check_options(p, options)
    if not p.exists():
        raise fail(p, "does not exist", "give the path of a data file or folder")
    adapter = pick_adapter(p, options.format)
    return adapter, Request(Source(p), options, like, evaluate)


def load_data(
    path: str | Path,
    options: DataOptions = DataOptions(),  # noqa: B008  (frozen: one shared default is safe)
    *,
    like: Dataset | None = None,
) -> Dataset:
    """The train, validation and test splits of the data at ``path``.

    The layout is ``options.format``, or the one adapter that recognises ``path``. Splits the
    layout declares are kept; missing ones are made with ``options.seed`` and recorded in
    ``info["splits"]["made"]``. With ``like`` (a Dataset read before), its vocabulary, skill
    mapping, labels, image size and audio settings are used, so the arrays match it.

    Raises DataError for a missing path, an unknown or ambiguous layout, a file that cannot be
    read, inconsistent shapes, an empty split or class, a bad label, or too few groups to split.
    """
    adapter, request = _request(path, options, like, evaluate=False)
    return assemble(adapter, request, adapter.read(request))


def load_eval(
    path: str | Path,
    options: DataOptions = DataOptions(),  # noqa: B008  (frozen: one shared default is safe)
    *,
    like: Dataset,
) -> tuple[Split, dict[str, Any]]:
    """A second evaluation set (``--shift-data``): the declared test split of ``path`` if its
    layout has one, else every sample, read with ``like``'s vocabulary, skill mapping, labels,
    image size and audio settings.

    Returns the split and its info: ``source``, ``format``, ``kind``, ``split`` (``"test"`` or
    ``"all"``), ``sizes`` (``{"test": n}``), ``sha256`` (the split's :func:`split_sha256`),
    ``source_sha256`` and the adapter's fields. Raises DataError as :func:`load_data` does,
    and for a label, class, token label or skill that ``like`` does not have.
    """
    adapter, request = _request(path, options, like, evaluate=True)
    return assemble_eval(adapter, request, adapter.read(request))
