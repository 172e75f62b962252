""":func:`install_bundle`: a verified bundle installed atomically into an app's model folder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from registry.client.download import ProgressFactory
from registry.core import names, profiles
from registry.core._internal.files import atomic_write
from registry.core.errors import (
    EdzooError,
    NotFoundError,
    SignatureError,
    StorageError,
    UsageError,
)
from registry.core.model import Plan, PlanGroup
from registry.core.truststore import TrustStore

from . import files as _files
from .files import TEMP_SUFFIX, _bar, _blob_rel, _fsync_dir, _pretty, _storage_error
from .planfile import Dropped
from .verify import ALTERED, Freshness, OpenedBundle, open_bundle


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


def _choose_group(plan: Plan, profile: dict[str, Any], spec: str, group: str | None) -> PlanGroup:
    groups = plan.groups
    names_ = {spec, str(profile.get("id"))}
    if group is not None:
        g = plan.group(group)
        if g is None:
            known = ", ".join(g.id for g in groups) or "none"
            raise NotFoundError(f"the bundle's plan has no group {group!r}; its groups: {known}")
        if g.profile not in names_:
            raise UsageError(
                f"group {group} is planned for device profile {g.profile}, not {profile.get('id')}: "
                "check --device and --group"
            )
        return g
    matches = [g for g in groups if g.profile in names_]
    if not matches:
        planned = ", ".join(sorted({g.profile for g in groups})) or "none"
        raise NotFoundError(
            f"the bundle's plan has no group for device profile {profile.get('id')} (it plans for: {planned}): "
            "pick the right --device, or add this device to the fleet and make a new plan and bundle"
        )
    if len(matches) > 1:
        raise UsageError(
            f"several groups of the plan use device profile {profile.get('id')} "
            f"({', '.join(g.id for g in matches)}): pick one with --group"
        )
    return matches[0]


def _group_files(opened: OpenedBundle, group: PlanGroup) -> list[InstalledFile]:
    """The group's variant files and the manifests of their models."""
    files: dict[str, InstalledFile] = {}
    for item in group.install:
        model, version = item.model, item.version
        files[item.target] = InstalledFile(model, version, item.variant, item.target, item.sha256, item.size)
        m = opened.plan.model(model)
        if m is not None and m.manifest_target not in files:
            t = opened.target(m.manifest_target)
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
    chosen = replace(chosen, problems=[*chosen.problems, *(d.message for d in refused)])
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
    chosen: PlanGroup,
    device_id: str,
    files: list[InstalledFile],
    state: dict[str, Any] | None,
    trusted: bytes,
    to_pin: bool,
    base_dir: Path | None,
    progress: ProgressFactory | None,
) -> InstallResult:
    sources = _sources(opened, app_dir, base_dir, files)
    installed = [f.to_json() for f in files]
    previous_release = _current_release(app_dir)
    previous = state.get("bundle") if state else None
    removed = _withdrawn_on_device(opened, state)
    release = app_dir / "releases" / opened.id
    common: dict[str, Any] = {
        "app_dir": app_dir,
        "bundle": opened.id,
        "group": chosen.id,
        "device": device_id,
        "files": tuple(files),
        "freshness": opened.freshness,
        "timestamp_version": opened.timestamp_version,
        "snapshot_version": opened.snapshot_version,
        "previous": previous,
        "problems": tuple(chosen.problems),
        "removed": tuple(removed),
    }
    # The release is named by the bundle; the same bundle installed for another group gets a name of its
    # own, so the folder `current` points to never changes under a running app.
    alternate = app_dir / "releases" / f"{opened.id}-{hashlib.sha256(chosen.id.encode()).hexdigest()[:8]}"
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
    try:
        copied, copied_bytes, reused = _copy_blobs(opened, app_dir, files, sources, new_blobs, progress)
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


def _sources(
    opened: OpenedBundle, app_dir: Path, base_dir: Path | None, files: list[InstalledFile]
) -> dict[str, tuple[Path, bool]]:
    """Where each distinct file comes from: sha256 -> (path, already on the device)."""
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
    return sources


def _copy_blobs(
    opened: OpenedBundle,
    app_dir: Path,
    files: list[InstalledFile],
    sources: dict[str, tuple[Path, bool]],
    new_blobs: list[Path],
    progress: ProgressFactory | None,
) -> tuple[int, int, int]:
    """Copy each blob the device lacks under a temp name, verify the copy (the bytes on the
    device, not the ones on the stick), rename it into place; verify those it holds. Each new
    blob is appended to ``new_blobs`` as it lands, so a failure can take them back. Returns
    (copied, copied bytes, reused)."""
    copied = copied_bytes = reused = 0
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
                _files._copy_file(src, tmp, update)
                opened.verify_file(f.target, tmp, src)
                os.replace(tmp, dest)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            new_blobs.append(dest)
            copied, copied_bytes = copied + 1, copied_bytes + f.size
    return copied, copied_bytes, reused


def _finish(
    app_dir: Path,
    opened: OpenedBundle,
    chosen: PlanGroup,
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
        "group": chosen.id,
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
