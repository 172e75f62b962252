"""The client's content-addressed cache.

Layout (default root ``~/.cache/edzoo``, or ``$EDZOO_CACHE``, or ``--cache``)::

    blobs/sha256/ab/<sha256>                         verified file content, shared by registries
    registries/<host>-<hash>/registry.json           the registry URL this folder belongs to
    registries/<host>-<hash>/refreshed.json          when its metadata was last refreshed online
    registries/<host>-<hash>/metadata/               TUF metadata, as python-tuf's updater keeps it
    registries/<host>-<hash>/models/<ns>/<model>/<version>/<file>   symlink to the blob

A blob is written to ``blobs/incomplete/<sha256>.incomplete``, verified, then renamed into
place (:mod:`registry.client.transfer`): a crash costs at most the bytes in flight (the next
pull resumes), never a corrupt cache. Nothing enters ``blobs/`` without its signed hash matching.
A cache that cannot be written (full, read-only, not ours) raises StorageError (exit 7) naming
the folder and the remedy; a read-only cache still serves what it verifiably holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from registry.core._internal.files import atomic_write, sha256_file
from registry.core.errors import EdzooError, storage_error

__all__ = ["Cache", "RegistryCache", "default_cache_dir"]


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("EDZOO_CACHE"):
        return Path(env["EDZOO_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edzoo"


def normalize_url(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True)
class RegistryCache:
    """The part of the cache that belongs to one registry URL."""

    cache: Cache
    url: str
    root: Path

    @property
    def metadata_dir(self) -> Path:
        return self.root / "metadata"

    def mark_refreshed(self, now: datetime | None = None) -> None:
        """Record that the metadata was just refreshed from the registry and verified (a
        read-only cache keeps its old record)."""
        when = now or datetime.now(UTC)
        path = self.root / "refreshed.json"
        with contextlib.suppress(OSError):
            if now is None and 0 <= when.timestamp() - path.stat().st_mtime < 60:
                return  # recorded within the last minute: an age told is at most a minute long
        with contextlib.suppress(OSError):
            path.write_text(json.dumps({"refreshed": when.strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")

    def refreshed(self) -> datetime | None:
        """When the metadata was last refreshed online and verified; None if never recorded."""
        try:
            stamp = json.loads((self.root / "refreshed.json").read_text())["refreshed"]
            return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def model_path(self, target_path: str) -> Path:
        return self.root / "models" / target_path

    def link(self, target_path: str, sha256: str) -> Path:
        """Point ``models/<target_path>`` at the blob (atomically) and return that path; a link
        that already points there is left alone (so a read-only cache still serves)."""
        link = self.model_path(target_path)
        rel = os.path.relpath(self.cache.blob_path(sha256), link.parent)
        with contextlib.suppress(OSError):
            if os.readlink(link) == rel:
                return link
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.parent / f".{link.name}.{os.getpid()}.link"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(rel, tmp)
        os.replace(tmp, link)
        return link

    def target_of(self, path: Path) -> str | None:
        """The target path a ``models/…`` path of this registry stands for."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(self.root / "models"))
        except ValueError:
            return None
        return rel.as_posix()


def _recorded_url(info: Path) -> str | None:
    """The registry URL a cache folder's ``registry.json`` records; None if it is unreadable."""
    try:
        url = json.loads(info.read_text())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) else None


#: The second remedy of every cache write failure.
OTHER_CACHE = "use another cache folder: --cache DIR or EDZOO_CACHE=DIR"


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Operating-system errors inside become StorageError (``disk_full``, ``read_only``,
        ``permission_denied``; exit 7) naming this cache and the remedy; edzoo's own errors
        pass through unchanged."""
        try:
            yield
        except EdzooError:
            raise
        except OSError as e:
            raise storage_error(
                e, f"writing the cache {self.root}", or_else=OTHER_CACHE, then="it still holds only verified files"
            ) from e

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def registry(self, url: str) -> RegistryCache:
        url = normalize_url(url)
        parts = urlsplit(url)
        host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.netloc or "local")
        digest = hashlib.sha256(url.encode()).hexdigest()[:10]
        root = self.root / "registries" / f"{host}-{digest}"
        info = root / "registry.json"
        if _recorded_url(info) != url:  # new, or emptied by a power cut (it is not fsync'ed)
            root.mkdir(parents=True, exist_ok=True)
            atomic_write(info, json.dumps({"url": url}).encode(), durable=False)
        return RegistryCache(self, url, root)

    def registries(self) -> list[RegistryCache]:
        out = []
        for info in sorted((self.root / "registries").glob("*/registry.json")):
            url = _recorded_url(info)
            if url is not None:
                out.append(RegistryCache(self, url, info.parent))
        return out

    def registry_containing(self, path: Path) -> RegistryCache | None:
        for reg in self.registries():
            if reg.target_of(path) is not None:
                return reg
        return None

    def has_blob(self, sha256: str, size: int) -> bool:
        try:
            return self.blob_path(sha256).stat().st_size == size
        except FileNotFoundError:
            return False

    def commit_blob(self, tmp: Path, sha256: str) -> Path:
        """Move a verified download into place (read-only) and remember how it looked.

        Not fsync'ed (as pip's, cargo's and huggingface_hub's caches are not: that cost a third
        of a cold pull). A power cut just after a download leaves, on the file systems in use,
        a shorter file or none, which the next pull's size check sends to the network again;
        a file of the right size with other bytes is the case `edzoo cache verify` is for, and
        its stamp (written after it, also not synced) is then usually gone too, so it is hashed
        again."""
        dest = self.blob_path(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        self.remember_verified(sha256)
        return dest

    # A verified blob is trusted by how it looks on disk until it changes: its inode, size,
    # mtime and ctime, recorded when its hash last matched. Replacing the file (a new inode) or
    # writing to it (a new ctime, which no user can set back without changing the clock) makes
    # the next pull hash it again. `edzoo verify` and `cache verify` always hash.
    def _stamp_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "verified" / sha256

    @staticmethod
    def _stamp(path: Path) -> str:
        st = path.stat()
        return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}\n"

    def remember_verified(self, sha256: str) -> None:
        """Record that the blob's bytes hashed to ``sha256`` as it is now (best effort: a
        read-only cache just hashes again next time)."""
        stamp = self._stamp_path(sha256)
        with contextlib.suppress(OSError):
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(self._stamp(self.blob_path(sha256)))

    def verified_blob(self, sha256: str, size: int) -> Path | None:
        """The blob of ``sha256`` if it is in place with ``size`` bytes and verifiably unchanged:
        unchanged on disk since its hash last matched, or hashing to ``sha256`` now (which is
        then remembered). None when it is missing or its bytes differ."""
        blob = self.blob_path(sha256)
        try:
            if blob.stat().st_size != size:
                return None
            with contextlib.suppress(OSError):
                if self._stamp_path(sha256).read_text() == self._stamp(blob):
                    return blob
            if sha256_file(blob)[0] != sha256:
                return None
        except FileNotFoundError:
            return None
        self.remember_verified(sha256)
        return blob

    def usage(self) -> dict[str, int]:
        blobs = [p for p in (self.root / "blobs" / "sha256").glob("*/*") if p.is_file()]
        return {"blobs": len(blobs), "bytes": sum(p.stat().st_size for p in blobs)}
