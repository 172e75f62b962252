"""`edzoo yank` / `edzoo unyank` (the publisher) and `edzoo registry withdraw` / `unwithdraw`
(the registry admin, with the offline targets keys): recall a published model version."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli.options import backend_options
from registry.core.errors import UsageError

_REGISTRY_HELP = "Registry URL [env EDZOO_REGISTRY]."
_KEY_HELP = "Your private key, the one the namespace is delegated to (from `edzoo keys new`)."


def _publisher_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--token-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None)(f)
    f = click.option("--token", envvar="EDZOO_TOKEN", default=None, help="Upload token [env EDZOO_TOKEN].")(f)
    f = click.option("--key", "key_path", type=click.Path(path_type=Path), required=True, help=_KEY_HELP)(f)
    return click.option("--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help=_REGISTRY_HELP)(f)


def _token(token: str | None, token_file: Path | None) -> str:
    if token_file:
        token = token_file.read_text().strip()
    if not token:
        raise UsageError("an upload token is required: --token, --token-file or EDZOO_TOKEN")
    return token


@click.command()
@click.argument("ref", metavar="NAMESPACE/MODEL@VERSION")
@click.option("--reason", required=True, help="Why, in one line (at most 500 characters); every client shows it.")
@click.option("--use", "use", default=None, metavar="VERSION", help="The version to use instead [default: none].")
@_publisher_options
def yank(
    ref: str,
    reason: str,
    use: str | None,
    registry_url: str,
    key_path: Path,
    token: str | None,
    token_file: Path | None,
) -> None:
    """Withdraw a published version: a change of the signed versions index, nothing deleted.

    \b
    edzoo yank acme/reader@1.0.0 --reason "mislabels the letter Q" --use 1.0.1 \\
      --registry https://models.example.org --key acme.pem --token-file acme.token

    From then on `latest` and aliases skip the version (aliases that pointed to it move to
    --use, or are removed), a pin of it is refused with the reason and the replacement (exit
    13) unless `--allow-withdrawn`, and plans, bundles and mirrors drop it. Devices offline
    learn it with their next metadata. Yanking again replaces the reason; `edzoo unyank`
    restores the version.
    """
    from registry.client.recall import yank as do_yank

    result = do_yank(
        ref, reason=reason, use=use, registry=registry_url, key_path=key_path, token=_token(token, token_file)
    )
    _report(result)


@click.command()
@click.argument("ref", metavar="NAMESPACE/MODEL@VERSION")
@_publisher_options
def unyank(ref: str, registry_url: str, key_path: Path, token: str | None, token_file: Path | None) -> None:
    """Restore a version you withdrew with `edzoo yank` (a signed change of the versions index).

    \b
    edzoo unyank acme/reader@1.0.0 --registry https://models.example.org --key acme.pem --token-file acme.token

    `latest` may resolve to it again; aliases that moved away stay where they are. A
    withdrawal by the registry admin stays until `edzoo registry unwithdraw`.
    """
    from registry.client.recall import unyank as do_unyank

    _report(do_unyank(ref, registry=registry_url, key_path=key_path, token=_token(token, token_file)))


def _report(result) -> None:  # type: ignore[no-untyped-def]
    ref = f"{result.model}@{result.version}"
    if result.status == "unchanged":
        state = "withdrawn" if result.withdrawal else "not withdrawn by its publisher"
        click.echo(f"{ref} is already {state}; nothing to sign")
    elif result.status == "withdrawn":
        click.echo(f"withdrew {ref}: {result.withdrawal.reason}")
        click.echo(f"  use instead: {result.withdrawal.use or '(none named)'}")
    else:
        click.echo(f"restored {ref}")
    click.echo(f"  latest: {result.latest or '(none: every version is withdrawn)'}")
    for alias, version in sorted(result.aliases.items()):
        click.echo(f"  alias {alias} -> {version}")


_KEYS_HELP = "The offline keys folder (targets-N.pem) [default: DATA_DIR-keys]."


@click.command("withdraw")
@click.argument("data_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("ref", metavar="NAMESPACE/MODEL@VERSION")
@click.option("--reason", required=True, help="Why, in one line (at most 500 characters); every client shows it.")
@click.option("--use", "use", default=None, metavar="VERSION", help="The version to use instead [default: none].")
@click.option("--keys", "keys_dir", type=click.Path(path_type=Path), default=None, help=_KEYS_HELP)
@backend_options
def registry_withdraw(
    data_dir: Path,
    ref: str,
    reason: str,
    use: str | None,
    keys_dir: Path | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Emergency recall: withdraw a version with the OFFLINE targets keys, without its publisher.

    \b
    edzoo registry withdraw ./reg acme/reader@1.0.0 --reason "harmful output reported" \\
      --use 1.0.1 --keys /media/usb/reg-keys

    Signs a new top-level targets role listing `withdrawals.json` (the registry's own list,
    which no publisher key can sign); clients honour it as they honour `edzoo yank`. For a
    publisher who can be reached, `edzoo yank` is the usual way. Undo: `registry unwithdraw`.
    """
    from registry.server import recall_admin

    keys_dir = keys_dir or data_dir.with_name(data_dir.name + "-keys")
    result = recall_admin.withdraw(
        data_dir, keys_dir, ref, reason=reason, use=use, database_url=database_url, blobs=blobs
    )
    _report_admin(result)


@click.command("unwithdraw")
@click.argument("data_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("ref", metavar="NAMESPACE/MODEL@VERSION")
@click.option("--keys", "keys_dir", type=click.Path(path_type=Path), default=None, help=_KEYS_HELP)
@backend_options
def registry_unwithdraw(
    data_dir: Path, ref: str, keys_dir: Path | None, database_url: str | None, blobs: str | None
) -> None:
    """Lift a withdrawal made with `edzoo registry withdraw` (signed with the offline targets keys).

    \b
    edzoo registry unwithdraw ./reg acme/reader@1.0.0 --keys /media/usb/reg-keys

    A withdrawal by the publisher itself (`edzoo yank`) stays until `edzoo unyank`.
    """
    from registry.server import recall_admin

    keys_dir = keys_dir or data_dir.with_name(data_dir.name + "-keys")
    _report_admin(recall_admin.unwithdraw(data_dir, keys_dir, ref, database_url=database_url, blobs=blobs))


def _report_admin(result) -> None:  # type: ignore[no-untyped-def]
    ref = f"{result.model}@{result.version}"
    if result.status == "unchanged":
        state = "withdrawn by the registry" if result.withdrawal else "not withdrawn by the registry"
        click.echo(f"{ref} is already {state}; nothing to sign")
    elif result.status == "withdrawn":
        click.echo(f"withdrew {ref} (targets version {result.targets_version}): {result.withdrawal.reason}")
        click.echo(f"  use instead: {result.withdrawal.use or '(none named)'}")
    else:
        click.echo(f"lifted the registry's withdrawal of {ref} (targets version {result.targets_version})")
    if result.still_withdrawn_by_publisher:
        click.echo(f"  {ref} stays withdrawn by its publisher (`edzoo unyank` restores it)")


COMMANDS: tuple[click.Command, ...] = (yank, unyank)
REGISTRY_COMMANDS: tuple[click.Command, ...] = (
    registry_withdraw,
    registry_unwithdraw,
)
