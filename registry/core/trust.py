"""TUF metadata of an edzoo registry, built and checked with python-tuf's metadata API.

The role graph::

    root ──► targets (offline) ──► <namespace>            one role per publisher, its key only
                                      └─► <namespace>.bin-00 … -3f   succinct hash bins (TAP 15)
         ──► snapshot, timestamp (online, held by the server)

A publisher's namespace role only delegates, by hash of the target path, to ``2**bits`` bins
signed with the same key; the bins list the files. A client pulling one model downloads the
top-level targets role, the namespace role (constant size) and the two or three bins that hold
its files, so what it downloads does not grow with the number of models. The snapshot lists
every role and grows with the number of namespaces (the known limit of TUF, measured by
``scripts/bench_pull.py``).

Nothing here does I/O: functions take and return :class:`Metadata` objects or bytes.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import JSONSerializer

from . import names
from .errors import ConflictError, SignatureError, UsageError

__all__ = [
    "DEFAULT_BIN_BITS",
    "Expiry",
    "PublishCheck",
    "bin_prefix",
    "check_publish",
    "delegate_namespace",
    "init_metadata",
    "namespace_paths",
    "new_namespace_role",
    "next_root",
    "next_targets",
    "now",
    "parse_metadata",
    "plan_publish",
    "replace_role_keys",
    "sign",
    "sign_root",
    "to_bytes",
    "update_snapshot",
    "update_timestamp",
    "without_delegation",
]

# Bins of a new namespace: 2**6 = 64. Every bin is signed, uploaded and listed in the snapshot
# from the first publish on; scripts/bench_bins.py measures what 8, 6 and 4 bits cost (first
# publish time, snapshot bytes per namespace, bin bytes per pull). A namespace keeps its number.
DEFAULT_BIN_BITS = 6
_SERIALIZER = JSONSerializer(compact=True)


@dataclass(frozen=True)
class Expiry:
    """How long each role's metadata stays valid after it is signed."""

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=365)
    publisher: timedelta = timedelta(days=365)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_bytes(md: Metadata) -> bytes:
    return md.to_bytes(_SERIALIZER)


def parse_metadata(data: bytes, role: str, expected_type: str | None = None) -> Metadata:
    """Deserialize metadata bytes; UsageError (never a crash) on anything malformed."""
    try:
        md = Metadata.from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"role {role!r}: not valid TUF metadata ({e})") from e
    if expected_type and md.signed.type != expected_type:
        raise UsageError(f"role {role!r}: expected {expected_type} metadata, got {md.signed.type}")
    return md


def sign(md: Metadata, signers: Iterable[Signer]) -> Metadata:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)
    return md


def bin_prefix(namespace: str) -> str:
    # Namespaces cannot contain '.', so bin names never collide with a namespace.
    return f"{namespace}.bin"


def namespace_paths(namespace: str) -> list[str]:
    """Delegation patterns for a namespace: ``*`` does not cross ``/`` in TUF, so one pattern
    per depth (the versions index, then files up to ``names.MAX_FILE_DEPTH`` deep)."""
    return [namespace + "/*" * depth for depth in range(2, 3 + names.MAX_FILE_DEPTH)]


# ---------------------------------------------------------------------------------------------
# Registry administration (offline root/targets keys, online snapshot/timestamp keys)


def init_metadata(
    *,
    root_signers: Sequence[Signer],
    root_threshold: int,
    targets_signers: Sequence[Signer],
    targets_threshold: int,
    snapshot_signer: Signer,
    timestamp_signer: Signer,
    expiry: Expiry = Expiry(),
) -> dict[str, Metadata]:
    """Create version 1 of root, targets, snapshot and timestamp."""
    if not 1 <= root_threshold <= len(root_signers):
        raise UsageError(f"root threshold {root_threshold} needs at least as many root keys")
    if not 1 <= targets_threshold <= len(targets_signers):
        raise UsageError(f"targets threshold {targets_threshold} needs at least as many keys")
    t = now()
    root = Root(expires=t + expiry.root, consistent_snapshot=True)
    for s in root_signers:
        root.add_key(s.public_key, Root.type)
    for s in targets_signers:
        root.add_key(s.public_key, Targets.type)
    root.add_key(snapshot_signer.public_key, Snapshot.type)
    root.add_key(timestamp_signer.public_key, Timestamp.type)
    root.roles[Root.type].threshold = root_threshold
    root.roles[Targets.type].threshold = targets_threshold

    targets = Targets(expires=t + expiry.targets)
    targets.delegations = Delegations(keys={}, roles={})
    root_md = sign(Metadata(root), root_signers)
    targets_md = sign(Metadata(targets), targets_signers)
    snapshot_md = sign(
        Metadata(Snapshot(expires=t + expiry.snapshot, meta={"targets.json": MetaFile(1)})),
        [snapshot_signer],
    )
    timestamp_md = update_timestamp(None, snapshot_md, timestamp_signer, expiry)
    return {"root": root_md, "targets": targets_md, "snapshot": snapshot_md, "timestamp": timestamp_md}


def next_targets(targets_md: Metadata[Targets], expiry: Expiry = Expiry()) -> Metadata[Targets]:
    """An unsigned copy of the top-level targets role at the next version with a fresh expiry."""
    md: Metadata[Targets] = Metadata.from_dict(copy.deepcopy(targets_md.to_dict()))
    md.signed.version += 1
    md.signed.expires = now() + expiry.targets
    return md


def delegate_namespace(
    targets_md: Metadata[Targets],
    namespace: str,
    key: Key,
    expiry: Expiry = Expiry(),
) -> Metadata[Targets]:
    """The next version of the top-level targets role with ``namespace`` delegated to the
    publisher key ``key`` alone (replacing any key it had), unsigned."""
    names.check_namespace(namespace)
    targets_md = next_targets(targets_md, expiry)
    targets = targets_md.signed
    assert targets.delegations is not None and targets.delegations.roles is not None
    old = targets.delegations.roles.get(namespace)
    if old is not None:
        for keyid in list(old.keyids):
            targets.revoke_key(keyid, namespace)
    targets.delegations.roles[namespace] = DelegatedRole(
        name=namespace,
        keyids=[],
        threshold=1,
        terminating=True,
        paths=namespace_paths(namespace),
    )
    targets.add_key(key, namespace)
    return targets_md


def update_snapshot(
    snapshot_md: Metadata[Snapshot],
    role_versions: Mapping[str, int],
    signer: Signer,
    expiry: Expiry = Expiry(),
) -> Metadata[Snapshot]:
    """Return the next snapshot listing ``role_versions`` (role name → version) on top of the
    current one."""
    snapshot = Snapshot.from_dict(snapshot_md.signed.to_dict())
    for role, version in role_versions.items():
        snapshot.meta[f"{role}.json"] = MetaFile(version)
    snapshot.version += 1
    snapshot.expires = now() + expiry.snapshot
    return sign(Metadata(snapshot), [signer])


def update_timestamp(
    timestamp_md: Metadata[Timestamp] | None,
    snapshot_md: Metadata[Snapshot],
    signer: Signer,
    expiry: Expiry = Expiry(),
) -> Metadata[Timestamp]:
    """Return the next timestamp pointing at ``snapshot_md`` (version, length and sha256)."""
    data = to_bytes(snapshot_md)
    meta = MetaFile(
        snapshot_md.signed.version,
        length=len(data),
        hashes={"sha256": hashlib.sha256(data).hexdigest()},
    )
    version = 1 if timestamp_md is None else timestamp_md.signed.version + 1
    return sign(Metadata(Timestamp(version=version, expires=now() + expiry.timestamp, snapshot_meta=meta)), [signer])


# ---------------------------------------------------------------------------------------------
# Publisher side: sign the roles that list a new version's files


def new_namespace_role(
    namespace: str, key: Key, bits: int | None = None, expiry: Expiry = Expiry()
) -> Metadata[Targets]:
    """Version 1 of a namespace role delegating to ``2**bits`` bins (default
    ``DEFAULT_BIN_BITS``) signed by ``key``.

    Its bins do not exist until they are published: :func:`plan_publish` creates all of them
    with the namespace role (unsigned; the publisher signs every role it uploads).
    """
    bits = DEFAULT_BIN_BITS if bits is None else bits
    targets = Targets(expires=now() + expiry.publisher)
    succinct = SuccinctRoles(keyids=[], threshold=1, bit_length=bits, name_prefix=bin_prefix(namespace))
    targets.delegations = Delegations(keys={}, succinct_roles=succinct)
    targets.add_key(key)
    return Metadata(targets)


def plan_publish(
    namespace_md: Metadata[Targets] | None,
    bins: Mapping[str, Metadata[Targets]],
    files: Mapping[str, TargetFile],
    *,
    key: Key,
    existing: Collection[str] | None = None,
    expiry: Expiry = Expiry(),
) -> tuple[dict[str, Metadata[Targets]], list[str]]:
    """Add ``files`` (target path → TargetFile) to the publisher's roles.

    ``namespace_md``/``bins`` are the publisher's current namespace role (None before the first
    publish) and the bins it read: at least those that will hold ``files``. ``existing`` names
    every bin the registry holds, read or not (default: the keys of ``bins``). Every bin of the
    namespace that does not exist yet is created, empty: a client looks a path up in the bin its
    hash names, and the snapshot must list that bin for the lookup to say "not found". Returns
    ``(roles to sign and upload, paths that are new)``; both empty when every file is already
    published with the same bytes and no bin is missing. Raises ConflictError when a published
    file would change (the versions index is the one file that may change).
    """
    changed: dict[str, Metadata[Targets]] = {}
    created: set[str] = set()
    if namespace_md is None:
        any_path = next(iter(files))
        namespace = names.TargetName.parse(any_path).namespace
        namespace_md = new_namespace_role(namespace, key, expiry=expiry)
        changed[namespace] = namespace_md
        created.add(namespace)
        existing = ()
    succinct = _succinct(namespace_md)
    held = set(bins) | set(bins if existing is None else existing)
    for name in succinct.get_roles():
        if name not in held:
            changed[name] = Metadata(Targets(expires=now() + expiry.publisher))
            created.add(name)
    new_paths = []
    for path, info in sorted(files.items()):
        name = succinct.get_role_for_target(path)
        md = changed.get(name) or bins.get(name)
        if md is None:
            raise UsageError(f"bin {name} of the namespace role was not read before publishing {path}")
        old = md.signed.targets.get(path)
        if old is not None and (old.length, old.hashes) == (info.length, info.hashes):
            continue
        if old is not None and not names.TargetName.parse(path).is_index:
            raise ConflictError(f"{path} is already published with other bytes; publish a new version")
        if name not in changed:
            md = Metadata.from_dict(md.to_dict())
            changed[name] = md
        md.signed.targets[path] = info
        new_paths.append(path)
    if not new_paths and not created:
        return {}, []
    for name, md in changed.items():
        if name not in created:
            md.signed.version += 1
        md.signed.expires = now() + expiry.publisher
    return changed, new_paths


def _succinct(namespace_md: Metadata[Targets]) -> SuccinctRoles:
    delegations = namespace_md.signed.delegations
    if delegations is None or delegations.succinct_roles is None:
        raise UsageError("a namespace role must delegate to hash bins (succinct_roles)")
    return delegations.succinct_roles


# ---------------------------------------------------------------------------------------------
# Server side: check what a publisher uploads before anything is stored


@dataclass
class PublishCheck:
    """What :func:`check_publish` accepted."""

    roles: dict[str, Metadata[Targets]] = field(default_factory=dict)  # to store (changed only)
    new_targets: dict[str, TargetFile] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)  # roles re-sent byte for byte

    @property
    def is_noop(self) -> bool:
        return not self.roles


def check_publish(
    *,
    namespace: str,
    targets_md: Metadata[Targets],
    current: Mapping[str, Metadata[Targets]],
    current_bytes: Mapping[str, bytes],
    submitted: Mapping[str, bytes],
    at: datetime | None = None,
) -> PublishCheck:
    """Verify the roles a publisher submits for ``namespace``.

    ``current`` holds the stored namespace role and bins (by role name), ``submitted`` the new
    role bytes. Checks signatures against the delegated key (never a key the request brings),
    that versions increase, that no role expired, that every path lies in the namespace and in
    its bin, and that no published file changes. Raises SignatureError, ConflictError or
    UsageError; returns what to store.
    """
    at = at or now()
    if not submitted:
        raise UsageError("nothing to publish: no roles in the request")
    result = PublishCheck()
    parsed = {name: parse_metadata(data, name, Targets.type) for name, data in submitted.items()}
    for name, data in submitted.items():
        if current_bytes.get(name) == data:
            result.unchanged.append(name)
            del parsed[name]

    ns_md = current.get(namespace)
    if namespace in parsed:
        new_ns = parsed[namespace]
        _check_namespace_role(namespace, targets_md, ns_md, new_ns, submitted, at)
        result.roles[namespace] = new_ns
        ns_md = new_ns
    if ns_md is None:
        raise UsageError(f"the first publish to {namespace!r} must include role {namespace!r}")
    if namespace not in result.roles:
        _check_stored_namespace_role(namespace, targets_md, ns_md)
    succinct = _succinct(ns_md)

    for name, md in parsed.items():
        if name == namespace:
            continue
        old = current.get(name)
        _check_bin(namespace, ns_md, succinct, name, md, old, at)
        result.new_targets.update(_new_targets(old, md))
        result.roles[name] = md
    return result


def _check_namespace_role(
    namespace: str,
    targets_md: Metadata[Targets],
    ns_md: Metadata[Targets] | None,
    new_ns: Metadata[Targets],
    submitted: Mapping[str, bytes],
    at: datetime,
) -> None:
    """Check a submitted namespace role ``new_ns`` against the stored one (``ns_md``, None
    before the first publish). Raises SignatureError, ConflictError or UsageError."""
    _verify(targets_md.signed, namespace, new_ns, namespace)
    _check_version(namespace, ns_md, new_ns)
    _check_fresh(namespace, new_ns, at)
    if new_ns.signed.targets:
        raise UsageError(f"role {namespace!r} must not list files itself; bins list them")
    new_succ = _succinct(new_ns)
    if new_succ.name_prefix != bin_prefix(namespace):
        raise UsageError(f"bins of {namespace!r} must be named {bin_prefix(namespace)}-…")
    delegated = set(targets_md.signed.get_delegated_role(namespace).keyids)
    if not set(new_succ.keyids) <= delegated:
        raise SignatureError(
            f"role {namespace!r} delegates its bins to a key that is not the publisher's registered key"
        )
    if ns_md is not None and _succinct(ns_md).bit_length != new_succ.bit_length:
        raise ConflictError(f"the number of bins of {namespace!r} cannot change once published")
    if ns_md is not None and set(_succinct(ns_md).keyids) != set(new_succ.keyids):
        # Re-keyed: a bin left out would stay signed by a key the namespace role no longer
        # trusts, and every file in it would fail verification.
        missing = [b for b in new_succ.get_roles() if b not in submitted]
        if missing:
            raise UsageError(
                f"role {namespace!r} moves its bins to another key, so every bin must be re-signed in the same "
                f"publish ({len(missing)} missing, e.g. {missing[0]}): use `edzoo publisher renew`"
            )


def _check_stored_namespace_role(namespace: str, targets_md: Metadata[Targets], ns_md: Metadata[Targets]) -> None:
    """The stored role must still verify under the current delegation: after the admin
    re-keys a namespace, bins signed by the old key are refused until the publisher
    re-signs the namespace role with the new key. Raises SignatureError."""
    try:
        targets_md.signed.verify_delegate(namespace, ns_md.signed_bytes, ns_md.signatures)
    except UnsignedMetadataError as e:
        raise SignatureError(
            f"role {namespace!r} on the registry is signed by a key no longer registered for it; re-sign it "
            f"with the new key: edzoo publisher renew {namespace} --key NEW.pem --previous-key OLD.pub.json"
        ) from e


def _check_bin(
    namespace: str,
    ns_md: Metadata[Targets],
    succinct: SuccinctRoles,
    name: str,
    md: Metadata[Targets],
    old: Metadata[Targets] | None,
    at: datetime,
) -> None:
    """Check a submitted bin ``md`` against the namespace role and the stored bin (``old``,
    None if never published). Raises SignatureError, ConflictError or UsageError."""
    if not succinct.is_delegated_role(name):
        raise SignatureError(
            f"role {name!r} is not delegated to namespace {namespace!r}; a publisher may "
            f"only sign {namespace!r} and its bins"
        )
    _verify(ns_md.signed, name, md, namespace)
    _check_version(name, old, md)
    _check_fresh(name, md, at)
    if md.signed.delegations is not None:
        raise UsageError(f"bin {name!r} must not delegate further")
    for path, info in md.signed.targets.items():
        _check_target(namespace, succinct, name, path, info)
    if old is not None:
        _check_published_kept(old, md)


def _check_published_kept(old: Metadata[Targets], md: Metadata[Targets]) -> None:
    """Every file ``old`` lists stays in ``md`` with the same bytes (the versions index may
    change). Raises ConflictError."""
    for path, info in old.signed.targets.items():
        new = md.signed.targets.get(path)
        if new is None:
            raise ConflictError(f"{path} is published; removing it is not allowed")
        if (new.length, new.hashes) != (info.length, info.hashes) and not names.TargetName.parse(path).is_index:
            raise ConflictError(f"{path} is already published with other bytes; publish a new version")


def _new_targets(old: Metadata[Targets] | None, md: Metadata[Targets]) -> dict[str, TargetFile]:
    """The files ``md`` lists that ``old`` does not, or lists with other bytes."""
    new_targets = {}
    for path, info in md.signed.targets.items():
        old_info = old.signed.targets.get(path) if old is not None else None
        if old_info is None or (old_info.length, old_info.hashes) != (info.length, info.hashes):
            new_targets[path] = info
    return new_targets


def _verify(delegator: Targets, role: str, md: Metadata, namespace: str) -> None:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as e:
        raise SignatureError(
            f"role {role!r} is not signed by the key registered for namespace {namespace!r}: {e}"
        ) from e
    except ValueError as e:
        raise SignatureError(f"role {role!r} is not delegated: {e}") from e


def _check_version(role: str, old: Metadata | None, new: Metadata) -> None:
    old_version = old.signed.version if old is not None else 0
    if new.signed.version <= old_version:
        raise ConflictError(
            f"role {role!r}: version {new.signed.version} is not newer than the stored version "
            f"{old_version} (someone published in between, or this is a replay)",
            code="stale_role",
        )


def _check_fresh(role: str, md: Metadata, at: datetime) -> None:
    if md.signed.is_expired(at):
        raise UsageError(f"role {role!r} expired at {md.signed.expires.isoformat()}")


def _check_target(namespace: str, succinct: SuccinctRoles, role: str, path: str, info: TargetFile) -> None:
    try:
        parsed = names.TargetName.parse(path)
    except UsageError as e:
        if not path.startswith(namespace + "/"):
            raise SignatureError(f"{path} lies outside namespace {namespace!r}") from e
        raise
    if parsed.namespace != namespace:
        raise SignatureError(f"{path} lies outside namespace {namespace!r}")
    if succinct.get_role_for_target(path) != role:
        raise UsageError(f"{path} belongs in bin {succinct.get_role_for_target(path)}, not {role}")
    digest = info.hashes.get("sha256", "")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise UsageError(f"{path}: a lowercase sha256 hash is required")
    if info.length <= 0:
        raise UsageError(f"{path}: empty files are not published")


# ---------------------------------------------------------------------------------------------
# Key rotation (TUF spec 6.1: a new root is signed by a threshold of the old and of the new keys)


def next_root(root_md: Metadata[Root], expiry: Expiry = Expiry()) -> Metadata[Root]:
    """An unsigned copy of ``root_md`` at the next version with a fresh expiry."""
    root = Root.from_dict(copy.deepcopy(root_md.signed.to_dict()))  # from_dict keeps nested lists
    root.version += 1
    root.expires = now() + expiry.root
    return Metadata(root)


def replace_role_keys(root: Root, role: str, new_keys: Sequence[Key], threshold: int) -> list[str]:
    """Make ``new_keys`` the only keys of top-level ``role`` with ``threshold``; returns the key
    ids that were removed. Raises UsageError for an impossible threshold."""
    if not 1 <= threshold <= len(new_keys):
        raise UsageError(f"{role} threshold {threshold} needs at least as many keys (got {len(new_keys)})")
    removed = [keyid for keyid in root.roles[role].keyids if keyid not in {k.keyid for k in new_keys}]
    for keyid in removed:
        root.revoke_key(keyid, role)
    for key in new_keys:
        root.add_key(key, role)
    root.roles[role].threshold = threshold
    return removed


def sign_root(new_md: Metadata[Root], trusted: Metadata[Root], signers: Iterable[Signer]) -> Metadata[Root]:
    """Sign ``new_md`` with every signer that the trusted or the new root lists for root, then
    check that both thresholds are met, as a client updating from ``trusted`` checks them.
    Raises SignatureError naming what is missing."""
    wanted = set(trusted.signed.roles[Root.type].keyids) | set(new_md.signed.roles[Root.type].keyids)
    new_md.signatures.clear()
    for signer in signers:
        if signer.public_key.keyid in wanted and signer.public_key.keyid not in new_md.signatures:
            new_md.sign(signer, append=True)
    for what, delegator in (("the current", trusted.signed), ("the new", new_md.signed)):
        try:
            delegator.verify_delegate(Root.type, new_md.signed_bytes, new_md.signatures)
        except UnsignedMetadataError as e:
            threshold = delegator.roles[Root.type].threshold
            raise SignatureError(
                f"root version {new_md.signed.version} needs {threshold} signature(s) of {what} root keys: {e}"
            ) from e
    return new_md


def without_delegation(targets_md: Metadata[Targets], namespace: str, expiry: Expiry = Expiry()) -> Metadata[Targets]:
    """The next version of the top-level targets role with ``namespace``'s delegation and its
    keys removed, unsigned. Raises UsageError if ``namespace`` is not delegated."""
    roles = targets_md.signed.delegations.roles if targets_md.signed.delegations is not None else None
    if not roles or namespace not in roles:
        raise UsageError(f"namespace {namespace!r} is not delegated to any publisher")
    md = next_targets(targets_md, expiry)
    targets = md.signed
    assert targets.delegations is not None and targets.delegations.roles is not None
    for keyid in list(targets.delegations.roles[namespace].keyids):
        targets.revoke_key(keyid, namespace)
    del targets.delegations.roles[namespace]
    return md
