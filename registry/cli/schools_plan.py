"""`edzoo plan`: which variant of each catalog model every device group of a school gets."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from registry.cli.options import cache_option, json_option, progress_bars, root_option
from registry.core.errors import UsageError, WithdrawnError

if TYPE_CHECKING:
    from registry.core.model import Plan


@click.command(name="plan")
@click.argument("catalog_path", metavar="CATALOG", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("fleet_path", metavar="FLEET", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL [env EDZOO_REGISTRY]."
)
@root_option("Trusted root.json; needed the first time for a registry, then pinned in the cache.")
@cache_option("Cache folder [default: $EDZOO_CACHE or ~/.cache/edzoo].")
@click.option("--offline", is_flag=True, help="Plan from the verified cache only; no network.")
@click.option(
    "--grace-days",
    default=14,
    show_default=True,
    type=click.IntRange(0, 365),
    help="Offline: accept metadata expired for at most this many days.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("plan.json"),
    show_default=True,
    help="Where to write the plan (JSON, read by `edzoo bundle`).",
)
@json_option("Print the plan's JSON instead of the tables.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 13 when the catalog pins a withdrawn version, else with code 2 when a group lacks a "
    "required model (the plan is still written and printed).",
)
def plan(
    catalog_path: Path,
    fleet_path: Path,
    registry_url: str,
    root: Path | None,
    cache_dir: Path | None,
    offline: bool,
    grace_days: int,
    output: Path,
    as_json: bool,
    strict: bool,
) -> None:
    """Plan which variant of each catalog model every device group of a fleet gets.

    A CATALOG (JSON, manifests/schema/catalog.schema.json) lists the models a school wants,
    each with a priority (0-100] and optionally `required`, a version or an alias. A FLEET
    (JSON, or CSV with the header id,profile,count,free_storage_mb,memory_mb,labels) lists
    groups of identical devices: a device profile (a reference id such as android-go-1gb, or
    a profile file relative to the fleet), how many, the storage the models may use and,
    optionally, the memory they may use together.

    For each group the plan picks at most one variant per model, from the signed manifests,
    so that the files fit the storage budget (and the memory budget) and the sum of
    priority x accuracy is the largest. It prints a table per group with the reasons, what
    did not fit and why, and the bytes to copy; it writes the plan (-o) for `edzoo bundle`.
    The same catalog, fleet and registry snapshot always give the same plan.json.

    A required model that some group cannot get is listed under that group's problems; the
    command still exits 0 unless --strict is given, then it exits 2 (after writing the plan).

    Withdrawn (recalled) versions are never planned: a model listed without a version, or
    with an alias, gets the newest version that is not withdrawn. A catalog entry pinned to a
    withdrawn version is dropped, with one line under "withdrawn:" (who withdrew it, why, and
    the version to use instead); with --strict the command then exits 13 (after writing the
    plan), so IT staff update the catalog.

    \b
    Example:
      edzoo plan manifests/catalogs/grade1-3-literacy-numeracy.json \\
                 manifests/fleets/sample-school.json \\
                 --registry https://models.example.org --root root.json -o plan.json
      edzoo plan CATALOG FLEET --offline      # from what the cache holds, verified
    """
    result = _make_plan(
        catalog_path,
        fleet_path,
        registry_url,
        root=root,
        cache_dir=cache_dir,
        offline=offline,
        grace_days=grace_days,
        progress=not as_json,
    )
    _write_and_show(result, output, as_json)
    if strict:
        _check_strict(result, output)


def _make_plan(
    catalog_path: Path,
    fleet_path: Path,
    registry_url: str,
    *,
    root: Path | None,
    cache_dir: Path | None,
    offline: bool,
    grace_days: int,
    progress: bool,
) -> Plan:
    """Read the catalog and the fleet, resolve the catalog's models from the registry (or its
    verified cache, ``offline``) and plan them for every group of the fleet."""
    from registry.client.download import Puller
    from registry.schools.catalog import load_catalog, load_fleet
    from registry.schools.plan import make_plan, resolve_catalog, snapshot_version

    # Read and check the inputs before anything goes over the network.
    catalog = load_catalog(catalog_path)
    fleet = load_fleet(fleet_path)
    puller = Puller(
        registry_url,
        root=root,
        cache_dir=cache_dir,
        offline=offline,
        grace=timedelta(days=grace_days),
        progress=progress_bars(progress),
    )
    count = len(catalog.entries)
    click.echo(
        f"resolving {count} model{'s' if count != 1 else ''} of {catalog.id} in {puller.registry_url}"
        + (" (offline, verified cache)" if offline else ""),
        err=True,
    )
    models, unavailable = resolve_catalog(catalog, puller)
    return make_plan(
        catalog,
        fleet,
        models,
        registry=puller.registry_url,
        snapshot_version=snapshot_version(puller.metadata_dir),
        unavailable=unavailable,
    )


def _write_and_show(result: Plan, output: Path, as_json: bool) -> None:
    """Write the plan to ``output``, then print its JSON or its tables."""
    from registry.schools.plan import plan_bytes, render_plan, write_plan

    write_plan(result, output)
    if as_json:
        sys.stdout.buffer.write(plan_bytes(result))
        sys.stdout.flush()
    else:
        click.echo(render_plan(result), nl=False)
    click.echo(f"wrote {output}", err=True)


def _check_strict(result: Plan, output: Path) -> None:
    """--strict: raise WithdrawnError (exit 13) when the catalog pins a withdrawn version, else
    UsageError (exit 2) when a group lacks a required model."""
    if result.withdrawn:
        first, n = result.withdrawn[0], len(result.withdrawn)
        raise WithdrawnError(
            f"the catalog pins {n} withdrawn version{'' if n == 1 else 's'} "
            f"({', '.join(w.model + '@' + w.version for w in result.withdrawn)}): "
            f"{(result.warnings or [''])[0]}" + (f"; {n - 1} more in {output}" if n > 1 else ""),
            ref=f"{first.model}@{first.version}",
            version=first.version,
            reason=first.reason,
            use=first.use or first.latest,
        )
    lacking = [g.id for g in result.groups if g.problems]
    if lacking:
        shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        raise UsageError(
            f"{len(lacking)} group{' lacks' if len(lacking) == 1 else 's lack'} a required model ({shown}); "
            f"see the problems in {output}"
        )


COMMANDS: tuple[click.Command, ...] = (plan,)
