"""`edzoo registry status` / `edzoo registry renew` (the registry admin) and `edzoo publisher
renew` (a publisher): see and renew the expiry dates of a registry's signed metadata."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from registry.cli.options import backend_options, json_option
from registry.core.errors import UsageError

_DAYS_HELP = (
    "The warning window: what expires within N days is marked (status) or renewed (renew) "
    "[default: $EDZOO_EXPIRY_WARNING_DAYS or 30]."
)


def _window(days: float | None) -> timedelta | None:
    if days is None:
        return None
    if days < 0:
        raise UsageError(f"--days must be 0 or more, got {days:g}")
    return timedelta(days=days)


def _left(expires: Any, at: Any) -> str:
    seconds = (expires - at).total_seconds()
    if seconds <= 0:
        return "EXPIRED"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


@click.command("status")
@click.argument("data_dir", metavar="DATA", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--days", type=float, default=None, help=_DAYS_HELP)
@json_option("Print every role as JSON (bins one by one).")
@backend_options
def registry_status(
    data_dir: Path, days: float | None, as_json: bool, database_url: str | None, blobs: str | None
) -> None:
    """List every role's version and expiry: root, timestamp, snapshot, targets, each
    namespace role and a summary of its bins. Marks what expires within the window.

    \b
      edzoo registry status ./reg
      edzoo registry status ./reg --days 60 --json
    Reads only. Who renews what: offline roles (root, targets) `edzoo registry renew`; online
    roles (snapshot, timestamp) the running server, by itself; a namespace's roles its publisher,
    with `edzoo publisher renew`. Status ok, degraded (something expires within the window) or
    failing (something has expired), as /api/v1/health says it.
    """
    from registry.core import renewal as core
    from registry.server import renewal

    report = renewal.registry_status(data_dir, window=_window(days), database_url=database_url, blobs=blobs)
    if as_json:
        doc = {
            **report.to_dict(),
            "roles": [
                {**r.to_dict(), "expiring": report.is_expiring(r), "expired": report.is_expired(r)}
                for r in report.roles
            ],
            "bins": [report.bins(ns).to_dict() for ns in report.namespaces()],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{'role':24s} {'version':>7s}  {'expires':20s} {'left':>7s}  signed by")
    click.echo("-" * 78)

    def line(name: str, version: str, expires: Any, by: str, mark: str) -> None:
        when = core.iso(expires) if expires else "-"
        left = _left(expires, report.at) if expires else "-"
        click.echo(f"{name:24s} {version:>7s}  {when:20s} {left:>7s}  {by}{mark}")

    def mark_of(r: core.RoleExpiry) -> str:
        if r.signed_by == core.ONLINE and r.renewable:
            return "  (as stored; a running server renews it before serving it)" if report.is_expired(r) else ""
        if report.is_expired(r):
            return "  << EXPIRED"
        return "  << expires within the window" if report.is_expiring(r) else ""

    for r in report.roles:
        if not r.is_bin:
            line(r.role, str(r.version), r.expires, r.signed_by, mark_of(r))
        if r.namespace is not None and not r.is_bin:
            bins = report.bins(r.namespace)
            due = [b for b in report.namespace_roles(r.namespace) if b.is_bin and report.is_expiring(b)]
            mark = ""
            if due:
                expired = any(report.is_expired(b) for b in due)
                mark = f"  << {len(due)} {'EXPIRED' if expired else 'expire within the window'}"
            line(f"  {bins.count} bins", "", bins.earliest, f"earliest {bins.earliest_role or '-'}", mark)
    click.echo("")
    click.echo(f"status {report.status} at {core.iso(report.at)} (window {report.window.days} days)")
    for ns in report.namespaces_due():
        click.echo(f"  publisher {ns} must run: edzoo publisher renew {ns} --registry URL --key KEY --token-file FILE")
    if any(r.signed_by == core.OFFLINE and report.is_expiring(r) for r in report.roles):
        click.echo(f"  run: edzoo registry renew {data_dir} --keys OFFLINE_KEYS")


@click.command("renew")
@click.argument("data_dir", metavar="DATA", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The offline keys folder [default: DATA-keys].",
)
@click.option("--days", type=float, default=None, help=_DAYS_HELP)
@click.option("--force", is_flag=True, help="Renew root and targets even when they are not due.")
@click.option(
    "--registry-url", default="URL", show_default=True, help="The registry URL to put in the publishers' commands."
)
@backend_options
def registry_renew(
    data_dir: Path,
    keys_dir: Path | None,
    days: float | None,
    force: bool,
    registry_url: str,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Re-sign what the offline keys sign, root and targets, when they expire within the window,
    and print the command each publisher whose roles expire must run.

    \b
      edzoo registry renew ./reg --keys /media/usb/reg-keys
      edzoo registry renew ./reg --keys /media/usb/reg-keys --force
    Root gets a new version signed by the same root keys (devices walk to it from the root they
    pinned); targets a new version signed by the targets keys. Both are valid for 365 days. The
    online roles are the running server's, and publishers hold their own keys: this command never
    signs for them. Run it once a year, within the window before the expiry dates that
    `edzoo registry status` prints.
    """
    from registry.core import renewal as core
    from registry.server import renewal

    keys_dir = keys_dir or data_dir.with_name(data_dir.name + "-keys")
    result = renewal.renew(
        data_dir, keys_dir, window=_window(days), force=force, database_url=database_url, blobs=blobs
    )
    for r in result.renewed:
        click.echo(f"renewed {r.role:8s} version {r.version}, expires {core.iso(r.expires)}")
    for kept in result.kept:
        click.echo(
            f"kept    {kept.role:8s} version {kept.version}, expires {core.iso(kept.expires)} "
            f"(beyond the {result.window.days}-day window; --force renews it)"
        )
    for notice in result.publishers:
        click.echo(
            f"publisher {notice.namespace}: {notice.roles} roles, the first expires {core.iso(notice.earliest)}; "
            f"the publisher must run:\n  {notice.command(registry_url)}"
        )
    if result.renewed:
        click.echo("move the offline keys folder back to offline storage", err=True)


# -- the publisher's side ----------------------------------------------------------------------
@click.group()
def publisher() -> None:
    """A publisher's own roles: renew them before they expire, re-key them after a rotation."""


@publisher.command("renew")
@click.argument("namespace")
@click.option(
    "--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL [env EDZOO_REGISTRY]."
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Your private key: the one NAMESPACE is delegated to (the new one after a rotation).",
)
@click.option(
    "--previous-key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="After `edzoo registry rotate-publisher`: the old public key (OLD.pub.json) that signed the roles.",
)
@click.option("--token", envvar="EDZOO_TOKEN", default=None, help="Upload token [env EDZOO_TOKEN].")
@click.option("--token-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None)
def publisher_renew(
    namespace: str,
    registry_url: str,
    key_path: Path,
    previous_key: Path | None,
    token: str | None,
    token_file: Path | None,
) -> None:
    """Re-sign NAMESPACE's roles (the namespace role and every bin) with KEY: versions bumped,
    valid for another 365 days. No file changes.

    \b
    Renew, once a year (when `edzoo registry renew` names your namespace):
      edzoo publisher renew acme --registry URL --key alice.pem --token-file acme.token
    Re-key, right after the admin ran `edzoo registry rotate-publisher` with your new key:
      edzoo publisher renew acme --registry URL --key alice-2026.pem \\
        --previous-key alice.pub.json --token-file acme.token
    Every role must carry your signature (KEY's, or --previous-key's); a role signed by another
    key is refused. A publish that lands meanwhile is read and signed again.
    """
    from registry.client.roles import renew_roles
    from registry.core import renewal as core

    if token_file:
        token = token_file.read_text().strip()
    if not token:
        raise UsageError("an upload token is required: --token, --token-file or EDZOO_TOKEN")
    result = renew_roles(
        namespace, registry=registry_url, key_path=key_path, token=token, previous_key_path=previous_key
    )
    what = "re-keyed" if result.rekeyed else "renewed"
    click.echo(
        f"{what} {namespace}: {len(result.roles)} roles ({namespace} version {result.version} and "
        f"{len(result.roles) - 1} bins) signed by key {result.keyid[:12]}…, valid until {core.iso(result.expires)}"
    )


COMMANDS: tuple[click.Command, ...] = (publisher,)
REGISTRY_COMMANDS: tuple[click.Command, ...] = (
    registry_status,
    registry_renew,
)
