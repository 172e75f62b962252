"""The attacks of the TUF threat model, each rejected with a clear error and a clean cache.

Client-side attacks go through :class:`conftest.Mirror`, a proxy between client and registry
that rewrites responses; publisher-side attacks send crafted, signed roles to the real server.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from tuf.api.metadata import Metadata, TargetFile, Targets, Timestamp

from registry.core import keys, names, trust
from registry.core.errors import ConflictError, SignatureError

# -- helpers -----------------------------------------------------------------------------------


def assert_cache_clean(cache: Path) -> None:
    """Every blob in the cache holds the bytes its name promises; no partial download is left."""
    for blob in (cache / "blobs" / "sha256").glob("*/*"):
        if blob.parent.name == "incomplete":
            continue
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
    assert not list((cache / "blobs" / "incomplete").glob("*")), "partial downloads left behind"


def variant_sha(build: Path, vid: str = "fp32") -> str:
    return json.loads((build / "manifest.json").read_text())["variants"][
        [v["id"] for v in json.loads((build / "manifest.json").read_text())["variants"]].index(vid)
    ]["sha256"]


def flip(data: bytes, at: int = -1) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


def _is_target(path: str, name: str) -> bool:
    return path.startswith("/tuf/targets/") and path.endswith("." + name)


# -- the attack table --------------------------------------------------------------------------


def tampered_blob_on_server(env, mirror, build):  # type: ignore[no-untyped-def]
    blob = env.blob_file(variant_sha(build))
    blob.write_bytes(flip(blob.read_bytes()))
    return env.url


def tampered_manifest_on_server(env, mirror, build):  # type: ignore[no-untyped-def]
    sha = hashlib.sha256((build / "manifest.json").read_bytes()).hexdigest()
    blob = env.blob_file(sha)
    blob.write_bytes(blob.read_bytes().replace(b'"fp32"', b'"fp33"', 1))
    return env.url


def malicious_mirror_flips_one_byte(env, mirror, build):  # type: ignore[no-untyped-def]
    mirror.tamper = lambda path, body: flip(body, len(body) // 2) if _is_target(path, "fp32.tflite") else body
    return mirror.url


def endless_data(env, mirror, build):  # type: ignore[no-untyped-def]
    mirror.tamper = lambda path, body: body + b"\0" * 100_000 if _is_target(path, "fp32.tflite") else body
    return mirror.url


def truncated_download(env, mirror, build):  # type: ignore[no-untyped-def]
    mirror.tamper = lambda path, body: body[: len(body) // 2] if _is_target(path, "fp32.tflite") else body
    return mirror.url


def expired_timestamp_freeze(env, mirror, build):  # type: ignore[no-untyped-def]
    signer = keys.load_signer(env.data / "keys" / "timestamp.pem")
    current = Metadata.from_bytes((env.data / "objects" / "tuf" / "timestamp.json").read_bytes())
    stale = Metadata(
        Timestamp(
            version=current.signed.version + 1,
            expires=trust.now() - timedelta(days=1),
            snapshot_meta=current.signed.snapshot_meta,
        )
    )
    data = trust.to_bytes(trust.sign(stale, [signer]))
    mirror.tamper = lambda path, body: data if path.endswith("/timestamp.json") else body
    return mirror.url


def forged_timestamp_wrong_key(env, mirror, build):  # type: ignore[no-untyped-def]
    current = Metadata.from_bytes((env.data / "objects" / "tuf" / "timestamp.json").read_bytes())
    current.signed.version += 1
    data = trust.to_bytes(trust.sign(current, [keys.generate()]))
    mirror.tamper = lambda path, body: data if path.endswith("/timestamp.json") else body
    return mirror.url


def mix_and_match_snapshot(env, mirror, build):  # type: ignore[no-untyped-def]
    old = (env.data / "objects" / "tuf" / "1.snapshot.json").read_bytes()
    mirror.tamper = lambda path, body: old if re.search(r"/\d+\.snapshot\.json$", path) else body
    return mirror.url


def mix_and_match_bin(env, mirror, build):  # type: ignore[no-untyped-def]
    # A second version moves the bins on; the mirror answers with their previous versions.
    env.publish(env.build(version="1.1.0"))
    tuf = env.data / "objects" / "tuf"

    def older(path: str, body: bytes) -> bytes:
        m = re.search(r"/(\d+)\.(acme\.bin-[0-9a-f]+)\.json$", path)
        if m and int(m.group(1)) > 1:
            return (tuf / f"{int(m.group(1)) - 1}.{m.group(2)}.json").read_bytes()
        return body

    mirror.tamper = older
    return mirror.url


ATTACKS = {
    "tampered-blob-on-server": (tampered_blob_on_server, "do not match their signed length and sha256"),
    "tampered-manifest-on-server": (tampered_manifest_on_server, "do not match their signed length and sha256"),
    "malicious-mirror-flips-one-byte": (malicious_mirror_flips_one_byte, "do not match their signed"),
    "endless-data": (endless_data, "more bytes than the signed length"),
    "truncated-download": (truncated_download, "do not match their signed length"),
    "expired-timestamp-freeze": (expired_timestamp_freeze, "expired"),
    "forged-timestamp-wrong-key": (forged_timestamp_wrong_key, "not signed by the trusted keys"),
    "mix-and-match-snapshot": (mix_and_match_snapshot, "do not match their signed length"),
    "mix-and-match-bin": (mix_and_match_bin, "rollback"),
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_client_rejects(env, mirror, attack):  # type: ignore[no-untyped-def]
    build = env.build()
    env.publish(build)
    setup, message = ATTACKS[attack]
    url = setup(env, mirror, build)
    with pytest.raises(SignatureError, match=message):
        env.pull("acme/reader", url=url, variant="fp32")
    cache = env.tmp / "cache"
    assert_cache_clean(cache)
    assert not list(cache.glob("registries/*/models/acme/reader/*/variants/fp32.tflite"))


def test_rollback_to_older_metadata(env, mirror):  # type: ignore[no-untyped-def]
    env.publish(env.build(version="1.0.0"))
    old_timestamp = (env.data / "objects" / "tuf" / "timestamp.json").read_bytes()
    env.publish(env.build(version="1.1.0"))
    assert env.pull("acme/reader", url=mirror.url).version == "1.1.0"
    # The mirror now replays the older (still unexpired, validly signed) timestamp.
    mirror.tamper = lambda path, body: old_timestamp if path.endswith("/timestamp.json") else body
    with pytest.raises(SignatureError, match="rollback"):
        env.pull("acme/reader", url=mirror.url)
    assert_cache_clean(env.tmp / "cache")


def test_cached_blob_tampered_locally_is_redownloaded(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    result = env.pull("acme/reader")
    result.blob.chmod(0o644)
    result.blob.write_bytes(flip(result.blob.read_bytes()))
    with pytest.raises(SignatureError):
        env.pull("acme/reader", offline=True)
    again = env.pull("acme/reader")
    assert again.downloaded and hashlib.sha256(again.path.read_bytes()).hexdigest() == again.sha256


# -- publisher-side attacks: crafted, signed roles sent to the real server ---------------------


def _post_roles(env, roles: dict[str, Metadata], token: str | None = None):  # type: ignore[no-untyped-def]
    body = json.dumps({"roles": {n: md.to_dict() for n, md in roles.items()}}).encode()
    return urllib3.request(
        "POST",
        env.url + "/api/v1/publish",
        body=body,
        headers={"Authorization": f"Bearer {token or env.token}", "Content-Type": "application/json"},
    )


def _current(env, name: str) -> Metadata:
    """The stored role, or a new empty one (version 0, bumped by the caller) for an unused bin."""
    r = urllib3.request("GET", f"{env.url}/api/v1/roles/{name}")
    if r.status == 404:
        md = Metadata(Targets(expires=trust.now() + timedelta(days=30)))
        md.signed.version = 0
        return md
    return Metadata.from_bytes(r.data)


def _bin_for(env, path: str) -> str:
    return _current(env, "acme").signed.delegations.succinct_roles.get_role_for_target(path)


def test_publisher_cannot_sign_outside_its_namespace(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    evil = "globex/reader/9.9.9/manifest.json"
    name = _bin_for(env, evil)
    md = _current(env, name)
    md.signed.targets[evil] = TargetFile(10, {"sha256": "a" * 64}, evil)
    md.signed.version += 1
    trust.sign(md, [keys.load_signer(env.key)])
    r = _post_roles(env, {name: md})
    assert r.status == 403 and r.json()["error"] == "verification_failed"
    assert "outside namespace 'acme'" in r.json()["message"]


def test_wrong_key_is_rejected(env):  # type: ignore[no-untyped-def]
    intruder = env.tmp / "intruder.pem"
    keys.save_key_pair(keys.generate(), intruder)
    from registry.client import publish

    with pytest.raises(SignatureError, match="not signed by the key registered for namespace 'acme'"):
        publish(env.build(), registry=env.url, key_path=intruder, token=env.token)
    assert urllib3.request("GET", f"{env.url}/api/v1/roles/acme").status == 404


def test_republishing_a_version_with_other_bytes_is_a_conflict(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    assert env.publish(env.build()).status == "unchanged"  # same bytes again: idempotent
    other = env.build(version="1.0.0", name="reader", variants={"fp32": b"other bytes" * 10})
    with pytest.raises(ConflictError, match="already published with other bytes"):
        env.publish(other)
    # A publisher that signs the change anyway is refused by the server: 409.
    path = names.target_path("acme", "reader", "1.0.0", "variants/fp32.tflite")
    name = _bin_for(env, path)
    md = _current(env, name)
    md.signed.targets[path] = TargetFile(110, {"sha256": hashlib.sha256(b"other bytes" * 10).hexdigest()}, path)
    md.signed.version += 1
    trust.sign(md, [keys.load_signer(env.key)])
    r = _post_roles(env, {name: md})
    assert r.status == 409 and "already published with other bytes" in r.json()["message"]
    assert env.pull("acme/reader@1.0.0").sha256 == variant_sha(env.build())


def test_replayed_old_role_is_rejected(env):  # type: ignore[no-untyped-def]
    env.publish(env.build(version="1.0.0"))
    index_bin = _bin_for(env, names.index_path("acme", "reader"))
    old = _current(env, index_bin)
    env.publish(env.build(version="1.1.0"))
    r = _post_roles(env, {index_bin: old})
    assert r.status == 409 and "not newer than the stored version" in r.json()["message"]


def test_removing_a_published_file_is_rejected(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    path = names.target_path("acme", "reader", "1.0.0", "variants/int8.tflite")
    name = _bin_for(env, path)
    md = _current(env, name)
    del md.signed.targets[path]
    md.signed.version += 1
    trust.sign(md, [keys.load_signer(env.key)])
    r = _post_roles(env, {name: md})
    assert r.status == 409 and "removing it is not allowed" in r.json()["message"]


def test_server_cannot_move_an_alias(env, mirror):  # type: ignore[no-untyped-def]
    """Aliases come from the publisher-signed versions index: a server that rewrites it is caught."""
    env.publish(env.build(version="1.0.0"), aliases=["stable"])
    env.publish(env.build(version="1.1.0"))
    assert env.pull("acme/reader@stable").version == "1.0.0"
    mirror.tamper = lambda path, body: (
        body.replace(b'"stable": "1.0.0"', b'"stable": "1.1.0"') if path.endswith("versions.json") else body
    )
    with pytest.raises(SignatureError):
        env.pull("acme/reader@stable", url=mirror.url, cache="cache2")
