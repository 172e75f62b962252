"""Device profiles: loading and validating them, and the reference profiles edzoo ships.

A device profile (``manifests/schema/device.schema.json``) says what a device offers that
matters for choosing a variant: RAM, free storage, CPU speed relative to the machine the zoo
measures on, accelerators, runtime version. Reference profiles live in
``manifests/devices/<id>.json``; :func:`load_profile` accepts one of their ids, a path to a
profile file, or a profile already parsed.

Every problem is reported at once, one line each, starting with the JSON path of the offending
value (``$.cpu.speed_factor: 0 is less than or equal to the minimum of 0``). This module does
no I/O other than reading profile files.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from . import names
from .contracts import contracts_dir, load_schema
from .errors import ManifestError, NotFoundError, UsageError

__all__ = ["MAX_PROFILE_BYTES", "load_profile", "reference_profiles", "validate_profile"]

# A profile is well under 4 kB; larger input is refused before it is parsed.
MAX_PROFILE_BYTES = 64 * 1024

_MAX_MESSAGE = 300  # characters of one problem; jsonschema repeats whole values otherwise
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The schema's patterns are ECMA-262, where '$' is the end of the text; Python's re also lets
# '$' match before a final newline. Values that pass the schema are checked again here.
_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,2}\Z", re.ASCII)
_RUNTIME_VERSION = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?\Z", re.ASCII)


def reference_profiles() -> list[str]:
    """The ids of the reference profiles shipped in ``manifests/devices/``, sorted."""
    folder = contracts_dir() / "devices"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_profile(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Return a validated device profile.

    ``source`` is a reference profile id (``"android-go-1gb"``), a path to a profile file
    (a ``Path``, or a string containing ``/`` or ending in ``.json``), or a parsed profile.
    Raises :class:`NotFoundError` for an unknown id (the message lists the known ones),
    :class:`UsageError` when a file cannot be read, and :class:`ManifestError` when the
    document is not JSON or does not validate.
    """
    if isinstance(source, dict):
        validate_profile(source)
        return source
    if isinstance(source, str) and names.NAME_RE.match(source) and not source.endswith(".json"):
        known = reference_profiles()
        if source not in known:
            raise NotFoundError(f"no reference device profile {source!r}; known: {', '.join(known) or 'none'}")
        path = contracts_dir() / "devices" / f"{source}.json"
    elif isinstance(source, str | Path):
        path = Path(source)
    else:
        raise UsageError(f"expected a profile id, a path or a dict, got {type(source).__name__}")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read device profile {path}: {e.strerror or e}") from e
    if len(data) > MAX_PROFILE_BYTES:
        raise ManifestError(f"{path}: more than the {MAX_PROFILE_BYTES} bytes a device profile may have")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: not UTF-8 (byte {e.start}: {e.reason})") from e
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    validate_profile(doc, source=str(path))
    return doc


def validate_profile(doc: object, *, source: str = "device profile") -> None:
    """Check a profile against the schema; raise :class:`ManifestError` listing every problem."""
    if not isinstance(doc, dict):
        problems = [f"$: expected a JSON object, got {type(doc).__name__}"]
    else:
        problems = sorted({line for e in _validator().iter_errors(doc) for line in _describe(e)})
        if not problems:
            problems = list(_semantic_problems(doc))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise ManifestError(f"invalid {source} ({count}):\n  " + "\n  ".join(problems))


@functools.cache
def _validator() -> Draft202012Validator:
    schema = load_schema("device")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


def _describe(error: jsonschema.ValidationError) -> Iterator[str]:
    """One line per problem, naming the JSON path and what was expected."""
    path, instance = error.json_path, error.instance
    if error.validator == "required" and isinstance(instance, dict):
        # one error per missing property, each with the whole list: the caller drops repeats
        for key in error.validator_value:
            if key not in instance:
                yield f"{_child(path, key)}: required property is missing"
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield f"{_child(path, key)}: unexpected property; expected one of: {', '.join(allowed)}"
        return
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    yield f"{path}: {message}"


def _semantic_problems(doc: dict[str, Any]) -> Iterator[str]:
    if not names.NAME_RE.match(doc["id"]):
        yield f"$.id: {doc['id']!r} is not 1-40 characters of a-z, 0-9 and '-'"
    if not _VERSION.match(doc["os"]["version"]):
        yield f"$.os.version: {doc['os']['version']!r} is not a version like 11 or 17.7"
    if not _RUNTIME_VERSION.match(doc["runtime"]["version"]):
        yield f"$.runtime.version: {doc['runtime']['version']!r} is not a version like 2.10 or 2.16.1"
