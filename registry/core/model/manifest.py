"""The manifest as typed objects: :class:`Manifest`, :class:`Variant`, :class:`Metrics`,
:class:`Benchmarks`, :class:`Requirements`, :class:`Recipe`, after python-tuf's ``tuf.api``.

Each class is built from a document that passed :func:`registry.core.manifest.validate_manifest`
(``from_dict``) and gives it back (``to_dict``) key for key and in the same order, so
``json.dumps(Manifest.from_dict(doc).to_dict())`` is ``json.dumps(doc)``, byte for byte: fields
this version of edzoo does not know are kept in ``unrecognized`` (as python-tuf keeps
``unrecognized_fields``) and written back where they were. Fields the schema makes optional
are ``None`` when absent. Parts the selection and the catalog do not read yet (the card, the
signature, provenance, a variant's ``io``) stay plain JSON values.

Only the standard library; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._record import _Record

__all__ = ["Benchmarks", "Manifest", "Metrics", "Recipe", "Requirements", "Variant"]


@dataclass(frozen=True)
class Recipe(_Record):
    """How a variant was made: ``quantization`` (none, dynamic, float16, int8...) and what else
    was applied."""

    quantization: str
    io_dtype: str | None = None
    pruning: Any = None
    clustering: Any = None
    qat: Any = None
    distilled_from: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Metrics(_Record):
    """A variant's quality, measured through LiteRT on the held-out data of the card."""

    name: str
    value: float
    delta_vs_reference: float
    reference_variant: str
    dataset_sha256: str
    measured_with: str
    higher_is_better: bool | None = None
    ci95: list[float] | None = None
    shift: Any = None
    per_class: dict[str, float] | None = None

    @property
    def better_when_higher(self) -> bool:
        """``higher_is_better``, which defaults to true when absent."""
        return self.higher_is_better is not False

    @property
    def quality(self) -> float:
        """The value oriented so that higher is better (negated for a lower-is-better metric)."""
        return float(self.value) if self.better_when_higher else -float(self.value)


@dataclass(frozen=True)
class Benchmarks(_Record):
    """Latency and memory on the reference machine."""

    latency_us_p50: float
    latency_us_p90: float
    peak_memory_bytes: int
    threads: int
    runs: int
    machine: dict[str, Any]
    warmup_runs: int | None = None
    invokes_per_timing: int | None = None
    empty_invoke_us_p50: float | None = None
    method: str | None = None


@dataclass(frozen=True)
class Requirements(_Record):
    """What a device needs to run a variant."""

    min_runtime_version: str
    builtin_ops: list[str]
    delegates: list[str]
    min_ram_mb: float
    custom_ops: list[str] | None = None


@dataclass(frozen=True)
class Variant(_Record):
    """One file of a model version and everything measured about it."""

    _NESTED: ClassVar[dict[str, Any]] = {
        "recipe": Recipe,
        "metrics": Metrics,
        "benchmarks": Benchmarks,
        "requirements": Requirements,
    }

    id: str
    file: str
    sha256: str
    size: int
    format: str
    recipe: Recipe
    metrics: Metrics
    benchmarks: Benchmarks
    requirements: Requirements
    gzip_size: int | None = None
    parameters: int | None = None
    io: Any = None

    @property
    def download_size(self) -> int:
        """Bytes over the wire: the gzip size when the manifest gives one, else the file size."""
        return self.gzip_size if self.gzip_size is not None else self.size


@dataclass(frozen=True)
class Manifest(_Record):
    """A model version: who, what, for whom, and its variants."""

    _NESTED: ClassVar[dict[str, Any]] = {"variants": (Variant,)}

    schema_version: int
    namespace: str
    name: str
    version: str
    task: str
    summary: str
    subjects: list[str]
    grades: list[str]
    languages: list[str]
    license: str
    card: dict[str, Any]
    signature: dict[str, Any]
    variants: tuple[Variant, ...]
    provenance: dict[str, Any]
    files: Any = None

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def variant(self, variant_id: str) -> Variant:
        """The variant of that id; KeyError (naming the ids there are) when there is none."""
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise KeyError(f"{self.id}@{self.version} has no variant {variant_id!r}; it has {', '.join(self.ids)}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.variants)
