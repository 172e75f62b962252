"""`edzoo publish`: sign and upload a build directory."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli.options import (
    progress_bars,
)
from registry.core.errors import UsageError


@click.command()
@click.argument("build_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--registry", "registry_url", envvar="EDZOO_REGISTRY", default=None, help="Registry URL [env EDZOO_REGISTRY]."
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Your private key (from `edzoo keys new`).",
)
@click.option("--token", envvar="EDZOO_TOKEN", default=None, help="Upload token [env EDZOO_TOKEN].")
@click.option("--token-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None)
@click.option("--alias", "aliases", multiple=True, help="Move an alias (e.g. stable) to this version.")
@click.option("--dry-run", is_flag=True, help="Validate the build directory and stop.")
def publish(
    build_dir: Path,
    registry_url: str | None,
    key_path: Path | None,
    token: str | None,
    token_file: Path | None,
    aliases: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Sign and publish BUILD_DIR (manifest.json + its files) as one model version."""
    from registry.client import upload as pub

    if dry_run:
        build = pub.check_build(build_dir)
        click.echo(
            f"{build.namespace}/{build.name}@{build.version}: {len(build.files)} files, "
            f"{sum(f.size for f in build.files)} bytes, manifest valid"
        )
        return
    if not registry_url or not key_path:
        raise UsageError("--registry and --key are required to publish (or use --dry-run)")
    if not registry_url or not key_path:
        raise UsageError("--registry and --key are required to publish (or use --dry-run)")
    if token_file:
        token = token_file.read_text().strip()
    if not token:
        raise UsageError("an upload token is required: --token, --token-file or EDZOO_TOKEN")
    result = pub.publish(
        build_dir, registry=registry_url, key_path=key_path, token=token, aliases=aliases, progress=progress_bars(True)
    )
    if result.status == "unchanged":
        click.echo(f"{result.model}@{result.version} is already published with these bytes; nothing to do")
        return
    click.echo(
        f"published {result.model}@{result.version}: {len(result.uploaded)} files uploaded, "
        f"{len(result.roles)} roles signed"
    )
    for alias, version in sorted(result.aliases.items()):
        click.echo(f"  alias {alias} -> {version}")


COMMANDS: tuple[click.Command, ...] = (publish,)
