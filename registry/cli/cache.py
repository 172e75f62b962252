"""`edzoo cache`: what the local cache holds."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def cache() -> None:
    """Inspect the local cache."""


@cache.command("ls")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None)
def cache_ls(cache_dir: Path | None) -> None:
    """List cached registries and pulled files."""
    from registry.client.cache import Cache, default_cache_dir

    c = Cache(cache_dir or default_cache_dir())
    click.echo(f"cache {c.root}")
    for reg in c.registries():
        click.echo(f"registry {reg.url}")
        models = reg.root / "models"
        for link in sorted(p for p in models.rglob("*") if p.is_symlink() or p.is_file()):
            size = link.stat().st_size if link.exists() else 0
            click.echo(f"  {link.relative_to(models).as_posix():60s} {size:>10d} B")
    usage = c.usage()
    click.echo(f"{usage['blobs']} blobs, {usage['bytes']} bytes")


COMMANDS: tuple[click.Command, ...] = (cache,)
