"""The manifest of a model version: validation, parsing, canonical bytes, build folders.

A manifest (``<namespace>/<model>/<version>/manifest.json``) is checked in two steps: the
JSON Schema ``manifests/schema/manifest.schema.json`` (Draft 2020-12, formats checked), then
the rules a schema cannot express (unique variant ids and file paths, the reference variant
exists, reserved namespaces). Every problem found is reported at once, one line per problem,
each starting with the JSON path of the offending value (``$.variants[0].sha256: ...``).

A *build folder* is what ``edzoo zoo build`` writes and ``edzoo publish`` signs: the
manifest, the variant files it describes and any other files of the version. Every regular
file in it becomes a signed target, so :func:`read_build_dir` refuses anything it could not
sign faithfully (symlinks, hidden files, special files) instead of skipping it.

This module does no network I/O and imports nothing outside the standard library,
``jsonschema``, ``jsonschema_rs`` and ``registry.core``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker

from . import names
from ._internal.files import sha256_file
from .contracts import load_schema
from .errors import ManifestError, NotFoundError, UsageError
from .model import Manifest, Recipe, Variant

__all__ = [
    "describe_recipe",
    "MAX_MANIFEST_BYTES",
    "BuildDir",
    "BuildFile",
    "canonical_bytes",
    "load_manifest",
    "parse_manifest",
    "read_build_dir",
    "validate_manifest",
    "variant_by_id",
]

# A manifest is a few kB; even a 1,000-class per_class table stays far below this. Larger
# input is refused before it is parsed.
MAX_MANIFEST_BYTES = 1024 * 1024

_MAX_LINE = 300  # characters of one problem line; jsonschema repeats whole values otherwise

# ---------------------------------------------------------------------------------------------
# Schema validation


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262 regexes. Python's re differs in two ways that matter
    # for identifiers: '$' also matches before a final newline ("edzoo\n" would pass), and
    # '\d' matches any Unicode digit ("١.0.0" would be a version).
    if validator.is_type(instance, "string") and not _compile_ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _compile_ecma(pattern: str) -> re.Pattern[str]:
    trailing_backslashes = len(pattern[:-1]) - len(pattern[:-1].rstrip("\\"))
    if pattern.endswith("$") and trailing_backslashes % 2 == 0:
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern, re.ASCII)


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


def _is_datetime(value: object) -> bool:
    # jsonschema checks "date-time" only when rfc3339-validator is installed; do it here so
    # the check does not depend on an optional package.
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        _dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@functools.cache
def _validator() -> Draft202012Validator:
    schema = load_schema("manifest")
    Draft202012Validator.check_schema(schema)
    checker = FormatChecker()
    checker.checks("date-time")(_is_datetime)
    cls = jsonschema.validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
    return cls(schema, format_checker=checker)


@functools.cache
def _fast_validator() -> jsonschema_rs.Validator:
    # The same schema compiled by jsonschema-rs, about 100x faster than _validator() on a valid
    # manifest (a pull validates every manifest it reads). It only decides that a document is
    # valid: one it refuses is explained by _validator(), which stays the authority on refusal
    # and on every message. Its patterns are ECMA-262 already ('\d' is ASCII, '$' ends the
    # text); tests/test_manifest.py checks that it never accepts what _validator() refuses.
    return jsonschema_rs.Draft202012Validator(
        load_schema("manifest"), validate_formats=True, formats={"date-time": _is_datetime}
    )


def _json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _path_key(parts: Iterable[str | int]) -> tuple:
    return tuple((isinstance(p, str), p) for p in parts)


def _required_alternatives(subschemas: object) -> list[str] | None:
    """The property names when every alternative is ``{"required": [one name]}``."""
    if not isinstance(subschemas, list):
        return None
    keys = []
    for sub in subschemas:
        if not (isinstance(sub, dict) and set(sub) == {"required"} and len(sub["required"]) == 1):
            return None
        keys.append(sub["required"][0])
    return keys


def _schema_problems(error: jsonschema.ValidationError) -> Iterator[tuple[tuple, str]]:
    """Turn one jsonschema error into (path, message) pairs a person can act on."""
    path = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.validator_value, error.schema
    if kind == "required" and isinstance(error.instance, dict):
        # jsonschema gives one error per missing property, each with the whole list: every
        # missing one is yielded here, and repeats are dropped by the caller.
        for key in value:
            if key not in error.instance:
                yield (*path, key), "required property is missing"
        return
    if kind == "additionalProperties" and value is False and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in error.instance:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            yield (*path, key), f"unexpected property{expected}"
        return
    if kind in ("anyOf", "oneOf") and (keys := _required_alternatives(value)):
        quantity = "exactly one" if kind == "oneOf" else "at least one"
        yield path, f"expected {quantity} of the properties {', '.join(map(repr, keys))}"
        return
    if kind == "not" and isinstance(value, dict) and set(value) == {"required"}:
        yield path, f"the properties {', '.join(map(repr, value['required']))} exclude each other"
        return
    message = error.message
    if kind == "pattern" and len(str(value)) > 40 and schema.get("description"):
        # A long regex helps nobody; the definition's description says what is expected.
        description = schema["description"].split(" (")[0].rstrip(".")
        message = f"{error.instance!r} is not {description[0].lower()}{description[1:]}"
    if len(message) > _MAX_LINE:
        message = message[: _MAX_LINE - 3] + "..."
    yield path, message


# ---------------------------------------------------------------------------------------------
# Rules the schema cannot express


def _semantic_problems(doc: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """Check a document that already satisfies the schema."""
    for key, check in (
        ("namespace", names.check_namespace),
        ("name", lambda v: names.check_name(v, "model name")),
        ("version", names.check_version),
    ):
        try:
            check(doc[key])
        except UsageError as e:
            yield (key,), e.message

    variants = doc["variants"]
    first_id: dict[str, int] = {}
    for i, variant in enumerate(variants):
        vid = variant["id"]
        if vid in first_id:
            yield (
                ("variants", i, "id"),
                f"duplicate variant id {vid!r} (first at $.variants[{first_id[vid]}].id)",
            )
        else:
            first_id[vid] = i

    declared: list[tuple[tuple, str]] = [(("variants", i, "file"), v["file"]) for i, v in enumerate(variants)]
    declared += [(("files", i, "path"), f["path"]) for i, f in enumerate(doc.get("files", []))]
    first_path: dict[str, tuple] = {}
    for where, path in declared:
        try:
            names.check_relative_file(path)
        except UsageError as e:
            yield where, e.message
            continue
        if path == names.MANIFEST_FILE:
            yield where, f"{names.MANIFEST_FILE} cannot describe itself; leave it out"
        elif path in first_path:
            yield where, f"duplicate file {path!r} (first at {_json_path(first_path[path])})"
        else:
            first_path[path] = where

    listed_files = {f["path"] for f in doc.get("files", [])}
    signature = doc["signature"]
    text = signature["preprocessing"].get("text", {})
    referenced: list[tuple[tuple, str | None]] = [
        (("signature", "labels_file"), signature.get("labels_file")),
        (("signature", "preprocessing", "text", "vocab_file"), text.get("vocab_file")),
    ]
    for where, named in referenced:
        if named is not None and named not in listed_files:
            yield where, f"{named!r} must be listed in $.files (with its sha256 and size)"

    image = signature["preprocessing"].get("image", {})
    for key in ("pixel_range", "range"):
        if key in image and not image[key][0] < image[key][1]:
            yield ("signature", "preprocessing", "image", key), "expected [min, max] with min < max"

    for i, variant in enumerate(variants):
        yield from _variant_problems(doc, i, variant, first_id)


def _variant_problems(
    doc: dict[str, Any], i: int, variant: dict[str, Any], ids: dict[str, int]
) -> Iterator[tuple[tuple, str]]:
    at = ("variants", i)
    metrics = variant["metrics"]
    ref = metrics["reference_variant"]
    if ref not in ids:
        yield (
            (*at, "metrics", "reference_variant"),
            f"no variant {ref!r} in this manifest; variants: {', '.join(ids)}",
        )
    else:
        ref_metrics = doc["variants"][ids[ref]]["metrics"]
        if ref_metrics["name"] != metrics["name"]:
            yield (
                (*at, "metrics", "name"),
                f"{metrics['name']!r} cannot be compared with reference variant {ref!r}, "
                f"which reports {ref_metrics['name']!r}",
            )
        if ref == variant["id"] and metrics["delta_vs_reference"] != 0:
            yield (
                (*at, "metrics", "delta_vs_reference"),
                f"expected 0 for the reference variant itself, got {metrics['delta_vs_reference']}",
            )
    ci = metrics.get("ci95")
    if ci is not None and not ci[0] <= ci[1]:
        yield (*at, "metrics", "ci95"), "expected [low, high] with low <= high"

    bench = variant["benchmarks"]
    if bench["latency_us_p90"] < bench["latency_us_p50"]:
        yield (
            (*at, "benchmarks", "latency_us_p90"),
            f"p90 ({bench['latency_us_p90']}) is below p50 ({bench['latency_us_p50']})",
        )

    teacher = variant["recipe"].get("distilled_from")
    if teacher is not None:
        if "/" in teacher:
            try:
                names.ModelRef.parse(teacher)
            except UsageError as e:
                yield (*at, "recipe", "distilled_from"), e.message
        elif teacher == variant["id"]:
            yield (*at, "recipe", "distilled_from"), "a variant cannot be distilled from itself"
        elif teacher not in ids:
            yield (
                (*at, "recipe", "distilled_from"),
                f"expected a variant id of this manifest ({', '.join(ids)}) "
                f"or a model reference NAMESPACE/MODEL@VERSION, got {teacher!r}",
            )

    io = variant.get("io")
    if io is not None:
        for side in ("inputs", "outputs"):
            expected = [(t["name"], t["shape"]) for t in doc["signature"][side]]
            found = [(t["name"], t["shape"]) for t in io[side]]
            if found != expected:
                yield (
                    (*at, "io", side),
                    f"expected the signature's names and shapes {expected}, got {found}",
                )


# ---------------------------------------------------------------------------------------------
# Public API


def validate_manifest(doc: dict[str, Any]) -> None:
    """Check a manifest document against the schema and the rules the schema cannot express.

    Returns nothing when the manifest is valid. Raises :class:`ManifestError` listing every
    problem, one line each, sorted by JSON path.
    """
    _validate(doc, "manifest")


def _validate(doc: object, source: str) -> None:
    if not isinstance(doc, dict):
        problems = [((), f"expected a JSON object, got {_json_type(doc)}")]
    else:
        problems = []
        if not _fast_validator().is_valid(doc):
            problems = list(dict.fromkeys(p for e in _validator().iter_errors(doc) for p in _schema_problems(e)))
        if not problems:
            # The semantic rules assume the shapes the schema guarantees.
            problems = list(_semantic_problems(doc))
    if problems:
        ordered = sorted(problems, key=lambda p: (_path_key(p[0]), p[1]))
        lines = [f"{_json_path(path)}: {message}" for path, message in ordered]
        count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
        raise ManifestError(f"invalid {source} ({count}):\n  " + "\n  ".join(lines))


def parse_manifest(data: bytes, *, source: str = "manifest") -> dict[str, Any]:
    """Decode, parse and validate manifest bytes; ``source`` names them in messages.

    Raises :class:`ManifestError` when the bytes are too large, not UTF-8, not JSON (the
    message gives line and column), contain duplicate keys or NaN/Infinity, are not an
    object, or do not validate.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{source}: {len(data)} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{source}: not UTF-8 (byte {e.start}: {e.reason})") from e
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{source}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except ValueError as e:  # from the hooks
        raise ManifestError(f"{source}: not valid JSON: {e}") from e
    _validate(doc, source)
    return doc


def load_manifest(path: Path) -> dict[str, Any]:
    """Read and validate the manifest at ``path``.

    Raises :class:`UsageError` when the file cannot be read, :class:`ManifestError` when it
    is not a valid manifest.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read manifest {path}: {e.strerror or e}") from e
    return parse_manifest(data, source=str(path))


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The one byte form of a document: sorted keys, no whitespace, UTF-8, no final newline.

    Equal documents give equal bytes whatever their key order, so the bytes can be hashed
    and signed. Raises :class:`ManifestError` for values JSON cannot carry (NaN, Infinity,
    lone surrogates, non-string keys of mixed types).
    """
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as e:  # UnicodeEncodeError is a ValueError
        raise ManifestError(f"document has no canonical JSON form: {e}") from e


def describe_recipe(recipe: Recipe | Mapping[str, Any]) -> str:
    """A variant's recipe in a few words, the one wording of the model card, the Hugging Face
    README and the web catalog: ``int8, QAT, 75% sparse, 16 clusters, distilled from fp32``."""
    r = Recipe.of(recipe)
    parts = [r.quantization]
    if r.qat:
        parts.append("QAT")
    if isinstance(r.pruning, Mapping) and "sparsity" in r.pruning:
        parts.append(f"{float(r.pruning['sparsity']):.0%} sparse")
    if isinstance(r.clustering, Mapping) and "clusters" in r.clustering:
        parts.append(f"{r.clustering['clusters']} clusters")
    if r.distilled_from:
        parts.append(f"distilled from {r.distilled_from}")
    return ", ".join(parts)


def variant_by_id(manifest: Manifest | Mapping[str, Any], variant_id: str) -> Variant:
    """Return the variant with id ``variant_id``; raise :class:`NotFoundError` listing the ids."""
    manifest = Manifest.of(manifest)
    try:
        return manifest.variant(variant_id)
    except KeyError:
        available = ", ".join(manifest.ids) or "none"
        raise NotFoundError(
            f"no variant {variant_id!r} in {manifest.id}@{manifest.version}; available: {available}"
        ) from None


@dataclass(frozen=True)
class BuildFile:
    """One file of a build folder, with the digest and length it will be signed with."""

    path: str  # relative to the build folder, '/'-separated
    local: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class BuildDir:
    """A validated build folder: its manifest and every file in it, sorted by path."""

    root: Path
    manifest: dict[str, Any]
    files: tuple[BuildFile, ...]

    @property
    def namespace(self) -> str:
        return self.manifest["namespace"]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def file(self, path: str) -> BuildFile:
        """The file at ``path``; raises :class:`NotFoundError`."""
        for f in self.files:
            if f.path == path:
                return f
        raise NotFoundError(f"no file {path!r} in build folder {self.root}")


def read_build_dir(root: Path) -> BuildDir:
    """Read, hash and check a build folder (``root/manifest.json``, ``variants/``, ...).

    Every regular file under ``root`` is returned, also those the manifest does not mention:
    they are signed too. Raises :class:`UsageError` when ``root`` is not a folder, and
    :class:`ManifestError` when the manifest is missing or invalid, when the folder holds a
    symlink, a hidden file, a special file or a path that cannot be a target, or when a file
    the manifest describes is missing or differs in size or sha256.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"build folder {root} does not exist or is not a folder")
    manifest_path = root / names.MANIFEST_FILE
    if manifest_path.is_symlink():
        raise ManifestError(f"{manifest_path}: symlinks are not published; copy the file instead")
    if not manifest_path.is_file():
        raise ManifestError(f"build folder {root} has no {names.MANIFEST_FILE}")
    # Hash the very bytes that are validated, so the signed manifest is the checked one.
    try:
        data = manifest_path.read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read {manifest_path}: {e.strerror or e}") from e
    doc = parse_manifest(data, source=str(manifest_path))

    problems: list[str] = []
    files: dict[str, BuildFile] = {
        names.MANIFEST_FILE: BuildFile(names.MANIFEST_FILE, manifest_path, hashlib.sha256(data).hexdigest(), len(data))
    }
    for rel, local in _walk(root, problems):
        if rel == names.MANIFEST_FILE:
            continue
        try:
            digest, size = sha256_file(local)
        except OSError as e:
            problems.append(f"{rel}: cannot read: {e.strerror or e}")
            continue
        files[rel] = BuildFile(rel, local, digest, size)

    expected = [(f"$.variants[{i}]", v["file"], v["sha256"], v["size"]) for i, v in enumerate(doc["variants"])]
    expected += [(f"$.files[{i}]", f["path"], f["sha256"], f["size"]) for i, f in enumerate(doc.get("files", []))]
    for where, path, sha256, size in expected:
        found = files.get(path)
        if found is None:
            problems.append(f"{path}: described at {where} but missing from the folder")
            continue
        if found.size != size:
            problems.append(f"{path}: {where}.size says {size} bytes, found {found.size}")
        if found.sha256 != sha256:
            problems.append(f"{path}: {where}.sha256 says {sha256}, found {found.sha256}")
    if problems:
        raise ManifestError(
            f"build folder {root} is not publishable ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n  " + "\n  ".join(problems)
        )
    return BuildDir(root, doc, tuple(files[p] for p in sorted(files)))


# ---------------------------------------------------------------------------------------------
# Helpers


def _walk(root: Path, problems: list[str], prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Yield (relative path, local path) of the regular files under ``root``, in name order.

    Anything that cannot be signed as it is goes to ``problems``.
    """
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        problems.append(f"{prefix or '.'}: cannot list: {e.strerror or e}")
        return
    for entry in entries:
        rel = prefix + entry.name
        if entry.name.startswith("."):
            problems.append(f"{rel}: hidden files are not published; remove it")
            continue
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError as e:
            problems.append(f"{rel}: cannot stat: {e.strerror or e}")
            continue
        if stat.S_ISLNK(mode):
            problems.append(f"{rel}: symlinks are not published; copy the file instead")
        elif stat.S_ISDIR(mode):
            yield from _walk(Path(entry.path), problems, rel + "/")
        elif not stat.S_ISREG(mode):
            problems.append(f"{rel}: not a regular file")
        else:
            try:
                names.check_relative_file(rel)
            except UsageError as e:
                problems.append(f"{rel}: {e.message}")
                continue
            yield rel, Path(entry.path)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two readers could take different values of a repeated key; a signed document must
    # mean one thing.
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"duplicate key {key!r} in an object")
        doc[key] = value
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__
