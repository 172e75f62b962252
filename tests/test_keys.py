"""Key lifecycle: every top-level key rotates, a publisher is re-keyed or revoked, tokens are
reissued, revoked and expire, and a fast-forward attack is recovered from by rotating keys.

Each rotation is checked with a client that pinned the registry's first root: it must walk the
root chain and keep verifying, and the running server must sign with the new online keys without
a restart.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from conftest import serve_timestamp
from tuf.api.metadata import Metadata, Root, Timestamp

from registry.core import keys, trust
from registry.core.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    SignatureError,
    UnavailableError,
    UsageError,
)
from registry.server import ServerConfig, admin, create_app, keyadmin


def _root(env) -> Metadata[Root]:  # type: ignore[no-untyped-def]
    return Metadata.from_bytes((env.data / "objects" / "tuf" / "root.json").read_bytes())


def _publish_and_pull(env, name: str = "reader", version: str = "1.0.0"):  # type: ignore[no-untyped-def]
    env.publish(env.build(name, version))
    return env.pull(f"acme/{name}@{version}")


def _cached_root_version(env) -> int:  # type: ignore[no-untyped-def]
    found = list((env.tmp / "cache").rglob("metadata/root.json"))
    assert found, "no cached root"
    return Metadata.from_bytes(found[0].read_bytes()).signed.version


# -- every top-level role rotates; a client that pinned root v1 follows --------------------------
@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_rotation_keeps_old_clients_verifying(env, role: str) -> None:  # type: ignore[no-untyped-def]
    first = _publish_and_pull(env)
    before = set(_root(env).signed.roles[role].keyids)

    result = keyadmin.rotate_keys(env.data, env.keys_dir, role)

    root = _root(env)
    assert result.root_version == root.signed.version == 2
    assert set(result.retired) == before and not before & set(root.signed.roles[role].keyids)
    # the running server signs with the new online keys (no restart), old clients follow
    env.publish(env.build("reader", "1.1.0"))
    again = env.pull("acme/reader@1.1.0")
    assert again.sha256 != first.sha256 or again.version == "1.1.0"
    assert env.pull("acme/reader@1.0.0").path.read_bytes() == first.path.read_bytes()
    assert _cached_root_version(env) == 2
    # nothing the retired keys could sign is trusted any more
    folder = env.keys_dir if role in keyadmin.OFFLINE_ROLES else env.data / "keys"
    retired = list((folder / "retired").glob(f"{role}-*.pem"))
    assert [keys.load_signer(p).public_key.keyid for p in retired] == list(result.retired)


def test_root_rotation_with_a_threshold_needs_old_and_new_signatures(tmp_path: Path) -> None:
    data, keys_dir = tmp_path / "data", tmp_path / "keys"
    admin.init(data, keys_dir, root_keys=3, root_threshold=2)
    (keys_dir / "root-3.pem").unlink()  # one of three root keys is lost: 2 of 3 still sign
    result = keyadmin.rotate_keys(data, keys_dir, "root", count=3, threshold=2)
    new = Metadata.from_bytes((data / "objects" / "tuf" / "2.root.json").read_bytes())
    old = Metadata.from_bytes((data / "objects" / "tuf" / "1.root.json").read_bytes())
    old.signed.verify_delegate(Root.type, new.signed_bytes, new.signatures)
    new.signed.verify_delegate(Root.type, new.signed_bytes, new.signatures)
    assert len(result.added) == 3 and len(list(keys_dir.glob("root-*.pem"))) == 3


def test_root_rotation_without_enough_root_keys_changes_nothing(tmp_path: Path) -> None:
    data, keys_dir = tmp_path / "data", tmp_path / "keys"
    admin.init(data, keys_dir, root_keys=2, root_threshold=2)
    (keys_dir / "root-2.pem").unlink()
    before = sorted(p.name for p in (data / "objects" / "tuf").iterdir())
    with pytest.raises(SignatureError, match="needs 2 signature"):
        keyadmin.rotate_keys(data, keys_dir, "timestamp")
    assert sorted(p.name for p in (data / "objects" / "tuf").iterdir()) == before
    assert not (data / "keys" / "retired").exists()


@pytest.mark.parametrize(
    ("role", "kw", "error"),
    [
        ("release", {}, UsageError),  # no such role
        ("timestamp", {"count": 2}, UsageError),  # an online role has one key
        ("targets", {"count": 1, "threshold": 2}, UsageError),
    ],
    ids=["unknown-role", "two-online-keys", "threshold-above-count"],
)
def test_bad_rotation_requests(env, role: str, kw: dict, error: type) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        keyadmin.rotate_keys(env.data, env.keys_dir, role, **kw)
    assert _root(env).signed.version == 1


def test_a_server_holding_a_retired_key_refuses_to_sign(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old_pem = (env.data / "keys" / "timestamp.pem").read_text()
    keyadmin.rotate_keys(env.data, env.keys_dir, "timestamp")
    # a second server still given the retired key through its environment
    app = create_app({"EDZOO": ServerConfig.from_env(env.data, {"EDZOO_TIMESTAMP_KEY": old_pem}), "TESTING": True})
    registry = app.extensions["edzoo"]
    try:
        with pytest.raises(UnavailableError, match="retired") as e:
            registry.refresh_online(force=True)
        assert e.value.code == "retired_key"
    finally:
        registry.close()


# -- fast-forward attack recovery (TUF spec 5.3.11) ---------------------------------------------
def test_fast_forward_attack_is_recovered_by_rotating_the_timestamp_key(env) -> None:  # type: ignore[no-untyped-def]
    _publish_and_pull(env)
    store = env.data / "objects" / "tuf" / "timestamp.json"
    real = store.read_bytes()
    # The leaked online key signs a timestamp at a huge version; a device takes it.
    leaked = keys.load_signer(env.data / "keys" / "timestamp.pem")
    forged: Metadata[Timestamp] = Metadata.from_bytes(real)
    forged.signed.version = 2**30
    serve_timestamp(env.data, trust.to_bytes(trust.sign(forged, [leaked])))
    env.pull("acme/reader@1.0.0")
    serve_timestamp(env.data, real)  # the registry's own timestamp is now a "rollback" to that device
    with pytest.raises(SignatureError, match="rollback"):
        env.pull("acme/reader@1.0.0")
    # The playbook: rotate the timestamp key (and the snapshot key if it leaked too).
    keyadmin.rotate_keys(env.data, env.keys_dir, "timestamp")
    keyadmin.rotate_keys(env.data, env.keys_dir, "snapshot")
    assert env.pull("acme/reader@1.0.0").version == "1.0.0"
    assert _cached_root_version(env) == 3


# -- publishers ----------------------------------------------------------------------------------
def _new_key(tmp: Path, name: str) -> tuple[Path, Path]:
    key, pub = tmp / "pk" / f"{name}.pem", tmp / "pk" / f"{name}.pub.json"
    keys.save_key_pair(keys.generate(), key, pub)
    return key, pub


def test_rotating_a_publisher_distrusts_the_old_key_at_once(env) -> None:  # type: ignore[no-untyped-def]
    _publish_and_pull(env)
    _, new_pub = _new_key(env.tmp, "alice-2027")
    old = keyadmin.rotate_publisher(env.data, env.keys_dir, "acme", new_pub)
    assert old == keys.load_public_key(env.pub).keyid
    with pytest.raises(SignatureError):  # the roles the old key signed no longer verify
        env.pull("acme/reader@1.0.0", cache="fresh-cache")
    with pytest.raises(SignatureError, match="not signed by your key|registered"):
        env.publish(env.build("reader", "2.0.0"))  # the old key cannot publish
    with pytest.raises(ConflictError):
        keyadmin.rotate_publisher(env.data, env.keys_dir, "acme", new_pub)
    with pytest.raises(NotFoundError):
        keyadmin.rotate_publisher(env.data, env.keys_dir, "nobody", new_pub)


def test_a_revoked_publisher_is_gone_for_clients_and_the_api(env) -> None:  # type: ignore[no-untyped-def]
    _publish_and_pull(env)
    live = keyadmin.revoke_publisher(env.data, env.keys_dir, "acme", reason="key and token leaked")
    assert live == 1
    with pytest.raises(NotFoundError):
        env.pull("acme/reader@1.0.0", cache="fresh-cache")
    with pytest.raises(AuthError):
        env.publish(env.build("reader", "2.0.0"))
    body = json.loads(urllib3.request("GET", f"{env.url}/api/v1/models").data)
    assert [m["id"] for m in body["models"]] == []
    with pytest.raises(UsageError, match="not delegated"):
        keyadmin.revoke_publisher(env.data, env.keys_dir, "acme", reason="again")
    # the namespace can be delegated again, to a new key and token
    _, pub = _new_key(env.tmp, "acme-new")
    assert admin.add_publisher(env.data, env.keys_dir, "acme", pub).startswith("edzoo_")


# -- upload tokens -------------------------------------------------------------------------------
def _token_works(env, token: str) -> bool:  # type: ignore[no-untyped-def]
    # an empty upload: 401 for a token that does not work, else 400 (empty blobs are refused)
    r = urllib3.request(
        "PUT", f"{env.url}/api/v1/blobs/sha256/{'0' * 64}", body=b"", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status in (400, 401), r.data
    return r.status == 400


def test_tokens_are_reissued_revoked_and_expire(env) -> None:  # type: ignore[no-untyped-def]
    second_id, second = keyadmin.issue_token(env.data, "acme", label="ci")
    assert _token_works(env, env.token) and _token_works(env, second)
    assert keyadmin.revoke_tokens(env.data, "acme", token_id=1) == [1]
    assert not _token_works(env, env.token) and _token_works(env, second)
    _, short = keyadmin.issue_token(env.data, "acme", expires_in=timedelta(seconds=1))
    assert _token_works(env, short)
    time.sleep(1.2)
    assert not _token_works(env, short)
    states = {t.id: t.state for t in keyadmin.list_tokens(env.data, "acme")}
    assert states == {1: "revoked", second_id: "live", second_id + 1: "expired"}
    assert keyadmin.revoke_tokens(env.data, "acme") == [second_id, second_id + 1]
    assert not _token_works(env, second)
    with pytest.raises(NotFoundError):
        keyadmin.revoke_tokens(env.data, "acme", token_id=99)
    with pytest.raises(NotFoundError):
        keyadmin.issue_token(env.data, "nobody")


# -- the commands ----------------------------------------------------------------------------------
def test_key_commands(env) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from registry.cli.main import cli

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(cli, list(args))
        return r.exit_code, r.output

    data, k = str(env.data), str(env.keys_dir)
    code, out = run("registry", "rotate-keys", data, "--role", "timestamp", "--keys", k)
    assert code == 0 and "root version 2" in out and "retired" in out, out
    code, out = run("registry", "rotate-keys", data, "--role", "release", "--keys", k)
    assert code == 2 and "release" in out
    code, out = run("registry", "rotate-keys", data, "--role", "root", "--keys", str(env.tmp / "nowhere"))
    assert code == 6 and "no root keys" in out, out
    token_file = env.tmp / "ci.token"
    code, out = run("registry", "token", "issue", data, "acme", "--expires-days", "30", "--token-file", str(token_file))
    assert code == 0 and "for 30 days" in out and _token_works(env, token_file.read_text().strip())
    code, out = run("registry", "token", "list", data, "acme", "--json")
    assert code == 0 and [t["state"] for t in json.loads(out)] == ["live", "live"]
    code, out = run("registry", "token", "revoke", data, "acme")
    assert code == 2 and "exactly one of --id N and --all" in out
    code, out = run("registry", "token", "revoke", data, "acme", "--all")
    assert code == 0 and "revoked 2 token(s)" in out
    assert not _token_works(env, env.token)
    code, out = run("registry", "revoke-publisher", data, "acme", "--reason", "gone", "--keys", k)
    assert code == 0 and "namespace acme revoked" in out


# -- rotations reach devices behind a school mirror and through a USB bundle ------------------------
def test_a_root_rotation_reaches_devices_behind_a_mirror_and_a_bundle(env) -> None:  # type: ignore[no-untyped-def]
    from conftest import ServerThread

    from registry.schools.mirror import create_mirror_app, sync

    _publish_and_pull(env)
    catalog = env.tmp / "catalog.json"
    catalog.write_text(
        json.dumps({"schema_version": 1, "id": "s", "title": "S", "models": [{"model": "acme/reader", "priority": 1}]})
    )
    mirror_dir = env.tmp / "mirror"
    sync(env.url, catalog, mirror_dir, root=env.root)
    server = ServerThread(create_mirror_app(mirror_dir))
    try:
        assert env.pull("acme/reader@1.0.0", cache="behind-mirror", url=server.url).version == "1.0.0"
        keyadmin.rotate_keys(env.data, env.keys_dir, "root")
        keyadmin.rotate_keys(env.data, env.keys_dir, "timestamp")
        sync(env.url, catalog, mirror_dir)
        # a device that pinned root v1 walks to root v3 through the mirror
        assert env.pull("acme/reader@1.0.0", cache="behind-mirror", url=server.url).version == "1.0.0"
        assert env.pull("acme/reader@1.0.0", cache="new-device", url=server.url).version == "1.0.0"
    finally:
        server.stop()


def test_a_device_that_pinned_root_v1_installs_a_bundle_made_after_root_rotations(env) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    edzoo = [sys.executable, "-m", "registry.cli"]
    _publish_and_pull(env)
    keyadmin.rotate_keys(env.data, env.keys_dir, "root")
    keyadmin.rotate_keys(env.data, env.keys_dir, "targets")
    catalog, fleet = env.tmp / "catalog.json", env.tmp / "fleet.json"
    catalog.write_text(
        json.dumps({"schema_version": 1, "id": "s", "title": "S", "models": [{"model": "acme/reader", "priority": 1}]})
    )
    fleet.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "id": "f",
                "groups": [{"id": "tablets", "profile": "android-go-2gb", "count": 3, "free_storage_mb": 100}],
            }
        )
    )
    cache = ["--cache", str(env.tmp / "it-cache")]
    steps = [
        [*edzoo, "plan", str(catalog), str(fleet), "--registry", env.url, "--root", str(env.root), "-o",
         str(env.tmp / "plan.json"), *cache],
        [*edzoo, "bundle", str(env.tmp / "plan.json"), "--out", str(env.tmp / "usb"), "--quiet", *cache],
        [*edzoo, "install-bundle", str(env.tmp / "usb"), "--device", "android-go-2gb", "--into",
         str(env.tmp / "app"), "--root", str(env.root), "--quiet"],
    ]  # fmt: skip
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (argv[3], done.stderr)
    assert list((env.tmp / "app").rglob("*.tflite"))


def test_targets_changes_below_the_targets_threshold_store_nothing(tmp_path: Path) -> None:
    data, keys_dir = tmp_path / "data", tmp_path / "keys"
    admin.init(data, keys_dir, targets_keys=2, targets_threshold=2)
    _, pub = _new_key(tmp_path, "alice")
    admin.add_publisher(data, keys_dir, "acme", pub)  # both targets keys at hand
    (keys_dir / "targets-2.pem").unlink()
    before = sorted(p.name for p in (data / "objects" / "tuf").iterdir())
    _, other = _new_key(tmp_path, "bob")
    for change in (
        lambda: admin.add_publisher(data, keys_dir, "beta", other),
        lambda: keyadmin.rotate_publisher(data, keys_dir, "acme", other),
        lambda: keyadmin.revoke_publisher(data, keys_dir, "acme", reason="test"),
    ):
        with pytest.raises(SignatureError, match="targets needs 2 signature"):
            change()
    assert sorted(p.name for p in (data / "objects" / "tuf").iterdir()) == before
    assert [t.state for t in keyadmin.list_tokens(data)] == ["live"]  # the index did not move either
