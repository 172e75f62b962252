"""The reference models of the zoo. A task is a dataset, two architectures (a teacher and a
smaller student), how its outputs are scored, the baseline and quality bar it must beat, and
what the manifest says about it; the recipes and the pipeline in :mod:`zoo.build` are shared
by every task."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.core.errors import NotFoundError, UsageError


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
    student_epochs: int | None = None  # default: twice the teacher's epochs
    cosine: bool = False  # full trainings decay the learning rate along a cosine
    enforce_bar: bool = True  # the task's quality bar fails the build (else it is only reported)
    # Points added to every recipe's allowed drop: a CI-sized test split is too small to hold
    # a 1-point gate (its 95% interval can be several points wide); full builds use 0.
    gate_slack: float = 0.0
    # Fine-tunings and students run at least this many optimizer steps, however small the
    # training split (0: the epochs alone decide; a team's small data set needs the floor).
    min_finetune_steps: int = 0
    min_student_steps: int = 0
    # Keep the fine-tuned and student weights of the epoch with the lowest validation loss
    # (recipes.Context.fit), instead of the last epoch's.
    select_on_validation: bool = False
    # Judge an accuracy drop by the lower end of its 95% paired interval rather than the point
    # value: a team's test split of a few hundred samples cannot hold a 1-point gate otherwise.
    paired_gate: bool = False


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
    teacher: Callable[[Any, Any], Any]  # (keras, dataset) -> model with layers "logits" and "probs"
    student: Callable[[Any, Any], Any] | None  # None: no student, the distillation recipes do not apply
    card: Callable[[Any], dict[str, Any]]  # dataset -> the manifest's `card`
    preprocessing: dict[str, Any]
    profiles: dict[str, Profile]
    namespace: str = "edzoo"
    metric: str = "accuracy"
    # How outputs are scored: (outputs, split, labels) -> measure.Score; default: argmax accuracy.
    score: Callable[[Any, Any, Any], Any] | None = None
    # "softmax": one class per sample (sparse cross-entropy); "sigmoid": independent
    # probabilities, trained with `loss`.
    output: str = "softmax"
    # For sigmoid outputs: (tf, y_true, logits) -> per-sample loss, and split -> y_true for it.
    loss: Callable[[Any, Any, Any, bool], Any] | None = None
    targets: Callable[[Any], Any] | None = None
    # Layer classes the magnitude-pruning recipes prune, and the clustering recipes cluster
    # (None: the whole model, as tfmot's cluster_weights does).
    prune_layers: tuple[str, ...] = ("Dense",)
    cluster_layers: tuple[str, ...] | None = None
    clusters: int = 16  # centroids per clustered layer
    student_max_fraction: float = 1 / 3  # of the teacher's parameters
    distill_temperature: float | None = None  # default: recipes.DISTILL_TEMPERATURE
    distill_alpha: float | None = None  # default: recipes.DISTILL_ALPHA
    # Recipes that do not apply to this model, each with the reason (the card says it).
    not_applicable: dict[str, str] = field(default_factory=dict)
    max_drop: dict[str, float] = field(default_factory=dict)  # per-recipe overrides (points)
    # Measured in the same build: dataset -> {"name", "value", ...}.
    baseline: Callable[[Any, int], dict[str, Any]] | None = None
    # More measurements per variant through LiteRT: (tflite path, dataset, seed) -> dict.
    evaluate_more: Callable[[Any, Any, int], dict[str, Any]] | None = None
    # The quality bar: (BarInput) -> list of (check, passed, detail).
    bar: Callable[[Any], list[tuple[str, bool, str]]] | None = None
    # Extra files of the version: (dataset, build dir) -> [(relative path, description)].
    files: Callable[[Any, Path], list[tuple[str, str]]] | None = None
    # The golden sample's extra fields (e.g. raw audio) : (dataset, index) -> dict.
    golden_extra: Callable[[Any, int], dict[str, Any]] | None = None
    education: dict[str, Any] = field(default_factory=dict)  # age band, privacy class, where it runs
    extra: dict[str, Any] = field(default_factory=dict)

    # The generic kind it is built on (zoo.kinds): its metric, loss and scoring are the defaults.
    kind: str = "generic"
    # A second evaluation set from another source than the training data: (profile, seed,
    # cache_dir, dataset) -> (source description, Split), or None. Every variant is measured
    # and gated on it too.
    shift: Callable[[str, int, Path | None, Any], tuple[str, Any]] | None = None


_TASKS: dict[str, Task] = {}
_discovered = False


def register(task: Task) -> Task:
    """Add a reference model to the zoo (``edzoo zoo build NAME``). Each module of this package
    ends with ``TASK = register(Task(...))``; another package registers through an ``edzoo.tasks``
    entry point (:mod:`zoo.plugins`)."""
    if task.name in _TASKS and _TASKS[task.name] is not task:
        raise UsageError(f"zoo model {task.name!r} is registered twice")
    _TASKS[task.name] = task
    return task


def _discover() -> None:
    """Import every module of this package (each registers its task), then the entry points."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    from zoo import plugins

    plugins.load()


def get(name: str) -> Task:
    _discover()
    try:
        return _TASKS[name]
    except KeyError:
        raise NotFoundError(f"no zoo model {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """Registered reference models: the four of this package first, in the order they were
    registered, then those of other packages."""
    _discover()
    return list(_TASKS)
