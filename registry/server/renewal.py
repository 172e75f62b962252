"""Renewal of what the offline keys sign, and the expiry status of a registry's data folder.

``edzoo registry status`` reads every role's version and expiry; ``edzoo registry renew``
re-signs root (a new version signed by the same root keys) and targets when they expire within
the warning window, and says which publishers must renew their own roles (``edzoo publisher
renew``): the registry never holds a publisher key. The online roles (snapshot, timestamp) are
the running server's job (:meth:`Registry.refresh_online`).

Like every administration command, these run on a machine with the data folder and, to renew,
the offline keys folder; a renewal is one writer transaction (:meth:`Registry.lock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from registry.core import renewal, trust

from .keyadmin import offline_signers, open_registry, sign_targets

__all__ = ["PublisherNotice", "RenewResult", "Renewed", "registry_status", "renew"]


@dataclass(frozen=True)
class Renewed:
    role: str
    version: int
    expires: datetime


@dataclass(frozen=True)
class PublisherNotice:
    """A namespace whose roles expire within the window, and the command its publisher runs."""

    namespace: str
    roles: int
    earliest: datetime

    def command(self, registry_url: str = "URL") -> str:
        return (
            f"edzoo publisher renew {self.namespace} --registry {registry_url} --key {self.namespace}.pem "
            "--token-file TOKEN_FILE"
        )


@dataclass(frozen=True)
class RenewResult:
    renewed: tuple[Renewed, ...]
    kept: tuple[renewal.RoleExpiry, ...]  # offline roles not yet due
    publishers: tuple[PublisherNotice, ...]
    window: timedelta


def registry_status(
    data_dir: Path,
    *,
    window: timedelta | None = None,
    database_url: str | None = None,
    blobs: str | None = None,
) -> renewal.ExpiryReport:
    """Every served role of the registry in ``data_dir`` with its version and expiry, judged
    against ``window`` (default: the server's EDZOO_EXPIRY_WARNING_DAYS, 30 days). Reads only;
    online roles show as they are stored, and an expired one that the server can renew does
    not count as failing (a running server renews it before it serves it)."""
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry:
        report = registry.expiry_report()
    return renewal.assess(report.roles, at=report.at, window=window or report.window, stored=True)


def renew(
    data_dir: Path,
    keys_dir: Path,
    *,
    window: timedelta | None = None,
    force: bool = False,
    database_url: str | None = None,
    blobs: str | None = None,
) -> RenewResult:
    """Re-sign root and targets when they expire within ``window`` (default: the server's
    warning window), or both with ``force``: a new root version with the same keys, signed by
    the root keys of ``keys_dir``, and a new targets version signed by its targets keys. Lists
    the namespaces whose publisher must renew. Raises NotFoundError when the keys needed are not
    in ``keys_dir``, SignatureError when they do not meet root's threshold; nothing is stored
    then."""
    with open_registry(data_dir, database_url=database_url, blobs=blobs) as registry, registry.lock():
        report = registry.expiry_report()
        if window is not None:
            report = renewal.assess(report.roles, at=report.at, window=window)
        due = {r.role for r in report.roles if r.signed_by == renewal.OFFLINE and (force or report.is_expiring(r))}
        root_md = registry.current_root()
        # Load every key needed before anything is written: a missing keys folder stores nothing.
        root_signers = offline_signers(keys_dir, "root", root_md) if "root" in due else []
        if "targets" in due:
            offline_signers(keys_dir, "targets", root_md)  # present before anything is signed
        renewed: list[Renewed] = []
        new_root = None
        if "root" in due:
            new_root = trust.sign_root(trust.next_root(root_md, registry.config.expiry), root_md, root_signers)
        new_targets = None
        if "targets" in due:
            snapshot, _ = registry.snapshot()
            found = registry.role("targets", snapshot)
            assert found is not None
            new_targets = sign_targets(trust.next_targets(found[0], registry.config.expiry), root_md, keys_dir)
        if new_root is not None:
            registry.store_root(new_root)
            renewed.append(Renewed("root", new_root.signed.version, new_root.signed.expires))
        if new_targets is not None:
            registry.commit_roles({"targets": new_targets}, snapshot)
            renewed.append(Renewed("targets", new_targets.signed.version, new_targets.signed.expires))
    kept = tuple(r for r in report.roles if r.signed_by == renewal.OFFLINE and r.role not in due)
    notices = []
    for namespace in report.namespaces_due():
        roles = report.namespace_roles(namespace)
        notices.append(PublisherNotice(namespace, len(roles), min(r.expires for r in roles)))
    return RenewResult(tuple(renewed), kept, tuple(notices), report.window)
