"""Independent TUF clients, unmodified, against a published edzoo registry.

Two clients: python-tuf's ``Updater`` used directly (``tuf.ngclient``, no edzoo client code)
and tuf-js (npm, ``tests/js/tuf_client.mjs``). Each scenario is a test that takes
``published`` (the ``env`` registry with ``acme/reader@1.0.0`` published) and ``client``
(parametrized over both clients): ``client(path)`` refreshes the metadata, looks ``path`` up and
downloads it when found, keeping its metadata folder between calls like a device, and returns
a :class:`Found`. Adding a scenario is one short test function. Scenarios: refresh, download
and hash check, missing paths (a named table), key rotations (root, timestamp, targets), a
withdrawn version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import Updater

from registry.core import keys, names, trust

JS_DIR = Path(__file__).parent / "js"
JS_CLIENT = JS_DIR / "tuf_client.mjs"


@dataclass(frozen=True)
class Found:
    """What one client run found: the same shape for every client."""

    client: str
    found: bool
    path: str
    length: int | None
    sha256: str | None  # of the file the client wrote, hashed here again
    file: Path | None
    root_version: int | None  # of the root the client trusts after the run
    error: str | None  # "<exception class>: <message>", or None


Runner = Callable[[str, Path, Path, str, Path], Found]  # (url, metadata dir, root, path, out dir)


def _root_version(metadata_dir: Path) -> int | None:
    root = metadata_dir / "root.json"
    return json.loads(root.read_bytes())["signed"]["version"] if root.exists() else None


def python_tuf(url: str, metadata_dir: Path, root: Path, path: str, out_dir: Path) -> Found:
    """python-tuf's Updater, as any TUF client would set it up."""
    metadata_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (metadata_dir / "root.json").exists():
        shutil.copyfile(root, metadata_dir / "root.json")
    found, length, sha, file, error = False, None, None, None, None
    try:
        updater = Updater(
            metadata_dir=str(metadata_dir),
            metadata_base_url=f"{url}/tuf/metadata/",
            target_base_url=f"{url}/tuf/targets/",
            target_dir=str(out_dir),
            bootstrap=None,  # trust metadata_dir/root.json
        )
        updater.refresh()
        info = updater.get_targetinfo(path)
        if info is not None:
            file = Path(updater.download_target(info, filepath=str(out_dir / path.rsplit("/", 1)[-1])))
            found, length, sha = True, info.length, hashlib.sha256(file.read_bytes()).hexdigest()
    except Exception as e:  # any failure is a result to assert on, as tuf-js's are
        error = f"{type(e).__name__}: {e}"
    return Found("python-tuf", found, path, length, sha, file, _root_version(metadata_dir), error)


def tuf_js(url: str, metadata_dir: Path, root: Path, path: str, out_dir: Path) -> Found:
    """tuf-js's Updater in Node (tests/js/tuf_client.mjs)."""
    args = [f"{url}/tuf/metadata/", f"{url}/tuf/targets/", str(metadata_dir), str(root), path, str(out_dir)]
    proc = subprocess.run(
        ["node", str(JS_CLIENT), *args], capture_output=True, text=True, timeout=60, cwd=JS_DIR, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        return Found("tuf-js", False, path, None, None, None, None, f"node exited {proc.returncode}: {proc.stderr}")
    doc = json.loads(lines[-1])
    error = doc["error"] and f"{doc['error']['name']}: {doc['error']['message']}"
    file = Path(doc["file"]) if doc.get("file") else None
    sha = hashlib.sha256(file.read_bytes()).hexdigest() if file else None
    return Found("tuf-js", bool(doc.get("found")), path, doc.get("length"), sha, file, doc.get("root_version"), error)


CLIENTS: dict[str, Runner] = {"python-tuf": python_tuf, "tuf-js": tuf_js}


def _require_node() -> None:
    if shutil.which("node") and (JS_DIR / "node_modules" / "tuf-js").is_dir():
        return
    message = "tuf-js is not installed: scripts/_env.sh installs Node and runs `npm ci --prefix tests/js`"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it: a missing client is a failure there
    pytest.skip(message)


@dataclass
class Published:
    """The ``env`` registry after publishing acme/reader@1.0.0."""

    env: object
    url: str
    root: Path  # the root.json clients pin (version 1)
    files: dict[str, bytes]  # every published target path -> its bytes

    def namespace_role(self) -> Metadata[Targets]:
        return Metadata.from_bytes(urllib3.request("GET", f"{self.url}/api/v1/roles/acme").data)

    def snapshot_roles(self) -> set[str]:
        ts = json.loads(urllib3.request("GET", f"{self.url}/tuf/metadata/timestamp.json").data)
        version = ts["signed"]["meta"]["snapshot.json"]["version"]
        doc = json.loads(urllib3.request("GET", f"{self.url}/tuf/metadata/{version}.snapshot.json").data)
        return {name.removesuffix(".json") for name in doc["signed"]["meta"]}

    def missing_path(self, *, in_used_bin: bool) -> str:
        """A path of the namespace that is not published, in a bin that lists files or not."""
        succinct = self.namespace_role().signed.delegations.succinct_roles  # type: ignore[union-attr]
        used = {succinct.get_role_for_target(p) for p in [*self.files, names.index_path("acme", "reader")]}
        for i in range(10_000):
            path = f"acme/reader/1.0.{i + 1}/manifest.json"
            if (succinct.get_role_for_target(path) in used) == in_used_bin:
                return path
        raise AssertionError("no such path among 10,000 candidates")


def _published_files(env, build: Path) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    manifest = json.loads((build / "manifest.json").read_text())
    ns, model, version = manifest["namespace"], manifest["name"], manifest["version"]
    files = {names.target_path(ns, model, version, "manifest.json"): (build / "manifest.json").read_bytes()}
    for v in manifest["variants"]:
        files[names.target_path(ns, model, version, v["file"])] = (build / v["file"]).read_bytes()
    return files


@pytest.fixture
def published(env) -> Published:  # type: ignore[no-untyped-def]
    build = env.build()
    env.publish(build)
    return Published(env, env.url, env.root, _published_files(env, build))


@dataclass
class Client:
    """One client with its own metadata folder, kept between calls (like a device's)."""

    name: str
    runner: Runner
    url: str
    root: Path
    home: Path

    def __call__(self, path: str, *, url: str | None = None) -> Found:
        return self.runner(url or self.url, self.home / "metadata", self.root, path, self.home / "out")


@pytest.fixture(params=sorted(CLIENTS))
def client(request, published: Published, tmp_path: Path) -> Client:  # type: ignore[no-untyped-def]
    if request.param == "tuf-js":
        _require_node()
    return Client(request.param, CLIENTS[request.param], published.url, published.root, tmp_path / request.param)


# -- scenarios -----------------------------------------------------------------------------------


def test_refresh_from_the_pinned_root(published: Published, client: Client) -> None:
    found = client(names.index_path("acme", "reader"))
    assert found.error is None and found.found
    assert found.root_version == 1
    assert {"timestamp.json", "snapshot.json", "targets.json"} <= {p.name for p in (client.home / "metadata").iterdir()}


def test_every_published_file_downloads_and_verifies(published: Published, client: Client) -> None:
    for path, data in published.files.items():
        found = client(path)
        assert found.error is None, found.error
        assert found.found and found.length == len(data)
        assert found.sha256 == hashlib.sha256(data).hexdigest()
        assert found.file is not None and found.file.read_bytes() == data


# A path nobody published is "not found" in every client: no exception, no crash.
MISSING: dict[str, Callable[[Published], str]] = {
    "in-a-bin-with-files": lambda p: p.missing_path(in_used_bin=True),
    "in-a-bin-without-files": lambda p: p.missing_path(in_used_bin=False),
    "a-file-of-a-published-version": lambda p: "acme/reader/1.0.0/variants/nope.tflite",
    "a-version-of-a-published-model": lambda p: "acme/reader/9.9.9/manifest.json",
    "a-model-never-published": lambda p: "acme/nothing/1.0.0/manifest.json",
    "a-namespace-nobody-owns": lambda p: "nobody/reader/1.0.0/manifest.json",
}


def test_missing_path_is_not_found(published: Published, client: Client) -> None:
    for case, make_path in MISSING.items():
        found = client(make_path(published))
        assert found.error is None, (case, found.error)
        assert not found.found and found.file is None, case


# A client that pinned root v1 (and refreshed once) walks to root v2 and keeps verifying, with
# metadata signed by the new keys.
ROTATED_ROLES = ("root", "timestamp", "targets")


def test_key_rotation_is_followed(published: Published, client: Client) -> None:
    from registry.server import keyadmin

    assert client(names.index_path("acme", "reader")).root_version == 1
    env = published.env
    for n, role in enumerate(ROTATED_ROLES, start=1):
        keyadmin.rotate_keys(env.data, env.keys_dir, role)  # type: ignore[attr-defined]
        version = f"1.{n}.0"
        env.publish(env.build(version=version))  # type: ignore[attr-defined]
        found = client(names.target_path("acme", "reader", version, "manifest.json"))
        assert found.error is None, (role, found.error)
        assert found.found and found.root_version == n + 1, role


def test_a_withdrawn_version_is_signed_data_every_client_reads(published: Published, client: Client) -> None:
    """The publisher's yank (the versions index, schema 2) and the admin's emergency list
    (``withdrawals.json``, a top-level target) are targets like any other: both clients verify
    and download them, and read the same withdrawal. The withdrawn files stay downloadable."""
    from registry.client.recall import yank
    from registry.core.recall import WITHDRAWALS_PATH
    from registry.server import recall_admin

    env: Any = published.env
    env.publish(env.build(version="1.1.0"))
    yank("acme/reader@1.0.0", reason="reads 7 as 1", use="1.1.0", registry=env.url, key_path=env.key, token=env.token)
    recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.1.0", reason="harmful output")

    index = client(names.index_path("acme", "reader"))
    assert index.error is None and index.found and index.file is not None
    doc = json.loads(index.file.read_bytes())
    assert doc["schema_version"] == 2 and doc["withdrawn"]["1.0.0"]["reason"] == "reads 7 as 1"
    assert doc["withdrawn"]["1.0.0"]["use"] == "1.1.0"
    admin = client(WITHDRAWALS_PATH)
    assert admin.error is None and admin.found and admin.file is not None
    assert json.loads(admin.file.read_bytes())["withdrawn"]["acme/reader"]["1.1.0"]["reason"] == "harmful output"
    still = client(names.target_path("acme", "reader", "1.0.0", "manifest.json"))
    assert still.found and still.sha256 == hashlib.sha256(published.files[still.path]).hexdigest()


# -- the metadata itself -------------------------------------------------------------------------


def test_snapshot_lists_every_delegated_role(published: Published) -> None:
    succinct = published.namespace_role().signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct.bit_length == trust.DEFAULT_BIN_BITS
    assert set(succinct.get_roles()) | {"targets", "acme"} == published.snapshot_roles()


def _publish_the_old_way(env, monkeypatch) -> Published:  # type: ignore[no-untyped-def]
    """acme/reader@1.0.0 in a namespace first published before every bin was created: only the
    bins that hold files exist."""
    real_plan = trust.plan_publish

    def bins_with_files_only(*args, **kwargs):  # type: ignore[no-untyped-def]
        changed, new_paths = real_plan(*args, **kwargs)
        return {n: md for n, md in changed.items() if n == "acme" or md.signed.targets}, new_paths

    monkeypatch.setattr(trust, "plan_publish", bins_with_files_only)
    env.publish(env.build(version="1.0.0"))
    monkeypatch.undo()
    return Published(env, env.url, env.root, {})


def test_namespace_with_missing_bins_is_completed_by_its_next_publish(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    old = _publish_the_old_way(env, monkeypatch)
    succinct = old.namespace_role().signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert len(old.snapshot_roles()) < 2**succinct.bit_length

    result = env.publish(env.build(version="1.1.0"))
    assert result.status == "published"
    assert set(succinct.get_roles()) | {"targets", "acme"} == old.snapshot_roles()
    assert env.pull("acme/reader").version == "1.1.0"
    assert env.publish(env.build(version="1.1.0")).status == "unchanged"


def test_plan_publish_creates_every_missing_bin() -> None:
    key = keys.generate().public_key
    path = "acme/reader/1.0.0/manifest.json"
    files = {path: TargetFile(10, {"sha256": "a" * 64}, path)}
    first, new_paths = trust.plan_publish(None, {}, files, key=key)
    succinct = first["acme"].signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert set(first) == {"acme", *succinct.get_roles()} and new_paths == [path]
    assert all(md.signed.version == 1 for md in first.values())

    home = succinct.get_role_for_target(path)
    stored = {home: first[home]}
    # a namespace that holds only the bin with its file: the others are created, that one is not
    again, new_paths = trust.plan_publish(first["acme"], stored, files, key=key, existing={home})
    assert set(again) == set(succinct.get_roles()) - {home} and new_paths == []
    # complete and unchanged: nothing to sign
    assert trust.plan_publish(first["acme"], stored, files, key=key, existing=succinct.get_roles()) == ({}, [])


def test_publisher_renew_completes_a_namespace_with_missing_bins(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from registry.client.roles import renew_roles

    old = _publish_the_old_way(env, monkeypatch)
    succinct = old.namespace_role().signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert len(old.snapshot_roles()) < 2**succinct.bit_length

    result = renew_roles("acme", registry=env.url, key_path=env.key, token=env.token)
    assert len(result.roles) == 1 + 2**succinct.bit_length
    assert set(succinct.get_roles()) | {"targets", "acme"} == old.snapshot_roles()
    assert env.pull("acme/reader@1.0.0").version == "1.0.0"


def test_a_rekeyed_namespace_role_must_come_with_every_bin(env) -> None:  # type: ignore[no-untyped-def]
    from registry.core.errors import UsageError
    from registry.server import keyadmin

    env.publish(env.build(version="1.0.0"))
    new_key, new_pub = env.tmp / "pk" / "new.pem", env.tmp / "pk" / "new.pub.json"
    keys.save_key_pair(keys.generate(), new_key, new_pub)
    keyadmin.rotate_publisher(env.data, env.keys_dir, "acme", new_pub)
    registry = env.app.extensions["edzoo"]
    ns_md, _ = registry.role("acme")
    succinct = ns_md.signed.delegations.succinct_roles
    signer = keys.load_signer(new_key)
    for keyid in list(succinct.keyids):
        ns_md.signed.revoke_key(keyid)
    ns_md.signed.add_key(signer.public_key)
    ns_md.signed.version += 1
    trust.sign(ns_md, [signer])
    with pytest.raises(UsageError, match="every bin must be re-signed"):
        registry.publish("acme", {"acme": trust.to_bytes(ns_md)})
