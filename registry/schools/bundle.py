"""Signed offline bundles: carry a plan's files to a school on a USB stick, install them offline.

:func:`write_bundle` turns a plan (``edzoo plan``) into a folder::

    DIR/metadata/...               the registry's TUF metadata, as python-tuf's updater stores it
    DIR/blobs/sha256/<aa>/<sha>    each target file the plan needs, by content
    DIR/indexes/<ns>/<model>/versions.json, DIR/indexes/withdrawals.json
                                   the signed versions index of every model the plan names, and
                                   the registry's list of withdrawals (when it has one)
    DIR/plan.json                  the plan, byte for byte (less any withdrawn version)
    DIR/bundle.json                what the folder holds: every file with its sha256 and size
    DIR/COMPLETE                   written last, after every file was written and read back

The signed length and sha256 of every file come from TUF through a
:class:`~registry.client.download.Puller`, which downloads and verifies what its cache does not
hold yet (so a second bundle is cheap). Each file is copied under a temp name, fsync'ed and
renamed, then read back from the bundle and checked against the signed sha256; only then is the
folder marked COMPLETE. A re-run after an interruption keeps what is already there with the right
sha256. With a base bundle (``--since``) only files the base does not hold are copied.

Withdrawn (recalled) versions never go into a bundle: a plan made before a withdrawal still
names the version, and :func:`write_bundle` drops it (from the plan it writes too) and says so.
The versions indexes and the withdrawals list always travel in the bundle (a delta too), with
metadata fresh from the registry that signs them, so a device sees the withdrawal offline.

:func:`install_bundle` verifies a bundle on a device with no network, against the root the device
already trusts: the root chain, every role's signatures and versions, expiry within a bounded
grace window, rollback against the versions the device saw before, and each installed file's
signed length and sha256. It installs atomically: files go to a content store, a release folder
is built from hard links, and one ``os.replace`` of the ``current`` symlink switches to it; a
failure before that switch (a full disk, a pulled USB stick) leaves the previous install as it
was. A model version the bundle's signed indexes withdraw is never installed, and one the device
already has is left out of the new release (and deleted from the old one), with the reason.

``bundle.json`` and ``COMPLETE`` are not signed: they only detect an incomplete or damaged copy
early and with a clear message. Trust comes from the TUF metadata alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata

from registry.client.download import ProgressFactory, Puller
from registry.client.http import ClientConfig
from registry.core import modelindex, names, profiles, recall
from registry.core._internal.files import atomic_write, sha256_file
from registry.core.errors import (
    EdzooError,
    ExpiredMetadataError,
    ManifestError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UntrustedMetadataError,
    UsageError,
)
from registry.core.offline import OfflineVerifier
from registry.core.recall import Withdrawal
from registry.core.trust import now as _now
from registry.core.truststore import TrustStore

from .plan import plan_bytes as _plan_bytes

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "MAX_STALENESS",
    "BundleResult",
    "Dropped",
    "Freshness",
    "InstallResult",
    "InstalledFile",
    "OpenedBundle",
    "format_staleness",
    "install_bundle",
    "open_bundle",
    "parse_staleness",
    "verify_bundle",
    "write_bundle",
]

DEFAULT_MAX_STALENESS = timedelta(days=30)
# The grace for expired metadata is always bounded: a stolen stick must not stay valid forever.
MAX_STALENESS = timedelta(days=365)
MAX_PLAN_BYTES = 64 << 20  # a plan of 10,000 device groups is a few MB
MAX_BUNDLE_JSON_BYTES = 64 << 20
COPY_CHUNK = 8 << 20
TEMP_SUFFIX = ".tmp"

_SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
_STALENESS_RE = re.compile(r"^\s*(\d{1,6})\s*([dh]?)\s*\Z")
_BUNDLE_ENTRIES = frozenset({"metadata", "blobs", "indexes", "plan.json", "bundle.json", "COMPLETE"})
_NO_FAST_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.ETXTBSY}

ProgressUpdate = Callable[[int], object]


# -- small helpers ---------------------------------------------------------------------------------
def parse_staleness(text: str) -> timedelta:
    """``30d``, ``12h`` or ``0`` as a timedelta; refuses more than :data:`MAX_STALENESS`."""
    m = _STALENESS_RE.match(text or "")
    if not m or (not m[2] and int(m[1]) != 0):
        raise UsageError(f"invalid staleness {text!r}: expected a duration like 30d, 12h or 0")
    value = int(m[1])
    grace = timedelta(hours=value) if m[2] == "h" else timedelta(days=value)
    _check_staleness(grace, f"--max-staleness {text}")
    return grace


def _check_staleness(grace: timedelta, what: str) -> None:
    if grace < timedelta(0):
        raise UsageError(f"{what}: a grace window cannot be negative")
    if grace > MAX_STALENESS:
        raise UsageError(
            f"{what} is more than {MAX_STALENESS.days} days: the grace for expired metadata is never "
            "unlimited; make a fresh bundle instead"
        )


def format_staleness(grace: timedelta) -> str:
    """``30-day``, ``12-hour``, ``0-day``: how messages name a grace window."""
    seconds = int(grace.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}-day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    return f"{seconds / 86400:.2f}-day"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _span(delta: timedelta, more: bool = False) -> str:
    """``3 days``, ``5 hours``, ``1 minute`` (``3 more days`` with ``more``)."""
    if delta >= timedelta(days=1):
        n, unit = delta.days, "day"
    elif delta >= timedelta(hours=1):
        n, unit = int(delta.total_seconds() // 3600), "hour"
    else:
        n, unit = max(1, int(delta.total_seconds() // 60)), "minute"
    return _plural(n, f"more {unit}" if more else unit)


def _blob_rel(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def _index_rel(target: str) -> str:
    return f"indexes/{target}"


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _pretty(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def _fsync_dir(path: Path) -> None:
    # Makes a rename in ``path`` durable; some filesystems (FAT on a USB stick) cannot, and
    # the files themselves were fsync'ed already.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_file(src: Path, dst: Path, update: ProgressUpdate | None = None) -> None:
    """Copy ``src`` over the (temp) file ``dst`` and fsync it. Uses the kernel's copy when it can."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fast = True
        while True:
            if fast:
                try:
                    n = os.copy_file_range(fin.fileno(), fout.fileno(), COPY_CHUNK)
                except OSError as e:
                    if e.errno not in _NO_FAST_COPY:
                        raise
                    fast = False
                    continue
            else:
                block = fin.read(COPY_CHUNK)
                n = len(block)
                if n:
                    fout.write(block)
            if not n:
                break
            if update is not None:
                update(n)
        fout.flush()
        os.fsync(fout.fileno())


def _place(src: Path, dest: Path, *, hardlink: bool, update: ProgressUpdate | None) -> None:
    """Put a copy of ``src`` at ``dest`` via a temp name and a rename (a hard link if asked for and
    possible)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        linked = False
        if hardlink:
            tmp.unlink()
            try:
                os.link(src, tmp)
                linked = True
                if update is not None:
                    update(src.stat().st_size)
            except OSError:
                tmp.touch()
        if not linked:
            _copy_file(src, tmp, update)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _bar(progress: ProgressFactory | None, desc: str, total: int) -> Iterator[ProgressUpdate | None]:
    if progress is None or total <= 0:
        yield None
        return
    with progress(desc, total) as b:
        yield b.update if b is not None else None


def _storage_error(e: OSError, where: Path, what: str, then: str) -> StorageError:
    if e.errno == errno.ENOSPC:
        return StorageError(f"no space left on {where} while {what}: {then}")
    return StorageError(f"{what} failed: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}: {then}")


def _read_json(path: Path, limit: int, what: str, fix: str) -> tuple[bytes, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError as e:
        raise UsageError(f"{path} does not exist: {fix}") from e
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > limit:
        raise ManifestError(f"{path}: larger than the {limit >> 20} MiB a {what} may have")
    try:
        return data, json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON ({e}): {fix}") from e


# -- plans -----------------------------------------------------------------------------------------
def _check_file_entry(item: Any, where: str) -> tuple[str, str, int]:
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected an object with target, sha256 and size")
    target = item.get("target")
    if not isinstance(target, str):
        raise ManifestError(f"{where}.target: expected a target path")
    try:
        names.TargetName.parse(target)
    except UsageError as e:
        raise ManifestError(f"{where}.target: {e.message}") from e
    return (target, *_check_sha_size(item, where))


def _check_index_entry(item: Any, where: str) -> None:
    """An entry of bundle.json's ``indexes``: a model's versions index or the withdrawals list."""
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected an object with target, sha256 and size")
    target = item.get("target")
    ok = target == recall.WITHDRAWALS_PATH
    if not ok and isinstance(target, str):
        with contextlib.suppress(UsageError):
            ok = names.TargetName.parse(target).is_index
    if not ok:
        raise ManifestError(f"{where}.target: expected NAMESPACE/MODEL/{names.INDEX_FILE} or {recall.WITHDRAWALS_PATH}")
    _check_sha_size(item, where)


def _check_sha_size(item: dict[str, Any], where: str) -> tuple[str, int]:
    sha, size = item.get("sha256"), item.get("size")
    if not isinstance(sha, str) or not _SHA256_RE.match(sha):
        raise ManifestError(f"{where}.sha256: expected 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}.size: expected a byte count")
    return sha, size


def _parse_plan(data: bytes, doc: Any, source: str, *, in_bundle: bool = False) -> dict[str, Any]:
    """Check the parts of a plan a bundle relies on; return it. The plan in a bundle may list no
    file (every model it named was withdrawn: the bundle then only removes them from devices)."""
    fix = "make it with `edzoo plan CATALOG FLEET`"
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-plan":
        raise ManifestError(f'{source} is not an edzoo plan (no "kind": "edzoo-plan"): {fix}')
    if doc.get("schema_version") != 1:
        raise ManifestError(f"{source}: plan schema_version {doc.get('schema_version')!r} is not supported (1 is)")
    registry = doc.get("registry")
    if not isinstance(registry, dict) or not isinstance(registry.get("url"), str):
        raise ManifestError(f"{source}: $.registry.url is missing: {fix}")
    targets = doc.get("targets")
    if not isinstance(targets, list) or (not targets and not in_bundle):
        raise ManifestError(f"{source}: $.targets lists no files: nothing to bundle")
    signed: dict[str, tuple[str, int]] = {}
    for i, item in enumerate(targets):
        target, sha, size = _check_file_entry(item, f"{source}: $.targets[{i}]")
        if target in signed:
            raise ManifestError(f"{source}: $.targets[{i}]: {target} is listed twice")
        signed[target] = (sha, size)
    groups = doc.get("groups")
    if not isinstance(groups, list):
        raise ManifestError(f"{source}: $.groups is missing: {fix}")
    for g, group in enumerate(groups):
        where = f"{source}: $.groups[{g}]"
        if not isinstance(group, dict) or not isinstance(group.get("id"), str):
            raise ManifestError(f"{where}: expected a group with an id")
        for i, item in enumerate(group.get("install") or []):
            target, sha, size = _check_file_entry(item, f"{where}.install[{i}]")
            if signed.get(target) != (sha, size):
                raise ManifestError(
                    f"{where}.install[{i}]: {target} is not among $.targets with that sha256 and size: "
                    f"the plan was edited; {fix}"
                )
    for i, model in enumerate(doc.get("models") or []):
        if not isinstance(model, dict) or not isinstance(model.get("manifest_target"), str):
            raise ManifestError(f"{source}: $.models[{i}]: expected a model with a manifest_target")
    return doc


def _plan_models(plan: dict[str, Any]) -> list[names.ModelRef]:
    """Every model a plan names (its models, and the models of its groups' files), in order."""
    seen: dict[str, names.ModelRef] = {}
    found = [str(m.get("model")) for m in plan.get("models") or []]
    found += [str(i.get("model")) for g in plan["groups"] for i in g.get("install") or []]
    for t in plan["targets"]:
        name = names.TargetName.parse(t["target"])
        found.append(f"{name.namespace}/{name.model}")
    for model in found:
        if model not in seen:
            try:
                seen[model] = names.ModelRef.parse(model)
            except UsageError as e:
                raise ManifestError(f"the plan names a model {model!r} that is not NAMESPACE/MODEL: {e.message}") from e
    return list(seen.values())


@dataclass(frozen=True)
class Dropped:
    """A withdrawn model version left out of a bundle (or of a device's install), and why."""

    model: str
    version: str
    message: str  # one line: who withdrew it when, why, what to use instead

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "version": self.version, "message": self.message}


def _drop_withdrawn(
    plan: dict[str, Any], withdrawn: dict[str, dict[str, Withdrawal]]
) -> tuple[dict[str, Any], list[Dropped]]:
    """``plan`` without the files of withdrawn versions, and what was dropped (the plan is
    returned unchanged, the same object, when nothing is withdrawn)."""

    def hit(model: str, version: str) -> Withdrawal | None:
        return withdrawn.get(model, {}).get(version)

    dropped: dict[tuple[str, str], Dropped] = {}

    def drop(model: str, version: str) -> bool:
        w = hit(model, version)
        if w is not None and (model, version) not in dropped:
            line = f"{w.message(model)}; left out of this bundle (the plan was made before the withdrawal)"
            dropped[(model, version)] = Dropped(model, version, line)
        return w is not None

    def target_hit(target: str) -> bool:
        name = names.TargetName.parse(target)
        return name.version is not None and drop(f"{name.namespace}/{name.model}", name.version)

    kept_targets = [t for t in plan["targets"] if not target_hit(t["target"])]
    kept_models = [m for m in plan.get("models") or [] if not drop(str(m.get("model")), str(m.get("version")))]
    groups = []
    for g in plan["groups"]:
        install = [i for i in g.get("install") or [] if not target_hit(i["target"])]
        if len(install) == len(g.get("install") or []):
            groups.append(g)
            continue
        per_device = sum(int(i["size"]) for i in install)
        count = g.get("count") if isinstance(g.get("count"), int) else 0
        groups.append({**g, "install": install, "bytes_per_device": per_device, "bytes_total": per_device * count})
    if not dropped:
        return plan, []
    required = {str(m.get("model")) for m in plan.get("models") or [] if m.get("required")}
    missing = [f"required model {d.model} is unavailable: {d.message}" for d in dropped.values() if d.model in required]
    groups = [{**g, "problems": [*(g.get("problems") or []), *missing]} if missing else g for g in groups]
    doc = {
        **plan,
        "models": kept_models,
        "groups": groups,
        "targets": kept_targets,
        "withdrawn": [
            *(plan.get("withdrawn") or []),
            *(
                {"model": d.model, **withdrawn[d.model][d.version].to_json(), "version": d.version}
                for d in dropped.values()
            ),
        ],
        "warnings": [*(plan.get("warnings") or []), *(d.message for d in dropped.values())],
    }
    if isinstance(plan.get("totals"), dict):
        doc["totals"] = {
            **plan["totals"],
            "unique_bytes": sum(int(t["size"]) for t in kept_targets),
            "device_bytes": sum(int(g.get("bytes_total") or 0) for g in groups),
        }
    return doc, list(dropped.values())


def load_plan(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes and the document of a plan.json, checked for what a bundle needs."""
    data, doc = _read_json(Path(path), MAX_PLAN_BYTES, "plan", "make it with `edzoo plan CATALOG FLEET`")
    return data, _parse_plan(data, doc, str(path))


# -- bundle.json -----------------------------------------------------------------------------------
def _bundle_id(targets: list[dict[str, Any]], metadata: dict[str, dict[str, Any]], base: str | None) -> str:
    """What a bundle is: its files and the metadata that signs them (and the base it extends)."""
    doc = {
        "base": base,
        "metadata": {k: v["sha256"] for k, v in sorted(metadata.items())},
        "targets": sorted([t["target"], t["sha256"]] for t in targets),
    }
    return hashlib.sha256(_canonical(doc)).hexdigest()


def _read_complete_bundle(path: Path, fix: str) -> tuple[bytes, dict[str, Any]]:
    """``bundle.json`` of a COMPLETE bundle folder, after checking COMPLETE's hash of it."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a bundle folder: {fix}")
    try:
        complete = json.loads((path / "COMPLETE").read_text())
        expected = complete["bundle_sha256"]
    except FileNotFoundError as e:
        raise UsageError(f"incomplete bundle {path} (no COMPLETE): re-run `edzoo bundle` to finish it") from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"incomplete bundle {path} (COMPLETE is damaged): re-run `edzoo bundle` to finish it") from e
    data, doc = _read_json(path / "bundle.json", MAX_BUNDLE_JSON_BYTES, "bundle.json", "re-run `edzoo bundle`")
    if hashlib.sha256(data).hexdigest() != expected:
        raise UsageError(
            f"incomplete bundle {path} (bundle.json differs from what COMPLETE records): "
            "re-run `edzoo bundle` to finish it"
        )
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-bundle" or doc.get("schema_version") != 1:
        raise ManifestError(f"{path}/bundle.json is not an edzoo bundle (schema_version 1): {fix}")
    targets = doc.get("targets")
    metadata = doc.get("metadata")
    if not isinstance(targets, list) or not isinstance(metadata, dict) or not isinstance(doc.get("id"), str):
        raise ManifestError(f"{path}/bundle.json lacks id, targets or metadata: {fix}")
    for i, item in enumerate(targets):
        _check_file_entry(item, f"{path}/bundle.json: $.targets[{i}]")
        if not isinstance(item.get("in_bundle"), bool):
            raise ManifestError(f"{path}/bundle.json: $.targets[{i}].in_bundle: expected true or false")
    for rel, info in metadata.items():
        if not _safe_rel(rel) or not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
            raise ManifestError(f"{path}/bundle.json: $.metadata[{rel!r}]: expected a relative path with a sha256")
    indexes = doc.setdefault("indexes", [])  # absent in bundles made before withdrawals existed
    if not isinstance(indexes, list):
        raise ManifestError(f"{path}/bundle.json: $.indexes: expected a list of signed files: {fix}")
    for i, item in enumerate(indexes):
        _check_index_entry(item, f"{path}/bundle.json: $.indexes[{i}]")
    return data, doc


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and all(p and p not in {".", ".."} and not p.startswith(".") for p in parts)


# -- writing ---------------------------------------------------------------------------------------
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
    plan_bytes, plan_doc = load_plan(Path(plan))
    given_sha = hashlib.sha256(plan_bytes).hexdigest()
    url = (registry or plan_doc["registry"]["url"]).rstrip("/")
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
    try:
        lists, withdrawn = _signed_lists(puller, _plan_models(plan_doc))
    except UsageError as e:
        raise ManifestError(
            f"{url} signs a versions index or withdrawals list this edzoo cannot read: {e.message}"
        ) from e
    plan_doc, dropped = _drop_withdrawn(plan_doc, withdrawn)
    if dropped:
        plan_bytes = _plan_bytes(plan_doc)
    plan_sha = hashlib.sha256(plan_bytes).hexdigest()
    existing = _inspect_out(out, {plan_sha, given_sha}, force)

    # 1. The signed length and sha256 of every file (TUF); download into the cache what is not there.
    # A file already cached is not re-hashed here: its copy in the bundle is hashed below, and a
    # mismatch is repaired from a verified source then.
    targets: list[dict[str, Any]] = []
    sources: dict[str, Path] = {}
    target_of: dict[str, str] = {}
    downloaded = downloaded_bytes = 0
    wanted = [(t["target"], t["sha256"], t["size"]) for t in plan_doc["targets"]]
    to_fetch = sum(size for _, sha, size in wanted if sha not in base_shas and not puller.cache.has_blob(sha, size))
    with _bar(progress, "downloading", to_fetch) as update:
        for target, sha, size in wanted:
            in_bundle = sha not in base_shas
            try:
                if in_bundle and not puller.cache.has_blob(sha, size):
                    blob, info, fetched = puller.fetch(target)
                    if fetched:
                        downloaded, downloaded_bytes = downloaded + 1, downloaded_bytes + info.length
                    if update is not None:
                        update(size)
                else:
                    info = puller.target_info(target)
                    blob = puller.cache.blob_path(sha)
                if in_bundle:
                    sources.setdefault(sha, blob)
                    target_of.setdefault(sha, target)
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
            targets.append({"target": target, "sha256": sha, "size": size, "in_bundle": in_bundle})
    targets.sort(key=lambda t: t["target"])

    # 2. The metadata those downloads used, checked offline exactly as a device will check it.
    meta_files = _metadata_files(puller.reg.metadata_dir)
    trusted = puller.trusted_root
    try:
        verifier = OfflineVerifier(_dict_reader(meta_files), trusted, grace=timedelta(0), at=now)
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
    then = "free some space (or use a larger stick), then run the same command again to resume"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (out / "COMPLETE").unlink()  # COMPLETE only ever stands for a finished, verified folder
        _fsync_dir(out)
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

        unique = {t["sha256"]: t["size"] for t in targets if t["in_bundle"]}
        kept: set[str] = set()  # blobs an earlier run left, of the right size (their sha256 is checked below)
        written = written_bytes = 0
        with _bar(progress, "writing bundle", sum(unique.values())) as update:
            for sha, size in unique.items():
                dest = out / _blob_rel(sha)
                if dest.is_file() and dest.stat().st_size == size:
                    kept.add(sha)
                    if update is not None:
                        update(size)
                    continue
                _place(sources[sha], dest, hardlink=hardlink, update=update)
                written, written_bytes = written + 1, written_bytes + size
        _prune(out / "blobs", {_blob_rel(sha) for sha in unique}, out)

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
        bundle_bytes = _pretty(doc)
        atomic_write(out / "bundle.json", bundle_bytes)

        # Read back every file the bundle lists: what is on the stick, not what was meant to be.
        listed: dict[str, str] = {"plan.json": plan_sha}
        listed |= {f"metadata/{k}": str(v["sha256"]) for k, v in metadata.items()}
        listed |= {_index_rel(i.target): i.sha256 for i in lists}
        listed |= {_blob_rel(sha): sha for sha in unique}
        with _bar(progress, "re-hashing", sum(unique.values())) as update:
            for rel, sha in listed.items():
                got, size = sha256_file(out / rel)
                if got != sha and sha in unique:
                    # A damaged file left by an earlier run, or a cached blob damaged since it was
                    # verified: copy it again from a source the Puller verifies (or downloads again).
                    blob, _, _ = puller.fetch(target_of[sha])
                    _place(blob, out / rel, hardlink=hardlink, update=None)
                    got, size = sha256_file(out / rel)
                    if sha in kept:
                        kept.discard(sha)
                        written, written_bytes = written + 1, written_bytes + size
                if got != sha:
                    raise StorageError(
                        f"{out / rel} reads back with another sha256 than was written: the disk or stick may be "
                        "failing; run the same command again, or use another stick"
                    )
                if update is not None and rel.startswith("blobs/"):
                    update(size)
        present, present_bytes = len(kept), sum(unique[sha] for sha in kept)
        atomic_write(out / "COMPLETE", _pretty({"bundle_sha256": hashlib.sha256(bundle_bytes).hexdigest()}))
        _fsync_dir(out)
    except StorageError:
        raise
    except OSError as e:
        raise _storage_error(e, out, "writing the bundle", then) from e

    size_total = sum(t["size"] for t in targets)
    return BundleResult(
        path=out,
        id=bundle_id,
        registry=url,
        base=base_id,
        files=len(targets),
        bytes=size_total,
        written=written,
        written_bytes=written_bytes,
        present=present,
        present_bytes=present_bytes,
        in_base=sum(1 for t in targets if not t["in_bundle"]),
        in_base_bytes=sum(t["size"] for t in targets if not t["in_bundle"]),
        downloaded=downloaded,
        downloaded_bytes=downloaded_bytes,
        metadata_files=len(metadata),
        timestamp_version=verifier.timestamp.signed.version,
        snapshot_version=verifier.snapshot.signed.version,
        expires=_top_expiry(verifier),
        max_staleness=max_staleness,
        replaced=existing if existing not in (None, bundle_id) else None,
        dropped=tuple(dropped),
        indexes=len(lists),
    )


def _days(grace: timedelta) -> int | float:
    days = grace.total_seconds() / 86400
    return int(days) if days == int(days) else round(days, 4)


# -- verifying -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Freshness:
    """How fresh a bundle's metadata is at install time."""

    expires: datetime  # the earliest expiry of the top-level metadata
    at: datetime
    grace: timedelta
    expired_roles: tuple[str, ...] = ()

    @property
    def expired(self) -> bool:
        return self.expires <= self.at

    def describe(self) -> str:
        if not self.expired:
            return f"metadata valid for {_span(self.expires - self.at, more=True)}"
        return (
            f"metadata expired {_span(self.at - self.expires)} ago; accepted within the "
            f"{format_staleness(self.grace)} grace"
        )


@dataclass
class OpenedBundle:
    """A bundle whose listing and metadata were verified (its files not yet)."""

    path: Path
    doc: dict[str, Any]
    plan: dict[str, Any]
    verifier: OfflineVerifier
    freshness: Freshness
    timestamp_version: int
    snapshot_version: int
    # model id -> version -> withdrawal, from the signed indexes the bundle carries
    withdrawn: dict[str, dict[str, Withdrawal]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    def withdrawal(self, model: str, version: str) -> Withdrawal | None:
        """The withdrawal of ``model@version`` the bundle's signed metadata proves, if any."""
        return self.withdrawn.get(model, {}).get(version)

    def target(self, path: str) -> dict[str, Any]:
        for t in self.doc["targets"]:
            if t["target"] == path:
                return dict(t)
        raise SignatureError(
            f"the plan in {self.path} installs {path}, which bundle.json does not list: the bundle was altered; "
            "make a new one with `edzoo bundle`"
        )

    def verify_file(self, path: str, file: Path, source: Path | None = None) -> None:
        """Check ``file`` against the signed length and sha256 of target ``path``; ``source`` is
        where its bytes came from (named in the error)."""
        try:
            with open(file, "rb") as f:
                self.verifier.verify_file(path, f)
        except SignatureError as e:
            raise SignatureError(
                f"{path}: {source or file} does not match its signed length and sha256 (a truncated, swapped or "
                f"altered file): copy the bundle again from the machine that wrote it, or make a new one with "
                f"`edzoo bundle` ({e.message})"
            ) from e
        except EdzooError as e:
            raise _metadata_error(e, self.path, None, None) from e


ALTERED = "the bundle was altered or damaged; copy it again from the machine that wrote it, or make a new one"


def _check_listing(path: Path, doc: dict[str, Any]) -> dict[str, bytes]:
    """Every file under blobs/ and metadata/ is listed in bundle.json, and every listed one is there
    (metadata with the listed sha256). Returns the metadata files by relative path."""
    expected_blobs = {_blob_rel(t["sha256"]) for t in doc["targets"] if t["in_bundle"]}
    expected_meta = {f"metadata/{rel}" for rel in doc["metadata"]}
    expected_indexes = {_index_rel(i["target"]) for i in doc["indexes"]}
    for sub in ("blobs", "metadata", "indexes"):
        folder = path / sub
        for p in sorted(folder.rglob("*")) if folder.exists() else []:
            if p.is_dir() and not p.is_symlink():
                continue
            rel = p.relative_to(path).as_posix()
            if rel not in expected_blobs and rel not in expected_meta and rel not in expected_indexes:
                raise SignatureError(f"{path}: {rel} is not listed in bundle.json (an extra file): {ALTERED}")
    for rel in sorted(expected_blobs | expected_indexes):
        if not (path / rel).is_file():
            raise SignatureError(f"{path}: {rel} is missing from the bundle: {ALTERED}")
    metadata: dict[str, bytes] = {}
    for rel, info in doc["metadata"].items():
        try:
            data = (path / "metadata" / rel).read_bytes()
        except FileNotFoundError as e:
            raise SignatureError(f"{path}: metadata/{rel} is missing from the bundle: {ALTERED}") from e
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise SignatureError(f"{path}: metadata/{rel} differs from what bundle.json lists: {ALTERED}")
        metadata[rel] = data
    return metadata


def _root_differs(trusted: bytes, read: Callable[[str], bytes | None]) -> bool:
    """Does the bundle carry a root of the trusted root's version that is another root (another
    registry)?"""
    with contextlib.suppress(Exception):
        mine = Metadata.from_bytes(trusted)
        data = read(f"root_history/{mine.signed.version}.root.json")
        if data is not None:
            return bool(Metadata.from_bytes(data).signed.to_dict() != mine.signed.to_dict())
    return False


def _metadata_error(
    e: EdzooError,
    path: Path,
    bundle_registry: str | None,
    device_registry: str | None,
    other_root: bool = False,
    *,
    grace: timedelta | None = None,
    at: datetime | None = None,
) -> EdzooError:
    """Say what to do about a metadata verification failure."""
    text = e.message
    if isinstance(e, OfflineError):
        return SignatureError(f"{path}: the bundle lacks metadata ({text}): {ALTERED}")
    if isinstance(e, ExpiredMetadataError) and grace is not None and at is not None:
        role, when = e.role, e.expires
        return SignatureError(
            f"the bundle's metadata is too old: {role} metadata expired {when:%Y-%m-%d %H:%M} UTC, {_span(at - when)} "
            f"ago, beyond the {format_staleness(grace)} grace. Make a fresh bundle with `edzoo bundle` (or, if the "
            "school accepts it, allow more with --max-staleness, at most 365d)"
        )
    if isinstance(e, UntrustedMetadataError) or other_root:
        where = ""
        if bundle_registry and device_registry and bundle_registry != device_registry:
            where = f" (the bundle comes from {bundle_registry}; this device's registry is {device_registry})"
        elif other_root:
            where = " (its root is not the root this device trusts)"
        return SignatureError(
            f"this bundle was made for another registry, or signed by keys this device does not trust{where}: "
            f"{text}. Make the bundle from the registry this device was set up with, or set the device up again "
            "with that registry's root (--root)"
        )
    if isinstance(e, SignatureError | NotFoundError):
        return SignatureError(f"the bundle's metadata failed verification: {text}: {ALTERED}")
    return e


def open_bundle(
    path: Path,
    *,
    trusted_root: bytes,
    max_staleness: timedelta | None = None,
    at: datetime | None = None,
    device_registry: str | None = None,
) -> OpenedBundle:
    """Check that ``path`` is a complete, unaltered bundle whose metadata verifies against
    ``trusted_root``; its target files are checked later, one by one (:meth:`OpenedBundle.verify_file`).

    ``max_staleness`` defaults to the bundle's policy. Raises UsageError (incomplete), ManifestError,
    SignatureError (altered, untrusted, too stale), each saying what to do.
    """
    path = Path(path)
    _, doc = _read_complete_bundle(path, "make it with `edzoo bundle PLAN --out DIR`")
    if max_staleness is None:
        days = (doc.get("policy") or {}).get("max_staleness_days", DEFAULT_MAX_STALENESS.days)
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise ManifestError(f"{path}/bundle.json: $.policy.max_staleness_days: expected a number of days")
        max_staleness = timedelta(days=days)
        _check_staleness(max_staleness, f"the bundle's policy ({days} days)")
    _check_staleness(max_staleness, "the max staleness")
    plan_bytes, plan_doc = _read_json(path / "plan.json", MAX_PLAN_BYTES, "plan", ALTERED)
    if hashlib.sha256(plan_bytes).hexdigest() != doc.get("plan_sha256"):
        raise SignatureError(f"{path}: plan.json differs from what bundle.json lists: {ALTERED}")
    _parse_plan(plan_bytes, plan_doc, f"{path}/plan.json", in_bundle=True)
    read = _dict_reader(_check_listing(path, doc))
    at = at or _now()
    registry = doc.get("registry") if isinstance(doc.get("registry"), str) else None
    try:
        verifier = OfflineVerifier(read, trusted_root, grace=max_staleness, at=at)
        for t in doc["targets"]:
            info = verifier.target_info(t["target"])
            if info.hashes.get("sha256") != t["sha256"] or info.length != t["size"]:
                raise SignatureError(
                    f"bundle.json lists {t['target']} with sha256 {t['sha256'][:12]}…, the signed metadata with "
                    f"{info.hashes.get('sha256', '?')[:12]}…"
                )
        lists: dict[str, bytes] = {}
        for i in doc["indexes"]:
            with open(path / _index_rel(i["target"]), "rb") as f:
                verifier.verify_file(i["target"], f)
                f.seek(0)
                lists[i["target"]] = f.read()
    except EdzooError as e:
        other_root = _root_differs(trusted_root, read)
        raise _metadata_error(e, path, registry, device_registry, other_root, grace=max_staleness, at=at) from e
    withdrawn = _read_withdrawals(path, lists)
    freshness = Freshness(_top_expiry(verifier), at, max_staleness, tuple(verifier.expired))
    return OpenedBundle(
        path=path,
        doc=doc,
        plan=plan_doc,
        verifier=verifier,
        freshness=freshness,
        timestamp_version=verifier.timestamp.signed.version,
        snapshot_version=verifier.snapshot.signed.version,
        withdrawn=withdrawn,
    )


def _read_withdrawals(path: Path, lists: dict[str, bytes]) -> dict[str, dict[str, Withdrawal]]:
    """Every withdrawn version of the bundle's models, from its verified indexes and list."""
    try:
        data = lists.get(recall.WITHDRAWALS_PATH)
        registry_list = recall.parse_withdrawals(data) if data is not None else {}
        out: dict[str, dict[str, Withdrawal]] = {}
        for target, data in lists.items():
            if target == recall.WITHDRAWALS_PATH:
                continue
            name = names.TargetName.parse(target)
            doc = modelindex.parse_index(data, name.namespace, name.model)
            found = recall.withdrawn_versions(doc, registry_list, f"{name.namespace}/{name.model}")
            if found:
                out[f"{name.namespace}/{name.model}"] = found
        for model in registry_list.keys() - out.keys():  # models the bundle carries no index of
            out[model] = recall.withdrawn_versions({}, registry_list, model)
    except UsageError as e:
        raise UsageError(
            f"{path}: this edzoo cannot read the bundle's signed list of versions ({e.message}): update edzoo on "
            "this device, then install the bundle again"
        ) from e
    return out


def verify_bundle(
    path: Path,
    *,
    trusted_root: bytes,
    max_staleness: timedelta | None = None,
    at: datetime | None = None,
    progress: ProgressFactory | None = None,
) -> OpenedBundle:
    """:func:`open_bundle`, then every file the bundle holds against its signed length and sha256."""
    opened = open_bundle(path, trusted_root=trusted_root, max_staleness=max_staleness, at=at)
    files = {t["sha256"]: t for t in opened.doc["targets"] if t["in_bundle"]}
    with _bar(progress, "verifying", sum(t["size"] for t in files.values())) as update:
        for sha, t in files.items():
            opened.verify_file(t["target"], opened.path / _blob_rel(sha))
            if update is not None:
                update(t["size"])
    return opened


# -- installing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InstalledFile:
    model: str
    version: str
    variant: str | None  # None for a model's manifest
    target: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "variant": self.variant,
            "target": self.target,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass(frozen=True)
class InstallResult:
    """What :func:`install_bundle` did."""

    app_dir: Path
    bundle: str
    group: str
    device: str
    release: Path
    files: tuple[InstalledFile, ...]
    copied: int  # files copied into the device's store
    copied_bytes: int
    reused: int  # files the device already had (or the base bundle supplied)
    freshness: Freshness
    timestamp_version: int
    snapshot_version: int
    previous: str | None  # the bundle installed before
    unchanged: bool = False  # this bundle was already installed with these files
    problems: tuple[str, ...] = field(default=())  # what the plan says did not fit
    removed: tuple[Dropped, ...] = field(default=())  # withdrawn versions this install took off the device

    @property
    def models(self) -> list[InstalledFile]:
        """The installed variants (manifests left out)."""
        return [f for f in self.files if f.variant is not None]


def _load_state(app_dir: Path) -> dict[str, Any] | None:
    path = app_dir / "state.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StorageError(f"{path} is damaged ({e}): restore it, or set the device up again in a new folder") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("timestamp_version"), int):
        raise StorageError(f"{path} is not an edzoo device state: restore it, or set the device up in a new folder")
    return doc


def _device_trust(app_dir: Path) -> TrustStore:
    """The root a device set up from bundles trusts: pinned in ``APP_DIR/trust/root.json`` on the
    first install; the newer roots its installs verified in ``APP_DIR/trust/root_history``."""
    pinned = app_dir / "trust" / "root.json"
    return TrustStore(
        pinned,
        app_dir / "trust" / "root_history",
        first_use=f"this device trusts no registry yet ({pinned} does not exist): pass --root root.json "
        "(from `edzoo trust export`) on the first install",
        other_root=f"the root given differs from the root this device already trusts ({pinned}): a device keeps "
        "the root it was set up with; install bundles of that registry, or set the device up in a new folder",
    )


def _trusted_root(app_dir: Path, root: bytes | Path | None) -> tuple[bytes, bool]:
    """(the root to verify from, whether it still has to be pinned)."""
    store = _device_trust(app_dir)
    return store.trusted(root), not store.is_pinned()


def _choose_group(plan: dict[str, Any], profile: dict[str, Any], spec: str, group: str | None) -> dict[str, Any]:
    groups = plan.get("groups") or []
    names_ = {spec, str(profile.get("id"))}
    if group is not None:
        for g in groups:
            if g["id"] == group:
                if g.get("profile") not in names_:
                    raise UsageError(
                        f"group {group} is planned for device profile {g.get('profile')}, not {profile.get('id')}: "
                        "check --device and --group"
                    )
                return dict(g)
        known = ", ".join(g["id"] for g in groups) or "none"
        raise NotFoundError(f"the bundle's plan has no group {group!r}; its groups: {known}")
    matches = [g for g in groups if g.get("profile") in names_]
    if not matches:
        planned = ", ".join(sorted({str(g.get("profile")) for g in groups})) or "none"
        raise NotFoundError(
            f"the bundle's plan has no group for device profile {profile.get('id')} (it plans for: {planned}): "
            "pick the right --device, or add this device to the fleet and make a new plan and bundle"
        )
    if len(matches) > 1:
        raise UsageError(
            f"several groups of the plan use device profile {profile.get('id')} "
            f"({', '.join(g['id'] for g in matches)}): pick one with --group"
        )
    return dict(matches[0])


def _group_files(opened: OpenedBundle, group: dict[str, Any]) -> list[InstalledFile]:
    """The group's variant files and the manifests of their models."""
    manifests = {m.get("model"): m for m in opened.plan.get("models") or []}
    files: dict[str, InstalledFile] = {}
    for item in group.get("install") or []:
        model, version = str(item.get("model")), str(item.get("version"))
        files[item["target"]] = InstalledFile(
            model, version, str(item.get("variant")), item["target"], item["sha256"], item["size"]
        )
        m = manifests.get(model)
        if m is not None and m["manifest_target"] not in files:
            t = opened.target(m["manifest_target"])
            files[t["target"]] = InstalledFile(model, version, None, t["target"], t["sha256"], t["size"])
    for f in files.values():
        t = opened.target(f.target)
        if (t["sha256"], t["size"]) != (f.sha256, f.size):
            raise SignatureError(f"the plan and bundle.json disagree about {f.target}: {ALTERED}")
    return sorted(files.values(), key=lambda f: f.target)


@contextlib.contextmanager
def _locked(app_dir: Path) -> Iterator[None]:
    app_dir.mkdir(parents=True, exist_ok=True)
    with open(app_dir / ".lock", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise UsageError(f"another install into {app_dir} is running: wait for it to finish") from e
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _current_release(app_dir: Path) -> Path | None:
    link = app_dir / "current"
    if not link.is_symlink():
        return None
    return (app_dir / os.readlink(link)).resolve()


def _switch(app_dir: Path, release: Path) -> None:
    """Point ``current`` at ``release`` with one atomic rename."""
    tmp = app_dir / f".current.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(release, app_dir), tmp)
    os.replace(tmp, app_dir / "current")
    _fsync_dir(app_dir)


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError as e:
        if e.errno not in {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP}:
            raise
        shutil.copyfile(src, dest)


def _collect_garbage(app_dir: Path, keep: set[str], keep_blobs: set[str]) -> None:
    """Remove releases other than ``keep`` and blobs no kept release uses; best effort."""
    releases = app_dir / "releases"
    for p in releases.iterdir() if releases.exists() else []:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    store = app_dir / "blobs" / "sha256"
    for p in store.glob("*/*") if store.exists() else []:
        if p.name not in keep_blobs:
            with contextlib.suppress(OSError):
                p.unlink()


def install_bundle(
    bundle: Path,
    app_dir: Path,
    *,
    device: str | Path | dict[str, Any],
    group: str | None = None,
    root: bytes | Path | None = None,
    max_staleness: timedelta | None = None,
    base_dir: Path | None = None,
    now: datetime | None = None,
    progress: ProgressFactory | None = None,
) -> InstallResult:
    """Verify ``bundle`` offline and install the files its plan gives ``device`` into ``app_dir``.

    ``device`` is a reference profile id, a profile file or a parsed profile; the plan group is the
    one planned for that profile (or ``group``). ``root`` is needed on the first install and then
    pinned in ``app_dir/trust/root.json``. ``max_staleness`` (default: the bundle's policy, at
    most 365 days) bounds how long expired metadata is still accepted. ``base_dir`` is the bundle a
    delta bundle extends, if the device does not hold its files yet. ``now`` moves the clock (tests).

    Nothing changes in ``app_dir`` unless everything verified and was written: a failure leaves
    the previous install working. Raises UsageError, SignatureError, NotFoundError, StorageError.
    """
    bundle, app_dir = Path(bundle), Path(app_dir)
    spec = str(device) if not isinstance(device, dict) else str(device.get("id"))
    profile = profiles.load_profile(device)
    # Everything is checked before the device folder is touched (a first install that fails leaves
    # no folder behind), and the root and state again under the lock, in case another install ran.
    trusted, _ = _trusted_root(app_dir, root)
    state = _load_state(app_dir)
    opened = open_bundle(
        bundle,
        trusted_root=trusted,
        max_staleness=max_staleness,
        at=now,
        device_registry=state.get("registry") if state else None,
    )
    _check_rollback(opened, state)
    chosen = _choose_group(opened.plan, profile, spec, group)
    files, refused = _without_withdrawn(opened, _group_files(opened, chosen))
    chosen["problems"] = [*(chosen.get("problems") or []), *(d.message for d in refused)]
    fresh = not app_dir.exists()
    try:
        with _locked(app_dir):
            trusted, to_pin = _trusted_root(app_dir, root)
            state = _load_state(app_dir)
            _check_rollback(opened, state)
            return _install(
                opened, app_dir, chosen, str(profile.get("id")), files, state, trusted, to_pin, base_dir, progress
            )
    except BaseException:
        if fresh:
            shutil.rmtree(app_dir, ignore_errors=True)
        raise


def _without_withdrawn(opened: OpenedBundle, files: list[InstalledFile]) -> tuple[list[InstalledFile], list[Dropped]]:
    """The files of versions the bundle's signed metadata does not withdraw, and those it does
    (a plan inside a bundle names none, unless the bundle was made by hand)."""
    kept, refused = [], {}
    for f in files:
        w = opened.withdrawal(f.model, f.version)
        if w is None:
            kept.append(f)
        else:
            refused[(f.model, f.version)] = Dropped(f.model, f.version, f"{w.message(f.model)}; not installed")
    return kept, list(refused.values())


def _withdrawn_on_device(opened: OpenedBundle, state: dict[str, Any] | None) -> list[Dropped]:
    """The model versions installed on the device that the bundle's signed metadata withdraws."""
    out: dict[tuple[str, str], Dropped] = {}
    for item in (state or {}).get("installed", []):
        if not isinstance(item, dict) or item.get("variant") is None:
            continue
        model, version = str(item.get("model")), str(item.get("version"))
        w = opened.withdrawal(model, version)
        if w is not None and (model, version) not in out:
            out[(model, version)] = Dropped(model, version, f"{w.message(model)}; removed from this device")
    return list(out.values())


def _check_rollback(opened: OpenedBundle, state: dict[str, Any] | None) -> None:
    """Never install metadata older than what the device has seen."""
    if state is None:
        return
    for role, have, got in (
        ("timestamp", state.get("timestamp_version", 0), opened.timestamp_version),
        ("snapshot", state.get("snapshot_version", 0), opened.snapshot_version),
    ):
        if isinstance(have, int) and got < have:
            raise SignatureError(
                f"this bundle is older than what this device already has ({role} v{got} < v{have}): a "
                "rollback is refused; install a newer bundle (make one with `edzoo bundle`)"
            )


def _source_for(
    opened: OpenedBundle, app_dir: Path, base_dir: Path | None, f: InstalledFile
) -> tuple[Path | None, bool]:
    """(where the bytes are, whether the device's store already has them)."""
    own = app_dir / _blob_rel(f.sha256)
    if own.is_file():
        return own, True
    entry = opened.target(f.target)
    if entry["in_bundle"]:
        return opened.path / _blob_rel(f.sha256), False
    if base_dir is not None and (Path(base_dir) / _blob_rel(f.sha256)).is_file():
        return Path(base_dir) / _blob_rel(f.sha256), False
    return None, False


def _install(
    opened: OpenedBundle,
    app_dir: Path,
    chosen: dict[str, Any],
    device_id: str,
    files: list[InstalledFile],
    state: dict[str, Any] | None,
    trusted: bytes,
    to_pin: bool,
    base_dir: Path | None,
    progress: ProgressFactory | None,
) -> InstallResult:
    sources: dict[str, tuple[Path, bool]] = {}
    for f in files:
        if f.sha256 in sources:
            continue
        src, own = _source_for(opened, app_dir, base_dir, f)
        if src is None:
            base = (opened.doc.get("base") or {}).get("id", "?")
            raise NotFoundError(
                f"this bundle is a delta on top of bundle {str(base)[:12]}, and this device lacks {f.target} from "
                "it: install that bundle first (or pass --base-dir with its folder)"
            )
        sources[f.sha256] = (src, own)

    installed = [f.to_json() for f in files]
    previous_release = _current_release(app_dir)
    previous = state.get("bundle") if state else None
    removed = _withdrawn_on_device(opened, state)
    release = app_dir / "releases" / opened.id
    common = {
        "app_dir": app_dir,
        "bundle": opened.id,
        "group": chosen["id"],
        "device": device_id,
        "files": tuple(files),
        "freshness": opened.freshness,
        "timestamp_version": opened.timestamp_version,
        "snapshot_version": opened.snapshot_version,
        "previous": previous,
        "problems": tuple(str(p) for p in chosen.get("problems") or []),
        "removed": tuple(removed),
    }
    # The release is named by the bundle; the same bundle installed for another group gets a name of its
    # own, so the folder `current` points to never changes under a running app.
    alternate = app_dir / "releases" / f"{opened.id}-{hashlib.sha256(chosen['id'].encode()).hexdigest()[:8]}"
    for candidate in (release, alternate):
        if previous_release is None or previous_release != candidate.resolve():
            continue
        present = {p.relative_to(candidate).as_posix() for p in candidate.rglob("*") if not p.is_dir()}
        if present == {f.target for f in files}:
            for f in files:  # the same install again: re-check it, change nothing but the state
                opened.verify_file(f.target, candidate / f.target)
            _finish(app_dir, opened, chosen, candidate, installed, state, trusted if to_pin else None, previous_release)
            return InstallResult(
                release=candidate, copied=0, copied_bytes=0, reused=len(files), unchanged=True, **common
            )
    if previous_release is not None and previous_release == release.resolve():
        release = alternate

    then = "the previous install is unchanged; free some space on the device and run the same command again"
    new_blobs: list[Path] = []
    partial = app_dir / "releases" / f".{release.name}.partial-{os.getpid()}"
    switched = False
    copied = copied_bytes = reused = 0
    try:
        to_copy = sum(f.size for f in files if not sources[f.sha256][1])
        with _bar(progress, "installing", to_copy) as update:
            by_sha = {f.sha256: f for f in files}
            for sha, (src, own) in sources.items():
                f = by_sha[sha]
                if own:
                    opened.verify_file(f.target, src)
                    reused += 1
                    continue
                dest = app_dir / _blob_rel(sha)
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{sha}.", suffix=TEMP_SUFFIX)
                os.close(fd)
                tmp = Path(tmp_name)
                try:
                    _copy_file(src, tmp, update)
                    opened.verify_file(f.target, tmp, src)  # the bytes on the device, not the ones on the stick
                    os.replace(tmp, dest)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                new_blobs.append(dest)
                copied, copied_bytes = copied + 1, copied_bytes + f.size
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)  # a release may hold no file (every model withdrawn)
        for f in files:
            _link_or_copy(app_dir / _blob_rel(f.sha256), partial / f.target)
        if release.exists():  # an earlier, unused install of this bundle
            shutil.rmtree(release)
        os.replace(partial, release)
        _fsync_dir(release.parent)
        store = _device_trust(app_dir)
        if to_pin:
            store.pin(trusted)
        store.record(opened.verifier.chain)  # later installs verify from the newest root
        _switch(app_dir, release)
        switched = True
    except BaseException as e:
        if not switched:
            shutil.rmtree(partial, ignore_errors=True)
            if release.exists() and release.resolve() != previous_release:
                shutil.rmtree(release, ignore_errors=True)
            for blob in new_blobs:
                with contextlib.suppress(OSError):
                    blob.unlink()
        if isinstance(e, OSError) and not isinstance(e, EdzooError):
            if e.errno == errno.ENOSPC:
                raise _storage_error(e, app_dir, "installing", then) from e
            raise StorageError(
                f"installing failed: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}; was the USB stick "
                "removed? The previous install is unchanged; reconnect the bundle and run the same command again"
            ) from e
        raise

    _finish(app_dir, opened, chosen, release, installed, state, None, previous_release)
    return InstallResult(release=release, copied=copied, copied_bytes=copied_bytes, reused=reused, **common)


def _finish(
    app_dir: Path,
    opened: OpenedBundle,
    chosen: dict[str, Any],
    release: Path,
    installed: list[dict[str, Any]],
    state: dict[str, Any] | None,
    pin: bytes | None,
    previous_release: Path | None,
) -> None:
    """Record what the device now has (after the switch), and drop what no release needs; the
    previous release is kept (a running app may still read it), less any withdrawn version."""
    new_state = {
        "registry": opened.doc.get("registry"),
        "timestamp_version": opened.timestamp_version,
        "snapshot_version": opened.snapshot_version,
        "bundle": opened.id,
        "group": chosen["id"],
        "release": release.name,
        "installed": installed,
    }
    try:
        store = _device_trust(app_dir)
        if pin is not None:
            store.pin(pin)
        store.record(opened.verifier.chain)
        atomic_write(app_dir / "state.json", _pretty(new_state))
    except OSError as e:
        raise _storage_error(
            e, app_dir, "recording the device state", "the new files are in place; run the same command again"
        ) from e
    keep = {release.name} | ({previous_release.name} if previous_release is not None else set())
    keep_blobs = {str(i["sha256"]) for i in installed}
    for i in (state or {}).get("installed", []):
        if not isinstance(i, dict):
            continue
        model, version = str(i.get("model")), str(i.get("version"))
        if opened.withdrawal(model, version) is None:
            keep_blobs.add(str(i.get("sha256")))
        elif previous_release is not None and previous_release != release:
            _remove_version(previous_release, model, version)
    _collect_garbage(app_dir, keep, keep_blobs)


def _remove_version(release: Path, model: str, version: str) -> None:
    """Delete ``<ns>/<model>/<version>/`` from a release, and the folders it leaves empty."""
    try:
        ref = names.ModelRef.parse(f"{model}@{names.check_version(version)}")
    except UsageError:
        return  # a damaged state names no folder to remove
    folder = release / ref.namespace / ref.model / version
    shutil.rmtree(folder, ignore_errors=True)
    for parent in (folder.parent, folder.parent.parent):
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty
