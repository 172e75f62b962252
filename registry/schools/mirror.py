"""A school's LAN mirror of a registry (``edzoo mirror``).

The mirror is a TUF client of the upstream registry and a static server of what it verified.
:func:`sync` pulls, through python-tuf's updater, the metadata and every file a catalog needs,
each checked against the upstream's signed metadata, and lays them out exactly as a registry
serves them under ``DATA_DIR/www/tuf/``. Devices point at the mirror as at the registry and
verify everything against the root they pinned: the mirror holds no keys and signs nothing, so
a file altered on its disk fails the device's check.

Data folder::

    DATA_DIR/cache/                                 the mirror's own client cache (verified blobs, metadata)
    DATA_DIR/www/tuf/metadata/N.root.json, root.json, V.snapshot.json, V.targets.json, V.<role>.json,
                              timestamp.json        (written last: it switches clients to the new copy)
    DATA_DIR/www/tuf/targets/<dir>/<sha256>.<file>  hard links to the cache's blobs (copies across devices)
    DATA_DIR/mirror.json                            status: upstream, catalog, last attempt and success,
                                                    versions, expiry, models, last error

``www/`` is a plain static tree: any web server can serve it. :func:`create_mirror_app` adds
the status endpoint and the freshness header, and :func:`run_mirror` serves it while re-syncing.

Withdrawn (recalled) versions, from each model's signed versions index and the registry's signed
``withdrawals.json`` (which the mirror serves too), are never synced: ``latest`` is the newest
version that is not withdrawn, and a catalog pin to a withdrawn version is reported unavailable.
Files of a withdrawn version the mirror already held are deleted from ``www/`` and answered 404
with the withdrawal; mirror.json lists every withdrawn version of the catalog's models.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib import parse

from tuf.api.metadata import Metadata, Snapshot, TargetFile, Timestamp

from registry.client.download import ProgressFactory, Puller
from registry.client.http import ClientConfig
from registry.core import manifest as manifests
from registry.core import modelindex, names, recall
from registry.core._internal.files import atomic_write, sha256_file
from registry.core.errors import (
    DownloadError,
    EdzooError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UsageError,
    WithdrawnError,
)
from registry.core.offline import OfflineVerifier
from registry.core.recall import Withdrawal
from registry.core.tufnames import (
    IMMUTABLE,
    REVALIDATE,
    ROOT_FILE_RE,
    is_metadata_name,
    metadata_cache_control,
    split_target_path,
)
from registry.core.units import format_bytes

from .catalog import Catalog, CatalogEntry, load_catalog

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_PORT",
    "MirroredModel",
    "SyncLoop",
    "SyncResult",
    "Unavailable",
    "WithdrawnVersion",
    "create_mirror_app",
    "describe_sync",
    "has_copy",
    "read_status",
    "run_mirror",
    "status_report",
    "sync",
]

DEFAULT_PORT = 8471
DEFAULT_INTERVAL = 300
STATUS_FILE = "mirror.json"
STALE_AFTER_INTERVALS = 2  # the copy is stale when the last success is older than this many intervals

# The names the updater asks for: timestamp.json, root.json, N.root.json, V.snapshot.json, V.<role>.json.

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MirroredModel:
    """One catalog model as the mirror holds it."""

    model: str
    requested: str  # the catalog's version or alias, or "latest"
    version: str
    variants: tuple[str, ...]
    targets: tuple[str, ...]  # every target path of this model the mirror serves (index, manifest, files)
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "requested": self.requested,
            "version": self.version,
            "variants": list(self.variants),
            "targets": list(self.targets),
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Unavailable:
    """A catalog model the upstream does not offer (not published, no such version or alias)."""

    model: str
    reason: str


@dataclass(frozen=True)
class WithdrawnVersion:
    """A withdrawn version of a catalog model (or one the registry admin withdrew): the mirror
    does not sync or serve its files."""

    model: str
    withdrawal: Withdrawal

    @property
    def version(self) -> str:
        return self.withdrawal.version

    @property
    def message(self) -> str:
        return self.withdrawal.message(self.model)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, **self.withdrawal.to_json(), "message": self.message}


@dataclass(frozen=True)
class SyncResult:
    """What one :func:`sync` did and what the mirror now serves."""

    upstream: str
    catalog_id: str
    timestamp_version: int
    snapshot_version: int
    timestamp_expires: datetime
    models: tuple[MirroredModel, ...]
    unavailable: tuple[Unavailable, ...]
    fetched_files: int  # target files downloaded from the upstream (and verified)
    fetched_bytes: int
    skipped_files: int  # target files the mirror already held, verified again and not downloaded
    skipped_bytes: int
    metadata_bytes: int  # TUF metadata downloaded from the upstream
    written_files: int  # files written into www/ (new or repaired); 0 when nothing changed
    started: datetime
    seconds: float
    www: Path = field(repr=False, default=Path("."))
    withdrawn: tuple[WithdrawnVersion, ...] = ()  # of the catalog's models, and all the registry admin's
    removed_files: int = 0  # files of withdrawn versions deleted from www/ by this sync


# -- status (mirror.json) ------------------------------------------------------------------------
def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The mirror's status document, or None when ``data_dir`` holds none yet."""
    path = Path(data_dir) / STATUS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StorageError(f"cannot read {path}: {e}; run `edzoo mirror --once` to rewrite it") from e
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-mirror-status":
        raise UsageError(f"{path} is not an edzoo mirror status file")
    return doc


def status_report(data_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """The status document plus what it means now: ``age_seconds`` (since the last success),
    ``timestamp_expired``, ``fresh`` (the last success is within 2 x the sync interval and the
    served timestamp has not expired) and ``stale_reasons``.

    Raises UsageError when ``data_dir`` is not a mirror (no mirror.json).
    """
    doc = read_status(data_dir)
    if doc is None:
        raise UsageError(
            f"{data_dir} is not a mirror data folder (no {STATUS_FILE}); "
            "run `edzoo mirror --upstream URL --catalog CATALOG --data DIR --once` first"
        )
    return _with_freshness(doc, now or datetime.now(UTC))


def _with_freshness(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = dict(doc)
    reasons: list[str] = []
    interval = float(doc.get("interval_seconds") or DEFAULT_INTERVAL)
    age = None
    if doc.get("last_success"):
        elapsed = max(0.0, (now - _parse_iso(doc["last_success"])).total_seconds())
        age = int(elapsed)
        if elapsed > STALE_AFTER_INTERVALS * interval:
            reasons.append(
                f"the last successful sync was {_duration(age)} ago, more than {STALE_AFTER_INTERVALS} "
                f"sync intervals ({_duration(interval)} each)"
            )
    else:
        reasons.append("the mirror has never synced successfully")
    expired = True
    if doc.get("timestamp_expires"):
        expired = _parse_iso(doc["timestamp_expires"]) <= now
        if expired:
            reasons.append(
                f"the served timestamp expired at {doc['timestamp_expires']}: devices refuse it until "
                "the mirror reaches the upstream again"
            )
    if reasons and doc.get("last_error"):
        reasons.append(f"the last sync failed: {doc['last_error']}")
    out["age_seconds"] = age
    out["timestamp_expired"] = expired
    out["fresh"] = not reasons
    out["stale_reasons"] = reasons
    return out


def has_copy(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a complete copy to serve (its timestamp is written last)."""
    return (Path(data_dir) / "www" / "tuf" / "metadata" / "timestamp.json").is_file()


def _write_status(data_dir: Path, doc: dict[str, Any]) -> None:
    atomic_write(Path(data_dir) / STATUS_FILE, (json.dumps(doc, indent=2) + "\n").encode())


def _catalog_json(cat: Catalog) -> dict[str, str]:
    return {"id": cat.id, "title": cat.title, "sha256": cat.sha256}


def _success_doc(result: SyncResult, cat: Catalog, interval: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "edzoo-mirror-status",
        "upstream": result.upstream,
        "catalog": _catalog_json(cat),
        "interval_seconds": interval,
        "last_attempt": _iso(result.started),
        "last_success": _iso(result.started),
        "last_error": None,
        "timestamp_version": result.timestamp_version,
        "snapshot_version": result.snapshot_version,
        "timestamp_expires": _iso(result.timestamp_expires),
        "models": [m.to_json() for m in result.models],
        "unavailable": [{"model": u.model, "reason": u.reason} for u in result.unavailable],
        "withdrawn": [w.to_json() for w in result.withdrawn],
        "last_sync": {
            "fetched_files": result.fetched_files,
            "fetched_bytes": result.fetched_bytes,
            "skipped_files": result.skipped_files,
            "skipped_bytes": result.skipped_bytes,
            "metadata_bytes": result.metadata_bytes,
            "written_files": result.written_files,
            "removed_files": result.removed_files,
            "seconds": round(result.seconds, 3),
        },
    }


def _record_failure(
    data_dir: Path,
    previous: dict[str, Any] | None,
    upstream: str,
    cat: Catalog,
    interval: float,
    started: datetime,
    message: str,
) -> None:
    """Note a failed sync in mirror.json; everything about the served copy stays as it was."""
    doc = dict(previous or {"schema_version": 1, "kind": "edzoo-mirror-status", "last_success": None})
    doc.update(
        upstream=upstream,
        catalog=doc.get("catalog") or _catalog_json(cat),
        interval_seconds=interval,
        last_attempt=_iso(started),
        last_error=message,
    )
    with contextlib.suppress(OSError):  # a full disk must not hide the sync's own error
        _write_status(data_dir, doc)


# -- sync --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Fetched:
    path: str
    blob: Path
    info: TargetFile
    downloaded: bool


@contextlib.contextmanager
def _sync_lock(data_dir: Path) -> Iterator[None]:
    """One sync at a time per data folder (a cron `--once` beside a running mirror)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: the thread lock still holds
        with _THREAD_LOCK:
            yield
        return
    with _THREAD_LOCK, open(data_dir / ".sync.lock", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise UsageError(f"another sync of {data_dir} is running; try again when it has finished") from e
            raise
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


_THREAD_LOCK = threading.Lock()


def sync(
    upstream: str,
    catalog: Catalog | Path,
    data_dir: Path,
    *,
    root: bytes | Path | None = None,
    config: ClientConfig = ClientConfig(),
    interval: float = DEFAULT_INTERVAL,
    progress: ProgressFactory | None = None,
) -> SyncResult:
    """Bring the mirror in ``data_dir`` up to date with what ``catalog`` needs from ``upstream``.

    For each catalog model: its versions index, the manifest of the catalog's version (or the
    latest release), every variant (devices differ) and every extra file the manifest lists,
    each verified by python-tuf against the upstream's signed metadata; files already held are
    verified again and not downloaded. Then the metadata and files are published under
    ``data_dir/www/tuf/``, checked once more as a device will see them, and the timestamp is
    written last, so a device never sees a timestamp that points at files not yet there.
    ``root`` is the upstream's trusted root.json, needed on the first sync (then pinned).
    ``interval`` is recorded for the freshness check (stale after 2 x interval).

    Models the upstream does not offer are reported in ``unavailable``; the sync succeeds
    without them. Raises DownloadError (upstream unreachable), SignatureError (the upstream
    failed verification), StorageError (the disk), UsageError (bad input, another sync
    running, a data folder mirroring another registry). On any error the served copy stays as
    it was and mirror.json records the error.
    """
    upstream = upstream.rstrip("/")
    data_dir = Path(data_dir)
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(Path(catalog))
    if interval <= 0:
        raise UsageError(f"the sync interval must be positive, got {interval}")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the mirror data folder {data_dir}: {e.strerror or e}") from e
    with _sync_lock(data_dir):
        try:
            previous = read_status(data_dir)
        except EdzooError:
            previous = None  # unreadable: this sync rewrites it
        if previous is not None and previous.get("last_success") and previous.get("upstream") != upstream:
            raise UsageError(
                f"{data_dir} mirrors {previous['upstream']}, not {upstream}; use a new --data folder for "
                "another registry"
            )
        started = _now()
        try:
            result = _sync(upstream, cat, data_dir, root, config, progress, started)
        except UsageError:
            raise  # bad input (no root given on the first sync): not a sync that failed
        except EdzooError as e:
            _record_failure(data_dir, previous, upstream, cat, interval, started, e.message)
            raise
        except OSError as e:
            err = StorageError(
                f"writing the mirror's copy in {data_dir} failed: {e.strerror or e}; devices still get the "
                "previous copy"
            )
            _record_failure(data_dir, previous, upstream, cat, interval, started, err.message)
            raise err from e
        except Exception as e:
            _record_failure(data_dir, previous, upstream, cat, interval, started, f"{type(e).__name__}: {e}")
            raise
        _write_status(data_dir, _success_doc(result, cat, interval))
        return result


def _sync(
    upstream: str,
    cat: Catalog,
    data_dir: Path,
    root: bytes | Path | None,
    config: ClientConfig,
    progress: ProgressFactory | None,
    started: datetime,
) -> SyncResult:
    clock = time.monotonic()
    try:
        puller = Puller(upstream, root=root, cache_dir=data_dir / "cache", config=config, progress=progress)
    except DownloadError as e:
        raise DownloadError(f"cannot sync from the upstream registry {upstream}: {e.message}") from e
    fetched: dict[str, _Fetched] = {}

    def get(path: str) -> _Fetched:
        if path not in fetched:
            blob, info, downloaded = puller.fetch(path)
            fetched[path] = _Fetched(path, blob, info, downloaded)
        return fetched[path]

    try:
        registry_file: _Fetched | None = get(recall.WITHDRAWALS_PATH)
    except NotFoundError:
        registry_file = None  # the registry admin withdrew nothing
    registry_list = recall.parse_withdrawals(registry_file.blob.read_bytes()) if registry_file else {}
    withdrawn: dict[tuple[str, str], WithdrawnVersion] = {
        (model, v): WithdrawnVersion(model, w) for model, found in registry_list.items() for v, w in found.items()
    }
    models: list[MirroredModel] = []
    unavailable: list[Unavailable] = []
    indexes: list[str] = []  # served even when no version is mirrored: they tell devices of withdrawals
    for entry in cat.entries:
        try:
            doc = _index(entry, get, upstream)
            indexes.append(names.index_path(*entry.model.split("/", 1)))
            found = recall.withdrawn_versions(doc, registry_list, entry.model)
            withdrawn.update({(entry.model, v): WithdrawnVersion(entry.model, w) for v, w in found.items()})
            models.append(_mirror_model(entry, doc, found, get))
        except WithdrawnError as e:  # the catalog pins a withdrawn version
            known = withdrawn.get((entry.model, e.version))
            line = known.message if known is not None else e.message
            unavailable.append(Unavailable(entry.model, f"{line}; pin another version in the catalog"))
        except (NotFoundError, UsageError) as e:  # not offered, or offered unusable: not a failed sync
            unavailable.append(Unavailable(entry.model, e.message))

    served = {path: fetched[path] for m in models for path in m.targets}
    served |= {path: fetched[path] for path in indexes}
    if registry_file is not None:
        served[registry_file.path] = registry_file  # devices read it through the mirror too
    www = data_dir / "www"
    removed = _remove_withdrawn(www, withdrawn.values())
    written, timestamp = _publish(puller.reg.metadata_dir, www, served, puller.trusted_root)
    new = [f for f in fetched.values() if f.downloaded]
    old = [f for f in fetched.values() if not f.downloaded]
    total_downloaded = puller.bytes_downloaded
    fetched_bytes = sum(f.info.length for f in new)
    return SyncResult(
        upstream=upstream,
        catalog_id=cat.id,
        timestamp_version=timestamp.signed.version,
        snapshot_version=timestamp.signed.snapshot_meta.version,
        timestamp_expires=timestamp.signed.expires,
        models=tuple(models),
        unavailable=tuple(unavailable),
        fetched_files=len(new),
        fetched_bytes=fetched_bytes,
        skipped_files=len(old),
        skipped_bytes=sum(f.info.length for f in old),
        metadata_bytes=max(0, total_downloaded - fetched_bytes),
        written_files=written,
        started=started,
        seconds=time.monotonic() - clock,
        www=www,
        withdrawn=tuple(withdrawn[k] for k in sorted(withdrawn, key=lambda k: (k[0], names.version_key(k[1])))),
        removed_files=removed,
    )


def _index(entry: CatalogEntry, get: Callable[[str], _Fetched], upstream: str) -> dict[str, Any]:
    """The verified versions index of a catalog model; NotFoundError when it is not published."""
    ref = names.ModelRef.parse(entry.model)
    try:
        index = get(names.index_path(ref.namespace, ref.model))
    except NotFoundError as e:
        raise NotFoundError(f"not published in {upstream}") from e
    return modelindex.parse_index(index.blob.read_bytes(), ref.namespace, ref.model)


def _mirror_model(
    entry: CatalogEntry, doc: dict[str, Any], withdrawn: dict[str, Withdrawal], get: Callable[[str], _Fetched]
) -> MirroredModel:
    """Fetch (and verify) everything of one catalog model's version: the catalog's version or
    alias, or the newest that is not withdrawn. NotFoundError when it is not offered,
    WithdrawnError when the catalog pins a withdrawn version."""
    ref = names.ModelRef.parse(entry.model)
    index_target = names.index_path(ref.namespace, ref.model)
    try:
        version = modelindex.resolve(doc, entry.version, withdrawn=withdrawn)
    except WithdrawnError as e:
        if entry.version == e.version:
            raise
        # An alias that points to a withdrawn version: mirror what the withdrawal names instead.
        version = withdrawn[e.version].use or modelindex.resolve(doc, None, withdrawn=withdrawn)
    manifest_target = names.target_path(ref.namespace, ref.model, version, names.MANIFEST_FILE)
    try:
        manifest_file = get(manifest_target)
    except NotFoundError as e:
        raise NotFoundError(f"version {version} is in the signed index but its manifest is not published") from e
    manifest = manifests.parse_manifest(manifest_file.blob.read_bytes(), source=manifest_target)
    if (manifest["namespace"], manifest["name"], manifest["version"]) != (ref.namespace, ref.model, version):
        raise SignatureError(f"the manifest at {manifest_target} describes another model")
    wanted = [(v["file"], v["sha256"], v["size"]) for v in manifest["variants"]]
    wanted += [(f["path"], f["sha256"], f["size"]) for f in manifest.get("files", [])]
    targets = [index_target, manifest_target]
    for file, sha256, size in wanted:
        path = names.target_path(ref.namespace, ref.model, version, file)
        got = get(path)
        if got.info.hashes.get("sha256") != sha256 or got.info.length != size:
            raise SignatureError(f"{path}: the signed hash or length differs from the one in its manifest")
        if path not in targets:
            targets.append(path)
    return MirroredModel(
        model=ref.id,
        requested=entry.version or "latest",
        version=version,
        variants=tuple(v["id"] for v in manifest["variants"]),
        targets=tuple(targets),
        bytes=sum(get(p).info.length for p in targets),
    )


# -- publishing into www/ ------------------------------------------------------------------------
def _put_bytes(dest: Path, data: bytes) -> bool:
    """Write ``data`` to ``dest`` atomically unless it already holds exactly that."""
    with contextlib.suppress(OSError):
        if dest.read_bytes() == data:
            return False
    atomic_write(dest, data)
    return True


def _put_blob(dest: Path, blob: Path, sha256: str) -> bool:
    """Make ``dest`` hold the verified ``blob``: a hard link (no second copy on disk), or a copy
    when the two folders are on different file systems. Returns whether it wrote."""
    # The blob was hashed against the signed metadata in this sync: the same inode is the same
    # verified bytes. Anything else is hashed (and replaced when it was altered).
    if dest.is_file() and (os.path.samefile(dest, blob) or sha256_file(dest)[0] == sha256):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        try:
            os.link(blob, tmp)
        except OSError:
            shutil.copyfile(blob, tmp)
            os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return True


def _remove_withdrawn(www: Path, withdrawn: Iterable[WithdrawnVersion]) -> int:
    """Delete the files of withdrawn versions from ``www`` (synced before the withdrawal);
    returns how many. Their signed metadata stays: it is what tells devices of the withdrawal."""
    removed = 0
    for w in withdrawn:
        ns, model = w.model.split("/", 1)
        folder = www / "tuf" / "targets" / names.version_prefix(ns, model, w.version)
        if folder.is_dir():
            removed += sum(1 for p in folder.rglob("*") if not p.is_dir())
            shutil.rmtree(folder)
    return removed


def _served_target(www: Path, path: str, sha256: str) -> Path:
    folder, _, name = path.rpartition("/")
    return www / "tuf" / "targets" / folder / f"{sha256}.{name}"


def _publish(
    metadata_dir: Path, www: Path, targets: dict[str, _Fetched], trusted_root: bytes
) -> tuple[int, Metadata[Timestamp]]:
    """Copy the verified state into ``www`` (timestamp last) and return (files written, timestamp)."""
    out = www / "tuf" / "metadata"
    written = 0
    for path in sorted((metadata_dir / "root_history").glob("*.root.json")):
        if ROOT_FILE_RE.match(path.name):
            written += _put_bytes(out / path.name, path.read_bytes())

    timestamp_bytes = (metadata_dir / "timestamp.json").read_bytes()
    timestamp: Metadata[Timestamp] = Metadata.from_bytes(timestamp_bytes)
    snapshot_bytes = (metadata_dir / "snapshot.json").read_bytes()
    snapshot: Metadata[Snapshot] = Metadata.from_bytes(snapshot_bytes)
    if snapshot.signed.version != timestamp.signed.snapshot_meta.version:
        raise SignatureError(
            f"the cached snapshot is version {snapshot.signed.version}, the timestamp lists "
            f"{timestamp.signed.snapshot_meta.version}; sync again"
        )
    written += _put_bytes(out / f"{snapshot.signed.version}.snapshot.json", snapshot_bytes)

    for meta_name, meta in snapshot.signed.meta.items():
        quoted = parse.quote(meta_name.removesuffix(".json"), "")
        served = f"{meta.version}.{quoted}.json"
        if not is_metadata_name(served):
            continue
        try:
            data = (metadata_dir / f"{quoted}.json").read_bytes()
            version = json.loads(data)["signed"]["version"]
        except FileNotFoundError:
            continue  # a role no mirrored file needs: devices will not ask for it
        except (ValueError, KeyError, TypeError):
            continue  # the updater rewrites a broken file on the next sync that needs it
        if version == meta.version:  # an older copy belongs to a role this sync did not need
            written += _put_bytes(out / served, data)

    for f in targets.values():
        written += _put_blob(_served_target(www, f.path, f.info.hashes["sha256"]), f.blob, f.info.hashes["sha256"])
    written += _put_bytes(out / "root.json", (metadata_dir / "root.json").read_bytes())

    _check_served(out, timestamp_bytes, snapshot, trusted_root, targets)
    written += _put_bytes(out / "timestamp.json", timestamp_bytes)
    return written, timestamp


def _check_served(
    out: Path, timestamp_bytes: bytes, snapshot: Metadata[Snapshot], trusted_root: bytes, targets: dict[str, _Fetched]
) -> None:
    """Verify, from the files a device will download, that the new timestamp leads to every
    mirrored target with its signed hash: the switch happens only to a complete copy."""
    snapshot_file = f"{snapshot.signed.version}.snapshot.json"

    def read(name: str) -> bytes | None:
        if name == "timestamp.json":
            return timestamp_bytes
        if name.startswith("root_history/"):
            served = name.removeprefix("root_history/")
        elif name == "snapshot.json":
            served = snapshot_file
        else:
            quoted = name.removesuffix(".json")
            meta = snapshot.signed.meta.get(f"{parse.unquote(quoted)}.json")
            if meta is None:
                return None
            served = f"{meta.version}.{quoted}.json"
        try:
            return (out / served).read_bytes()
        except FileNotFoundError:
            return None

    try:
        verifier = OfflineVerifier(read, trusted_root, grace=timedelta(0))
        for f in targets.values():
            info = verifier.target_info(f.path)
            if info.length != f.info.length or info.hashes != f.info.hashes:
                raise SignatureError(f"{f.path}: the published metadata lists another file than the one fetched")
    except (OfflineError, NotFoundError) as e:
        raise StorageError(f"the mirror's new copy is incomplete ({e}); devices still get the previous copy") from e


# -- describing ----------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def describe_sync(result: SyncResult) -> str:
    """One line for a log: what a sync fetched and what the mirror now serves."""
    missing = f", {len(result.unavailable)} unavailable" if result.unavailable else ""
    if result.withdrawn:
        missing += f", {len(result.withdrawn)} withdrawn version{'' if len(result.withdrawn) == 1 else 's'} not served"
    return (
        f"{_iso(_now())} sync ok from {result.upstream}: snapshot {result.snapshot_version}, "
        f"{len(result.models)} models{missing}; fetched {result.fetched_files} files "
        f"({format_bytes(result.fetched_bytes)}) + {format_bytes(result.metadata_bytes)} metadata, "
        f"{result.skipped_files} already held ({format_bytes(result.skipped_bytes)}), "
        f"{result.written_files} written; timestamp valid until {_iso(result.timestamp_expires)} "
        f"({result.seconds:.1f} s)"
    )


def _describe_failure(data_dir: Path, message: str) -> str:
    try:
        last = (read_status(data_dir) or {}).get("last_success")
    except EdzooError:
        last = None
    serving = f"still serving the copy synced at {last}" if last else "nothing to serve yet"
    return f"{_iso(_now())} sync FAILED: {message}; {serving}"


# -- the background loop -----------------------------------------------------------------------
class SyncLoop:
    """Re-syncs every ``interval`` seconds in a daemon thread. A failed sync is logged and noted
    in mirror.json; the served copy stays as it was, and the next interval tries again.
    A catalog given as a path is re-read on each sync, so edits apply without a restart."""

    def __init__(
        self,
        upstream: str,
        catalog: Catalog | Path,
        data_dir: Path,
        *,
        root: bytes | Path | None = None,
        interval: float = DEFAULT_INTERVAL,
        config: ClientConfig = ClientConfig(),
        log: Log = _stderr,
    ) -> None:
        self.upstream, self.catalog, self.data_dir = upstream, catalog, Path(data_dir)
        self.root, self.interval, self.config, self.log = root, interval, config, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edzoo-mirror-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> SyncResult | None:
        """One sync, logged in one line; never raises (a mirror must keep serving)."""
        try:
            result = sync(
                self.upstream,
                self.catalog,
                self.data_dir,
                root=self.root,
                config=self.config,
                interval=self.interval,
            )
        except EdzooError as e:
            self.log(_describe_failure(self.data_dir, e.message))
            return None
        except Exception as e:  # a bug must not stop the loop, nor the server
            self.log(_describe_failure(self.data_dir, f"unexpected {type(e).__name__}: {e}"))
            return None
        self.log(describe_sync(result))
        return result


# -- serving -----------------------------------------------------------------------------------
class _StatusFile:
    """mirror.json, re-read only when it changes (it is consulted on every request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int] | None = None
        self._doc: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if key != self._key:
                try:
                    doc = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return self._doc
                self._key, self._doc = key, doc if isinstance(doc, dict) else None
            return self._doc


def _target_file(targets_dir: Path, path: str) -> tuple[Path, str] | None:
    """The file for ``<dir>/<sha256>.<name>`` under ``targets_dir``, or None for any other name
    (``..``, hidden files, absolute paths, links out of the folder)."""
    split = split_target_path(path)
    if split is None:
        return None
    file = targets_dir.joinpath(*path.split("/"))
    if not file.resolve().is_relative_to(targets_dir.resolve()) or not file.is_file():
        return None
    return file, split[1]


def create_mirror_app(data_dir: Path) -> Any:
    """The mirror's WSGI app (Flask) serving ``data_dir/www``.

    ``GET /tuf/metadata/<name>`` and ``GET /tuf/targets/<dir>/<sha256>.<file>`` as a registry
    serves them (``no-cache`` for the timestamp and roots, ``immutable`` for versioned files and
    targets; a file of a withdrawn version that mirror.json lists is 404 with the withdrawal);
    ``GET /mirror/status`` and ``GET /api/v1/health``: the status with ``age_seconds`` and
    ``fresh``; any other ``/api/v1/...`` is 404 JSON (a device then makes its own choice).
    Every response carries ``X-Edzoo-Mirror-Synced: <last success>``.
    """
    from flask import Flask, Response, jsonify, request, send_file
    from werkzeug.exceptions import HTTPException

    data_dir = Path(data_dir)
    metadata_dir = data_dir / "www" / "tuf" / "metadata"
    targets_dir = data_dir / "www" / "tuf" / "targets"
    status = _StatusFile(data_dir / STATUS_FILE)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False  # "//x" is a bad name (404), not a redirect to another one

    def upstream() -> str:
        return (status.get() or {}).get("upstream") or "a registry"

    @app.get("/tuf/metadata/<name>")
    def metadata(name: str) -> Any:
        if not is_metadata_name(name):
            raise NotFoundError(f"no metadata file {name} on this mirror")
        try:
            data = (metadata_dir / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFoundError(f"no metadata file {name} on this mirror") from e
        return Response(data, mimetype="application/json", headers={"Cache-Control": metadata_cache_control(name)})

    @app.get("/tuf/targets/<path:path>")
    def target(path: str) -> Any:
        for w in (status.get() or {}).get("withdrawn") or []:
            if isinstance(w, dict) and path.startswith(f"{w.get('model')}/{w.get('version')}/"):
                raise NotFoundError(
                    f"{path} is not served: {w.get('message')}; this mirror serves no file of a withdrawn version"
                )
        found = _target_file(targets_dir, path)
        if found is None:
            raise NotFoundError(f"no target {path} on this mirror (it holds the files its catalog needs)")
        file, sha256 = found
        response = send_file(file, mimetype="application/octet-stream", conditional=True, etag=sha256)
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    @app.get("/mirror/status")
    @app.get("/api/v1/health")
    def mirror_status() -> Any:
        doc = status.get()
        if doc is None:
            return jsonify({"error": "unavailable", "message": "this mirror has not synced yet"}), 503
        return jsonify(_with_freshness(doc, datetime.now(UTC)))

    @app.route("/api/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api(rest: str) -> Any:
        raise NotFoundError(
            f"this is a mirror of {upstream()}: it serves the signed files under /tuf/ and /mirror/status, "
            f"not /api/v1/{rest}"
        )

    @app.errorhandler(EdzooError)
    def _edzoo_error(e: EdzooError) -> Any:
        return jsonify(e.to_json()), e.http_status

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        code = (e.name or "error").lower().replace(" ", "_")
        return jsonify({"error": code, "message": f"{e.description or e.name} ({request.path})"}), e.code or 500

    @app.after_request
    def _synced_header(response: Any) -> Any:
        response.headers["X-Edzoo-Mirror-Synced"] = (status.get() or {}).get("last_success") or "never"
        if response.status_code == 404:
            response.headers["Cache-Control"] = REVALIDATE
        return response

    return app


def run_mirror(
    upstream: str,
    catalog: Catalog | Path,
    data_dir: Path,
    *,
    root: bytes | Path | None = None,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    interval: float = DEFAULT_INTERVAL,
    once: bool = False,
    config: ClientConfig = ClientConfig(),
    access_log: bool = False,
    log: Log = _stderr,
    progress: ProgressFactory | None = None,
) -> SyncResult | None:
    """Sync, then serve the mirror on ``host:port`` and re-sync every ``interval`` seconds.

    With ``once``, sync and return the result. When the first sync fails (the upstream is
    unreachable, or fails verification) and an earlier copy exists, a warning is logged and
    that copy is served; with no copy the error is raised, saying so. Runs until interrupted.

    Served by werkzeug's threaded WSGI server, in this process, rather than gunicorn: the
    re-sync thread and the server then share one process with no fork-after-threads hazard
    (gunicorn forks its workers from the process the thread would live in), and it runs where
    gunicorn does not (Windows laptops). It serves static files to one school's devices, where
    the school network is the limit; for more, serve ``www/`` with any web server (nginx) and
    run ``edzoo mirror --once`` from cron.
    """
    data_dir = Path(data_dir)
    if once:
        return sync(upstream, catalog, data_dir, root=root, config=config, interval=interval, progress=progress)
    result: SyncResult | None = None
    try:
        result = sync(upstream, catalog, data_dir, root=root, config=config, interval=interval, progress=progress)
        log(describe_sync(result))
    except UsageError:
        raise  # bad input: serving an old copy would hide it
    except EdzooError as e:
        if not has_copy(data_dir):
            raise type(e)(
                f"{e.message}; {data_dir} holds no earlier copy to serve, so the mirror cannot start: check the "
                "upstream URL, the network and the root, then run it again",
                code=e.code,
            ) from e
        log(f"warning: {_describe_failure(data_dir, e.message)}")

    from werkzeug.serving import WSGIRequestHandler, make_server

    class _Handler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if access_log:
                super().log_request(code, size)

    try:
        server = make_server(host, port, create_mirror_app(data_dir), threaded=True, request_handler=_Handler)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from e
    loop = SyncLoop(upstream, catalog, data_dir, root=root, interval=interval, config=config, log=log)
    loop.start()
    bound = server.server_port
    where = (
        f"port {bound} of every interface (devices use http://<this machine's address>:{bound})"
        if host in ("0.0.0.0", "::")
        else f"http://{host}:{bound}"
    )
    log(
        f"edzoo mirror of {upstream.rstrip('/')} serving {data_dir / 'www'} on {where}; "
        f"re-sync every {_duration(interval)}; status at /mirror/status"
    )
    try:
        server.serve_forever()
    finally:
        loop.stop(timeout=5)
        server.server_close()
    return result
