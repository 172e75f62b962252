"""Seeded splits that keep groups whole: a speaker, a student or a writer is in one split only,
so a score on the test split says how a model does on people it has not seen.

:func:`split_groups` is the rule; :func:`plan` applies it to what a layout declares: splits the
layout names are kept as they are, and only the missing ones are carved (from the training
split, or from every sample when the layout names none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data._base import SPLITS, fail

__all__ = ["Plan", "plan", "split_groups"]


def split_groups(
    groups: np.ndarray, *, seed: int, fractions: dict[str, float], source: str | Path = "data"
) -> dict[str, np.ndarray]:
    """Indices (ascending) of the samples of each split named in ``fractions``.

    ``groups`` holds one key per sample (give ``np.arange(n)`` when each sample is its own
    group). Whole groups go to one split; the groups are shuffled by
    ``np.random.default_rng(seed)``; every split but the first gets ``round(fraction × groups)``
    of them, at least one, and the first split takes the rest (also at least one), so the same
    groups, fractions and seed always give the same split. ``source`` names the data in errors.

    Raises DataError (naming ``source``) when there are fewer groups than splits, and
    ValueError for fractions that are not positive or do not sum to 1.
    """
    names = list(fractions)
    if not names or any(not 0 < f <= 1 for f in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    keys = np.asarray(groups)
    if keys.ndim != 1:
        raise ValueError(f"groups must be one key per sample, got shape {keys.shape}")
    unique, inverse = np.unique(keys, return_inverse=True)
    n = int(unique.size)
    if n < len(names):
        raise fail(
            source,
            f"{n} group(s) cannot fill the {len(names)} splits {'/'.join(names)}, which need at least {len(names)}",
            "add samples from more groups (speakers, students, ...), or declare the splits in the data",
        )
    counts = {name: max(1, int(np.floor(fractions[name] * n + 0.5))) for name in names[1:]}
    while n - sum(counts.values()) < 1:  # rounding up small splits left the first none: shrink the largest
        largest = max(counts, key=lambda k: counts[k])
        counts[largest] -= 1
    order = np.random.default_rng(seed).permutation(n)
    of_group = np.zeros(n, dtype=np.int64)  # split number per group; 0 (the first split) by default
    start = 0
    for k, name in enumerate(names[1:], 1):
        of_group[order[start : start + counts[name]]] = k
        start += counts[name]
    of_sample = of_group[inverse.reshape(-1)]
    return {name: np.flatnonzero(of_sample == k) for k, name in enumerate(names)}


@dataclass(frozen=True)
class Plan:
    """Where each split's samples come from: ``pieces[split]`` lists (pool, indices into the pool);
    ``declared`` the split names the layout gave; ``made`` the record of what was split here."""

    pieces: dict[str, tuple[tuple[str, np.ndarray], ...]]
    declared: tuple[str, ...]
    made: dict[str, Any] | None


def plan(
    pools: dict[str, np.ndarray],
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    group: str,
    source: str | Path,
    evaluate: bool = False,
    layout: Iterable[str] | None = None,
) -> Plan:
    """The train/val/test plan of a layout's pools.

    ``pools`` maps each split the layout declares (``train``, ``val``, ``test``), or ``all`` when
    it declares none, to its samples' group keys. Declared splits are kept; a missing validation
    or test split is carved from ``train`` (from ``all`` when nothing is declared) by
    :func:`split_groups`. ``group`` says what the keys are (recorded in ``made``). With
    ``evaluate``, the plan has one ``test`` split: the declared test pool, or every pool.
    ``layout`` names every pool the layout has when ``pools`` holds only those to be read.

    Raises DataError when splits are declared but none is ``train``, or there are too few groups.
    """
    names = set(pools if layout is None else layout)
    declared = tuple(name for name in SPLITS if name in names)
    whole = {name: np.arange(len(keys)) for name, keys in pools.items()}
    if evaluate:
        chosen = ["test"] if "test" in pools else [p for p in (*SPLITS, "all") if p in pools]
        return Plan({"test": tuple((p, whole[p]) for p in chosen)}, declared, None)
    if "all" in pools:
        origin = "all"
        fractions = {"train": 1.0 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction}
    elif "train" not in pools:
        raise fail(
            source,
            f"declares the split(s) {', '.join(declared)} but no training split",
            "add a train split, or remove the split names to let edzoo split the data",
        )
    else:
        origin = "train"
        wanted = {"val": val_fraction, "test": test_fraction}
        missing = {name: f for name, f in wanted.items() if name not in pools}
        if not missing:
            return Plan({name: ((name, whole[name]),) for name in SPLITS}, declared, None)
        fractions = {"train": 1.0 - sum(missing.values()), **missing}
    carved = split_groups(pools[origin], seed=seed, fractions=fractions, source=source)
    pieces: dict[str, tuple[tuple[str, np.ndarray], ...]] = {
        name: ((origin, carved[name]),) if name in carved else ((name, whole[name]),) for name in SPLITS
    }
    made = {"seed": seed, "from": origin, "fractions": {k: round(v, 6) for k, v in fractions.items()}, "group": group}
    return Plan(pieces, declared, made)
