"""Verify targets against stored TUF metadata, with no network.

python-tuf's updater always fetches a fresh timestamp, and rejects expired metadata with no
grace. A device that is offline for days (a school tablet, a USB bundle) still has to verify
what it holds, so this module re-does the client workflow on stored files with the public
metadata API: the root chain from a pinned root, then timestamp, snapshot, targets and the
delegations that lead to a target, each checked for signatures, the versions and hashes its
parent lists, and expiry within a bounded grace window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib import parse

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp

from .errors import (
    ExpiredMetadataError,
    NotFoundError,
    OfflineError,
    RoleNotInSnapshotError,
    SignatureError,
    UntrustedMetadataError,
)
from .trust import now as _now

__all__ = ["OfflineVerifier", "cached_metadata_reader"]

MAX_DELEGATIONS = 32
MAX_ROOT_ROTATIONS = 256


def cached_metadata_reader(metadata_dir: Path) -> Callable[[str], bytes | None]:
    """Read metadata as python-tuf's updater stores it (``root_history/N.root.json``,
    ``timestamp.json``, ``<quoted role>.json``)."""

    def read(name: str) -> bytes | None:
        path = Path(metadata_dir) / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    return read


@dataclass
class OfflineVerifier:
    """Verifies stored metadata once, then answers target lookups and file checks.

    ``read(name)`` returns the bytes of a stored metadata file or None. ``trusted_root`` is the
    root the device was provisioned with; newer roots must chain from it. Metadata expired by
    less than ``grace`` is accepted (reported in ``expired``); beyond that it is rejected.
    """

    read: Callable[[str], bytes | None]
    trusted_root: bytes
    grace: timedelta = timedelta(days=14)
    at: datetime | None = None

    def __post_init__(self) -> None:
        self.at = self.at or _now()
        self.expired: list[str] = []
        self.chain: list[bytes] = []  # the stored roots newer than the trusted one, in version order
        self.root = self._load_root()
        self.timestamp = self._load_top(Timestamp.type)
        snapshot_meta = self.timestamp.signed.snapshot_meta
        data = self._require("snapshot.json")
        try:
            snapshot_meta.verify_length_and_hashes(data)
        except exceptions.LengthOrHashMismatchError as e:
            raise SignatureError(f"stored snapshot does not match the timestamp: {e}") from e
        self.snapshot: Metadata[Snapshot] = self._verified(self.root.signed, Snapshot.type, data)
        if self.snapshot.signed.version != snapshot_meta.version:
            raise SignatureError(
                f"stored snapshot is version {self.snapshot.signed.version}, the timestamp "
                f"lists {snapshot_meta.version}"
            )
        self.targets: Metadata[Targets] = self._delegated(self.root.signed, Targets.type)
        self._roles: dict[str, Metadata[Targets]] = {Targets.type: self.targets}

    # -- loading --------------------------------------------------------------------------------
    def _require(self, name: str) -> bytes:
        data = self.read(name)
        if data is None:
            raise OfflineError(f"{name} is not stored; go online once (or use a complete bundle)")
        return data

    def _load_root(self) -> Metadata[Root]:
        try:
            root: Metadata[Root] = Metadata.from_bytes(self.trusted_root)
            root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
        except (exceptions.RepositoryError, ValueError) as e:
            raise UntrustedMetadataError(f"the trusted root is not valid: {e}") from e
        for version in range(root.signed.version + 1, root.signed.version + MAX_ROOT_ROTATIONS):
            data = self.read(f"root_history/{version}.root.json")
            if data is None:
                break
            new: Metadata[Root] = self._parse(data, Root.type)
            try:
                root.signed.verify_delegate(Root.type, new.signed_bytes, new.signatures)
                new.signed.verify_delegate(Root.type, new.signed_bytes, new.signatures)
            except exceptions.UnsignedMetadataError as e:
                raise UntrustedMetadataError(f"stored root version {version} does not chain: {e}") from e
            if new.signed.version != version:
                raise SignatureError(f"root_history/{version}.root.json holds version {new.signed.version}")
            root = new
            self.chain.append(data)
        self._check_expiry(Root.type, root)
        return root

    def _load_top(self, role: str) -> Metadata:
        return self._verified(self.root.signed, role, self._require(f"{role}.json"))

    def _parse(self, data: bytes, role: str) -> Metadata:
        try:
            md = Metadata.from_bytes(data)
        except Exception as e:  # DeserializationError and anything malformed
            raise SignatureError(f"stored {role} metadata is malformed: {e}") from e
        if md.signed.type != (role if role in {Root.type, Timestamp.type, Snapshot.type} else Targets.type):
            raise SignatureError(f"stored {role} metadata has type {md.signed.type}")
        return md

    def _verified(self, delegator: Root | Targets, role: str, data: bytes) -> Metadata:
        md = self._parse(data, role)
        try:
            delegator.verify_delegate(role, md.signed_bytes, md.signatures)
        except exceptions.UnsignedMetadataError as e:
            raise UntrustedMetadataError(f"stored {role} metadata is not validly signed: {e}") from e
        except ValueError as e:
            raise SignatureError(f"{role} is not delegated: {e}") from e
        self._check_expiry(role, md)
        return md

    def _delegated(self, delegator: Root | Targets, role: str) -> Metadata[Targets]:
        meta = self.snapshot.signed.meta.get(f"{role}.json")
        if meta is None:
            raise RoleNotInSnapshotError(f"the snapshot lists no role {role!r}", role=role)
        md = self._verified(delegator, role, self._require(f"{parse.quote(role, '')}.json"))
        if md.signed.version != meta.version:
            raise SignatureError(f"stored {role} is version {md.signed.version}, the snapshot lists {meta.version}")
        return md

    def _check_expiry(self, role: str, md: Metadata) -> None:
        assert self.at is not None
        if md.signed.is_expired(self.at):
            if md.signed.is_expired(self.at - self.grace):
                raise ExpiredMetadataError(
                    f"{role} metadata expired at {md.signed.expires.isoformat()}, beyond the "
                    f"offline grace of {_duration(self.grace)}; connect to the registry to refresh",
                    role=role,
                    expires=md.signed.expires,
                )
            self.expired.append(role)

    # -- lookups --------------------------------------------------------------------------------
    def target_info(self, path: str) -> TargetFile:
        """The signed TargetFile for ``path``, following delegations as the updater does."""
        stack: list[tuple[str, Metadata[Targets]]] = [(Targets.type, self.targets)]
        visited: set[str] = set()
        while stack and len(visited) <= MAX_DELEGATIONS:
            name, md = stack.pop()
            if name in visited:
                continue
            visited.add(name)
            info = md.signed.targets.get(path)
            if info is not None:
                return info
            delegations = md.signed.delegations
            if delegations is None:
                continue
            children = []
            for child, terminating in delegations.get_roles_for_target(path):
                if child not in self._roles:
                    self._roles[child] = self._delegated(md.signed, child)
                children.append((child, self._roles[child]))
                if terminating:
                    stack = []
                    break
            stack.extend(reversed(children))
        raise NotFoundError(f"no signed target {path} in the stored metadata")

    def verify_file(self, path: str, f: BinaryIO) -> TargetFile:
        """Check an open file against the signed length and hashes of ``path``."""
        info = self.target_info(path)
        try:
            info.verify_length_and_hashes(f)
        except exceptions.LengthOrHashMismatchError as e:
            raise SignatureError(f"{path}: the stored file does not match its signed hash: {e}") from e
        return info


def _duration(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    if hours % 24 == 0:
        return f"{int(hours // 24)} day{'s' if hours != 24 else ''}"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
