"""`edzoo cache`: what the local cache holds, checked; and what it can let go."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from registry.cli.options import cache_option, json_option
from registry.core.units import format_bytes


@click.group()
def cache() -> None:
    """Inspect, verify and prune the local cache."""


def _open(cache_dir: Path | None):  # type: ignore[no-untyped-def]
    from registry.client.cache import Cache, default_cache_dir

    return Cache(cache_dir or default_cache_dir())


@cache.command("ls")
@cache_option()
@json_option("One JSON object: the cache folder, every pulled file with its state, and the totals.")
def cache_ls(cache_dir: Path | None, as_json: bool) -> None:
    """List cached registries and pulled files, each with its state: ok, corrupt (its bytes no
    longer hash to the blob's name) or missing. Every blob is hashed once. Exits 4 when a file
    is not ok."""
    from registry.client.inventory import OK, list_cache

    c = _open(cache_dir)
    files = list_cache(c)
    usage = c.usage()
    if as_json:
        doc = {"cache": str(c.root), "files": [f.to_json() for f in files], **usage}
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"cache {c.root}")
        registry = None
        for f in files:
            if f.registry != registry:
                registry = f.registry
                click.echo(f"registry {registry}")
            click.echo(f"  {f.target:60s} {format_bytes(f.size):>10s}  {f.state}")
        click.echo(f"{usage['blobs']} blobs, {format_bytes(usage['bytes'])}")
    bad = [f for f in files if f.state != OK]
    if bad:
        if not as_json:
            click.echo(
                f"error: {len(bad)} pulled file(s) are not ok: run `edzoo cache verify`, then pull them again", err=True
            )
        raise click.exceptions.Exit(4)


@cache.command("verify")
@cache_option()
@click.option("--grace-days", default=14, show_default=True, type=click.IntRange(0, 365))
@json_option("One JSON object per pulled file, with its state and, when it failed, why.")
def cache_verify(cache_dir: Path | None, grace_days: int, as_json: bool) -> None:
    """Check every pulled file against the signed metadata the cache holds, offline, as
    `edzoo verify` does for one. Exits 4 when any fails (each is named, with the reason);
    pulling it again replaces a bad file."""
    from registry.client.inventory import OK, verify_cache

    files = verify_cache(_open(cache_dir), grace=timedelta(days=grace_days))
    for f in files:
        if as_json:
            click.echo(json.dumps(f.to_json()))
        elif f.state == OK:
            click.echo(f"OK {f.target}")
        else:
            click.echo(f"FAILED {f.target} ({f.registry}): {f.problem or f.state}", err=True)
    bad = sum(f.state != OK for f in files)
    if not as_json:
        click.echo(f"{len(files) - bad} of {len(files)} pulled files verified", err=True)
    if bad:
        raise click.exceptions.Exit(4)


@cache.command("prune")
@cache_option()
@click.option(
    "--registry",
    "registries",
    multiple=True,
    help="Also forget this registry: its metadata, pinned root and pulled files (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option("One JSON object: the blobs, partial downloads and registries removed, and the bytes freed.")
def cache_prune(cache_dir: Path | None, registries: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Remove what no pulled file points at: blobs of files no longer linked and partial
    downloads no pull is writing. Every pulled file stays usable, offline too."""
    from registry.client.cache import normalize_url
    from registry.client.inventory import prune_cache

    result = prune_cache(_open(cache_dir), drop_registries=tuple(normalize_url(r) for r in registries), dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "dry_run": dry_run}, indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(result.blobs)} blobs, {len(result.partials)} partial downloads"
        + (f", registries {', '.join(result.registries)}" if result.registries else "")
        + f": {format_bytes(result.freed)}"
    )


COMMANDS: tuple[click.Command, ...] = (cache,)
