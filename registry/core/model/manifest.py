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

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

__all__ = ["Benchmarks", "Manifest", "Metrics", "Recipe", "Requirements", "Variant"]

T = TypeVar("T", bound="_Record")

_ABSENT: Any = None  # an optional field that the document does not hold


@dataclass(frozen=True)
class _Record:
    """Shared machinery: known fields as attributes, the rest kept, the key order kept."""

    #: JSON key -> the model class of its value, or (class,) for a list of them.
    _NESTED: ClassVar[dict[str, Any]] = {}

    unrecognized: dict[str, Any] = field(default_factory=dict, kw_only=True, compare=True)
    _order: tuple[str, ...] = field(default=(), kw_only=True, compare=False, repr=False)

    @classmethod
    def _known(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("unrecognized", "_order")]

    @classmethod
    def from_dict(cls: type[T], d: Mapping[str, Any]) -> T:
        """The object of a validated document (a KeyError or TypeError means it was not)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"{cls.__name__}: expected a JSON object, got {type(d).__name__}")
        known = set(cls._known())
        values: dict[str, Any] = {}
        for key in known & set(d):
            nested = cls._NESTED.get(key)
            value = d[key]
            if isinstance(nested, tuple):
                value = tuple(nested[0].from_dict(item) for item in value)
            elif nested is not None:
                value = nested.from_dict(value)
            values[key] = value
        unrecognized = {k: v for k, v in d.items() if k not in known}
        return cls(**values, unrecognized=unrecognized, _order=tuple(d))

    def to_dict(self) -> dict[str, Any]:
        """The document, in the key order it was read in (new keys after, in field order)."""
        out: dict[str, Any] = {}
        present = {}
        for name in self._known():
            value = getattr(self, name)
            if value is _ABSENT and name not in self._order:
                continue
            if isinstance(value, _Record):
                value = value.to_dict()
            elif isinstance(value, tuple) and value and isinstance(value[0], _Record):
                value = [item.to_dict() for item in value]
            present[name] = value
        present.update(self.unrecognized)
        for key in self._order:
            if key in present:
                out[key] = present.pop(key)
        out.update(present)
        return out


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
