"""A publisher's own roles: renew them before they expire, or re-key them after a rotation.

``renew_roles`` reads the namespace role and every bin the registry serves, checks that each
carries the publisher's signature (``key``, or ``previous_key`` after the registry admin moved
the namespace to a new key with ``edzoo registry rotate-publisher``), and signs all of them again
with ``key``: versions bumped, a fresh expiry, the namespace role delegating its bins to ``key``
alone. No file changes; the registry checks the roles as it checks any publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Targets

from registry.core import keys, names, trust
from registry.core.errors import NotFoundError, SignatureError, UsageError

from .http import ApiClient, ClientConfig
from .upload import _listed_roles, retry_stale, sign_and_post

__all__ = ["RenewResult", "renew_roles"]


@dataclass(frozen=True)
class RenewResult:
    namespace: str
    roles: tuple[str, ...]  # every role re-signed: the namespace role, then its bins
    version: int  # the namespace role's new version
    expires: datetime
    keyid: str  # the key that signs them now
    rekeyed: bool  # the roles were signed by the previous key


def renew_roles(
    namespace: str,
    *,
    registry: str,
    key_path: Path,
    token: str,
    previous_key_path: Path | None = None,
    config: ClientConfig = ClientConfig(),
    expiry: trust.Expiry = trust.Expiry(),
) -> RenewResult:
    """Re-sign every role of ``namespace`` with the private key ``key_path``.

    With ``previous_key_path`` (the old ``.pub.json``), roles signed by that key are accepted
    too and move to the new key. Raises NotFoundError when the namespace has no roles yet,
    SignatureError when a role is signed by neither key (or the registry trusts another key),
    AuthError for a bad token; a 409 stale_role (a publish landed in between) is retried.
    """
    names.check_namespace(namespace)
    signer = keys.load_signer(Path(key_path))
    accepted: dict[str, Key] = {signer.public_key.keyid: signer.public_key}
    if previous_key_path is not None:
        previous = keys.load_public_key(Path(previous_key_path))
        accepted.setdefault(previous.keyid, previous)
    api = ApiClient(registry, token=token, config=config)
    api.check_token(namespace)
    return retry_stale(lambda: _renew_once(api, namespace, signer, accepted, expiry))


def _renew_once(
    api: ApiClient, namespace: str, signer: Any, accepted: dict[str, Key], expiry: trust.Expiry
) -> RenewResult:
    key: Key = signer.public_key
    ns_md = _own_role(api, namespace, accepted)
    if ns_md is None:
        raise NotFoundError(f"namespace {namespace!r} has no roles on the registry yet: publish a model first")
    delegations = ns_md.signed.delegations
    succinct = delegations.succinct_roles if delegations is not None else None
    if delegations is None or succinct is None:
        raise UsageError(f"role {namespace!r} on the registry delegates to no hash bins; it is not an edzoo role")
    listed = _listed_roles(api)
    changed: dict[str, Metadata[Targets]] = {namespace: ns_md}
    created: list[str] = []
    expires = trust.now() + expiry.publisher
    for name in succinct.get_roles():
        md = _own_role(api, name, accepted) if name in listed else None
        if md is None:
            # A namespace published before every bin was made with the first publish: its
            # missing bins are made now, so the snapshot lists every delegated role.
            md = Metadata(Targets(expires=expires))
            created.append(name)
        changed[name] = md
    rekeyed = succinct.keyids != [key.keyid] or any(
        key.keyid not in md.signatures for name, md in changed.items() if name not in created
    )
    for name, md in changed.items():
        if name not in created:
            md.signed.version += 1
        md.signed.expires = expires
    # The bins are delegated to the new key alone: the old one signs nothing from now on.
    for keyid in list(succinct.keyids):
        if keyid != key.keyid:
            ns_md.signed.revoke_key(keyid)
    if key.keyid not in succinct.keyids:
        ns_md.signed.add_key(key)
    sign_and_post(api, changed, signer, f"renewing {namespace}")
    return RenewResult(namespace, tuple(changed), ns_md.signed.version, expires, key.keyid, rekeyed)


def _own_role(api: ApiClient, name: str, accepted: dict[str, Key]) -> Metadata[Targets] | None:
    """Role ``name`` as the registry serves it, checked to carry a valid signature of one of the
    ``accepted`` keys (a registry cannot have the publisher re-sign content it slipped in)."""
    data = api.get_bytes(f"/roles/{name}")
    if data is None:
        return None
    md = trust.parse_metadata(data, name, Targets.type)
    for keyid, key in accepted.items():
        sig = md.signatures.get(keyid)
        if sig is None:
            continue
        try:
            key.verify_signature(sig, md.signed_bytes)
        except UnverifiedSignatureError as e:
            raise SignatureError(f"the registry returned role {name} with a bad signature") from e
        return md
    ids = ", ".join(f"{k[:12]}…" for k in accepted)
    raise SignatureError(
        f"role {name} on the registry is not signed by your key ({ids}): renew with the key that signed it, "
        "or after a rotation pass the old one as --previous-key OLD.pub.json"
    )
