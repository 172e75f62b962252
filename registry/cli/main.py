"""The ``edzoo`` command.

Errors become one line on stderr and an exit code (see ``registry.core.errors``): 2 bad input,
3 auth, 4 verification failed, 5 conflict, 6 not found, 7 storage, 8 network, 9 not cached,
10 no compatible variant, 13 withdrawn.
Server-side commands import Flask and SQLAlchemy lazily, so the client install stays small.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from registry.core.errors import EdzooError, UsageError

DEFAULT_PORT = 8470


def _default_keys_dir() -> Path:
    if os.environ.get("EDZOO_KEYS"):
        return Path(os.environ["EDZOO_KEYS"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edzoo" / "keys"


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    @contextmanager
    def bar(desc: str, total: int):  # type: ignore[no-untyped-def]
        # disable=None: a bar on a terminal, silence when stderr is a file or a pipe
        with tqdm(
            total=total,
            desc=desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            leave=False,
            disable=None,
            file=sys.stderr,
        ) as t:
            yield t

    return bar


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdzooError as e:
            click.echo(f"error: {e.message}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def cache_option(help_text: str = "Cache folder [default: $EDZOO_CACHE or ~/.cache/edzoo].") -> Any:
    return click.option(
        "--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None, help=help_text
    )


def root_option(help_text: str) -> Any:
    return click.option(
        "--root", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help=help_text
    )


def _backend_options(f: Any) -> Any:
    """--db and --blobs: where a registry keeps its index and its objects."""
    f = click.option(
        "--blobs",
        envvar="EDZOO_BLOBS",
        default=None,
        help="Where blobs and TUF metadata live: a folder or s3://BUCKET/PREFIX [default: what `registry init` "
        "recorded, else DATA_DIR/objects; env EDZOO_BLOBS]. S3 settings: EDZOO_S3_ENDPOINT_URL, EDZOO_S3_REGION "
        "and boto3's credential chain.",
    )(f)
    return click.option(
        "--db",
        "--database-url",
        "database_url",
        envvar="EDZOO_DATABASE_URL",
        default=None,
        help="The index database: sqlite:///PATH or postgresql://USER@HOST/DB [default: what `registry init` "
        "recorded, else SQLite in DATA_DIR; env EDZOO_DATABASE_URL]. Passwords: PGPASSWORD or ~/.pgpass.",
    )(f)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edzoo")
def cli() -> None:
    """edzoo: signed education models for student devices.

    \b
    App developers:  edzoo pull edzoo/hello --registry URL --root root.json
    ML engineers:    edzoo optimize MODEL --data DATA --task KIND; edzoo keys new me;
                     edzoo publish BUILD_DIR --registry URL --key ...
    Registry admins: edzoo registry init DATA; edzoo registry add-publisher ...; edzoo serve
    For years:       edzoo registry status DATA; registry renew; registry rotate-keys; yank

    Every file is verified with The Update Framework (TUF) before it is handed over.
    """


# -- keys ------------------------------------------------------------------------------------
@cli.group()
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
    folder = folder or _default_keys_dir()
    signer = keylib.generate()
    keylib.save_key_pair(signer, folder / f"{name}.pem", folder / f"{name}.pub.json")
    click.echo(f"private key  {folder / f'{name}.pem'}")
    click.echo(f"public key   {folder / f'{name}.pub.json'}")
    click.echo(f"key id       {signer.public_key.keyid}")


# -- registry administration ---------------------------------------------------------------------
@cli.group()
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
@_backend_options
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
@_backend_options
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


# -- trust ---------------------------------------------------------------------------------------
@cli.group()
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


# -- serve ---------------------------------------------------------------------------------------
@cli.command()
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
@_backend_options
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
    EDZOO_TIMESTAMP_KEY holding the PEMs).
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


# -- publish -------------------------------------------------------------------------------------
@cli.command()
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
        build_dir, registry=registry_url, key_path=key_path, token=token, aliases=aliases, progress=_progress(True)
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


# -- pull / verify / cache -----------------------------------------------------------------------
@cli.command()
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
@cache_option("Cache folder [default: $EDZOO_CACHE or ~/.cache/edzoo].")
@click.option(
    "--grace-days",
    default=14,
    show_default=True,
    type=click.IntRange(0, 365),
    help="Offline: accept metadata expired for at most this many days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
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
    cache_dir: Path | None,
    grace_days: int,
    as_json: bool,
    allow_withdrawn: bool,
) -> None:
    """Download a model variant, verify it, cache it; print the path of the verified file.

    With --device, the variant is chosen on this machine from the signed manifest for that
    device (hard constraints, then the policy), and the reasons are printed; a registry
    suggestion that differs is refused.

    A withdrawn (recalled) version is never `latest` nor reached by an alias; a pin of one,
    `edzoo pull acme/reader@1.0.0`, is refused with the reason and the version to use (exit
    13), online and, once the cache has seen the recall, offline.
    """
    from registry.client.download import pull as do_pull

    profile = _device(device, cache_dir) if device else None
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
        progress=_progress(not as_json),
        allow_withdrawn=allow_withdrawn,
    )
    if result.withdrawn is not None:
        click.echo(f"warning: {result.withdrawn.message(result.model)} (taken with --allow-withdrawn)", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": result.model,
                    "version": result.version,
                    "variant": result.variant,
                    "path": str(result.path),
                    "blob": str(result.blob),
                    "sha256": result.sha256,
                    "size": result.size,
                    "downloaded": result.downloaded,
                    "offline": result.offline,
                    "expired_roles": list(result.expired_roles),
                    "policy": result.policy,
                    "choice": result.choice.to_json() if result.choice else None,
                    "server_agreed": result.server_agreed,
                    "withdrawn": result.withdrawn.to_json() if result.withdrawn else None,
                },
                indent=2,
            )
        )
        return
    source = "downloaded" if result.downloaded else ("cache, verified offline" if offline else "cache")
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


def _device(spec: str, cache_dir: Path | None) -> dict:
    from registry.client.cache import default_cache_dir
    from registry.client.device import load_device

    return load_device(spec, cache_dir=cache_dir or default_cache_dir())


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


@cli.command()
@click.argument("ref", metavar="NAMESPACE/MODEL[@VERSION|@ALIAS]")
@click.option("--device", required=True, help="A reference id, a profile .json, or `this`.")
@click.option("--policy", default=None, help="A preset or a policy .json [default: by device].")
@click.option("--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL.")
@root_option("Trusted root.json (first use of a registry).")
@click.option("--offline", is_flag=True, help="Use the cached, verified manifest only.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None)
@click.option("--json", "as_json", is_flag=True)
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
    from registry.client.download import Puller
    from registry.core import names as refs

    profile = _device(device, cache_dir)
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
                    "policy": policy_text,
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
    by_id = {v["id"]: v for v in doc["variants"]}
    rows = [(choice.variant_id, "CHOSEN", "; ".join(choice.reasons[:1]))]
    rows += [(vid, r.kind, r.reason) for vid, r in choice.others.items()]
    for vid, kind, why in rows:
        v, e = by_id[vid], choice.estimates.get(vid)
        latency = f"{e.latency_us:9.1f}" if e else f"{'':9s}"
        memory = f"{e.memory_mb:7.1f}" if e else f"{'':7s}"
        click.echo(f"{vid:15s} {kind:8s} {v['size']:9,d} {v['metrics']['value']:8.4f} {latency} {memory}  {why}")
    click.echo("")
    click.echo(f"why {choice.variant_id}:")
    for reason in choice.reasons:
        click.echo(f"  - {reason}")


@cli.group()
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
    click.echo(json.dumps(_device(spec, None), indent=2))


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


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None)
@click.option("--grace-days", default=14, show_default=True, type=click.IntRange(0, 365))
def verify(path: Path, cache_dir: Path | None, grace_days: int) -> None:
    """Re-check a pulled file against the signed metadata in the cache (works offline).

    Exits 4 when the file differs from its signed hash, 13 when it is authentic but the cached
    metadata says its version was withdrawn (the message names the reason and the version to
    use instead).
    """
    from registry.client.download import verify_cached

    target, info, expired = verify_cached(path, cache_dir=cache_dir, grace=timedelta(days=grace_days))
    click.echo(f"OK {target} ({info.length} bytes, sha256 {info.hashes['sha256']})")
    if expired:
        click.echo(f"warning: metadata expired, accepted within the grace window: {', '.join(expired)}", err=True)


@cli.group()
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


def main() -> None:
    cli(prog_name="edzoo")


# -- schools: plan, bundle, install-bundle, mirror (each in its own module) ------------------------
from registry.cli import (  # noqa: E402,F401
    predict_command,  # noqa: E402,F401
    recall,  # noqa: E402,F401
    registry_keys,  # noqa: E402,F401
    renewal,  # noqa: E402,F401
    schools_bundle,
    schools_mirror,
    schools_plan,
    zoo_commands,  # noqa: E402,F401
)
