"""`edzoo pull`, `edzoo explain` and `edzoo verify`: fetch, choose and check models on a device."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from registry.cli.options import (
    cache_option,
    device_profile,
    json_option,
    progress_bars,
    root_option,
)
from registry.core.errors import UsageError

if TYPE_CHECKING:
    from registry.client.download import PullResult


@click.command()
@click.argument("ref", metavar="NAMESPACE/MODEL[@VERSION|@ALIAS]")
@click.option(
    "--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL [env EDZOO_REGISTRY]."
)
@root_option("Trusted root.json; needed the first time for a registry, then pinned in the cache.")
@click.option("--variant", default=None, help="Variant id [default: chosen for --device, else the manifest's first].")
@click.option(
    "--device",
    default=None,
    help="Choose the variant for a device: a reference id (see `edzoo device list`), a profile .json, "
    "or `this` (probe this machine).",
)
@click.option(
    "--policy",
    default=None,
    help="best-accuracy | smallest | smallest-download | fastest, or a policy .json [default: by device].",
)
@click.option("--offline", is_flag=True, help="Serve from the cache after verifying it; no network.")
@click.option(
    "--no-fallback",
    is_flag=True,
    help="Fail (exit 8) when the registry cannot be reached [default: serve the verified cached copy, with a "
    "warning that says how old its metadata is].",
)
@cache_option("Cache folder [default: $EDZOO_CACHE or ~/.cache/edzoo].")
@click.option(
    "--grace-days",
    default=14,
    show_default=True,
    type=click.IntRange(0, 365),
    help="Offline: accept metadata expired for at most this many days.",
)
@json_option("Print the result as JSON.")
@click.option(
    "--allow-withdrawn",
    is_flag=True,
    help="Take a pinned or aliased version even if its publisher or the registry withdrew it (a warning names "
    "the reason and the replacement) [default: refused, exit 13].",
)
def pull(
    ref: str,
    registry_url: str,
    root: Path | None,
    variant: str | None,
    device: str | None,
    policy: str | None,
    offline: bool,
    no_fallback: bool,
    cache_dir: Path | None,
    grace_days: int,
    as_json: bool,
    allow_withdrawn: bool,
) -> None:
    """Download a model variant, verify it, cache it; print the path of the verified file.

    A registry that cannot be reached (down, refused, timed out, a captive portal) is not fatal
    when the cache holds a verified copy: that copy is served, verified offline, with a warning
    naming how old its metadata is; --no-fallback fails instead.

    With --device, the variant is chosen on this machine from the signed manifest for that
    device (hard constraints, then the policy), and the reasons are printed; a registry
    suggestion that differs is refused.

    A withdrawn (recalled) version is never `latest` nor reached by an alias; a pin of one,
    `edzoo pull acme/reader@1.0.0`, is refused with the reason and the version to use (exit
    13), online and, once the cache has seen the recall, offline.
    """
    from registry.client.download import pull as do_pull
    from registry.client.http import ClientConfig

    profile = device_profile(device, cache_dir) if device else None
    result = do_pull(
        ref,
        registry=registry_url,
        root=root,
        variant=variant,
        device=profile,
        policy=_policy_arg(policy),
        cache_dir=cache_dir,
        offline=offline,
        grace=timedelta(days=grace_days),
        config=ClientConfig.from_env(),
        progress=progress_bars(not as_json),
        allow_withdrawn=allow_withdrawn,
        fallback=not no_fallback,
    )
    if result.fallback is not None:
        click.echo(f"warning: {result.fallback}", err=True)
    if result.withdrawn is not None:
        click.echo(f"warning: {result.withdrawn.message(result.model)} (taken with --allow-withdrawn)", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    _say_pulled(result, profile)


def _say_pulled(result: PullResult, profile: dict[str, Any] | None) -> None:
    """The human report of a pull on stderr, then the verified file's path on stdout."""
    source = "downloaded" if result.downloaded else ("cache, verified offline" if result.offline else "cache")
    click.echo(
        f"{result.model}@{result.version} variant {result.variant} "
        f"({result.size} bytes, sha256 {result.sha256[:12]}…, {source})",
        err=True,
    )
    if result.choice is not None:
        click.echo(
            f"chose {result.variant} for {profile['id'] if profile else '?'} with policy {result.policy}:", err=True
        )
        for reason in result.choice.reasons:
            click.echo(f"  - {reason}", err=True)
        if result.server_agreed:
            click.echo("  - the registry's suggestion agrees", err=True)
    if result.expired_roles:
        click.echo(
            f"warning: accepted expired metadata within the grace window: {', '.join(result.expired_roles)}", err=True
        )
    click.echo(str(result.path))


def _policy_arg(policy: str | None):  # type: ignore[no-untyped-def]
    """A preset name stays a name; a .json file becomes a Policy."""
    if policy is None or not policy.endswith(".json"):
        return policy
    from registry.core.select import Policy

    try:
        return Policy.from_dict(json.loads(Path(policy).read_text()))
    except (OSError, ValueError) as e:
        if isinstance(e, UsageError):
            raise
        raise UsageError(f"cannot read policy {policy}: {e}") from e


@click.command()
@click.argument("ref", metavar="NAMESPACE/MODEL[@VERSION|@ALIAS]")
@click.option("--device", required=True, help="A reference id, a profile .json, or `this`.")
@click.option("--policy", default=None, help="A preset or a policy .json [default: by device].")
@click.option("--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL.")
@root_option("Trusted root.json (first use of a registry).")
@click.option("--offline", is_flag=True, help="Use the cached, verified manifest only.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None)
@json_option()
@click.option(
    "--allow-withdrawn", is_flag=True, help="Explain a pinned version even if it is withdrawn [default: exit 13]."
)
def explain(
    ref: str,
    device: str,
    policy: str | None,
    registry_url: str,
    root: Path | None,
    offline: bool,
    cache_dir: Path | None,
    as_json: bool,
    allow_withdrawn: bool,
) -> None:
    """Show which variant a device would get and why, for every variant, without downloading one.

    A withdrawn version is refused as `edzoo pull` refuses it (exit 13, with the reason and
    the version to use), unless --allow-withdrawn.
    """
    from registry.client.download import Puller, policy_json
    from registry.core import names as refs
    from registry.core.model import Manifest

    profile = device_profile(device, cache_dir)
    puller = Puller(registry_url, root=root, cache_dir=cache_dir, offline=offline)
    version, doc, choice, policy_text = puller.choose(
        ref, profile, _policy_arg(policy), allow_withdrawn=allow_withdrawn
    )
    model_ref = refs.ModelRef.parse(ref)
    withdrawal = puller.withdrawn(model_ref).get(version)
    if withdrawal is not None:
        click.echo(f"warning: {withdrawal.message(model_ref.id)} (explained with --allow-withdrawn)", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": f"{doc['namespace']}/{doc['name']}",
                    "version": version,
                    "device": profile["id"],
                    "policy": policy_json(_policy_arg(policy), profile),
                    "withdrawn": withdrawal.to_json() if withdrawal else None,
                    **choice.to_json(),
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"{doc['namespace']}/{doc['name']}@{version} on {profile['id']} ({profile['name']}), policy {policy_text}"
    )
    head = f"{'variant':15s} {'':8s} {'bytes':>9s} {'accuracy':>8s} {'est. µs':>9s} {'RAM MB':>7s}  why"
    click.echo(head)
    click.echo("-" * len(head))
    manifest = Manifest.from_dict(doc)
    rows = [(choice.variant_id, "CHOSEN", "; ".join(choice.reasons[:1]))]
    rows += [(vid, r.kind, r.reason) for vid, r in choice.others.items()]
    for vid, kind, why in rows:
        v, e = manifest.variant(vid), choice.estimates.get(vid)
        latency = f"{e.latency_us:9.1f}" if e else f"{'':9s}"
        memory = f"{e.memory_mb:7.1f}" if e else f"{'':7s}"
        click.echo(f"{vid:15s} {kind:8s} {v.size:9,d} {v.metrics.value:8.4f} {latency} {memory}  {why}")
    click.echo("")
    click.echo(f"why {choice.variant_id}:")
    for reason in choice.reasons:
        click.echo(f"  - {reason}")


@click.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None)
@click.option("--grace-days", default=14, show_default=True, type=click.IntRange(0, 365))
@json_option("One JSON object per path: target, size, sha256, ok, and the error when it failed.")
def verify(paths: tuple[Path, ...], cache_dir: Path | None, grace_days: int, as_json: bool) -> None:
    """Re-check pulled files against the signed metadata in the cache (works offline).

    Every PATH is checked; the exit code is that of the first failure: 4 when a file differs
    from its signed hash, 13 when it is authentic but the cached metadata says its version was
    withdrawn (the message names the reason and the version to use instead). `edzoo cache
    verify` checks the whole cache.
    """
    from registry.client.download import verify_cached
    from registry.core.errors import EdzooError

    first: EdzooError | None = None
    for path in paths:
        try:
            target, info, expired = verify_cached(path, cache_dir=cache_dir, grace=timedelta(days=grace_days))
        except EdzooError as e:
            first = first or e
            if as_json:
                click.echo(
                    json.dumps({"path": str(path), "ok": False, "error": {**e.to_json(), "exit_code": e.exit_code}})
                )
            elif len(paths) > 1:
                click.echo(f"FAILED {path}: {e.message}", err=True)
            continue
        if as_json:
            doc = {"path": str(path), "ok": True, "target": target, "size": info.length}
            click.echo(json.dumps({**doc, "sha256": info.hashes["sha256"], "expired_roles": list(expired)}))
        else:
            click.echo(f"OK {target} ({info.length} bytes, sha256 {info.hashes['sha256']})")
        if expired:
            click.echo(f"warning: metadata expired, accepted within the grace window: {', '.join(expired)}", err=True)
    if first is not None:
        if len(paths) == 1 and not as_json:
            raise first
        raise click.exceptions.Exit(first.exit_code)


COMMANDS: tuple[click.Command, ...] = (
    pull,
    explain,
    verify,
)
