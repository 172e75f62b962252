"""`edzoo keys`: a publisher's signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli.options import (
    default_keys_dir,
)


@click.group()
def keys() -> None:
    """Publisher key pairs (Ed25519)."""


@keys.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write NAME.pem and NAME.pub.json [default: $EDZOO_KEYS or ~/.config/edzoo/keys].",
)
def keys_new(name: str, folder: Path | None) -> None:
    """Create a publisher key pair NAME.pem (private, 0600) and NAME.pub.json.

    Give NAME.pub.json to the registry admin (`edzoo registry add-publisher`); keep NAME.pem
    on the machine that publishes. It never leaves it.
    """
    from registry.core import keys as keylib
    from registry.core import names

    names.check_name(name, "key name")
    folder = folder or default_keys_dir()
    signer = keylib.generate()
    keylib.save_key_pair(signer, folder / f"{name}.pem", folder / f"{name}.pub.json")
    click.echo(f"private key  {folder / f'{name}.pem'}")
    click.echo(f"public key   {folder / f'{name}.pub.json'}")
    click.echo(f"key id       {signer.public_key.keyid}")


COMMANDS: tuple[click.Command, ...] = (keys,)
