""":func:`write_bundle`: a plan's files and the registry's signed metadata into a folder."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from registry.client.download import ProgressFactory, Puller
from registry.client.http import ClientConfig
from registry.core import modelindex, names, recall
from registry.core._internal.files import atomic_write, sha256_file
from registry.core.errors import (
    EdzooError,
    ManifestError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UsageError,
)
from registry.core.model import Plan
from registry.core.offline import OfflineVerifier
from registry.core.recall import Withdrawal
from registry.core.trust import now as _now

from ..plan import plan_bytes as _plan_bytes
from .files import (
    DEFAULT_MAX_STALENESS,
    _bar,
    _blob_rel,
    _check_staleness,
    _fsync_dir,
    _index_rel,
    _place,
    _pretty,
    _storage_error,
)
from .listing import _bundle_id, _read_complete_bundle, _safe_rel
from .planfile import Dropped, _drop_withdrawn, _plan_models, load_plan

_BUNDLE_ENTRIES = frozenset({"metadata", "blobs", "indexes", "plan.json", "bundle.json", "COMPLETE"})


@dataclass(frozen=True)
class BundleResult:
    """What :func:`write_bundle` did."""

    path: Path
    id: str
    registry: str
    base: str | None
    files: int  # target files the plan needs
    bytes: int
    written: int  # blobs copied into the bundle by this run
    written_bytes: int
    present: int  # blobs already in the folder with the right sha256 (a resumed bundle)
    present_bytes: int
    in_base: int  # files left out because the base bundle holds them
    in_base_bytes: int
    downloaded: int  # files the Puller had to download (not in its cache)
    downloaded_bytes: int
    metadata_files: int
    timestamp_version: int
    snapshot_version: int
    expires: datetime  # the earliest expiry of the top-level metadata
    max_staleness: timedelta
    replaced: str | None = None  # the id of a complete bundle this run replaced (--force)
    dropped: tuple[Dropped, ...] = ()  # withdrawn versions the plan named, left out
    indexes: int = 0  # signed versions indexes (and the withdrawals list) carried for devices


def _inspect_out(out: Path, plan_shas: set[str], force: bool) -> str | None:
    """Check that ``out`` may receive this bundle. Returns the id of a COMPLETE bundle already there
    (decided once the new id is known), raises for a folder that holds something else."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder: give a new folder for the bundle")
    entries = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    foreign = sorted(entries - _BUNDLE_ENTRIES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        raise UsageError(f"{out} holds other files ({shown}): give an empty or new folder for the bundle")
    complete = None
    if (out / "COMPLETE").exists():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, EdzooError):
            _, doc = _read_complete_bundle(out, "")
            complete = str(doc["id"])
        if complete is None and not force:
            raise UsageError(f"{out} holds a damaged bundle: use --force to replace it, or give a new folder")
        return complete
    plan = out / "plan.json"
    if plan.exists() and sha256_file(plan)[0] not in plan_shas and not force:
        raise UsageError(
            f"{out} holds an unfinished bundle of another plan: use --force to replace it, or give a new folder"
        )
    return None


def _read_base(since: Path) -> tuple[str, set[str]]:
    fix = "give --since the folder of a bundle `edzoo bundle` finished"
    _, doc = _read_complete_bundle(Path(since), fix)
    return str(doc["id"]), {t["sha256"] for t in doc["targets"]}


@dataclass(frozen=True)
class _Index:
    """A signed list a device reads to see withdrawals: a versions index or withdrawals.json."""

    target: str
    sha256: str
    size: int
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "sha256": self.sha256, "size": self.size}


def _signed_lists(
    puller: Puller, models: list[names.ModelRef]
) -> tuple[list[_Index], dict[str, dict[str, Withdrawal]]]:
    """The versions index of each model and the registry's withdrawals list, fetched and
    verified through TUF, and every withdrawn version of those models. A model whose index is
    not published is skipped (its files are refused below, saying so)."""
    lists: list[_Index] = []

    def get(path: str) -> bytes | None:
        try:
            blob, info, _ = puller.fetch(path)
        except NotFoundError:
            return None
        data = blob.read_bytes()
        lists.append(_Index(path, info.hashes["sha256"], info.length, data))
        return data

    registry_data = get(recall.WITHDRAWALS_PATH)
    registry_list = recall.parse_withdrawals(registry_data) if registry_data is not None else {}
    withdrawn: dict[str, dict[str, Withdrawal]] = {}
    for ref in models:
        data = get(names.index_path(ref.namespace, ref.model))
        if data is None:
            continue
        doc = modelindex.parse_index(data, ref.namespace, ref.model)
        found = recall.withdrawn_versions(doc, registry_list, ref.id)
        if found:
            withdrawn[ref.id] = found
    return sorted(lists, key=lambda i: i.target), withdrawn


def _metadata_files(folder: Path) -> dict[str, bytes]:
    """Every metadata file of a Puller cache (``root.json`` is a symlink there: read through it)."""
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*.json")):
        rel = p.relative_to(folder).as_posix()
        if _safe_rel(rel) and p.is_file():
            out[rel] = p.read_bytes()
    return out


def _dict_reader(files: dict[str, bytes]) -> Callable[[str], bytes | None]:
    return files.get


def _top_expiry(verifier: OfflineVerifier) -> datetime:
    roles = (verifier.root, verifier.timestamp, verifier.snapshot, verifier.targets)
    return min(md.signed.expires for md in roles)


def _prune(folder: Path, keep: set[str], root: Path) -> None:
    """Remove files under ``folder`` whose path relative to ``root`` is not in ``keep``
    (left by an interrupted or replaced bundle), and temp files."""
    if not folder.exists():
        return
    for p in sorted(folder.rglob("*"), reverse=True):
        if p.is_dir() and not p.is_symlink():
            with contextlib.suppress(OSError):
                p.rmdir()  # only when empty
        elif p.relative_to(root).as_posix() not in keep:
            p.unlink()


def write_bundle(
    plan: Path,
    out: Path,
    *,
    registry: str | None = None,
    root: bytes | Path | None = None,
    cache_dir: Path | None = None,
    since: Path | None = None,
    force: bool = False,
    max_staleness: timedelta = DEFAULT_MAX_STALENESS,
    hardlink: bool = False,
    config: ClientConfig = ClientConfig(),
    progress: ProgressFactory | None = None,
    now: datetime | None = None,
) -> BundleResult:
    """Write the bundle of ``plan`` into the folder ``out``; resume an unfinished one.

    ``registry`` overrides the plan's registry URL (a mirror of the same registry); ``root`` is
    the trusted root (default: the one pinned in the cache for that registry); ``since`` is the
    folder of an earlier complete bundle: files it holds are listed but not copied (a delta).
    ``max_staleness`` is recorded as the bundle's policy: how long after its metadata expires a
    device still accepts it. ``hardlink`` links blobs from the cache instead of copying them when
    both are on one filesystem (a bundle that stays on this disk).

    Raises UsageError (a folder holding something else, a bad plan), SignatureError and
    NotFoundError (the registry does not sign the plan's files), DownloadError, StorageError
    (a full disk: re-running resumes).
    """
    out = Path(out)
    _check_staleness(max_staleness, "the bundle's max staleness")
    plan_bytes, planned = load_plan(Path(plan))
    given_sha = hashlib.sha256(plan_bytes).hexdigest()
    url = (registry or planned.registry.url).rstrip("/")
    base_id: str | None = None
    base_shas: set[str] = set()
    if since is not None:
        if Path(since).resolve() == out.resolve():
            raise UsageError("--since names the output folder itself: give the folder of the previous bundle")
        base_id, base_shas = _read_base(Path(since))
    _inspect_out(out, {given_sha}, True)  # a folder holding other files is refused before any download

    # 0. The signed versions indexes and withdrawals list (fresh metadata: they prove a withdrawal to
    # devices); a withdrawn version the plan names is dropped from the plan this bundle carries.
    puller = Puller(url, root=root, cache_dir=cache_dir, config=config)
    lists, planned, dropped = _current_plan(puller, planned)
    if dropped:
        plan_bytes = _plan_bytes(planned)
    plan_sha = hashlib.sha256(plan_bytes).hexdigest()
    existing = _inspect_out(out, {plan_sha, given_sha}, force)

    # 1. The signed length and sha256 of every file (TUF); download into the cache what is not there.
    got = _gather(puller, planned, base_shas, url, progress)
    targets = got.targets

    # 2. The metadata those downloads used, checked offline exactly as a device will check it.
    meta_files, verifier = _verify_offline(puller, targets, lists, now)
    metadata = {
        rel: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for rel, data in sorted(meta_files.items())
    }
    bundle_id = _bundle_id(targets, metadata, base_id)
    if existing is not None and existing != bundle_id and not force:
        raise UsageError(
            f"{out} already holds the complete bundle {existing[:12]}, not this one ({bundle_id[:12]}): "
            "give a new folder, or --force to replace it"
        )

    # 3. Write: plan, metadata, blobs (temp name, fsync, rename), bundle.json; re-hash; COMPLETE.
    doc = {
        "schema_version": 1,
        "kind": "edzoo-bundle",
        "id": bundle_id,
        "registry": url,
        "plan_sha256": plan_sha,
        "created": (now or _now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy": {"max_staleness_days": _days(max_staleness)},
        "base": {"id": base_id} if base_id else None,
        "metadata": metadata,
        "targets": targets,
        "indexes": [i.to_json() for i in lists],
        "dropped": [d.to_json() for d in dropped],
    }
    unique = {t["sha256"]: t["size"] for t in targets if t["in_bundle"]}
    blobs = _write_folder(out, doc, plan_bytes, meta_files, lists, unique, got, puller, hardlink, progress)
    return BundleResult(
        path=out,
        id=bundle_id,
        registry=url,
        base=base_id,
        files=len(targets),
        bytes=sum(t["size"] for t in targets),
        written=blobs.written,
        written_bytes=blobs.written_bytes,
        present=len(blobs.kept),
        present_bytes=sum(unique[sha] for sha in blobs.kept),
        in_base=sum(1 for t in targets if not t["in_bundle"]),
        in_base_bytes=sum(t["size"] for t in targets if not t["in_bundle"]),
        downloaded=got.downloaded,
        downloaded_bytes=got.downloaded_bytes,
        metadata_files=len(metadata),
        timestamp_version=verifier.timestamp.signed.version,
        snapshot_version=verifier.snapshot.signed.version,
        expires=_top_expiry(verifier),
        max_staleness=max_staleness,
        replaced=existing if existing not in (None, bundle_id) else None,
        dropped=tuple(dropped),
        indexes=len(lists),
    )


def _current_plan(puller: Puller, planned: Plan) -> tuple[list[_Index], Plan, list[Dropped]]:
    """Step 0: the signed versions indexes and withdrawals list of the plan's models, and the
    plan without the versions they withdraw (with what was dropped)."""
    try:
        lists, withdrawn = _signed_lists(puller, _plan_models(planned))
    except UsageError as e:
        raise ManifestError(
            f"{puller.registry_url} signs a versions index or withdrawals list this edzoo cannot read: {e.message}"
        ) from e
    planned, dropped = _drop_withdrawn(planned, withdrawn)
    return lists, planned, dropped


def _write_folder(
    out: Path,
    doc: dict[str, Any],
    plan_bytes: bytes,
    meta_files: dict[str, bytes],
    lists: list[_Index],
    unique: dict[str, int],
    got: _Gathered,
    puller: Puller,
    hardlink: bool,
    progress: ProgressFactory | None,
) -> _Blobs:
    """Step 3: plan, metadata, blobs (temp name, fsync, rename), bundle.json; every file read
    back and re-hashed; then COMPLETE. Raises StorageError (a full stick: re-running resumes)."""
    then = "free some space (or use a larger stick), then run the same command again to resume"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (out / "COMPLETE").unlink()  # COMPLETE only ever stands for a finished, verified folder
        _fsync_dir(out)
        _write_lists(out, plan_bytes, doc["plan_sha256"], meta_files, lists)
        blobs = _write_blobs(out, unique, got.sources, hardlink, progress)
        bundle_bytes = _pretty(doc)
        atomic_write(out / "bundle.json", bundle_bytes)
        listed: dict[str, str] = {"plan.json": doc["plan_sha256"]}
        listed |= {f"metadata/{k}": str(v["sha256"]) for k, v in doc["metadata"].items()}
        listed |= {_index_rel(i.target): i.sha256 for i in lists}
        listed |= {_blob_rel(sha): sha for sha in unique}
        _read_back(out, listed, unique, blobs, puller, got.target_of, hardlink, progress)
        atomic_write(out / "COMPLETE", _pretty({"bundle_sha256": hashlib.sha256(bundle_bytes).hexdigest()}))
        _fsync_dir(out)
    except StorageError:
        raise
    except OSError as e:
        raise _storage_error(e, out, "writing the bundle", then) from e
    return blobs


@dataclass
class _Gathered:
    """Step 1 of a bundle: every planned target with its signed size and hash, and where the
    cache holds each file the bundle carries."""

    targets: list[dict[str, Any]]  # {"target", "sha256", "size", "in_bundle"}, sorted by target
    sources: dict[str, Path]  # sha256 -> the verified blob in the cache
    target_of: dict[str, str]  # sha256 -> a target path that names it (to fetch it again)
    downloaded: int = 0
    downloaded_bytes: int = 0


def _gather(
    puller: Puller, planned: Plan, base_shas: set[str], url: str, progress: ProgressFactory | None
) -> _Gathered:
    """A file already cached is not re-hashed here: its copy in the bundle is hashed when it is
    read back, and a mismatch is repaired from a verified source then."""
    got = _Gathered([], {}, {})
    wanted = [(t.target, t.sha256, t.size) for t in planned.targets]
    to_fetch = sum(size for _, sha, size in wanted if sha not in base_shas and puller.cached_blob(sha, size) is None)
    with _bar(progress, "downloading", to_fetch) as update:
        for target, sha, size in wanted:
            in_bundle = sha not in base_shas
            try:
                blob: Path | None = puller.cached_blob(sha, size)
                if in_bundle and blob is None:
                    blob, info, fetched = puller.fetch(target)
                    if fetched:
                        got.downloaded, got.downloaded_bytes = got.downloaded + 1, got.downloaded_bytes + info.length
                    if update is not None:
                        update(size)
                else:
                    info = puller.target_info(target)
                if in_bundle:
                    assert blob is not None  # fetched, or already cached
                    got.sources.setdefault(sha, blob)
                    got.target_of.setdefault(sha, target)
            except NotFoundError as e:
                raise NotFoundError(
                    f"{target} is in the plan but not published in {url}: re-run `edzoo plan` against this registry"
                ) from e
            if info.hashes.get("sha256") != sha or info.length != size:
                raise SignatureError(
                    f"{target}: the plan lists sha256 {sha[:12]}… ({size} bytes), {url} signs "
                    f"{info.hashes.get('sha256', '?')[:12]}… ({info.length} bytes): the plan was made for another "
                    "registry or edited; re-run `edzoo plan` against this registry"
                )
            got.targets.append({"target": target, "sha256": sha, "size": size, "in_bundle": in_bundle})
    got.targets.sort(key=lambda t: t["target"])
    return got


def _verify_offline(
    puller: Puller, targets: list[dict[str, Any]], lists: list[_Index], now: datetime | None
) -> tuple[dict[str, bytes], OfflineVerifier]:
    """Step 2: the metadata files the downloads used, and their verifier, having checked every
    target and list against them as a device will, offline."""
    meta_files = _metadata_files(puller.metadata_dir)
    try:
        verifier = OfflineVerifier(_dict_reader(meta_files), puller.trusted_root, grace=timedelta(0), at=now)
        for t in [*targets, *(i.to_json() for i in lists)]:
            info = verifier.target_info(t["target"])
            if info.hashes.get("sha256") != t["sha256"] or info.length != t["size"]:
                raise SignatureError(f"{t['target']}: the stored metadata signs other bytes than the registry did")
    except OfflineError as e:
        raise SignatureError(f"the metadata in the cache is incomplete ({e.message}); run the command again") from e
    except SignatureError as e:
        raise SignatureError(
            f"the registry's metadata does not verify offline ({e.message}); run the command again, or ask the "
            "registry admin (it may have expired)"
        ) from e
    return meta_files, verifier


def _write_lists(
    out: Path, plan_bytes: bytes, plan_sha: str, meta_files: dict[str, bytes], lists: list[_Index]
) -> None:
    """Step 3a: plan.json, the metadata and the signed lists, each written only when it differs
    (a resumed run keeps what is right); files no longer listed are removed."""
    if not (out / "plan.json").exists() or sha256_file(out / "plan.json")[0] != plan_sha:
        atomic_write(out / "plan.json", plan_bytes)
    for rel, data in meta_files.items():
        dest = out / "metadata" / rel
        if not dest.is_file() or dest.read_bytes() != data:
            atomic_write(dest, data)
    _prune(out / "metadata", {f"metadata/{rel}" for rel in meta_files}, out)
    for index in lists:
        dest = out / _index_rel(index.target)
        if not dest.is_file() or dest.read_bytes() != index.data:
            atomic_write(dest, index.data)
    _prune(out / "indexes", {_index_rel(i.target) for i in lists}, out)


@dataclass
class _Blobs:
    """What step 3b did: blobs written (or linked), and those an earlier run left in place."""

    written: int = 0
    written_bytes: int = 0
    kept: set[str] = field(default_factory=set)  # of the right size; their sha256 is checked on read-back


def _write_blobs(
    out: Path, unique: dict[str, int], sources: dict[str, Path], hardlink: bool, progress: ProgressFactory | None
) -> _Blobs:
    """Step 3b: every blob the bundle carries (temp name, fsync, rename)."""
    done = _Blobs()
    with _bar(progress, "writing bundle", sum(unique.values())) as update:
        for sha, size in unique.items():
            dest = out / _blob_rel(sha)
            if dest.is_file() and dest.stat().st_size == size:
                done.kept.add(sha)
                if update is not None:
                    update(size)
                continue
            _place(sources[sha], dest, hardlink=hardlink, update=update)
            done.written, done.written_bytes = done.written + 1, done.written_bytes + size
    _prune(out / "blobs", {_blob_rel(sha) for sha in unique}, out)
    return done


def _read_back(
    out: Path,
    listed: dict[str, str],
    unique: dict[str, int],
    blobs: _Blobs,
    puller: Puller,
    target_of: dict[str, str],
    hardlink: bool,
    progress: ProgressFactory | None,
) -> None:
    """Step 3c: read back every file the bundle lists, what is on the stick, not what was meant
    to be. A damaged blob (left by an earlier run, or a cached blob damaged since it was
    verified) is copied again from a source the Puller verifies, or downloads again."""
    with _bar(progress, "re-hashing", sum(unique.values())) as update:
        for rel, sha in listed.items():
            got, size = sha256_file(out / rel)
            if got != sha and sha in unique:
                blob, _, _ = puller.fetch(target_of[sha])
                _place(blob, out / rel, hardlink=hardlink, update=None)
                got, size = sha256_file(out / rel)
                if sha in blobs.kept:
                    blobs.kept.discard(sha)
                    blobs.written, blobs.written_bytes = blobs.written + 1, blobs.written_bytes + size
            if got != sha:
                raise StorageError(
                    f"{out / rel} reads back with another sha256 than was written: the disk or stick may be "
                    "failing; run the same command again, or use another stick"
                )
            if update is not None and rel.startswith("blobs/"):
                update(size)


def _days(grace: timedelta) -> int | float:
    days = grace.total_seconds() / 86400
    return int(days) if days == int(days) else round(days, 4)
