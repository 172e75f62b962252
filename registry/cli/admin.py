"""`edzoo registry init` and `add-publisher`, `edzoo trust export` and `edzoo serve`: setting up and
running a registry (Flask, SQLAlchemy and gunicorn are imported when a command runs)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from registry.cli.options import (
    DEFAULT_PORT,
    backend_options,
)
from registry.core.errors import UsageError


@click.group()
def registry() -> None:
    """Create and administer a registry (needs the [server] extra)."""


@registry.command("init")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the OFFLINE root and targets keys [default: DATA_DIR-keys]. Move it "
    "to removable storage; the server never reads it.",
)
@click.option("--root-keys", default=1, show_default=True, help="Number of root keys.")
@click.option("--root-threshold", default=1, show_default=True, help="Root signatures required (production: 2 of 3).")
@click.option("--targets-keys", default=1, show_default=True)
@click.option("--targets-threshold", default=1, show_default=True)
@backend_options
def registry_init(
    data_dir: Path,
    keys_dir: Path | None,
    root_keys: int,
    root_threshold: int,
    targets_keys: int,
    targets_threshold: int,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Create a registry in DATA_DIR: TUF root, targets, snapshot and timestamp metadata.

    Root and targets keys go to the offline keys folder; snapshot and timestamp keys stay in
    DATA_DIR for the server. Apps must trust the printed root.json (`edzoo trust export`).
    """
    from registry.server import admin

    keys_dir = keys_dir or data_dir.with_name(data_dir.name + "-keys")
    result = admin.init(
        data_dir,
        keys_dir,
        root_keys=root_keys,
        root_threshold=root_threshold,
        targets_keys=targets_keys,
        targets_threshold=targets_threshold,
        database_url=database_url,
        blobs=blobs,
    )
    click.echo(f"registry     {result.data_dir}")
    click.echo(
        f"offline keys {result.keys_dir}  (root {root_threshold}-of-{root_keys}, "
        f"targets {targets_threshold}-of-{targets_keys}; keep this folder offline)"
    )
    click.echo(f"trusted root {result.root_path}")


@registry.command("add-publisher")
@click.argument("data_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("namespace")
@click.argument("public_key", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The offline keys folder [default: DATA_DIR-keys].",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the upload token to this file (mode 0600) instead of printing it.",
)
@click.option(
    "--token-expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="The token's life in days [default: until revoked].",
)
@backend_options
def registry_add_publisher(
    data_dir: Path,
    namespace: str,
    public_key: Path,
    keys_dir: Path | None,
    token_file: Path | None,
    token_expires_days: int | None,
    database_url: str | None,
    blobs: str | None,
) -> None:
    """Delegate NAMESPACE to the publisher key PUBLIC_KEY and issue an upload token.

    Signs the top-level targets role with the offline targets key. A namespace is delegated
    once (re-key it with `rotate-publisher`); the token is shown once (or written to
    --token-file). More tokens: `edzoo registry token issue`.
    """
    from registry.core._internal.files import atomic_write
    from registry.server import admin

    keys_dir = keys_dir or data_dir.with_name(data_dir.name + "-keys")
    token = admin.add_publisher(
        data_dir,
        keys_dir,
        namespace,
        public_key,
        database_url=database_url,
        blobs=blobs,
        token_expires_in=timedelta(days=token_expires_days) if token_expires_days else None,
    )
    if token_file:
        atomic_write(token_file, (token + "\n").encode(), mode=0o600)
        click.echo(f"namespace {namespace} delegated; upload token written to {token_file}")
    else:
        click.echo(f"namespace {namespace} delegated; upload token (shown once):", err=True)
        click.echo(token)


@click.group()
def trust() -> None:
    """The trusted root that apps and devices pin."""


@trust.command("export")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="The registry's data folder.",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Write root.json here [default: stdout]."
)
def trust_export(data_dir: Path, output: Path | None) -> None:
    """Export the registry's current root.json, to ship inside apps and device images."""
    from tuf.api.metadata import Metadata, Root

    from registry.core.errors import NotFoundError
    from registry.storage.objects import open_store

    try:
        info = json.loads((data_dir / "registry.json").read_text())
    except FileNotFoundError as e:
        raise UsageError(f"{data_dir} is not an edzoo registry (no registry.json)") from e
    store = open_store(info.get("blobs") or data_dir / "objects")
    path = f"{store.describe()}/tuf/root.json"
    try:
        data = store.get_bytes("tuf/root.json")
        md = Metadata.from_bytes(data)
    except NotFoundError as e:
        raise UsageError(f"{data_dir} is not an edzoo registry (no {path})") from e
    if md.signed.type != Root.type:
        raise UsageError(f"{path} is not root metadata")
    if output:
        from registry.core._internal.files import atomic_write

        atomic_write(output, data)
        click.echo(f"root version {md.signed.version} written to {output}", err=True)
    else:
        click.echo(data.decode())


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    envvar="EDZOO_DATA",
    help="The registry's data folder.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@backend_options
@click.option(
    "--redirect-blobs/--no-redirect-blobs",
    default=None,
    help="Answer model downloads with a 302 to a presigned S3 URL, so the bytes bypass the app servers "
    "(clients still check length and sha256) [env EDZOO_REDIRECT_BLOBS].",
)
def serve(
    data_dir: Path,
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
    database_url: str | None,
    blobs: str | None,
    redirect_blobs: bool | None,
) -> None:
    """Serve a registry with gunicorn (API under /api/v1, TUF repository under /tuf).

    \b
    A classroom:  edzoo serve --data ./reg
    A district:   edzoo serve --data ./reg --workers 4 \\
                    --db postgresql://edzoo@db/edzoo --blobs s3://district-models/edzoo
    Several servers may share one database and one bucket behind a load balancer; each needs
    the data folder's registry.json and the online keys (or EDZOO_SNAPSHOT_KEY and
    EDZOO_TIMESTAMP_KEY holding the PEMs). With S3, each process keeps blobs up to 1 MiB in
    memory, EDZOO_BLOB_CACHE_BYTES in all (default 64 MiB; 0 turns it off).
    """
    from registry.server.wsgi import run

    run(
        data_dir,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        access_log=access_log,
        database_url=database_url,
        blobs=blobs,
        redirect_blobs=redirect_blobs,
    )


COMMANDS: tuple[click.Command, ...] = (
    registry,
    trust,
    serve,
)
