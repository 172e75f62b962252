"""Registry administration with the offline keys: create a registry, delegate a namespace.

These run on an administrator's machine that has the data folder and the offline keys folder
(the keys folder belongs on removable or encrypted storage; the server never reads it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tuf.api.metadata import Metadata, Targets

from registry.core import keys, names, trust
from registry.core.errors import ConflictError, UsageError
from registry.storage.index import Index

from .config import ServerConfig
from .keyadmin import new_token, open_registry, sign_targets
from .repository import FORMAT, store_head, token_hash

__all__ = ["InitResult", "add_publisher", "init"]


@dataclass(frozen=True)
class InitResult:
    data_dir: Path
    keys_dir: Path
    root_path: Path


def init(
    data_dir: Path,
    keys_dir: Path,
    *,
    root_keys: int = 1,
    root_threshold: int = 1,
    targets_keys: int = 1,
    targets_threshold: int = 1,
    database_url: str | None = None,
    blobs: str | None = None,
) -> InitResult:
    """Create a registry: offline root and targets keys in ``keys_dir``, online snapshot and
    timestamp keys in ``data_dir``, and version 1 of the metadata in the object store (the
    data folder's ``objects``, or ``blobs``: a folder or ``s3://bucket/prefix``). The blob and
    database locations are recorded in ``registry.json`` (the database URL without its
    password: give that to the server through ``PGPASSWORD`` or ``~/.pgpass``)."""
    data_dir, keys_dir = Path(data_dir), Path(keys_dir)
    if (data_dir / "registry.json").exists():
        raise UsageError(f"{data_dir} already holds a registry")
    if keys_dir.exists() and any(keys_dir.iterdir()):
        raise UsageError(f"{keys_dir} is not empty; refusing to mix keys of two registries")
    if data_dir.resolve() == keys_dir.resolve() or keys_dir.resolve().is_relative_to(data_dir.resolve()):
        raise UsageError("the offline keys folder must not be inside the data folder the server reads")
    root_signers = [keys.generate() for _ in range(root_keys)]
    targets_signers = [keys.generate() for _ in range(targets_keys)]
    snapshot_signer, timestamp_signer = keys.generate(), keys.generate()
    md = trust.init_metadata(
        root_signers=root_signers,
        root_threshold=root_threshold,
        targets_signers=targets_signers,
        targets_threshold=targets_threshold,
        snapshot_signer=snapshot_signer,
        timestamp_signer=timestamp_signer,
    )
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    for i, s in enumerate(root_signers, 1):
        keys.save_key_pair(s, keys_dir / f"root-{i}.pem")
    for i, s in enumerate(targets_signers, 1):
        keys.save_key_pair(s, keys_dir / f"targets-{i}.pem")
    (data_dir / "keys").mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir / "keys", 0o700)
    keys.save_key_pair(snapshot_signer, data_dir / "keys" / "snapshot.pem")
    keys.save_key_pair(timestamp_signer, data_dir / "keys" / "timestamp.pem")

    config = ServerConfig(data_dir=data_dir, database_url=database_url)
    from registry.storage.objects import S3ObjectStore, open_store

    objects = open_store(blobs or data_dir / "objects")
    if isinstance(objects, S3ObjectStore):
        objects.ensure_bucket()
    if objects.exists("tuf/timestamp.json"):
        raise UsageError(f"{objects.describe()} already holds a registry's metadata; use another location")
    root_bytes = trust.to_bytes(md["root"])
    objects.put_bytes("tuf/1.root.json", root_bytes)
    objects.put_bytes("tuf/root.json", root_bytes)
    objects.put_bytes("tuf/1.targets.json", trust.to_bytes(md["targets"]))
    objects.put_bytes("tuf/1.snapshot.json", trust.to_bytes(md["snapshot"]))
    objects.put_bytes("tuf/timestamp.json", trust.to_bytes(md["timestamp"]))
    index = Index(config.db_url)
    try:
        with index.writer() as session:  # what the server answers from its first request
            index.set_head(session, store_head(objects))
    finally:
        index.dispose()
    info: dict = {"format": FORMAT, "root_threshold": root_threshold, "targets_threshold": targets_threshold}
    if blobs:
        info["blobs"] = str(blobs)
    if database_url:
        info["database_url"] = _without_password(database_url)
    (data_dir / "registry.json").write_text(json.dumps(info, indent=2) + "\n")
    root_path = data_dir / "objects" / "tuf" / "root.json"
    if blobs:  # the metadata is in the store: a copy of the first root for `edzoo trust export`
        root_path = data_dir / "root.json"
        root_path.write_bytes(root_bytes)
    return InitResult(data_dir, keys_dir, root_path)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(password=None).render_as_string(hide_password=False)


def add_publisher(
    data_dir: Path,
    keys_dir: Path,
    namespace: str,
    public_key_path: Path,
    *,
    database_url: str | None = None,
    blobs: str | None = None,
    token_expires_in: timedelta | None = None,
) -> str:
    """Delegate ``namespace`` to the publisher's key and return a new upload token (valid for
    ``token_expires_in``, or until revoked). Signs the top-level targets role with the offline
    keys. A namespace is delegated once; `edzoo registry rotate-publisher` re-keys it and
    `revoke-publisher` removes it (after which it may be delegated again)."""
    names.check_namespace(namespace)
    key = keys.load_public_key(public_key_path)
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry:
        token = new_token()
        expires_at = datetime.now(UTC) + token_expires_in if token_expires_in else None
        with registry.lock() as session:
            snapshot, _ = registry.snapshot()
            found = registry.role("targets", snapshot)
            assert found is not None
            targets_md = Metadata[Targets].from_bytes(found[1])
            delegations = targets_md.signed.delegations
            if delegations is not None and delegations.roles and namespace in delegations.roles:
                raise ConflictError(f"namespace {namespace!r} is already delegated to a publisher key")
            new = sign_targets(
                trust.delegate_namespace(targets_md, namespace, key, registry.config.expiry),
                registry.current_root(),
                keys_dir,
            )
            registry.index.add_publisher(
                session, namespace, key.keyid, key.to_dict(), token_hash(token), expires_at=expires_at
            )
            session.flush()  # a constraint the index refuses fails here, before the timestamp moves
            registry.commit_roles({"targets": new}, snapshot)
        return token
