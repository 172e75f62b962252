"""`edzoo bundle` and `edzoo install-bundle`: a plan's models on a USB stick, installed offline.

Argument handling and printing only; the work is in :mod:`registry.schools.bundle`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from registry.cli.options import cache_option, progress_bars, root_option
from registry.core.units import format_bytes


def _staleness(value: str | None) -> timedelta | None:
    from registry.schools.bundle import parse_staleness

    return None if value is None else parse_staleness(value)


@click.command("bundle")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The bundle folder (e.g. on the USB stick). Empty or new, or an unfinished bundle of the same plan "
    "(it is resumed).",
)
@click.option(
    "--registry",
    "registry_url",
    default=None,
    help="Registry URL [default: the one the plan was made against]; a mirror of the same registry works.",
)
@root_option("Trusted root.json [default: the root pinned in the cache for that registry].")
@cache_option("Download cache [default: $EDZOO_CACHE or ~/.cache/edzoo]; a warm cache makes the next bundle cheap.")
@click.option(
    "--since",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="A previous complete bundle for the same fleet: write only the files it does not hold (a delta).",
)
@click.option(
    "--max-staleness",
    default="30d",
    show_default=True,
    help="The bundle's policy: how long after its metadata expires devices still accept it (e.g. 30d, 12h, 0; "
    "at most 365d).",
)
@click.option("--force", is_flag=True, help="Replace a different bundle already in --out.")
@click.option(
    "--hardlink",
    is_flag=True,
    help="Hard-link files from the cache instead of copying them, when on the same disk (a bundle that stays "
    "on this machine; never edit its files then).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def bundle(
    plan: Path,
    out: Path,
    registry_url: str | None,
    root: Path | None,
    cache_dir: Path | None,
    since: Path | None,
    max_staleness: str,
    force: bool,
    hardlink: bool,
    quiet: bool,
) -> None:
    """Write the files of PLAN (from `edzoo plan`) and the registry's signed metadata into a folder,
    for devices that install it offline with `edzoo install-bundle`.

    \b
    edzoo plan catalog.json fleet.json --registry URL -o plan.json
    edzoo bundle plan.json --out /media/usb/bundle-2025-09
    edzoo bundle plan.json --out /media/usb/bundle-2025-10 --since /media/usb/bundle-2025-09

    Every file is checked against the registry's signed metadata (TUF; what the cache lacks is
    downloaded and verified), stored by sha256 and read back; the folder is marked COMPLETE only
    then. An interrupted run is resumed by running the same command again: what is already there
    with the right sha256 is kept.

    A withdrawn (recalled) version is never written: when PLAN was made before the withdrawal,
    it is dropped from the bundle (one "dropped" line each, with the reason and the version to
    use), and the bundle carries the signed versions indexes, so devices that installed it get it
    removed by `edzoo install-bundle`.
    """
    from registry.schools.bundle import format_staleness, write_bundle

    grace = _staleness(max_staleness)
    assert grace is not None
    result = write_bundle(
        plan,
        out,
        registry=registry_url,
        root=root,
        cache_dir=cache_dir,
        since=since,
        force=force,
        max_staleness=grace,
        hardlink=hardlink,
        progress=progress_bars(not quiet),
    )
    click.echo(f"bundle {result.id[:12]} complete in {result.path}")
    click.echo(f"  registry  {result.registry}")
    click.echo(f"  files     {result.files} target files, {format_bytes(result.bytes)}")
    click.echo(f"  written   {result.written} files, {format_bytes(result.written_bytes)}")
    if result.present:
        click.echo(f"  kept      {result.present} files already in the folder, {format_bytes(result.present_bytes)}")
    if result.base:
        click.echo(
            f"  in base   {result.in_base} files, {format_bytes(result.in_base_bytes)} left out "
            f"(held by bundle {result.base[:12]}, which devices must have installed)"
        )
    if result.downloaded:
        downloaded = format_bytes(result.downloaded_bytes)
        click.echo(f"  download  {result.downloaded} files, {downloaded} (the rest from the cache)")
    accepted_until = result.expires + result.max_staleness
    click.echo(
        f"  metadata  {result.metadata_files} files; timestamp v{result.timestamp_version}, snapshot "
        f"v{result.snapshot_version}; expires {result.expires:%Y-%m-%d %H:%M} UTC, accepted by devices until "
        f"{accepted_until:%Y-%m-%d %H:%M} UTC ({format_staleness(result.max_staleness)} grace)"
    )
    if result.replaced:
        click.echo(f"  replaced  bundle {result.replaced[:12]} (--force)")
    for d in result.dropped:
        click.echo(f"  dropped   {d.message}")


@click.command("install-bundle")
@click.argument("bundle_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--device",
    required=True,
    help="This device's profile: a reference id (see `edzoo device list`) or a profile .json.",
)
@click.option(
    "--into",
    "app_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The app's model folder: APP_DIR/current/<namespace>/<model>/<version>/... is what the app reads.",
)
@click.option("--group", default=None, help="The plan's device group, when several use this profile.")
@root_option("The registry's root.json: needed on the first install, then kept in APP_DIR/trust/root.json.")
@click.option(
    "--max-staleness",
    default=None,
    help="Accept metadata expired at most this long ago (30d, 12h, 0; at most 365d) [default: the bundle's policy].",
)
@click.option(
    "--base-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="For a delta bundle: the bundle it extends, when this device did not install that one.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def install_bundle(
    bundle_dir: Path,
    device: str,
    app_dir: Path,
    group: str | None,
    root: Path | None,
    max_staleness: str | None,
    base_dir: Path | None,
    quiet: bool,
) -> None:
    """Verify the bundle in DIR offline and install this device's models into APP_DIR.

    \b
    edzoo install-bundle /media/usb/bundle-2025-09 --device android-go-1gb \\
        --into /data/app/models --root root.json        # the first time
    edzoo install-bundle /media/usb/bundle-2025-10 --device android-go-1gb --into /data/app/models

    Checks, with no network, against the root the device trusts: signatures, every file's length and
    sha256, rollback (never older metadata than the device saw), and expiry within the grace window.
    The switch to the new models is atomic: a pulled stick or a full disk leaves the previous install.
    A model version installed earlier that the bundle's signed metadata withdraws (recalls) is not
    in the new install and is deleted from the device; a "removed" line says which and why.
    """
    from registry.schools.bundle import install_bundle as do_install

    result = do_install(
        bundle_dir,
        app_dir,
        device=device,
        group=group,
        root=root,
        max_staleness=_staleness(max_staleness),
        base_dir=base_dir,
        progress=progress_bars(not quiet),
    )
    verb = "already installed" if result.unchanged else "installed"
    click.echo(
        f"{verb} bundle {result.bundle[:12]} for group {result.group} ({result.device}) in {result.app_dir}/current"
    )
    for f in result.models:
        click.echo(f"  {f.model}@{f.version}  {f.variant}  {format_bytes(f.size)}")
    if not result.models:
        click.echo("  (the plan installs no model for this group)")
    for problem in result.problems:
        click.echo(f"  problem: {problem}")
    for d in result.removed:
        click.echo(f"  removed: {d.message}")
    if not result.unchanged:
        click.echo(
            f"  copied {result.copied} files, {format_bytes(result.copied_bytes)}; "
            f"{result.reused} already on the device"
        )
    click.echo(
        f"  {result.freshness.describe()} (timestamp v{result.timestamp_version}, snapshot v{result.snapshot_version})"
    )


COMMANDS: tuple[click.Command, ...] = (bundle, install_bundle)
