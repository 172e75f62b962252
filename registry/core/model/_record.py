"""What every model class shares: known fields as attributes, unknown ones kept, the key order
kept, so ``to_dict(from_dict(doc))`` is ``doc`` key for key (python-tuf's ``unrecognized_fields``).

Only the standard library; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar, cast

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

    @classmethod
    def of(cls: type[T], value: T | Mapping[str, Any]) -> T:
        """``value`` when it is one already, else :meth:`from_dict` of it (a validated
        document): what the functions that accept either call first."""
        return value if isinstance(value, cls) else cls.from_dict(cast("Mapping[str, Any]", value))

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
