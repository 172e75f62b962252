"""What a cache holds, checked, and what it can let go: ``edzoo cache ls``, ``cache verify`` and
``cache prune``.

Listing hashes every blob a pulled file points at, so a corrupted or truncated file shows as
such (a listing that only read sizes would call it fine). Verifying goes further: each pulled
file against the signed metadata the cache holds, offline, as ``edzoo verify`` does for one.
Pruning removes only what no pulled file points at (blobs left by older versions whose links
were replaced, partial downloads no pull is writing) unless asked to drop whole registries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from registry.core._internal.files import sha256_file
from registry.core.errors import EdzooError

from .cache import Cache, RegistryCache

__all__ = ["CachedFile", "PruneResult", "list_cache", "prune_cache", "verify_cache"]

#: The states a pulled file can be in.
OK, CORRUPT, MISSING = "ok", "corrupt", "missing"


@dataclass(frozen=True)
class CachedFile:
    """One pulled file: the registry it came from, its target path, the blob it points at, and
    its state (``ok``, ``corrupt``: the bytes do not hash to the blob's name, ``missing``: the
    blob is gone; after :func:`verify_cache` also a failed check's message in ``problem``)."""

    registry: str
    target: str
    path: Path
    sha256: str
    size: int
    state: str
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "registry": self.registry,
            "target": self.target,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "state": self.state,
        }
        if self.problem:
            out["problem"] = self.problem
        return out


def _links(reg: RegistryCache) -> list[Path]:
    models = reg.root / "models"
    return sorted(p for p in models.rglob("*") if p.is_symlink())


def list_cache(cache: Cache) -> list[CachedFile]:
    """Every pulled file of every registry in the cache, each blob hashed once."""
    seen: dict[str, str] = {}
    out = []
    for reg in cache.registries():
        for link in _links(reg):
            sha = Path(os.readlink(link)).name
            blob = cache.blob_path(sha)
            if sha not in seen:
                try:
                    seen[sha] = OK if sha256_file(blob)[0] == sha else CORRUPT
                except FileNotFoundError:
                    seen[sha] = MISSING
            size = blob.stat().st_size if seen[sha] != MISSING else 0
            out.append(CachedFile(reg.url, reg.target_of(link) or "", link, sha, size, seen[sha]))
    return out


def verify_cache(cache: Cache, *, grace: timedelta) -> list[CachedFile]:
    """:func:`list_cache`, then each file that hashed well checked against the cache's signed
    metadata (offline): a failure there is ``corrupt`` with the check's message."""
    from .download import verify_cached

    out = []
    for f in list_cache(cache):
        if f.state == OK:
            try:
                verify_cached(f.path, cache_dir=cache.root, grace=grace, allow_withdrawn=True)
            except EdzooError as e:
                f = CachedFile(f.registry, f.target, f.path, f.sha256, f.size, CORRUPT, e.message)
        out.append(f)
    return out


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune_cache` removed (or, with ``dry_run``, would remove)."""

    blobs: tuple[Path, ...]
    partials: tuple[Path, ...]
    registries: tuple[str, ...]
    freed: int  # bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "blobs": [str(p) for p in self.blobs],
            "partials": [str(p) for p in self.partials],
            "registries": list(self.registries),
            "freed_bytes": self.freed,
        }


def _in_use(partial: Path) -> bool:
    """True while a pull holds the partial file's lock (it is downloading into it)."""
    try:
        with open(partial, "rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


def prune_cache(cache: Cache, *, drop_registries: tuple[str, ...] = (), dry_run: bool = False) -> PruneResult:
    """Remove the blobs no pulled file points at and every partial download; with
    ``drop_registries`` (URLs), first forget those registries (metadata, pinned root, links).
    Raises StorageError when the cache cannot be written (nothing half-removed matters: every
    blob left is still verified)."""
    dropped = []
    with cache.writing():
        for reg in cache.registries():
            if reg.url in drop_registries:
                dropped.append(reg.url)
                if not dry_run:
                    shutil.rmtree(reg.root)
        kept = {
            Path(os.readlink(link)).name for reg in cache.registries() if reg.url not in dropped for link in _links(reg)
        }
        blobs = [p for p in sorted((cache.root / "blobs" / "sha256").glob("*/*")) if p.name not in kept]
        incomplete = cache.root / "blobs" / "incomplete"
        partials = sorted(p for p in incomplete.glob("*") if p.is_file() and not _in_use(p))
        freed = 0
        for p in (*blobs, *partials):
            with contextlib.suppress(FileNotFoundError):
                freed += p.stat().st_size
                if not dry_run:
                    p.unlink()
        if not dry_run:  # the records of how removed blobs looked when verified
            for stamp in (cache.root / "blobs" / "verified").glob("*"):
                if not cache.blob_path(stamp.name).exists():
                    stamp.unlink()
    return PruneResult(tuple(blobs), tuple(partials), tuple(dropped), freed)
