"""The typed results the build's stages pass each other (:class:`Job`, :class:`Trained`,
:class:`Variant`, :class:`Gated`, :class:`BuildResult`...) and the errors a build raises."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from registry.core.errors import EdzooError

from . import measure, recipes
from .datasets.common import Dataset, Split
from .tasks import Profile, Task

__all__ = [
    "BENCH_KEYS",
    "KERAS_TOLERANCE",
    "REFERENCE",
    "BarInput",
    "BuildResult",
    "ConversionError",
    "Gated",
    "Job",
    "QualityGateError",
    "Shift",
    "Trained",
    "Variant",
    "VariantReport",
    "sha256_hex",
]

REFERENCE = "fp32"

KERAS_TOLERANCE = 1e-4  # max |output difference| between Keras and the fp32 .tflite

BENCH_KEYS = (
    "latency_us_p50",
    "latency_us_p90",
    "invokes_per_timing",
    "empty_invoke_us_p50",
    "peak_memory_bytes",
    "threads",
    "runs",
    "warmup_runs",
    "method",
)


class QualityGateError(EdzooError):
    """A variant lost more than its recipe allows, failed one of its recipe's gates, or the
    model missed its quality bar. Nothing is written."""

    code = "quality_gate"
    exit_code = 12

    def __init__(self, message: str, *, failures: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


class ConversionError(QualityGateError):
    """The fp32 .tflite does not compute what the Keras model computes (beyond
    ``KERAS_TOLERANCE``): every variant made from it would be measured on the wrong model."""

    code = "conversion_mismatch"


@dataclass(frozen=True)
class Shift:
    """A second evaluation set, from another source than the training data."""

    source: str
    split: Split
    sha256: str


@dataclass(frozen=True)
class Job:
    """What one run builds. ``recipes`` are in manifest order and include fp32; ``asked`` are
    those asked for by name (one that cannot apply is an error; the others are reported as not
    applied); ``pretrained``: the model is already trained (``edzoo optimize``)."""

    task: Task
    profile: Profile
    version: str
    recipes: tuple[str, ...]
    asked: frozenset[str]
    allowed: Mapping[str, float]
    out: Path
    score: Callable[[np.ndarray, Split, tuple[str, ...]], measure.Score]
    seed: int = 0
    cache_dir: Path | None = None
    argv: tuple[str, ...] = ()
    pretrained: bool = False
    data: Dataset | None = None  # given (optimize); else the task loads it
    shift: Shift | None = None
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class Trained:
    model: Any
    parameters: int
    val_value: float
    seconds: float


@dataclass(frozen=True)
class Variant:
    """One recipe's variant, made and measured."""

    recipe: recipes.Recipe
    made: recipes.Made
    data: bytes
    evaluation: measure.Evaluation
    bench: dict[str, Any]
    more: dict[str, Any]
    shift: measure.Evaluation | None
    seconds: float

    @property
    def id(self) -> str:
        return self.recipe.id


@dataclass(frozen=True)
class VariantReport:
    """A variant as the table and the Python API show it."""

    id: str
    size: int
    gzip_size: int
    parameters: int
    value: float
    ci95: tuple[float, float]
    delta: float
    latency_us_p50: float
    latency_us_p90: float
    empty_invoke_us_p50: float | None
    peak_memory_bytes: int
    shift_value: float | None = None
    shift_delta: float | None = None


@dataclass(frozen=True)
class Gated:
    drops: dict[str, float]
    shift_drops: dict[str, float]
    # What the allowance is compared with, where it is not the drop itself: the lower end of
    # the drop's 95% paired interval (Profile.paired_gate, accuracy only).
    judged: dict[str, float]
    shift_judged: dict[str, float]
    checks: dict[str, list[recipes.GateCheck]]  # per variant, its recipe's own gates
    bar: list[tuple[str, bool, str]]


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    seconds: float
    variants: tuple[VariantReport, ...] = ()
    not_applied: dict[str, str] = field(default_factory=dict)
    metric: str = "accuracy"


@dataclass(frozen=True)
class BarInput:
    """What a task's quality bar looks at: every variant's score and extra measurements, the
    baseline measured in the same build, and the sizes."""

    profile: str
    scores: dict[str, measure.Score]
    more: dict[str, dict[str, Any]]
    baseline: dict[str, Any] | None
    teacher_parameters: int
    parameters: dict[str, int]
    sizes: dict[str, int]
    # Scores on the held-out source (Task.shift), for the variants measured on it.
    shift_scores: dict[str, measure.Score] = field(default_factory=dict)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
