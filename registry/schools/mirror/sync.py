"""One sync: the upstream's metadata and every file a catalog needs, verified through python-tuf's updater."""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from registry.client.download import ProgressFactory, Puller
from registry.client.http import ClientConfig
from registry.core import manifest as manifests
from registry.core import modelindex, names, recall
from registry.core.errors import (
    DownloadError,
    EdzooError,
    NotFoundError,
    SignatureError,
    StorageError,
    UsageError,
    WithdrawnError,
)
from registry.core.model import Manifest
from registry.core.recall import Withdrawal

from ..catalog import Catalog, CatalogEntry, load_catalog
from .common import DEFAULT_INTERVAL, now
from .results import Fetched, MirroredModel, SyncResult, Unavailable, WithdrawnVersion
from .status import read_status, record_failure, success_doc, write_status
from .www import publish, remove_withdrawn


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
        started = now()
        try:
            result = _sync(upstream, cat, data_dir, root, config, progress, started)
        except UsageError:
            raise  # bad input (no root given on the first sync): not a sync that failed
        except EdzooError as e:
            record_failure(data_dir, previous, upstream, cat, interval, started, e.message)
            raise
        except OSError as e:
            err = StorageError(
                f"writing the mirror's copy in {data_dir} failed: {e.strerror or e}; devices still get the "
                "previous copy"
            )
            record_failure(data_dir, previous, upstream, cat, interval, started, err.message)
            raise err from e
        except Exception as e:
            record_failure(data_dir, previous, upstream, cat, interval, started, f"{type(e).__name__}: {e}")
            raise
        write_status(data_dir, success_doc(result, cat, interval))
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
    fetched: dict[str, Fetched] = {}

    def get(path: str) -> Fetched:
        if path not in fetched:
            blob, info, downloaded = puller.fetch(path)
            fetched[path] = Fetched(path, blob, info, downloaded)
        return fetched[path]

    try:
        registry_file: Fetched | None = get(recall.WITHDRAWALS_PATH)
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
    removed = remove_withdrawn(www, withdrawn.values())
    written, timestamp = publish(puller.metadata_dir, www, served, puller.trusted_root)
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


def _index(entry: CatalogEntry, get: Callable[[str], Fetched], upstream: str) -> dict[str, Any]:
    """The verified versions index of a catalog model; NotFoundError when it is not published."""
    ref = names.ModelRef.parse(entry.model)
    try:
        index = get(names.index_path(ref.namespace, ref.model))
    except NotFoundError as e:
        raise NotFoundError(f"not published in {upstream}") from e
    return modelindex.parse_index(index.blob.read_bytes(), ref.namespace, ref.model)


def _mirror_model(
    entry: CatalogEntry, doc: dict[str, Any], withdrawn: dict[str, Withdrawal], get: Callable[[str], Fetched]
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
    manifest = Manifest.from_dict(manifests.parse_manifest(manifest_file.blob.read_bytes(), source=manifest_target))
    if (manifest.namespace, manifest.name, manifest.version) != (ref.namespace, ref.model, version):
        raise SignatureError(f"the manifest at {manifest_target} describes another model")
    wanted = [(v.file, v.sha256, v.size) for v in manifest.variants]
    wanted += [(f["path"], f["sha256"], f["size"]) for f in manifest.files or []]
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
        variants=manifest.ids,
        targets=tuple(targets),
        bytes=sum(get(p).info.length for p in targets),
    )
