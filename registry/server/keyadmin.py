"""Key lifecycle of a registry: rotate any key, re-key or revoke a publisher, manage tokens.

These run on an administrator's machine that has the data folder and, for anything the root or
targets keys sign, the offline keys folder. Every change is one writer transaction of the
registry (:meth:`Registry.lock`): new key files are written first, then the metadata that trusts
them, then the snapshot and the timestamp, last. A crash before the metadata lands leaves extra
key files that no root trusts, and they are never used: signers are picked from a keys folder by
the key ids the current root lists (:func:`offline_signers`).

Rotation follows the TUF specification: a new root version lists the new keys and is signed by a
threshold of the old root keys and, for a root rotation, of the new ones, so every client that
pinned an older root walks to it (``N.root.json``). Rotating the snapshot and timestamp keys is
also how a registry recovers from a fast-forward attack (a timestamp or snapshot signed at a huge
version with a leaked online key): clients discard the stored metadata that the new root no
longer trusts and accept the registry's own versions again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Targets

from registry.core import keys, names, trust
from registry.core.errors import ConflictError, NotFoundError, SignatureError, UsageError
from registry.storage.records import TokenRecord

from .config import ServerConfig
from .repository import ONLINE_ROLES, Registry, token_hash

__all__ = [
    "OFFLINE_ROLES",
    "RotationResult",
    "issue_token",
    "list_tokens",
    "new_token",
    "offline_signers",
    "open_registry",
    "revoke_publisher",
    "revoke_tokens",
    "rotate_keys",
    "rotate_publisher",
    "sign_targets",
]

OFFLINE_ROLES = ("root", "targets")
TOP_LEVEL_ROLES = (*OFFLINE_ROLES, *ONLINE_ROLES)


@dataclass(frozen=True)
class RotationResult:
    role: str
    root_version: int
    retired: tuple[str, ...]  # key ids
    added: tuple[str, ...]
    key_files: tuple[Path, ...]


@contextlib.contextmanager
def open_registry(data_dir: Path, *, database_url: str | None = None, blobs: str | None = None) -> Iterator[Registry]:
    """The registry in ``data_dir`` as its server would open it (EDZOO_* settings included)."""
    registry = Registry(ServerConfig.from_env(Path(data_dir), dict(os.environ), database_url=database_url, blobs=blobs))
    try:
        yield registry
    finally:
        registry.close()


def offline_signers(keys_dir: Path, role: str, root: Metadata[Root] | None = None) -> list[CryptoSigner]:
    """The private keys ``<role>-*.pem`` in ``keys_dir``; with ``root``, only those it trusts
    for ``role`` (retired or not-yet-trusted files are ignored). Raises NotFoundError when none
    is left."""
    paths = sorted(Path(keys_dir).glob(f"{role}-*.pem"))
    if not paths:
        raise NotFoundError(f"no {role} keys ({role}-N.pem) in {keys_dir}; pass --keys with the offline keys folder")
    signers = [keys.load_signer(p) for p in paths]
    if root is None:
        return signers
    trusted = set(root.signed.roles[role].keyids)
    signers = [s for s in signers if s.public_key.keyid in trusted]
    if not signers:
        raise NotFoundError(
            f"none of the {role} keys in {keys_dir} is trusted by root version {root.signed.version}; "
            "use the keys folder of this registry"
        )
    return signers


def sign_targets(md: Metadata[Targets], root: Metadata[Root], keys_dir: Path) -> Metadata[Targets]:
    """Sign the top-level targets role with the offline targets keys in ``keys_dir`` that
    ``root`` trusts, and check, as a client will, that they meet its threshold. Raises
    NotFoundError (no trusted targets key there) or SignatureError (too few), before anything
    is stored."""
    signers = offline_signers(keys_dir, Targets.type, root)
    trust.sign(md, signers)
    try:
        root.signed.verify_delegate(Targets.type, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as e:
        threshold = root.signed.roles[Targets.type].threshold
        raise SignatureError(
            f"targets needs {threshold} signature(s) of the keys root version {root.signed.version} trusts; "
            f"{keys_dir} holds {len(signers)}: bring the other targets keys ({e})"
        ) from e
    return md


def new_token() -> str:
    return "edzoo_" + secrets.token_urlsafe(32)


def _retire(path: Path, folder: Path, keyid: str) -> Path:
    """Move a key file that no root trusts any more aside (kept, mode 0600, for the record)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / f"{path.stem.split('-')[0]}-{keyid[:16]}.pem"
    os.replace(path, target)
    return target


# -- top-level keys ---------------------------------------------------------------------------
def rotate_keys(
    data_dir: Path,
    keys_dir: Path,
    role: str,
    *,
    count: int | None = None,
    threshold: int | None = None,
    database_url: str | None = None,
    blobs: str | None = None,
) -> RotationResult:
    """Replace every key of top-level ``role`` with new ones and sign a new root.

    Root and targets keys are written to ``keys_dir`` (``<role>-N.pem``), snapshot and
    timestamp keys to ``DATA_DIR/keys/<role>.pem``; the retired files move to a ``retired/``
    folder beside them. A targets rotation re-signs the top-level targets role with the new
    keys; every rotation ends with a new snapshot and timestamp, signed with the current online
    keys. Running servers pick the new online keys up before they next sign. Raises UsageError
    for an unknown role or a bad count/threshold, NotFoundError when the root keys are missing,
    SignatureError when the root keys at hand do not meet the threshold.
    """
    if role not in TOP_LEVEL_ROLES:
        raise UsageError(f"unknown role {role!r}; rotate one of: {', '.join(TOP_LEVEL_ROLES)}")
    keys_dir = Path(keys_dir)
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock() as session:
        root_md = registry.current_root()
        current = root_md.signed.roles[role]
        count = count or len(current.keyids)
        threshold = threshold or min(current.threshold, count)
        if role in ONLINE_ROLES and count != 1:
            raise UsageError(f"the {role} role has one online key; --keys must be 1")
        root_signers = offline_signers(keys_dir, "root", root_md)
        new_signers = [keys.generate() for _ in range(count)]
        new_root = trust.next_root(root_md, registry.config.expiry)
        retired = trust.replace_role_keys(new_root.signed, role, [s.public_key for s in new_signers], threshold)
        trust.sign_root(new_root, root_md, [*root_signers, *(new_signers if role == "root" else [])])

        # 1. the new private keys, where their signers will look for them
        files = _save_new_keys(registry, keys_dir, role, new_signers)
        # 2. the root that trusts them: clients walk to it from any older root
        registry.store_root(new_root)
        # 3. retire the old files; the online key moves into place
        _retire_old_keys(registry, keys_dir, role, retired)
        # 4. what the new keys sign, then the snapshot and the timestamp
        _commit_after_rotation(registry, role, new_signers)
        added = [s.public_key.keyid for s in new_signers]
        registry.index.log_event(
            session,
            "rotate-keys",
            role,
            {"root_version": new_root.signed.version, "retired": retired, "added": added},
        )
        return RotationResult(role, new_root.signed.version, tuple(retired), tuple(added), tuple(files))


def _online_key_paths(registry: Registry, role: str) -> tuple[Path, Path]:
    """Where the online key of ``role`` lives, and where a rotation stages its successor."""
    online_dir = registry.config.data_dir / "keys"
    return online_dir / f"{role}.pem", online_dir / f"{role}.pem.new"


def _save_new_keys(registry: Registry, keys_dir: Path, role: str, new_signers: list[CryptoSigner]) -> list[Path]:
    """Write the new keys of ``role``: an online key is staged beside the live one (it moves in
    once the new root is stored), offline keys go to ``keys_dir`` under the next free numbers.
    Returns the paths the keys will be used from."""
    if role in ONLINE_ROLES:
        live, staged = _online_key_paths(registry, role)
        staged.unlink(missing_ok=True)  # a rotation that crashed before its root landed
        keys.save_key_pair(new_signers[0], staged)
        return [live]
    files = _next_key_paths(keys_dir, role, len(new_signers))
    for signer, path in zip(new_signers, files, strict=True):
        keys.save_key_pair(signer, path)
    return files


def _retire_old_keys(registry: Registry, keys_dir: Path, role: str, retired: list[str]) -> None:
    """Move the key files the new root no longer trusts to ``retired/``; the staged online
    key takes the live one's place."""
    if role in ONLINE_ROLES:
        live, staged = _online_key_paths(registry, role)
        if live.exists():
            old = keys.load_signer(live)
            _retire(live, live.parent / "retired", old.public_key.keyid)
        os.replace(staged, live)
        return
    for path in sorted(keys_dir.glob(f"{role}-*.pem")):
        keyid = keys.load_signer(path).public_key.keyid
        if keyid in retired:
            _retire(path, keys_dir / "retired", keyid)


def _commit_after_rotation(registry: Registry, role: str, new_signers: list[CryptoSigner]) -> None:
    """Re-sign the top-level targets role with its new keys (a targets rotation), then write a
    new snapshot and timestamp."""
    snapshot, _ = registry.snapshot()
    changed: dict[str, Metadata[Targets]] = {}
    if role == "targets":
        found = registry.role("targets", snapshot)
        assert found is not None
        changed["targets"] = trust.sign(trust.next_targets(found[0], registry.config.expiry), new_signers)
    registry.commit_roles(changed, snapshot)


def _next_key_paths(keys_dir: Path, role: str, count: int) -> list[Path]:
    taken = {int(p.stem.split("-", 1)[1]) for p in keys_dir.glob(f"{role}-*.pem") if p.stem.split("-", 1)[1].isdigit()}
    start = max(taken, default=0) + 1
    return [keys_dir / f"{role}-{n}.pem" for n in range(start, start + count)]


# -- publishers -------------------------------------------------------------------------------
def _targets(registry: Registry) -> tuple[Metadata[Targets], Any]:
    snapshot, _ = registry.snapshot()
    found = registry.role("targets", snapshot)
    assert found is not None
    return Metadata[Targets].from_bytes(found[1]), snapshot


def rotate_publisher(
    data_dir: Path,
    keys_dir: Path,
    namespace: str,
    public_key_path: Path,
    *,
    database_url: str | None = None,
    blobs: str | None = None,
) -> str:
    """Delegate ``namespace`` to a new publisher key (a lost or leaked one is no longer trusted
    from the moment the new targets role lands). Until the publisher re-signs its roles with the
    new key (`edzoo publisher renew NS --key NEW --previous-key OLD.pub.json`), pulls from the
    namespace fail verification: nothing signed by the old key is trusted. Returns the old key id.
    """
    names.check_namespace(namespace)
    key = keys.load_public_key(public_key_path)
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock() as session:
        targets_md, snapshot = _targets(registry)
        roles = targets_md.signed.delegations.roles if targets_md.signed.delegations else None
        if not roles or namespace not in roles:
            raise NotFoundError(f"namespace {namespace!r} is not delegated; use `edzoo registry add-publisher`")
        if key.keyid in roles[namespace].keyids:
            raise ConflictError(f"namespace {namespace!r} is already delegated to key {key.keyid[:12]}…")
        new = sign_targets(
            trust.delegate_namespace(targets_md, namespace, key, registry.config.expiry),
            registry.current_root(),
            keys_dir,
        )
        old = registry.index.set_publisher_key(session, namespace, key.keyid, key.to_dict())
        session.flush()
        registry.commit_roles({"targets": new}, snapshot)
        return old


def revoke_publisher(
    data_dir: Path,
    keys_dir: Path,
    namespace: str,
    *,
    reason: str,
    database_url: str | None = None,
    blobs: str | None = None,
) -> int:
    """Remove ``namespace``'s delegation from the top-level targets role and revoke every upload
    token of its publisher. Clients no longer find any file of the namespace; its published
    files stay in the store (other signed metadata may still name them). Returns the number of
    tokens that were live."""
    names.check_namespace(namespace)
    reason = _one_line(reason, "--reason")
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock() as session:
        targets_md, snapshot = _targets(registry)
        new = sign_targets(
            trust.without_delegation(targets_md, namespace, registry.config.expiry), registry.current_root(), keys_dir
        )
        live = registry.index.revoke_publisher(session, namespace, reason)
        session.flush()
        registry.commit_roles({"targets": new}, snapshot)
        return live


# -- upload tokens ----------------------------------------------------------------------------
def issue_token(
    data_dir: Path,
    namespace: str,
    *,
    expires_in: timedelta | None = None,
    label: str = "",
    database_url: str | None = None,
    blobs: str | None = None,
) -> tuple[int, str]:
    """A new upload token for ``namespace`` (the others stay valid). Returns (id, token)."""
    token = new_token()
    expires_at = datetime.now(UTC) + expires_in if expires_in else None
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock() as session:
        token_id = registry.index.add_token(
            session, namespace, token_hash(token), label=_one_line(label, "--label", empty=True), expires_at=expires_at
        )
    return token_id, token


def revoke_tokens(
    data_dir: Path,
    namespace: str,
    *,
    token_id: int | None = None,
    database_url: str | None = None,
    blobs: str | None = None,
) -> list[int]:
    """Revoke one token of ``namespace`` (by id) or all of them; returns the revoked ids."""
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock() as session:
        return registry.index.revoke_tokens(session, namespace, token_id)


def list_tokens(
    data_dir: Path, namespace: str | None = None, *, database_url: str | None = None, blobs: str | None = None
) -> list[TokenRecord]:
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry:
        return registry.index.tokens(namespace)


def _one_line(text: str, what: str, *, empty: bool = False) -> str:
    text = text.strip()
    if (not text and not empty) or "\n" in text or len(text) > 500:
        raise UsageError(f"{what} must be one line of 1 to 500 characters")
    return text
