"""What every model class shares: known fields as attributes, unknown ones kept, the key order
kept, so ``to_dict(from_dict(doc))`` is ``doc`` key for key (python-tuf's ``unrecognized_fields``).

An object read from a document writes back the keys it was read with (an optional field the
document lacked stays out); an object built in code writes every field, ``None`` as ``null``.

Only the standard library; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, cast

T = TypeVar("T", bound="_Record")

_ABSENT: Any = None  # an optional field that the document does not hold


class RecordError(TypeError):
    """A document that does not have the shape of a model class: ``path`` is where (JSON keys
    and list indexes from the document's top), ``problem`` what is wrong there."""

    def __init__(self, path: tuple[str | int, ...], problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{self.where}: {problem}")

    @property
    def where(self) -> str:
        """``path`` as a JSON path: ``$.groups[0].install``."""
        return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)

    def under(self, *parts: str | int) -> RecordError:
        """The same problem, seen from the document that holds this one at ``parts``."""
        return RecordError((*parts, *self.path), self.problem)


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
    def _required(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]

    @classmethod
    def from_dict(cls: type[T], d: Mapping[str, Any]) -> T:
        """The object of a validated document. Raises :class:`RecordError` (a TypeError) for a
        value that is not an object or lacks a required key: the document was not validated."""
        if not isinstance(d, Mapping):
            raise RecordError((), f"expected a JSON object ({cls.__name__}), got {type(d).__name__}")
        missing = [name for name in cls._required() if name not in d]
        if missing:
            raise RecordError((), f"{cls.__name__} lacks the required {', '.join(missing)}")
        known = set(cls._known())
        values: dict[str, Any] = {}
        for key in known & set(d):
            nested = cls._NESTED.get(key)
            value = d[key]
            try:
                if value is None or nested is None:
                    pass  # a plain JSON value, or null (an optional part the document leaves empty)
                elif isinstance(nested, tuple):
                    if not isinstance(value, list):
                        raise RecordError((), f"expected a list, got {type(value).__name__}")
                    value = tuple(_item(nested[0], i, item) for i, item in enumerate(value))
                else:
                    value = nested.from_dict(value)
            except RecordError as e:
                raise e.under(key) from None
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
            if value is _ABSENT and self._order and name not in self._order:
                continue
            if isinstance(value, _Record):
                value = value.to_dict()
            elif value is not None and isinstance(self._NESTED.get(name), tuple):
                value = [item.to_dict() for item in value]
            present[name] = value
        present.update(self.unrecognized)
        for key in self._order:
            if key in present:
                out[key] = present.pop(key)
        out.update(present)
        return out


def _item(cls: type[_Record], index: int, item: Any) -> _Record:
    try:
        return cls.from_dict(item)
    except RecordError as e:
        raise e.under(index) from None
