"""`edzoo registry rotate-keys | rotate-publisher | revoke-publisher | token …`: the key lifecycle."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from registry.cli.options import backend_options, json_option
from registry.core._internal.files import atomic_write

_DATA = click.argument("data_dir", metavar="DATA", type=click.Path(path_type=Path, exists=True, file_okay=False))


def _keys_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--keys",
        "keys_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="The offline keys folder [default: DATA-keys].",
    )(f)


def _keys_dir(data_dir: Path, keys_dir: Path | None) -> Path:
    return keys_dir or data_dir.with_name(data_dir.name + "-keys")


@click.command("rotate-keys")
@_DATA
@click.option(
    "--role",
    required=True,
    type=click.Choice(["root", "targets", "snapshot", "timestamp"]),
    help="The top-level role whose keys are replaced.",
)
@_keys_option
@click.option("--count", type=click.IntRange(1, 16), default=None, help="New keys [default: as many as now].")
@click.option("--threshold", type=click.IntRange(1, 16), default=None, help="Signatures required [default: as now].")
@backend_options
def rotate_keys(
    data_dir: Path,
    role: str,
    keys_dir: Path | None,
    count: int | None,
    threshold: int | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Replace every key of a top-level role and sign a new root with the root keys.

    \b
    A leaked online key, or a forged timestamp at a huge version (fast-forward):
      edzoo registry rotate-keys ./reg --role timestamp
      edzoo registry rotate-keys ./reg --role snapshot
    A leaked targets key:   edzoo registry rotate-keys ./reg --role targets
    A leaked root key:      edzoo registry rotate-keys ./reg --role root --keys /media/usb/reg-keys

    The new root is signed by the current root keys (and, for --role root, by the new ones
    too), so devices that pinned any older root walk to it. New root and targets keys are
    written to the offline keys folder, new snapshot and timestamp keys to DATA/keys; the
    retired files move to a retired/ folder beside them. Running servers pick up the new
    online keys before they next sign (a server whose EDZOO_SNAPSHOT_KEY/EDZOO_TIMESTAMP_KEY
    still holds the retired key refuses to sign until it is given the new one).
    """
    from registry.server import keyadmin

    result = keyadmin.rotate_keys(
        data_dir,
        _keys_dir(data_dir, keys_dir),
        role,
        count=count,
        threshold=threshold,
        database_url=database_url,
        blobs=blobs,
    )
    click.echo(f"{role} keys rotated: root version {result.root_version}")
    for keyid in result.retired:
        click.echo(f"  retired {keyid}")
    for keyid, path in zip(result.added, result.key_files, strict=False):
        click.echo(f"  added   {keyid}  ({path})")
    if role in ("root", "targets"):
        click.echo("move the offline keys folder back to offline storage", err=True)


@click.command("rotate-publisher")
@_DATA
@click.argument("namespace")
@click.argument("public_key", metavar="NEW_PUBLIC_KEY", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_keys_option
@backend_options
def rotate_publisher(
    data_dir: Path,
    namespace: str,
    public_key: Path,
    keys_dir: Path | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Delegate NAMESPACE to a new publisher key (the old one is lost or leaked).

    \b
      edzoo registry rotate-publisher ./reg acme alice-2026.pub.json
    Then the publisher re-signs its roles with the new key, at once:
      edzoo publisher renew acme --key alice-2026.pem --previous-key alice.pub.json ...
    Until then pulls from NAMESPACE fail verification: nothing the old key signed is trusted.
    Upload tokens stay valid; reissue them with `edzoo registry token` if they leaked too.
    """
    from registry.server import keyadmin

    old = keyadmin.rotate_publisher(
        data_dir, _keys_dir(data_dir, keys_dir), namespace, public_key, database_url=database_url, blobs=blobs
    )
    click.echo(f"namespace {namespace}: key {old[:12]}… retired; the publisher must now run `edzoo publisher renew`")


@click.command("revoke-publisher")
@_DATA
@click.argument("namespace")
@click.option("--reason", required=True, help="One line, kept in the registry's log.")
@_keys_option
@backend_options
def revoke_publisher(
    data_dir: Path,
    namespace: str,
    reason: str,
    keys_dir: Path | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Remove NAMESPACE's delegation and revoke all its upload tokens.

    Clients no longer find any model of the namespace (not found, exit 6); the files stay in
    the store. `edzoo registry add-publisher` may delegate the namespace again later.
    """
    from registry.server import keyadmin

    live = keyadmin.revoke_publisher(
        data_dir, _keys_dir(data_dir, keys_dir), namespace, reason=reason, database_url=database_url, blobs=blobs
    )
    click.echo(f"namespace {namespace} revoked; {live} upload token(s) revoked")


@click.group("token")
def token() -> None:
    """Upload tokens of publishers: issue, revoke, list (no offline keys needed)."""


@token.command("issue")
@_DATA
@click.argument("namespace")
@click.option(
    "--expires-days", type=click.IntRange(1, 3650), default=None, help="Valid this long [default: until revoked]."
)
@click.option("--label", default="", help="What the token is for (a CI job, a person).")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the token to this file (mode 0600) instead of printing it.",
)
@backend_options
def token_issue(
    data_dir: Path,
    namespace: str,
    expires_days: int | None,
    label: str,
    token_file: Path | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Issue a new upload token for NAMESPACE; its other tokens stay valid until revoked.

    \b
    Reissue a leaked token:
      edzoo registry token issue ./reg acme --expires-days 90 --token-file acme.token
      edzoo registry token revoke ./reg acme --id 1
    """
    from registry.server import keyadmin

    token_id, value = keyadmin.issue_token(
        data_dir,
        namespace,
        expires_in=timedelta(days=expires_days) if expires_days else None,
        label=label,
        database_url=database_url,
        blobs=blobs,
    )
    until = f"for {expires_days} days" if expires_days else "until revoked"
    if token_file:
        atomic_write(token_file, (value + "\n").encode(), mode=0o600)
        click.echo(f"token {token_id} for {namespace} ({until}) written to {token_file}")
    else:
        click.echo(f"token {token_id} for {namespace} ({until}), shown once:", err=True)
        click.echo(value)


@token.command("revoke")
@_DATA
@click.argument("namespace")
@click.option("--id", "token_id", type=int, default=None, help="The token's id (`edzoo registry token list`).")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every token of NAMESPACE.")
@backend_options
def token_revoke(
    data_dir: Path,
    namespace: str,
    token_id: int | None,
    revoke_all: bool,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Revoke one upload token (--id) or all of NAMESPACE's (--all); effective at once."""
    from registry.core.errors import UsageError
    from registry.server import keyadmin

    if (token_id is None) == (not revoke_all):
        raise UsageError("give exactly one of --id N and --all")
    ids = keyadmin.revoke_tokens(data_dir, namespace, token_id=token_id, database_url=database_url, blobs=blobs)
    click.echo(f"revoked {len(ids)} token(s) of {namespace}" + (f": {', '.join(map(str, ids))}" if ids else ""))


@token.command("list")
@_DATA
@click.argument("namespace", required=False)
@json_option()
@backend_options
def token_list(
    data_dir: Path, namespace: str | None, as_json: bool, database_url: str | None, blobs: str | None
) -> None:
    """List upload tokens (never their values): id, namespace, state, expiry, label."""
    from registry.server import keyadmin

    rows = keyadmin.list_tokens(data_dir, namespace, database_url=database_url, blobs=blobs)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    click.echo(f"{'id':>4s}  {'namespace':20s} {'state':8s} {'expires':25s} label")
    for r in rows:
        expires = r.expires_at.isoformat() if r.expires_at else "never"
        click.echo(f"{r.id:>4d}  {r.namespace:20s} {r.state:8s} {expires:25s} {r.label}")


COMMANDS: tuple[click.Command, ...] = ()
REGISTRY_COMMANDS: tuple[click.Command, ...] = (
    rotate_keys,
    rotate_publisher,
    revoke_publisher,
    token,
)
