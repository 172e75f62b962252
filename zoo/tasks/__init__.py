"""The reference models of the zoo. A task is a dataset, two architectures (a teacher and a
student at most a third of its size) and what the manifest says about them; the recipes and
the pipeline in :mod:`zoo.build` are shared by every task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.core.errors import NotFoundError


@dataclass(frozen=True)
class Profile:
    """How much work a build does. ``quick`` fits CI; ``full`` is what gets published."""

    name: str
    epochs: int
    finetune_epochs: int
    batch_size: int = 64
    learning_rate: float = 2e-3
    bench_runs: int = 300
    bench_warmup: int = 50
    golden_samples: int = 5
    prune_sparsity: float = 0.75  # magnitude pruning target (the gate requires at least 0.5)
    pcqat_sparsity: float = 0.85  # the collaborative recipe prunes harder: gzip size is its point
    version_suffix: str = ""  # quick builds are pre-releases, so `latest` never picks one


@dataclass(frozen=True)
class Task:
    """Everything specific to one reference model."""

    name: str
    version: str
    task_type: str  # the manifest's `task`
    summary: str
    subjects: tuple[str, ...]
    grades: tuple[str, ...]
    languages: tuple[str, ...]
    license: str
    load_data: Callable[[str, int, Path | None], Any]  # (profile, seed, cache_dir) -> dataset
    teacher: Callable[[Any, tuple[int, ...], int], Any]  # (keras, input shape, classes) -> model
    student: Callable[[Any, tuple[int, ...], int], Any]
    card: Callable[[Any], dict[str, Any]]  # dataset -> the manifest's `card`
    preprocessing: dict[str, Any]
    profiles: dict[str, Profile]
    namespace: str = "edzoo"
    metric: str = "accuracy"
    extra: dict[str, Any] = field(default_factory=dict)


def get(name: str) -> Task:
    from . import handwriting

    tasks = {handwriting.TASK.name: handwriting.TASK}
    if name not in tasks:
        raise NotFoundError(f"no zoo model {name!r}; known: {', '.join(sorted(tasks))}")
    return tasks[name]


def names() -> list[str]:
    return ["handwriting"]
