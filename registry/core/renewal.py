"""When each served role expires, who renews it, and what that makes of a registry's health.

Pure: functions take :class:`Metadata` objects (or their version and expiry) and a time, and
return typed reports. The server's ``/api/v1/health``, ``edzoo registry status`` and
``edzoo registry renew`` all read their verdicts from here, so they never disagree.

Who signs what::

    root, targets          offline    the admin's keys: ``edzoo registry renew`` once a year
    snapshot, timestamp    online     the running server, before half their lifetime is spent
    <ns>, <ns>.bin-xx      publisher  the publisher's key: ``edzoo publisher renew <ns>``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp

__all__ = [
    "OFFLINE",
    "ONLINE",
    "BinSummary",
    "ExpiryReport",
    "RoleExpiry",
    "assess",
    "iso",
    "served_roles",
    "signed_by",
]

OFFLINE = "offline"
ONLINE = "online"
ONLINE_ROLES = (Timestamp.type, Snapshot.type)
OFFLINE_ROLES = (Root.type, "targets")
# The order roles are listed in: root first, the online roles, targets, then publishers.
_ORDER = {Root.type: 0, Timestamp.type: 1, Snapshot.type: 2, "targets": 3}


def iso(at: datetime) -> str:
    """``2027-01-05T06:43:15Z``: the form TUF metadata writes its dates in."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_by(role: str) -> str:
    """``offline``, ``online`` or ``publisher <ns>`` for a role name (namespaces hold no ``.``,
    so ``<ns>.bin-xx`` is always one of ``<ns>``'s bins)."""
    if role in OFFLINE_ROLES:
        return OFFLINE
    if role in ONLINE_ROLES:
        return ONLINE
    return f"publisher {role.partition('.')[0]}"


@dataclass(frozen=True)
class RoleExpiry:
    """One served role: its version, when it expires, who signs it. ``renewable`` is False for
    an online role the server cannot renew (its key is missing or not the one root trusts)."""

    role: str
    version: int
    expires: datetime
    renewable: bool = True

    @property
    def signed_by(self) -> str:
        return signed_by(self.role)

    @property
    def namespace(self) -> str | None:
        by = self.signed_by
        return by.removeprefix("publisher ") if by.startswith("publisher ") else None

    @property
    def is_bin(self) -> bool:
        return self.namespace is not None and "." in self.role

    @classmethod
    def of(cls, role: str, md: Metadata[Any], *, renewable: bool = True) -> RoleExpiry:
        return cls(role, md.signed.version, md.signed.expires, renewable)

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "version": self.version, "expires": iso(self.expires), "signed_by": self.signed_by}


@dataclass(frozen=True)
class BinSummary:
    """A namespace's bins in one line: how many, and the earliest expiry among them."""

    namespace: str
    count: int
    earliest: datetime | None
    earliest_role: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "count": self.count,
            "earliest_expires": iso(self.earliest) if self.earliest else None,
            "earliest_role": self.earliest_role,
        }


@dataclass(frozen=True)
class ExpiryReport:
    """Every served role at time ``at``, judged against a warning ``window``.

    * **failing**: anything served has expired (clients refuse it);
    * **degraded**: something expires within the window, not counting the online roles the
      server renews by itself, unless it cannot (``renewable`` False);
    * **ok**: otherwise.
    """

    roles: tuple[RoleExpiry, ...]
    at: datetime
    window: timedelta
    # Judging stored files rather than a server that just renewed: an expired online role the
    # server can renew is renewed before any client is served it, so it does not count.
    stored: bool = False

    def is_expired(self, r: RoleExpiry) -> bool:
        return r.expires <= self.at

    def counts_expired(self, r: RoleExpiry) -> bool:
        """Expired, and no online role that a server renews before serving it (``stored``)."""
        return self.is_expired(r) and not (self.stored and r.signed_by == ONLINE and r.renewable)

    def is_expiring(self, r: RoleExpiry) -> bool:
        """Expires within the window (or has expired) and is no online role the server renews."""
        if r.expires - self.at >= self.window:
            return False
        return r.signed_by != ONLINE or not r.renewable or self.counts_expired(r)

    @property
    def expired(self) -> list[RoleExpiry]:
        return [r for r in self.roles if self.counts_expired(r)]

    @property
    def expiring(self) -> list[RoleExpiry]:
        """What expires within the window, soonest first (in listing order on a tie)."""
        order = {r.role: i for i, r in enumerate(self.roles)}
        return sorted((r for r in self.roles if self.is_expiring(r)), key=lambda r: (r.expires, order[r.role]))

    def expiring_entries(self) -> list[dict[str, Any]]:
        """:attr:`expiring` as JSON, a namespace's bins in one entry (``<ns>.bin-*``: the
        earliest bin's version and expiry, and ``count``), so the list grows with namespaces,
        not with bins."""
        entries: list[dict[str, Any]] = []
        bins: dict[str, dict[str, Any]] = {}
        for r in self.expiring:
            if not r.is_bin:
                entries.append(r.to_dict())
                continue
            assert r.namespace is not None
            entry = bins.get(r.namespace)
            if entry is None:
                entry = bins[r.namespace] = {**r.to_dict(), "role": f"{r.role.rpartition('-')[0]}-*", "count": 0}
                entries.append(entry)
            entry["count"] += 1
        return entries

    @property
    def status(self) -> str:
        if self.expired:
            return "failing"
        return "degraded" if self.expiring else "ok"

    def namespaces(self) -> list[str]:
        return sorted({r.namespace for r in self.roles if r.namespace is not None})

    def namespace_roles(self, namespace: str) -> list[RoleExpiry]:
        return [r for r in self.roles if r.namespace == namespace]

    def bins(self, namespace: str) -> BinSummary:
        bins = [r for r in self.namespace_roles(namespace) if r.is_bin]
        first = min(bins, key=lambda r: r.expires, default=None)
        return BinSummary(namespace, len(bins), first.expires if first else None, first.role if first else None)

    def namespaces_due(self) -> list[str]:
        """Namespaces one of whose roles expires within the window: their publisher must renew."""
        return [ns for ns in self.namespaces() if any(self.is_expiring(r) for r in self.namespace_roles(ns))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "at": iso(self.at),
            "window_days": self.window / timedelta(days=1),
            "expiring": self.expiring_entries(),
        }


def assess(roles: Iterable[RoleExpiry], *, at: datetime, window: timedelta, stored: bool = False) -> ExpiryReport:
    """The report on ``roles`` (each served role once) at ``at``, listed root, timestamp,
    snapshot, targets, then each namespace role followed by its bins. ``stored``: the roles are
    read from a data folder, not from a server that has just renewed its online roles."""
    ordered = sorted(roles, key=lambda r: (_ORDER.get(r.role, 4), r.role))
    return ExpiryReport(tuple(ordered), at, window, stored)


def served_roles(
    root: Metadata[Root],
    timestamp: Metadata[Timestamp],
    snapshot: Metadata[Snapshot],
    targets: Mapping[str, tuple[int, datetime]],
    *,
    online_renewable: Mapping[str, bool] | None = None,
) -> list[RoleExpiry]:
    """The :class:`RoleExpiry` of every role a registry serves: root, timestamp, snapshot and
    ``targets`` (role name → (version, expires), every targets role the snapshot lists).
    ``online_renewable`` says, for ``timestamp`` and ``snapshot``, whether the server can renew
    them (default: it can)."""
    renewable = dict(online_renewable or {})
    found = [
        RoleExpiry.of(Root.type, root),
        RoleExpiry.of(Timestamp.type, timestamp, renewable=renewable.get(Timestamp.type, True)),
        RoleExpiry.of(Snapshot.type, snapshot, renewable=renewable.get(Snapshot.type, True)),
    ]
    found += [RoleExpiry(name, version, expires) for name, (version, expires) in targets.items()]
    return found
