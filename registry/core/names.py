"""Names and paths: namespaces, model names, versions, references and TUF target paths.

A model version's files are TUF targets under ``<namespace>/<model>/<version>/``; the
publisher-signed index of a model's versions and aliases is ``<namespace>/<model>/versions.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z", re.ASCII)
# Semantic Versioning 2.0.0, without build metadata (it would make two names for one version).
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?\Z",
    re.ASCII,
)
ALIAS_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z", re.ASCII)
FILE_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z", re.ASCII)
RESERVED_NAMESPACES = frozenset({"root", "targets", "snapshot", "timestamp", "api", "tuf"})
INDEX_FILE = "versions.json"
MANIFEST_FILE = "manifest.json"
# A version's files sit at most this many folders below the version folder (golden/a/b).
MAX_FILE_DEPTH = 3


def check_name(value: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise UsageError(
            f"invalid {what} {value!r}: expected 1-40 characters of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_namespace(value: str) -> str:
    check_name(value, "namespace")
    if value in RESERVED_NAMESPACES:
        raise UsageError(f"namespace {value!r} is reserved")
    return value


def check_version(value: str) -> str:
    if not isinstance(value, str) or not SEMVER_RE.match(value):
        raise UsageError(f"invalid version {value!r}: expected a semantic version like 1.2.0")
    return value


def check_alias(value: str) -> str:
    if not isinstance(value, str) or not ALIAS_RE.match(value) or value == "latest":
        if value == "latest":
            raise UsageError("'latest' is computed from the published versions; it cannot be set")
        raise UsageError(f"invalid alias {value!r}: expected a lowercase word like 'stable'")
    return value


def version_key(version: str) -> tuple:
    """Sort key implementing semver precedence (a pre-release sorts before its release)."""
    m = SEMVER_RE.match(version)
    if not m:
        raise UsageError(f"invalid version {version!r}")
    major, minor, patch, pre = m.groups()
    if pre is None:
        pre_key: tuple = (1,)
    else:
        pre_key = (0,) + tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), pre_key)


def is_prerelease(version: str) -> bool:
    return "-" in version


def check_relative_file(path: str) -> str:
    """Check a file path inside a version folder (``variants/int8.tflite``)."""
    parts = path.split("/") if isinstance(path, str) else []
    if not parts or len(parts) > MAX_FILE_DEPTH or not all(FILE_SEGMENT_RE.match(p) for p in parts):
        raise UsageError(
            f"invalid file path {path!r}: expected up to {MAX_FILE_DEPTH} '/'-separated segments "
            "of letters, digits, '.', '_' and '-' (no '..', no leading '.')"
        )
    if any(p in {".", ".."} for p in parts):
        raise UsageError(f"invalid file path {path!r}: '.' and '..' are not allowed")
    return path


@dataclass(frozen=True)
class ModelRef:
    """``namespace/model[@version-or-alias]`` as typed by a user."""

    namespace: str
    model: str
    revision: str | None = None  # a version, an alias, or None for latest

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        name, _, revision = text.partition("@")
        ns, sep, model = name.partition("/")
        if not sep:
            raise UsageError(f"invalid model reference {text!r}: expected NAMESPACE/MODEL[@VERSION]")
        check_namespace(ns)
        check_name(model, "model name")
        if revision == "":
            if "@" in text:
                raise UsageError(f"invalid model reference {text!r}: empty version after '@'")
            return cls(ns, model, None)
        if not SEMVER_RE.match(revision) and not ALIAS_RE.match(revision):
            raise UsageError(f"invalid version or alias {revision!r} in {text!r}")
        return cls(ns, model, revision)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.model}"

    def __str__(self) -> str:
        return self.id + (f"@{self.revision}" if self.revision else "")


def version_prefix(namespace: str, model: str, version: str) -> str:
    return f"{namespace}/{model}/{version}/"


def target_path(namespace: str, model: str, version: str, file: str) -> str:
    return version_prefix(namespace, model, version) + check_relative_file(file)


def index_path(namespace: str, model: str) -> str:
    return f"{namespace}/{model}/{INDEX_FILE}"


@dataclass(frozen=True)
class TargetName:
    """A parsed TUF target path of the registry."""

    namespace: str
    model: str
    version: str | None  # None for the model's versions.json
    file: str

    @classmethod
    def parse(cls, path: str) -> TargetName:
        parts = path.split("/") if isinstance(path, str) else []
        if len(parts) == 3 and parts[2] == INDEX_FILE:
            return cls(check_namespace(parts[0]), check_name(parts[1], "model name"), None, INDEX_FILE)
        if len(parts) < 4:
            raise UsageError(
                f"invalid target path {path!r}: expected NAMESPACE/MODEL/VERSION/FILE or NAMESPACE/MODEL/{INDEX_FILE}"
            )
        ns, model, version = parts[0], parts[1], parts[2]
        check_namespace(ns)
        check_name(model, "model name")
        check_version(version)
        file = "/".join(parts[3:])
        check_relative_file(file)
        return cls(ns, model, version, file)

    @property
    def is_index(self) -> bool:
        return self.version is None


def latest_of(versions: list[str]) -> str | None:
    """The highest release, or the highest pre-release if there is no release."""
    if not versions:
        return None
    releases = [v for v in versions if not is_prerelease(v)]
    return max(releases or versions, key=version_key)
