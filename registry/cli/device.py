"""`edzoo device`: the reference device profiles and probing this machine."""

from __future__ import annotations

import json
from pathlib import Path

import click

from registry.cli.options import device_profile


@click.group()
def device() -> None:
    """Device profiles: the reference fleet, and this machine."""


@device.command("list")
def device_list() -> None:
    """List the reference device profiles."""
    from registry.core import profiles

    for pid in profiles.reference_profiles():
        p = profiles.load_profile(pid)
        click.echo(
            f"{pid:18s} {p['ram_mb']:>6,d} MB RAM  {p['free_storage_mb']:>7,d} MB free  "
            f"x{p['cpu']['speed_factor']:<5g} LiteRT {p['runtime']['version']:5s} {p['name']}"
        )


@device.command("show")
@click.argument("spec")
def device_show(spec: str) -> None:
    """Print a profile (a reference id, a .json file, or `this`)."""
    click.echo(json.dumps(device_profile(spec, None), indent=2))


@device.command("probe")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write the profile here.")
@click.option("--power", type=click.Choice(["battery", "mains"]), default="mains", show_default=True)
@click.option(
    "--network", type=click.Choice(["offline", "metered", "wifi", "ethernet"]), default="wifi", show_default=True
)
@click.option("--runs", default=300, show_default=True, type=click.IntRange(50, 100_000))
def device_probe(output: Path | None, power: str, network: str, runs: int) -> None:
    """Measure this machine: RAM, cores, free storage, LiteRT version, and a speed factor from
    timing the reference model against its latency on the reference machine."""
    from registry.client.cache import default_cache_dir
    from registry.client.device import probe
    from registry.core._internal.files import atomic_write
    from registry.core.profiles import validate_profile

    profile = probe(storage_path=default_cache_dir(), runs=runs)
    profile["power"], profile["network"] = power, network
    validate_profile(profile, source="probed profile")
    text = json.dumps(profile, indent=2) + "\n"
    if output:
        atomic_write(output, text.encode())
        click.echo(f"wrote {output}: speed factor {profile['cpu']['speed_factor']}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS: tuple[click.Command, ...] = (device,)
