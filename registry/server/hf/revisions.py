"""What a Hugging Face revision of a model is: every published version, every alias, ``main``
(and ``latest``) for the latest release, and one commit id per version, with the files each
serves (the signed files and the generated README.md). Revisions are read through the index
(:class:`registry.storage.index.Index`), never with SQL of their own."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.core import names
from registry.core.errors import UsageError
from registry.storage.index import Index

from .readme import readme_bytes

__all__ = ["README", "README_FORMAT", "Entry", "HfError", "Revision", "commit_id", "iso", "lookup", "repo_not_found"]

# Bump when README.md's rendering changes: every commit id changes with it, so no client keeps a
# stale README cached under a commit whose content moved.
README_FORMAT = b"1"
README = "README.md"
_HEX_RE = re.compile(r"^[0-9a-f]{4,40}\Z")
_MAIN = frozenset({"main", "latest"})


def commit_id(manifest_sha256: str) -> str:
    """The commit id of a version: stable for its content, unique to it."""
    return hashlib.sha1(b"edzoo-commit\0" + manifest_sha256.encode() + b"\0" + README_FORMAT).hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The Git LFS pointer file a Hub repository would hold for a blob."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 the way the Hub writes it (the client parses exactly this shape)."""
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class HfError(Exception):
    """A 404 with the ``X-Error-Code`` the client maps to its exception types."""

    def __init__(self, hf_code: str, message: str, *, commit: str | None = None) -> None:
        super().__init__(message)
        self.hf_code = hf_code
        self.message = message
        self.commit = commit


def repo_not_found(repo: str) -> HfError:
    return HfError("RepoNotFound", f"no model {repo} in this registry")


@dataclass(frozen=True)
class Entry:
    """One file of a revision. ``sha256`` is None for the generated README."""

    path: str
    size: int
    oid: str  # git blob sha1 (of the LFS pointer for LFS files)
    sha256: str | None
    pointer_size: int | None = None

    @property
    def etag(self) -> str:
        return self.sha256 or self.oid

    def tree_json(self, rev: Revision, expand: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.sha256 is not None:
            out["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        if expand:
            out["lastCommit"] = rev.last_commit()
        return out

    def sibling_json(self, blobs: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"rfilename": self.path}
        if blobs:
            out["size"] = self.size
            out["blobId"] = self.oid
            if self.sha256 is not None:
                out["lfs"] = {"sha256": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return out


@dataclass(frozen=True)
class Revision:
    namespace: str
    name: str
    version: str
    commit: str
    manifest_sha256: str
    manifest: dict[str, Any]
    files: dict[str, dict[str, Any]]  # the signed files: path -> {sha256, size}
    published_at: datetime | None
    created_at: datetime | None  # the model's first publish
    latest: str | None
    aliases: dict[str, str]
    versions: list[str]
    withdrawn: dict[str, Any] | None = None  # {"reason", "use", "at", "by"} of a withdrawn version

    @property
    def repo(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def readme(self) -> bytes:
        return readme_bytes(self.manifest_sha256, self.manifest, self.files, self.withdrawn)

    def entries(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for path, info in self.files.items():
            pointer = lfs_pointer(info["sha256"], info["size"])
            out[path] = Entry(path, info["size"], git_blob_sha1(pointer), info["sha256"], len(pointer))
        readme = self.readme
        out.setdefault(README, Entry(README, len(readme), git_blob_sha1(readme), None))
        return dict(sorted(out.items()))

    def folders(self) -> set[str]:
        found: set[str] = set()
        for path in self.entries():
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                found.add("/".join(parts[:i]))
        return found

    def folder_oid(self, path: str) -> str:
        return hashlib.sha1(b"edzoo-tree\0" + self.commit.encode() + b"\0" + path.encode()).hexdigest()

    def last_commit(self) -> dict[str, Any]:
        return {"id": self.commit, "title": f"{self.repo} {self.version}", "date": iso(self.published_at)}


def check_repo(namespace: str, name: str) -> None:
    try:
        names.check_namespace(namespace)
        names.check_name(name, "model name")
    except UsageError as e:
        raise repo_not_found(f"{namespace}/{name}") from e


def lookup(index: Index, namespace: str, name: str, revision: str) -> Revision:
    """Resolve ``revision`` of the model ``namespace/name``; HfError when there is none."""
    check_repo(namespace, name)
    repo = f"{namespace}/{name}"
    refs = index.refs(namespace, name)
    if refs is None or refs.latest is None:
        raise repo_not_found(repo)
    known = refs.commit_of()
    aliases = refs.aliases
    version: str | None
    if revision in _MAIN:
        version = refs.latest
    elif revision in known:
        version = revision
    elif revision in aliases:
        version = aliases[revision]
    elif _HEX_RE.match(revision.lower()):
        prefix = revision.lower()
        matches = sorted(v for v, sha in known.items() if commit_id(sha).startswith(prefix))
        if len(matches) > 1:
            raise HfError(
                "RevisionNotFound",
                f"revision {revision} of {repo} is ambiguous: it starts the commits of {', '.join(matches)}",
            )
        version = matches[0] if matches else None
    else:
        version = None
    if version is None or version not in known:
        raise HfError(
            "RevisionNotFound",
            f"{repo} has no revision {revision!r}: use a version, an alias, main or a commit id",
        )
    row = index.stored_version(namespace, name, version)
    if row is None:
        raise HfError("RevisionNotFound", f"{repo} has no version {version}")
    first = min((v.published_at for v in refs.versions if v.published_at is not None), default=None)
    return Revision(
        namespace=namespace,
        name=name,
        version=version,
        commit=commit_id(row.manifest_sha256),
        manifest_sha256=row.manifest_sha256,
        manifest=row.manifest,
        files=row.files,
        published_at=row.published_at,
        created_at=first,
        latest=refs.latest,
        aliases=aliases,
        versions=[v.version for v in refs.versions],
        withdrawn=row.withdrawn,
    )
