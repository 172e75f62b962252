"""The registry's state: TUF metadata, blobs and the index, and the publish transaction.

Layout of a data folder (the server's; the offline root/targets keys live elsewhere)::

    DATA_DIR/registry.json          what this folder is (format version, blob and database locations)
    DATA_DIR/keys/snapshot.pem      online keys, mode 0600 (or EDZOO_SNAPSHOT_KEY / EDZOO_TIMESTAMP_KEY)
    DATA_DIR/keys/timestamp.pem
    DATA_DIR/objects/blobs/sha256/ab/<sha256>     (or the same keys under s3://bucket/prefix/)
    DATA_DIR/objects/tuf/<N>.root.json, root.json, <V>.<role>.json, timestamp.json
    DATA_DIR/index.sqlite           the searchable index (or a PostgreSQL database)

Any number of server processes, on one machine or several, may share one object store and one
PostgreSQL database: every write to the registry happens inside :meth:`Index.writer`, whose
lock the database holds, so publishes are serialized and TUF versions only ever grow.

The store is the truth of the TUF metadata; what the server answers for its two mutable names
(the timestamp, and the probe for the next root) comes from the index's served head, which every
writer's transaction copies from the store as it commits (:meth:`Registry.lock`). So a pull
costs one database read before its immutable files, not two store GETs (an S3 GET is tens of
milliseconds), and a publish shows its timestamp and its index rows at the same commit.

The checks a publish runs on its files are in :mod:`registry.server.publishing`; the
configuration is :class:`registry.server.config.ServerConfig`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp

from registry.core import manifest, modelindex, names, recall, renewal, trust, tufnames
from registry.core._internal import faults
from registry.core.errors import (
    EdzooError,
    NotFoundError,
    SignatureError,
    StorageError,
    UnavailableError,
    UsageError,
)
from registry.core.recall import Withdrawal
from registry.storage.index import Index
from registry.storage.objects import ObjectStore, blob_key, open_store
from registry.storage.records import ServedHead

from . import publishing
from .blobcache import BlobCache
from .config import ServerConfig, online_signer

__all__ = ["Registry", "store_head", "token_hash"]

log = logging.getLogger("edzoo.registry")

FORMAT = 1
ONLINE_ROLES = ("snapshot", "timestamp")


def store_head(objects: ObjectStore) -> ServedHead:
    """The served head as the store holds it now: its timestamp and its newest root version
    (what every writer's commit copies into the index, and `registry init` writes first)."""
    data = objects.get_bytes("tuf/timestamp.json")
    timestamp_version = Metadata.from_bytes(data).signed.version
    root_version = Metadata.from_bytes(objects.get_bytes("tuf/root.json")).signed.version
    return ServedHead(data, timestamp_version, root_version)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random strings: a plain sha256 is a sound way to store them.
    return hashlib.sha256(token.encode()).hexdigest()


class Registry:
    """One registry: open it on a data folder made by :func:`registry.server.admin.init`."""

    def __init__(self, config: ServerConfig, *, objects: ObjectStore | None = None) -> None:
        self.config = config
        info_path = config.data_dir / "registry.json"
        try:
            self.info = json.loads(info_path.read_text())
        except FileNotFoundError as e:
            raise NotFoundError(
                f"{config.data_dir} is not an edzoo registry (no registry.json); create one with `edzoo registry init`"
            ) from e
        if self.info.get("format") != FORMAT:
            raise StorageError(f"{info_path}: unsupported registry format {self.info.get('format')}")
        blobs = config.blobs or self.info.get("blobs") or str(config.data_dir / "objects")
        self.objects = objects or open_store(blobs, dict(config.env) or None)
        self.index = Index(config.database_url or self.info.get("database_url") or config.db_url)
        self._online = {role: online_signer(config, role) for role in ONLINE_ROLES}
        self._online_lock = threading.Lock()
        # (role, version) -> expiry: role files are immutable per version, so read once.
        self._expiries: dict[tuple[str, int], datetime] = {}
        self._signed_lock = threading.Lock()  # guards _signed_roles (see signed_target)
        self._signed_roles: tuple[int, dict[str, Any]] = (0, {})
        # Versioned metadata the newest timestamp this process served references (its snapshot
        # and the role versions that snapshot lists): committed, so immutable. name -> bytes,
        # or None while not read yet; rebuilt when a newer timestamp names another snapshot.
        self._immutable_lock = threading.Lock()
        self._immutable: tuple[int, dict[str, bytes | None]] = (0, {})
        self._blobs = BlobCache(config.blob_cache_bytes)
        # The last served timestamp parsed: (bytes, Metadata), parsed again when the bytes change.
        self._parsed_timestamp: tuple[bytes, Metadata[Timestamp]] | None = None
        # Root files up to the head's newest version: immutable once committed. version -> bytes.
        self._roots: dict[int, bytes] = {}

    # -- online keys: reloaded after a rotation, never used once retired ----------------------
    def signer(self, role: str) -> Any:
        """The online signer of ``role`` (snapshot or timestamp), checked against the current
        root before every use. A key the root no longer lists is reloaded from its source, so a
        running server signs with the new key after `edzoo registry rotate-keys`; if the source
        still holds a retired key the server refuses to sign (503 retired_key) rather than
        publish metadata that clients would reject."""
        root = self.current_root()
        trusted = root.signed.roles[role].keyids
        with self._online_lock:
            if self._online[role].public_key.keyid not in trusted:
                self._online[role] = online_signer(self.config, role)
            signer = self._online[role]
        if signer.public_key.keyid not in trusted:
            raise UnavailableError(
                f"the registry's {role} key {signer.public_key.keyid[:12]}… is retired by root version "
                f"{root.signed.version}; install the new key ({self.config.data_dir / 'keys' / f'{role}.pem'} or "
                f"EDZOO_{role.upper()}_KEY): this server signs nothing with a retired key",
                code="retired_key",
            )
        return signer

    def online_signers(self) -> tuple[Any, Any]:
        """(snapshot signer, timestamp signer), both checked: taken before a change writes
        anything, so a retired key leaves the store as it was."""
        return self.signer("snapshot"), self.signer("timestamp")

    def store_root(self, md: Metadata[Root]) -> None:
        """Store a new root version: ``N.root.json`` first (clients walk the chain by version),
        then ``root.json``, the newest, which the server and `edzoo trust export` read."""
        data = trust.to_bytes(md)
        self.objects.put_bytes(f"tuf/{md.signed.version}.root.json", data)
        self.objects.put_bytes("tuf/root.json", data)

    def current_root(self) -> Metadata[Root]:
        """The newest root, as the store's ``tuf/root.json`` holds it."""
        return Metadata.from_bytes(self.objects.get_bytes("tuf/root.json"))

    # -- locking: one writer at a time, across threads, processes and machines -----------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[Session]:
        """The writer transaction (:meth:`Index.writer`): held by the database, released when
        the block ends or its process dies. A block that ends without an error copies the
        store's timestamp and newest root version into the served head, in the same commit as
        the block's index rows; one that fails leaves the head as it was (a store already ahead
        of it is caught up at once: :meth:`_catch_up`)."""
        try:
            with self._writer() as session:
                yield session
        except Exception:
            self._catch_up()
            raise

    @contextlib.contextmanager
    def _writer(self) -> Iterator[Session]:
        with self.index.writer() as session:
            yield session
            self.index.set_head(session, self._store_head())

    def _catch_up(self) -> None:
        """After a writer failed: if the store's timestamp had moved (the failure came between
        it and the index commit), index what it publishes and serve it, as a server's start
        would. If that fails too (the database is down), the next writer does it: any publish,
        a publisher's retry of the same roles, a renewal, or a server's start."""
        try:
            head = self.index.head()
            if head is not None and head.timestamp == self.objects.get_bytes("tuf/timestamp.json"):
                return
            with self._writer() as session:
                added = self._reindex_all(session)
            log.warning("a failed write had moved the store's timestamp: now served; indexed %s", added or "nothing")
        except (EdzooError, OSError) as e:
            log.error("the store's timestamp is ahead of what is served until the next write succeeds: %s", e)

    def _store_head(self) -> ServedHead:
        return store_head(self.objects)

    # -- what clients are served ---------------------------------------------------------------
    def served_head(self) -> ServedHead | None:
        """The index's served head; None before a writer copied one, or while the database
        cannot be read (then the store answers, as it did before the head existed: it is never
        behind the head, so a client sees no version go back)."""
        try:
            return self.index.head()
        except EdzooError as e:
            log.warning("serving the timestamp from the object store: %s", e)
            return None

    def served_timestamp(self) -> tuple[bytes, Metadata[Timestamp]]:
        """The timestamp clients are served, as bytes and parsed (parsed once per version)."""
        head = self.served_head()
        data = head.timestamp if head is not None else self.objects.get_bytes("tuf/timestamp.json")
        parsed = self._parsed_timestamp
        if parsed is None or parsed[0] != data:
            parsed = (data, Metadata.from_bytes(data))
            self._parsed_timestamp = parsed
        return parsed

    # -- reading TUF metadata ------------------------------------------------------------------
    def metadata_file(self, name: str) -> bytes:
        """Bytes of a metadata file as the updater names it (``3.snapshot.json``)."""
        if not tufnames.is_metadata_name(name):
            raise NotFoundError(f"no metadata file {name}")
        if name == "timestamp.json":
            # One index read when nothing is due (the common case); a renewal reads it again.
            data, timestamp = self.served_timestamp()
            if self._online_due(timestamp):
                self.refresh_online()
                data, timestamp = self.served_timestamp()
            self._learn_references(timestamp.signed.snapshot_meta.version)
            return data
        root = tufnames.ROOT_FILE_RE.match(name)
        if root is not None:
            return self._root_file(name, int(root.group(1)))
        with self._immutable_lock:
            cached = self._immutable[1].get(name)
        if cached is not None:
            return cached
        data = self.objects.get_bytes(f"tuf/{name}")
        with self._immutable_lock:
            if name in self._immutable[1]:  # referenced by the snapshot of the last timestamp
                self._immutable[1][name] = data
        return data

    def _root_file(self, name: str, version: int) -> bytes:
        """``N.root.json``. Past the head's newest root it is absent (the updater's probe for
        the next root, once per pull) without a store read; up to it, immutable, so read once."""
        head = self.served_head()
        if head is None:
            return self.objects.get_bytes(f"tuf/{name}")
        if version > head.root_version:
            raise NotFoundError(f"no metadata file {name}: the newest root is version {head.root_version}")
        found = self._roots.get(version)
        if found is None:
            found = self.objects.get_bytes(f"tuf/{name}")
            self._roots[version] = found
        return found

    def references(self, name: str) -> bool:
        """Is ``name`` timestamp.json or a versioned file that the snapshot of the newest
        timestamp served lists (so :meth:`metadata_file` holds it)? Never true of a root file."""
        if name == "timestamp.json":
            return True
        with self._immutable_lock:
            return name in self._immutable[1]

    def _learn_references(self, version: int) -> None:
        """After serving a timestamp that names snapshot ``version``: the versioned files it
        references become cacheable (one store read of the snapshot when it names a new one). A
        file a dying publish wrote but never referenced is never cached, so a retry that
        rewrites it is served as written."""
        with self._immutable_lock:
            if self._immutable[0] >= version:
                return
        snapshot_name = f"{version}.snapshot.json"
        data = self.objects.get_bytes(f"tuf/{snapshot_name}")
        try:
            meta = json.loads(data)["signed"]["meta"]
            names: dict[str, bytes | None] = {f"{int(m['version'])}.{role}": None for role, m in meta.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        names[snapshot_name] = data
        with self._immutable_lock:
            if self._immutable[0] < version:
                self._immutable = (version, names)

    def _load(self, key: str) -> Metadata:
        return Metadata.from_bytes(self.objects.get_bytes(key))

    def timestamp(self) -> Metadata[Timestamp]:
        """The store's timestamp, which a writer signs the next one after (clients are served
        :meth:`served_timestamp`)."""
        return self._load("tuf/timestamp.json")

    def snapshot(self) -> tuple[Metadata[Snapshot], bytes]:
        version = self.timestamp().signed.snapshot_meta.version
        data = self.objects.get_bytes(f"tuf/{version}.snapshot.json")
        return Metadata.from_bytes(data), data

    def role(self, name: str, snapshot: Metadata[Snapshot] | None = None) -> tuple[Metadata[Targets], bytes] | None:
        """The current version of a targets role, or None if it does not exist."""
        snapshot = snapshot or self.snapshot()[0]
        meta = snapshot.signed.meta.get(f"{name}.json")
        if meta is None:
            return None
        data = self.objects.get_bytes(f"tuf/{meta.version}.{name}.json")
        return Metadata.from_bytes(data), data

    def signed_target(self, path: str) -> TargetFile | None:
        """What the current signed metadata says of target ``path`` (``acme/reader/1.0.0/
        manifest.json``): the top-level targets role's own entry, else the one in the hash bin
        of the path's namespace; None when nothing signed lists the path. Roles are parsed once
        per snapshot version (a small cache, emptied when the timestamp names a new snapshot)."""
        return self._signed_at(self.served_timestamp()[1].signed.snapshot_meta.version, path)

    def served_target(self, path: str, sha256: str) -> TargetFile | None:
        """The signed entry a request for target ``path`` with ``sha256`` may be served by: as
        the newest snapshot this process has seen lists it (no store read), else as the
        store's current timestamp says (:meth:`signed_target`: a target published since). A
        target that a newer snapshot dropped may still be served until this process sees that
        snapshot; that is harmless, as clients check every target against their own verified
        metadata, and the rule this upholds (an upload token stores blobs but cannot publish
        them under a name) stands: every entry comes from committed, signed metadata."""
        with self._immutable_lock, self._signed_lock:
            known = max(self._immutable[0], self._signed_roles[0])
        if known:
            found = self._signed_at(known, path)
            if found is not None and found.hashes.get("sha256") == sha256:
                return found
        served_version = self.served_timestamp()[1].signed.snapshot_meta.version
        found = self._signed_at(served_version, path)
        if found is not None and found.hashes.get("sha256") == sha256:
            return found
        # The store ahead of the served head (a publish whose index commit failed): its
        # publisher reads its roles from the store (/roles/...) and the files they sign from here.
        store_version = self.timestamp().signed.snapshot_meta.version
        if store_version != served_version:
            return self._signed_at(store_version, path)
        return found

    def small_blob(self, key: str, size: int) -> bytes | None:
        """The bytes of blob ``key`` (of the signed ``size``) from memory, read from the store
        the first time; None when it is too large to keep (stream it instead)."""
        return self._blobs.get(key, size, self.objects.get_bytes)

    def _signed_at(self, version: int, path: str) -> TargetFile | None:
        with self._signed_lock:
            if self._signed_roles[0] != version or len(self._signed_roles[1]) > 2048:
                self._signed_roles = (version, {})
            cache = self._signed_roles[1]

        def load(name: str) -> Any:
            # Read outside the lock (a store may be S3): two threads may parse a role twice.
            with self._signed_lock:
                if name in cache:
                    return cache[name]
            if name == "snapshot.json":
                value: Any = Metadata.from_bytes(self.objects.get_bytes(f"tuf/{version}.snapshot.json"))
            else:
                found = self.role(name, load("snapshot.json"))
                value = found[0] if found else None
            with self._signed_lock:
                return cache.setdefault(name, value)

        targets = load("targets")
        own = targets.signed.targets.get(path) if targets else None
        if own is not None or targets is None:
            return own
        try:
            namespace = names.TargetName.parse(path).namespace
            delegated = targets.signed.get_delegated_role(namespace)
        except ValueError:  # not a registry path (a UsageError), or no such delegation
            return None
        ns_md = load(namespace) if delegated.is_delegated_path(path) else None
        delegations = ns_md.signed.delegations if ns_md else None
        if delegations is None or delegations.succinct_roles is None:
            return None
        bin_md = load(delegations.succinct_roles.get_role_for_target(path))
        return bin_md.signed.targets.get(path) if bin_md else None

    def refresh_online(self, *, force: bool = False) -> None:
        """Keep the online roles valid, idle or not: when the snapshot has less than half its
        lifetime left, sign a new snapshot version (same meta), then a new timestamp; when only
        the timestamp has, a new timestamp. ``force`` re-signs both. Runs when a client fetches
        timestamp.json and when /api/v1/health is asked, so whatever a client is served is valid
        for at least half a lifetime. Several processes may share one store: the writer lock
        lets one renew, and the others see its result when they check again inside the lock."""
        if not force and not self._online_due(self.served_timestamp()[1]):
            return
        with self.lock():
            current = self.timestamp()
            if not force and not self._online_due(current):
                return  # another process renewed it; the lock's commit serves its timestamp
            snap, _ = self.snapshot()
            snapshot_signer, timestamp_signer = self.online_signers()  # a retired key fails before any write
            if force or self._half_spent(snap.signed.expires, self.config.expiry.snapshot):
                snap = trust.update_snapshot(snap, {}, snapshot_signer, self.config.expiry)
                self.objects.put_bytes(f"tuf/{snap.signed.version}.snapshot.json", trust.to_bytes(snap))
                log.info("snapshot renewed: version %d", snap.signed.version)
            new = trust.update_timestamp(current, snap, timestamp_signer, self.config.expiry)
            self.objects.put_bytes("tuf/timestamp.json", trust.to_bytes(new))
            log.info("timestamp renewed: version %d", new.signed.version)

    @staticmethod
    def _half_spent(expires: datetime, lifetime: timedelta) -> bool:
        return expires - trust.now() <= lifetime / 2

    def _online_due(self, timestamp: Metadata[Timestamp]) -> bool:
        """Whether the timestamp, or the snapshot it names, has spent half its lifetime."""
        if self._half_spent(timestamp.signed.expires, self.config.expiry.timestamp):
            return True
        version = timestamp.signed.snapshot_meta.version
        return self._half_spent(self._expires("snapshot", version), self.config.expiry.snapshot)

    def _expires(self, role: str, version: int) -> datetime:
        """When version ``version`` of ``role`` expires (read once: ``N.role.json`` never changes)."""
        found = self._expiries.get((role, version))
        if found is None:
            if len(self._expiries) > 65536:
                self._expiries.clear()
            found = self._load(f"tuf/{version}.{role}.json").signed.expires
            self._expiries[(role, version)] = found
        return found

    def commit_roles(
        self, roles: dict[str, Metadata[Targets]], snapshot: Metadata[Snapshot]
    ) -> tuple[Metadata[Snapshot], Metadata[Timestamp]]:
        """Inside :meth:`lock`: store new versions of targets roles (already signed), then the
        snapshot that lists them, then the timestamp, last: a crash before it leaves the
        previous consistent state. Returns the new snapshot and timestamp."""
        snapshot_signer, timestamp_signer = self.online_signers()  # a retired key fails before any write
        for name, md in roles.items():
            self.objects.put_bytes(f"tuf/{md.signed.version}.{name}.json", trust.to_bytes(md))
        new_snapshot = trust.update_snapshot(
            snapshot, {name: md.signed.version for name, md in roles.items()}, snapshot_signer, self.config.expiry
        )
        self.objects.put_bytes(f"tuf/{new_snapshot.signed.version}.snapshot.json", trust.to_bytes(new_snapshot))
        new_timestamp = trust.update_timestamp(self.timestamp(), new_snapshot, timestamp_signer, self.config.expiry)
        self.objects.put_bytes("tuf/timestamp.json", trust.to_bytes(new_timestamp))
        return new_snapshot, new_timestamp

    # -- publishing ------------------------------------------------------------------------------
    def namespace_for_token(self, token: str) -> str | None:
        return self.index.publisher_for_token(token_hash(token))

    def publish(self, namespace: str, submitted: dict[str, bytes]) -> dict[str, Any]:
        """Verify and store a publisher's signed roles. All checks run before anything is
        written; the timestamp is written last, so a failure leaves the previous state."""
        if len(submitted) > 4096:
            raise UsageError("too many roles in one publish")
        with self.lock() as session:
            snapshot, _ = self.snapshot()
            targets_md, _ = self.role("targets", snapshot) or (None, b"")
            assert targets_md is not None
            try:
                targets_md.signed.get_delegated_role(namespace)
            except ValueError as e:
                raise SignatureError(f"namespace {namespace!r} is not delegated to any publisher") from e
            current: dict[str, Metadata[Targets]] = {}
            current_bytes: dict[str, bytes] = {}
            for name in submitted:
                found = self.role(name, snapshot)
                if found is not None:
                    current[name], current_bytes[name] = found
            if namespace not in current:
                found = self.role(namespace, snapshot)
                if found is not None:
                    current[namespace], current_bytes[namespace] = found
            check = trust.check_publish(
                namespace=namespace,
                targets_md=targets_md,
                current=current,
                current_bytes=current_bytes,
                submitted=submitted,
            )
            if check.is_noop:
                # The same roles again: a retry after a timeout or a crash. If the first attempt
                # got as far as the timestamp but not the index, the index is completed here.
                repaired = self._reindex(session, namespace, snapshot)
                return {"status": "unchanged", "versions": [], "roles": [], "reindexed": repaired}
            ns_md = check.roles.get(namespace) or current[namespace]
            versions, indexes = publishing.check_contents(
                self.objects, namespace, ns_md, check.new_targets, lambda role: self.role(role, snapshot)
            )
            withdrawn = self._withdrawn_of(namespace, indexes, snapshot)
            snapshot_signer, timestamp_signer = self.online_signers()  # a retired key fails before any write

            for name, md in check.roles.items():
                self.objects.put_bytes(f"tuf/{md.signed.version}.{name}.json", submitted[name])
            faults.point("publish:after-roles")
            new_snapshot = trust.update_snapshot(
                snapshot,
                {name: md.signed.version for name, md in check.roles.items()},
                snapshot_signer,
                self.config.expiry,
            )
            self.objects.put_bytes(f"tuf/{new_snapshot.signed.version}.snapshot.json", trust.to_bytes(new_snapshot))
            faults.point("publish:after-snapshot")
            new_timestamp = trust.update_timestamp(self.timestamp(), new_snapshot, timestamp_signer, self.config.expiry)
            detail = {
                "roles": sorted(check.roles),
                "files": len(check.new_targets),
                "snapshot": new_snapshot.signed.version,
            }
            self.index.record_publish(session, namespace, versions, indexes, detail, withdrawn=withdrawn)
            session.flush()  # a constraint the index refuses fails here, before the timestamp moves
            # The store's timestamp is the commit point of the metadata; clients and search see
            # it when this transaction commits the served head with the index rows. If that
            # commit fails after the write, :meth:`lock` indexes and serves it at once.
            self.objects.put_bytes("tuf/timestamp.json", trust.to_bytes(new_timestamp))
            faults.point("publish:before-commit")
        faults.point("publish:after-commit")
        return {
            "status": "published",
            "versions": [
                f"{v['manifest']['namespace']}/{v['manifest']['name']}@{v['manifest']['version']}" for v in versions
            ],
            "roles": sorted(check.roles),
            "snapshot_version": new_snapshot.signed.version,
        }

    # -- withdrawals --------------------------------------------------------------------------------
    def registry_withdrawals(self, snapshot: Metadata[Snapshot] | None = None) -> dict[str, dict[str, Withdrawal]]:
        """The registry admin's emergency list (``withdrawals.json``, a target of the top-level
        targets role, signed with the offline targets keys): model id → version → Withdrawal."""
        found = self.role("targets", snapshot)
        info = found[0].signed.targets.get(recall.WITHDRAWALS_PATH) if found else None
        if info is None:
            return {}
        return recall.parse_withdrawals(self.objects.get_bytes(blob_key(info.hashes["sha256"])))

    def _withdrawn_of(
        self, namespace: str, indexes: dict[str, dict[str, Any]], snapshot: Metadata[Snapshot]
    ) -> dict[str, dict[str, Withdrawal]]:
        """Model name → its withdrawn versions (the publisher's and the registry admin's)."""
        if not indexes:
            return {}
        admin = self.registry_withdrawals(snapshot)
        return {m: recall.withdrawn_versions(doc, admin, f"{namespace}/{m}") for m, doc in indexes.items()}

    def sync_withdrawals(
        self,
        session: Session,
        namespace: str,
        snapshot: Metadata[Snapshot],
        models: set[str] | None = None,
        *,
        targets: dict[str, TargetFile] | None = None,
    ) -> list[str]:
        """Inside :meth:`lock`: record in the index what the signed metadata (``snapshot``)
        withdraws, for the indexed models of ``namespace`` (or only ``models``). ``targets``
        are the namespace's signed targets when the caller has read them. Returns the
        versions whose state changed."""
        have = self.index.indexed_versions(namespace)
        wanted = sorted(set(have) if models is None else set(models) & set(have))
        if not wanted:
            return []
        admin = self.registry_withdrawals(snapshot)
        succinct = None
        if targets is None:
            found = self.role(namespace, snapshot)
            if found is None:
                return []
            succinct = found[0].signed.delegations.succinct_roles  # type: ignore[union-attr]
        changed = []
        for model in wanted:
            path = names.index_path(namespace, model)
            if targets is not None:
                info = targets.get(path)
            else:
                assert succinct is not None
                bin_md = self.role(succinct.get_role_for_target(path), snapshot)
                info = bin_md[0].signed.targets.get(path) if bin_md else None
            if info is None:
                continue
            doc = modelindex.parse_index(self.objects.get_bytes(blob_key(info.hashes["sha256"])), namespace, model)
            withdrawn = recall.withdrawn_versions(doc, admin, f"{namespace}/{model}")
            for version in self.index.record_withdrawals(session, namespace, model, doc, withdrawn):
                changed.append(f"{namespace}/{model}@{version}")
        return changed

    # -- repair -----------------------------------------------------------------------------------
    def reconcile(self) -> list[str]:
        """Index every version the TUF metadata publishes but the index lacks (a server that
        died between the timestamp and the index commit). Returns the versions it added."""
        with self.lock() as session:
            added = self._reindex_all(session)
        if added:
            log.warning("indexed %d published versions the index had missed: %s", len(added), ", ".join(added))
        return added

    def _reindex_all(self, session: Session) -> list[str]:
        snapshot, _ = self.snapshot()
        found = self.role("targets", snapshot)
        assert found is not None
        delegations = found[0].signed.delegations
        namespaces = sorted(delegations.roles) if delegations and delegations.roles else []
        added: list[str] = []
        for namespace in namespaces:
            added += self._reindex(session, namespace, snapshot)
        return added

    def _reindex(self, session: Session, namespace: str, snapshot: Metadata[Snapshot]) -> list[str]:
        found = self.role(namespace, snapshot)
        if found is None:
            return []
        succinct = found[0].signed.delegations.succinct_roles  # type: ignore[union-attr]
        assert succinct is not None
        targets: dict[str, TargetFile] = {}
        for bin_name in succinct.get_roles():
            if f"{bin_name}.json" in snapshot.signed.meta:
                md = self.role(bin_name, snapshot)
                assert md is not None
                targets.update(md[0].signed.targets)
        have = self.index.indexed_versions(namespace)
        by_version: dict[tuple[str, str], dict[str, TargetFile]] = defaultdict(dict)
        for path, info in targets.items():
            t = names.TargetName.parse(path)
            if t.version is not None and t.version not in have.get(t.model, set()):
                by_version[(t.model, t.version)][t.file] = info
        versions: list[dict[str, Any]] = []
        for _ref, files in sorted(by_version.items()):
            manifest_info = files.get(names.MANIFEST_FILE)
            if manifest_info is None:
                continue
            doc = manifest.parse_manifest(self.objects.get_bytes(blob_key(manifest_info.hashes["sha256"])))
            versions.append(
                {
                    "manifest": doc,
                    "sha256": manifest_info.hashes["sha256"],
                    "size": manifest_info.length,
                    "files": {f: {"sha256": i.hashes["sha256"], "size": i.length} for f, i in sorted(files.items())},
                }
            )
        # Withdrawals are derived state too: recorded again from the signed metadata.
        self.sync_withdrawals(session, namespace, snapshot, targets=targets)
        if not versions:
            return []
        indexes: dict[str, dict[str, Any]] = {}
        for model in sorted({v["manifest"]["name"] for v in versions}):
            index_info = targets.get(names.index_path(namespace, model))
            if index_info is not None:
                data = self.objects.get_bytes(blob_key(index_info.hashes["sha256"]))
                indexes[model] = modelindex.parse_index(data, namespace, model)
        self.index.record_publish(
            session,
            namespace,
            versions,
            indexes,
            {"repaired": True, "snapshot": snapshot.signed.version},
            action="reindex",
            withdrawn=self._withdrawn_of(namespace, indexes, snapshot),
        )
        return [f"{namespace}/{v['manifest']['name']}@{v['manifest']['version']}" for v in versions]

    # -- introspection --------------------------------------------------------------------------
    def expiry_report(self) -> renewal.ExpiryReport:
        """Every served role's version and expiry, judged against ``config.expiry_warning``;
        the online roles count as renewable when this server holds the key root trusts."""
        renewable = {}
        for role in ONLINE_ROLES:
            try:
                self.signer(role)
                renewable[role] = True
            except EdzooError:  # a retired key, a key file that cannot be read
                renewable[role] = False
        snapshot, _ = self.snapshot()
        targets = {}
        for file_name, meta in snapshot.signed.meta.items():
            name = file_name.removesuffix(".json")
            targets[name] = (meta.version, self._expires(name, meta.version))
        roles = renewal.served_roles(
            self.current_root(), self.timestamp(), snapshot, targets, online_renewable=renewable
        )
        return renewal.assess(roles, at=trust.now(), window=self.config.expiry_warning)

    def health(self) -> dict[str, Any]:
        """The registry's status: ``ok``, ``degraded`` (something served expires within
        ``config.expiry_warning``, or an online role cannot be renewed) or ``failing``
        (something served has expired), with what expires soon. Renews the online roles first."""
        try:
            self.refresh_online()
        except (EdzooError, OSError) as e:  # reported below: the online roles show as not renewable
            log.error("cannot renew the online metadata: %s", e)
        report = self.expiry_report()
        ts = self.served_timestamp()[1]
        return {
            "status": report.status,
            "expiring": report.expiring_entries(),
            "expiry_warning_days": report.window / timedelta(days=1),
            "timestamp_version": ts.signed.version,
            "timestamp_expires": ts.signed.expires.isoformat(),
            "snapshot_version": ts.signed.snapshot_meta.version,
            "blobs": "s3" if self.objects.describe().startswith("s3://") else "folder",
            "database": self.index.dialect,
            **self.index.counts(),
        }

    def close(self) -> None:
        self.index.dispose()
