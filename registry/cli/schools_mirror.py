"""`edzoo mirror` and `edzoo mirror-status`: a school's LAN mirror of a registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from registry.cli.options import json_option, progress_bars, root_option

# Equal to registry.schools.mirror's (imported lazily, so `edzoo --help` stays fast).
DEFAULT_MIRROR_PORT = 8471
DEFAULT_INTERVAL = 300


@click.command("mirror")
@click.option("--upstream", required=True, help="The registry to mirror, e.g. https://models.example.org.")
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="The catalog of models to mirror (manifests/catalogs/*.json); re-read on every sync.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The mirror's folder: its verified copy (www/), its cache and mirror.json.",
)
@root_option("The upstream's trusted root.json (`edzoo trust export`); needed on the first sync, then pinned.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on (all interfaces: the LAN).")
@click.option("--port", default=DEFAULT_MIRROR_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--interval",
    default=DEFAULT_INTERVAL,
    show_default=True,
    type=click.IntRange(1, 7 * 86400),
    help="Seconds between syncs. The copy counts as stale after 2 intervals without a successful sync "
    "(with --once from cron: the cron period).",
)
@click.option("--once", is_flag=True, help="Sync, print what was fetched and how fresh the copy is, and exit.")
@click.option("--access-log", is_flag=True, help="Log every request to stderr.")
def mirror(
    upstream: str,
    catalog_path: Path,
    data_dir: Path,
    root: Path | None,
    host: str,
    port: int,
    interval: int,
    once: bool,
    access_log: bool,
) -> None:
    """Mirror what a catalog needs from a registry and serve it to the school's devices.

    \b
    On a school server or any laptop on the school network:
      edzoo mirror --upstream https://models.example.org \\
          --catalog manifests/catalogs/grade1-3-literacy-numeracy.json \\
          --data /srv/edzoo-mirror --root root.json
    Devices then pull from the mirror as from the registry, with the same root:
      edzoo pull edzoo/handwriting --registry http://school-server:8471 --root root.json
    From cron, with any web server serving /srv/edzoo-mirror/www:
      edzoo mirror --upstream URL --catalog CATALOG --data /srv/edzoo-mirror --once --interval 3600

    Every file is verified against the registry's signed metadata before it is served, and
    devices verify it again: the mirror holds no keys and cannot alter a model. It mirrors, for
    each catalog model, the catalog's version (or the latest release) with all its variants and
    files, and the model's versions index; a device asking for another version gets "not found".
    When the registry is unreachable, the mirror keeps serving its copy; /mirror/status and
    `edzoo mirror-status` say how fresh it is (devices refuse it once the registry's timestamp,
    valid one day, has expired).

    Withdrawn (recalled) versions are not mirrored: a model without a version gets its newest
    version that is not withdrawn, a catalog pin to a withdrawn version is "not mirrored" with
    the reason, and files of a version withdrawn after they were synced are deleted and answered
    404 naming the withdrawal. The sync summary and `edzoo mirror-status` list them.
    """
    from registry.schools import mirror as mirrorlib
    from registry.schools.catalog import load_catalog

    load_catalog(catalog_path)  # bad input fails here, before anything is written
    if once:
        result = mirrorlib.sync(
            upstream, catalog_path, data_dir, root=root, interval=interval, progress=progress_bars(True)
        )
        _print_sync(result)
        _print_status(mirrorlib.status_report(data_dir))
        return
    mirrorlib.run_mirror(
        upstream,
        catalog_path,
        data_dir,
        root=root,
        host=host,
        port=port,
        interval=interval,
        access_log=access_log,
        progress=progress_bars(True),
    )


@click.command("mirror-status")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="The mirror's folder (as given to `edzoo mirror --data`).",
)
@json_option("Print the status as JSON.")
@click.option("--check", is_flag=True, help="Exit with 1 when the copy is not fresh (for monitoring).")
@click.pass_context
def mirror_status(ctx: click.Context, data_dir: Path, as_json: bool, check: bool) -> None:
    """Show how fresh a mirror's copy is, from its mirror.json (no network): what it serves, the
    withdrawn versions it does not serve, and the last sync's error.

    \b
    Example:
      edzoo mirror-status --data /srv/edzoo-mirror
      edzoo mirror-status --data /srv/edzoo-mirror --check || echo "the mirror is stale"
    """
    from registry.schools.mirror import status_report

    report = status_report(data_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_status(report, models=True)
    if check and not report["fresh"]:
        ctx.exit(1)


def _print_sync(result: Any) -> None:
    from registry.core.units import format_bytes

    click.echo(
        f"synced {len(result.models)} models from {result.upstream} for catalog {result.catalog_id} "
        f"(snapshot {result.snapshot_version}, timestamp {result.timestamp_version}) in {result.seconds:.1f} s"
    )
    for m in result.models:
        click.echo(
            f"  {m.model} {m.version} ({m.requested}): variants {', '.join(m.variants)}; "
            f"{len(m.targets)} files, {format_bytes(m.bytes)}"
        )
    for u in result.unavailable:
        click.echo(f"  not mirrored: {u.model}: {u.reason}")
    for w in result.withdrawn:
        click.echo(f"  withdrawn, not served: {w.message}")
    if result.removed_files:
        click.echo(f"removed {result.removed_files} files of withdrawn versions from {result.www}")
    click.echo(
        f"fetched {result.fetched_files} files ({format_bytes(result.fetched_bytes)}) and "
        f"{format_bytes(result.metadata_bytes)} of metadata; skipped {result.skipped_files} files "
        f"({format_bytes(result.skipped_bytes)}) already held"
    )
    click.echo(f"wrote {result.written_files} files into {result.www}")


def _print_status(report: dict[str, Any], models: bool = False) -> None:
    catalog = report.get("catalog") or {}
    if models:
        click.echo(f"mirror of {report.get('upstream')} for catalog {catalog.get('id')}")
    if report.get("last_success"):
        click.echo(
            f"last success {report['last_success']} ({report['age_seconds']} s ago); timestamp "
            f"{report.get('timestamp_version')}, snapshot {report.get('snapshot_version')}, "
            f"valid until {report.get('timestamp_expires')}"
        )
    else:
        click.echo("never synced successfully")
    if models:
        for m in report.get("models", []):
            click.echo(f"  {m['model']} {m['version']}: variants {', '.join(m['variants'])}")
        for u in report.get("unavailable", []):
            click.echo(f"  not mirrored: {u['model']}: {u['reason']}")
        for w in report.get("withdrawn", []):
            click.echo(f"  withdrawn, not served: {w['message']}")
    if report.get("last_error"):
        click.echo(f"last attempt {report.get('last_attempt')} failed: {report['last_error']}")
    if report["fresh"]:
        click.echo("fresh")
    else:
        click.echo("STALE: " + "; ".join(report["stale_reasons"]))


COMMANDS: tuple[click.Command, ...] = (mirror, mirror_status)
