"""Publishing a verified copy into www/: files first, timestamp.json last, then checked as a device would."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from urllib import parse

from tuf.api.metadata import Metadata, Snapshot, Timestamp

from registry.core import names
from registry.core._internal.files import atomic_write, sha256_file
from registry.core.errors import (
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
)
from registry.core.offline import OfflineVerifier
from registry.core.tufnames import (
    ROOT_FILE_RE,
    is_metadata_name,
)

from .results import Fetched, WithdrawnVersion


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


def remove_withdrawn(www: Path, withdrawn: Iterable[WithdrawnVersion]) -> int:
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


def publish(
    metadata_dir: Path, www: Path, targets: dict[str, Fetched], trusted_root: bytes
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
    out: Path, timestamp_bytes: bytes, snapshot: Metadata[Snapshot], trusted_root: bytes, targets: dict[str, Fetched]
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
