"""A registry over months and years: renewal of every role, health before and after expiry.

``SCENARIOS`` is a named table: each row is a list of ``(day, step, step, ...)`` blocks. For each
block the row's registry (a copy of one published registry) is served by ``edzoo serve`` under
``faketime`` at that day, and each step runs against it: a device pulling with the root its app
shipped, ``/api/v1/health``, the renew commands. A step is a function of the :class:`Lifecycle`;
the helpers below make the common ones, so a new row is one line or two.

Below the table: renewal and re-keying on the real clock (in-process server), bad inputs of the
commands, and the online renewal shared by several processes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import serve_timestamp
from lifecycle import Lifecycle, Published, check_faketime
from tuf.api.metadata import Metadata

from registry.core import keys, trust
from registry.core.errors import AuthError, NotFoundError, SignatureError, WithdrawnError
from registry.server import ServerConfig, keyadmin
from registry.server.repository import Registry

Step = Callable[[Lifecycle], None]


# -- steps -----------------------------------------------------------------------------------------
def pull_works(life: Lifecycle) -> None:
    out = life.pull()
    assert "acme/reader@1.0.0 variant" in out.stderr, out.stderr


def pull_fails(why: str) -> Step:
    def step(life: Lifecycle) -> None:
        out = life.pull(check=False)
        assert out.returncode == SignatureError.exit_code and why in out.stderr, out.stderr

    return step


def health(status: str, *, expiring: set[str] | None = None) -> Step:
    """/api/v1/health says ``status`` (HTTP 503 for failing) and, given ``expiring``, lists
    exactly those roles."""

    def step(life: Lifecycle) -> None:
        code, doc = life.health()
        assert (doc["status"], code) == (status, 503 if status == "failing" else 200), (doc, life.server_log())
        if expiring is not None:
            assert {e["role"] for e in doc["expiring"]} == expiring, doc["expiring"]

    return step


def health_dates_are_the_signed_ones(life: Lifecycle) -> None:
    """Each role health lists as expiring carries the expiry its stored metadata says, who
    signs it, and lies within the window."""
    _, doc = life.health()
    tuf = life.registry.data / "objects" / "tuf"
    assert doc["expiring"], doc
    for entry in doc["expiring"]:
        role = entry["role"].replace("-*", "-00")  # a namespace's bins: all made on day 0
        name = "root.json" if role == "root" else f"{entry['version']}.{role}.json"
        md = Metadata.from_bytes((tuf / name).read_bytes())
        assert entry["expires"] == md.signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ"), entry
        assert entry["signed_by"] == ("offline" if role in ("root", "targets") else "publisher acme"), entry
        left = md.signed.expires - trust.now() - timedelta(days=life.days)
        assert timedelta(0) < left < timedelta(days=doc["expiry_warning_days"]), entry
    bins = next(e for e in doc["expiring"] if e["role"] == "acme.bin-*")
    assert bins["count"] == 64


def registry_renew(life: Lifecycle) -> None:
    out = life.registry_renew()
    assert "renewed root     version 2" in out.stdout and "renewed targets  version 3" in out.stdout, out.stdout
    assert f"edzoo publisher renew acme --registry {life.url}" in out.stdout, out.stdout


def publisher_renew(life: Lifecycle) -> None:
    out = life.publisher_renew()
    assert out.stdout.startswith("renewed acme: 65 roles (acme version 2 and 64 bins)"), out.stdout


def status_marks(*roles: str) -> Step:
    """``edzoo registry status --json`` marks exactly ``roles`` as expiring."""

    def step(life: Lifecycle) -> None:
        doc = life.status()
        marked = {r["role"] for r in doc["roles"] if r["expiring"]}
        assert {r for r in marked if ".bin-" not in r} == set(roles), marked

    return step


def rotate(role: str) -> Step:
    """The admin rotates ``role``'s keys while the server runs (it must sign with the new online
    keys without a restart)."""

    def step(life: Lifecycle) -> None:
        r = life.registry
        out = life.edzoo("registry", "rotate-keys", r.data, "--role", role, "--keys", r.keys_dir)
        assert f"{role} keys rotated" in out.stdout, out.stdout

    return step


def device_root_is(version: int) -> Step:
    def step(life: Lifecycle) -> None:
        roots = list(life.cache.rglob("metadata/root.json"))
        assert roots and Metadata.from_bytes(roots[0].read_bytes()).signed.version == version

    return step


def revoke_publisher(life: Lifecycle) -> None:
    r = life.registry
    out = life.edzoo("registry", "revoke-publisher", r.data, "acme", "--reason", "key leaked", "--keys", r.keys_dir)
    assert "namespace acme revoked; 1 upload token(s) revoked" in out.stdout, out.stdout


def pull_not_found(life: Lifecycle) -> None:
    out = life.pull(check=False)
    assert out.returncode == NotFoundError.exit_code, out.stderr


def publish_refused(life: Lifecycle) -> None:
    out = life.edzoo("publisher", "renew", "acme", "--registry", life.url, "--key", life.registry.key,
                     "--token-file", life.registry.token_file, check=False)  # fmt: skip
    assert out.returncode == AuthError.exit_code, out.stderr


def forge_timestamp(life: Lifecycle) -> None:
    """A leaked timestamp key signs the current timestamp again at a huge version, and the
    device takes it (a fast-forward attack)."""
    stored = life.registry.data / "objects" / "tuf" / "timestamp.json"
    real = stored.read_bytes()
    forged = Metadata.from_bytes(real)
    forged.signed.version = 2**30
    leaked = keys.load_signer(life.registry.data / "keys" / "timestamp.pem")
    serve_timestamp(life.registry.data, trust.to_bytes(trust.sign(forged, [leaked])))
    pull_works(life)
    serve_timestamp(life.registry.data, real)  # the registry's own timestamp again: a "rollback" to that device


def yank(life: Lifecycle) -> None:
    r = life.registry
    out = life.edzoo("yank", "acme/reader@1.0.0", "--reason", "reads 7 as 1", "--registry", life.url,
                     "--key", r.key, "--token-file", r.token_file)  # fmt: skip
    assert out.stdout.startswith("withdrew acme/reader@1.0.0: reads 7 as 1"), out.stdout


def pull_withdrawn(life: Lifecycle) -> None:
    out = life.pull(check=False)
    assert out.returncode == WithdrawnError.exit_code and "reads 7 as 1" in out.stderr, out.stderr


def _school(life: Lifecycle) -> tuple[Path, Path]:
    home = life.registry.home
    catalog, fleet = home / "catalog.json", home / "fleet.json"
    if not catalog.exists():
        entry = {"model": "acme/reader", "version": "1.0.0", "priority": 50}
        catalog.write_text(json.dumps({"schema_version": 1, "id": "s", "title": "S", "models": [entry]}))
        group = {"id": "tablets", "profile": "android-go-2gb", "count": 30, "free_storage_mb": 100}
        fleet.write_text(json.dumps({"schema_version": 1, "id": "f", "groups": [group]}))
    return catalog, fleet


def school_installs(life: Lifecycle) -> None:
    """IT staff plan, bundle and install the catalog; the mirror syncs it."""
    home, r = life.registry.home, life.registry
    catalog, fleet = _school(life)
    cache = ["--cache", str(home / "it-cache")]
    life.edzoo("plan", catalog, fleet, "--registry", life.url, "--root", r.root, "-o", home / "plan.json", *cache)
    life.edzoo("bundle", home / "plan.json", "--out", home / "usb-1", "--quiet", *cache)
    life.edzoo("install-bundle", home / "usb-1", "--device", "android-go-2gb", "--into", home / "app", "--root",
               r.root, "--quiet")  # fmt: skip
    assert list((home / "app").rglob("*.tflite"))
    out = life.edzoo("mirror", "--upstream", life.url, "--catalog", catalog, "--data", home / "mirror", "--root",
                     r.root, "--once")  # fmt: skip
    assert list((home / "mirror" / "www").rglob("*.tflite")), out.stdout


def school_drops_the_withdrawn(life: Lifecycle) -> None:
    """After the yank: the plan drops the pin (exit 13 with --strict), a bundle from the old plan
    leaves it out and its install removes it from the device, the mirror stops serving it."""
    home = life.registry.home
    catalog, fleet = _school(life)
    cache = ["--cache", str(home / "it-cache")]
    out = life.edzoo("plan", catalog, fleet, "--registry", life.url, "-o", home / "plan-2.json", "--strict", *cache,
                     check=False)  # fmt: skip
    assert out.returncode == WithdrawnError.exit_code and "reads 7 as 1" in out.stdout + out.stderr, out
    out = life.edzoo("bundle", home / "plan.json", "--out", home / "usb-2", "--quiet", *cache)
    assert "acme/reader@1.0.0" in out.stdout + out.stderr, out
    out = life.edzoo("install-bundle", home / "usb-2", "--device", "android-go-2gb", "--into", home / "app", "--quiet")
    assert "removed" in out.stdout + out.stderr and not list((home / "app").rglob("*.tflite")), out
    life.edzoo("mirror", "--upstream", life.url, "--catalog", catalog, "--data", home / "mirror", "--once")
    assert not list((home / "mirror" / "www").rglob("*.tflite"))


# -- the table ------------------------------------------------------------------------------------
SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "idle-8-days": [(8, pull_works, health("ok", expiring=set()))],
    "idle-40-days": [(40, pull_works, health("ok"))],
    "366-days-without-renew": [(366, pull_fails("Final root.json is expired"), health("failing"))],
    "366-days-after-renew-at-340": [
        (340, registry_renew, publisher_renew, health("ok", expiring=set())),
        (366, pull_works, health("ok")),
    ],
    "rotate-root-and-timestamp-at-30": [
        (0, pull_works),
        (30, rotate("root"), rotate("timestamp"), pull_works, device_root_is(3), health("ok")),
    ],
    "rotate-targets-and-snapshot-at-100": [
        (0, pull_works),
        (100, rotate("targets"), rotate("snapshot"), pull_works, device_root_is(3), health("ok")),
    ],
    "revoked-publisher-at-10": [(0, pull_works), (10, revoke_publisher, pull_not_found, publish_refused)],
    "fast-forward-recovery-at-20": [
        (0, pull_works),
        (20, forge_timestamp, pull_fails("rollback"), rotate("timestamp"), rotate("snapshot"), pull_works),
    ],
    "yanked-version-at-5-through-pull-plan-bundle-mirror": [
        (0, pull_works, school_installs),
        (5, yank, pull_withdrawn, school_drops_the_withdrawn),
    ],
    "degraded-at-340-with-the-dates": [
        (340, health("degraded", expiring={"root", "targets", "acme", "acme.bin-*"}), health_dates_are_the_signed_ones),
        (340, status_marks("root", "targets", "acme"), pull_works),
    ],
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    from services import ServiceUnavailable

    try:
        check_faketime()
    except ServiceUnavailable as e:
        if os.environ.get("CI"):
            raise  # CI installs faketime (scripts/_env.sh): missing there is a failure
        pytest.skip(str(e))
    return Published.make(tmp_path_factory.mktemp("published"))


@pytest.mark.parametrize("blocks", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_lifecycle(published: Published, tmp_path: Path, blocks: list[tuple[Any, ...]]) -> None:
    life = Lifecycle(published.copy(tmp_path / "registry"))
    for day, *steps in blocks:
        with life.at(day):
            for step in steps:
                step(life)


# -- on the real clock: renew now, re-key after a rotation ----------------------------------------
def _cli(*args: Any) -> tuple[int, str]:
    from click.testing import CliRunner

    from registry.cli.main import cli

    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


def _stored(env, name: str) -> Metadata:  # type: ignore[no-untyped-def]
    return Metadata.from_bytes((env.data / "objects" / "tuf" / name).read_bytes())


def test_forced_renewal_reaches_a_device_that_pinned_root_v1(env) -> None:  # type: ignore[no-untyped-def]
    env.publish(env.build())
    token_file = env.tmp / "acme.token"
    token_file.write_text(env.token)
    code, out = _cli("registry", "renew", env.data, "--keys", env.keys_dir)
    assert code == 0 and "kept    root" in out and "kept    targets" in out and "publisher" not in out, out
    code, out = _cli("registry", "renew", env.data, "--keys", env.keys_dir, "--force")
    assert code == 0 and "renewed root     version 2" in out and "renewed targets  version 3" in out, out
    assert _stored(env, "root.json").to_dict() == _stored(env, "2.root.json").to_dict()
    code, out = _cli("publisher", "renew", "acme", "--registry", env.url, "--key", env.key, "--token-file", token_file)
    assert code == 0 and "renewed acme: 65 roles" in out, out
    assert env.pull("acme/reader@1.0.0").version == "1.0.0"  # the device walks from root v1 to v2
    code, out = _cli("registry", "status", env.data)
    assert code == 0 and "status ok" in out and "64 bins" in out, out
    doc = json.loads(_cli("registry", "status", env.data, "--json", "--days", "400")[1])
    assert doc["status"] == "degraded" and {r["role"]: r["version"] for r in doc["roles"]}["root"] == 2
    assert doc["bins"] == [
        {
            "namespace": "acme",
            "count": 64,
            "earliest_expires": doc["bins"][0]["earliest_expires"],
            "earliest_role": "acme.bin-00",
        }
    ]


def test_publisher_rekeys_after_the_admin_rotated_its_namespace(env) -> None:  # type: ignore[no-untyped-def]
    from registry.client import publish
    from registry.client.roles import renew_roles

    env.publish(env.build())
    new_key, new_pub = env.tmp / "pk" / "alice-2027.pem", env.tmp / "pk" / "alice-2027.pub.json"
    keys.save_key_pair(keys.generate(), new_key, new_pub)
    keyadmin.rotate_publisher(env.data, env.keys_dir, "acme", new_pub)
    with pytest.raises(SignatureError):  # until the publisher re-signs, nothing verifies
        env.pull("acme/reader@1.0.0", cache="during")
    with pytest.raises(SignatureError, match="--previous-key"):  # the roles are the old key's
        renew_roles("acme", registry=env.url, key_path=new_key, token=env.token)

    result = renew_roles("acme", registry=env.url, key_path=new_key, token=env.token, previous_key_path=env.pub)

    new_id = keys.load_public_key(new_pub).keyid
    assert result.rekeyed and result.keyid == new_id and len(result.roles) == 65
    ns_md = Metadata.from_bytes(_role(env, "acme"))
    assert ns_md.signed.delegations.succinct_roles.keyids == [new_id]
    assert list(ns_md.signed.delegations.keys) == [new_id]  # the old key is gone from the role
    assert env.pull("acme/reader@1.0.0", cache="after").version == "1.0.0"
    publish(env.build("reader", "1.1.0"), registry=env.url, key_path=new_key, token=env.token)  # the new key publishes
    assert env.pull("acme/reader@1.1.0", cache="after").version == "1.1.0"


def _role(env, name: str) -> bytes:  # type: ignore[no-untyped-def]
    import urllib3

    return urllib3.request("GET", f"{env.url}/api/v1/roles/{name}").data


# -- bad inputs: one line, the right exit code, nothing stored -------------------------------------
def _other_keys(env) -> Path:  # type: ignore[no-untyped-def]
    folder = env.tmp / "other-keys"
    folder.mkdir()
    keys.save_key_pair(keys.generate(), folder / "root-1.pem")
    keys.save_key_pair(keys.generate(), folder / "targets-1.pem")
    return folder


BAD_RENEWALS: dict[str, tuple[Callable[[Any], list[Any]], int, str]] = {
    "registry-renew-without-keys": (
        lambda env: ["registry", "renew", env.data, "--keys", env.tmp / "empty", "--force"],
        NotFoundError.exit_code,
        "no root keys",
    ),
    "registry-renew-with-another-registrys-keys": (
        lambda env: ["registry", "renew", env.data, "--keys", _other_keys(env), "--force"],
        NotFoundError.exit_code,
        "none of the root keys",
    ),
    "registry-status-negative-days": (
        lambda env: ["registry", "status", env.data, "--days", "-1"],
        2,
        "--days must be 0 or more",
    ),
    "publisher-renew-with-another-key": (
        lambda env: [
            "publisher",
            "renew",
            "acme",
            "--registry",
            env.url,
            "--key",
            _stranger(env),
            "--token",
            env.token,
        ],  # noqa: E501
        SignatureError.exit_code,
        "not signed by your key",
    ),
    "publisher-renew-another-namespace": (
        lambda env: ["publisher", "renew", "nobody", "--registry", env.url, "--key", env.key, "--token", env.token],
        AuthError.exit_code,
        "this upload token publishes to namespace 'acme', not 'nobody'",
    ),
    "publisher-renew-bad-token": (
        lambda env: ["publisher", "renew", "acme", "--registry", env.url, "--key", env.key, "--token", "edzoo_wrong"],
        AuthError.exit_code,
        "unknown upload token",
    ),
    "publisher-renew-no-token": (
        lambda env: ["publisher", "renew", "acme", "--registry", env.url, "--key", env.key],
        2,
        "an upload token is required",
    ),
}


def _stranger(env) -> Path:  # type: ignore[no-untyped-def]
    key = env.tmp / "pk" / "stranger.pem"
    keys.save_key_pair(keys.generate(), key)
    return key


@pytest.mark.parametrize("case", BAD_RENEWALS.values(), ids=BAD_RENEWALS.keys())
def test_bad_renewals_are_one_line_and_store_nothing(env, case) -> None:  # type: ignore[no-untyped-def]
    args, exit_code, message = case
    env.publish(env.build())
    (env.tmp / "empty").mkdir()
    before = sorted(p.name for p in (env.data / "objects" / "tuf").iterdir())
    code, out = _cli(*args(env))
    assert code == exit_code and message in out and out.count("\n") == 1 and out.startswith("error: "), out
    assert sorted(p.name for p in (env.data / "objects" / "tuf").iterdir()) == before


# -- online renewal: several processes, one renews; a key it cannot use --------------------------
def test_only_one_of_several_servers_renews_the_snapshot(env) -> None:  # type: ignore[no-untyped-def]
    # A 30-day snapshot lifetime makes the stored 7-day snapshot due (less than half left); the
    # first server to take the lock signs a 30-day one, which the others then find not due.
    env.publish(env.build())
    config = ServerConfig(data_dir=env.data, expiry=replace(trust.Expiry(), snapshot=timedelta(days=30)))
    servers = [Registry(config) for _ in range(4)]
    before = _stored(env, "timestamp.json").signed.snapshot_meta.version
    barrier = threading.Barrier(len(servers))

    def renew(registry: Registry) -> None:
        barrier.wait()
        registry.refresh_online()

    threads = [threading.Thread(target=renew, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in servers:
        s.close()
    timestamp = _stored(env, "timestamp.json")
    assert timestamp.signed.snapshot_meta.version == before + 1
    snapshot = _stored(env, f"{before + 1}.snapshot.json")
    assert timedelta(days=29) < snapshot.signed.expires - trust.now() <= timedelta(days=30)
    assert env.pull("acme/reader@1.0.0").version == "1.0.0"  # what the others serve verifies


def test_health_is_degraded_when_the_server_cannot_renew_an_online_role(env) -> None:  # type: ignore[no-untyped-def]
    import urllib3

    assert json.loads(urllib3.request("GET", f"{env.url}/api/v1/health").data)["status"] == "ok"
    # The snapshot key is rotated, but this server's key source holds another key than the one
    # the new root trusts (a second machine whose key was not replaced).
    keyadmin.rotate_keys(env.data, env.keys_dir, "snapshot")
    (env.data / "keys" / "snapshot.pem").unlink()
    keys.save_key_pair(keys.generate(), env.data / "keys" / "snapshot.pem")
    r = urllib3.request("GET", f"{env.url}/api/v1/health")
    doc = json.loads(r.data)
    assert r.status == 200 and doc["status"] == "degraded", doc
    assert [(e["role"], e["signed_by"]) for e in doc["expiring"]] == [("snapshot", "online")]
