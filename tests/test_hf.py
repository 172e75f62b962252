"""The unmodified ``huggingface_hub`` client against a real registry on 127.0.0.1.

The client reads ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_OFFLINE`` when it is imported, so it
runs in a subprocess with that environment: :data:`DRIVER` runs a list of client calls and prints
each one's result, or the type of the exception it raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from registry.server.hf import commit_id

DRIVER = r"""
import hashlib, json, os, sys
from pathlib import Path
from huggingface_hub import HfApi, ModelCard, hf_hub_download, snapshot_download

def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

api = HfApi()
out = []
for op in json.loads(sys.stdin.read()):
    kind = op.pop("op")
    try:
        if kind == "download":
            path = hf_hub_download(**op)
            result = {"path": path, "sha256": sha(path), "text": Path(path).read_bytes()[:20000].decode("latin-1")}
        elif kind == "snapshot":
            root = Path(snapshot_download(**op))
            result = {"path": str(root), "commit": root.name,
                      "files": {p.relative_to(root).as_posix(): sha(p) for p in root.rglob("*") if p.is_file()}}
        elif kind == "model_info":
            info = api.model_info(**op)
            result = {"id": info.id, "sha": info.sha, "tags": info.tags, "pipeline_tag": info.pipeline_tag,
                      "last_modified": info.last_modified.isoformat() if info.last_modified else None,
                      "siblings": {s.rfilename: {"size": s.size, "blob_id": s.blob_id,
                                                 "lfs_sha256": s.lfs.sha256 if s.lfs else None}
                                   for s in info.siblings},
                      "license": info.card_data.license if info.card_data else None}
        elif kind == "list_files":
            result = api.list_repo_files(**op)
        elif kind == "tree":
            result = [{"type": type(e).__name__, "path": e.path} for e in api.list_repo_tree(**op)]
        elif kind == "paths_info":
            result = [{"type": type(e).__name__, "path": e.path} for e in api.get_paths_info(**op)]
        elif kind == "refs":
            refs = api.list_repo_refs(**op)
            result = {"branches": {b.name: b.target_commit for b in refs.branches},
                      "tags": {t.name: t.target_commit for t in refs.tags}}
        elif kind == "list_models":
            result = [{"id": m.id, "author": m.author, "sha": m.sha, "tags": m.tags} for m in api.list_models(**op)]
        elif kind == "commits":
            result = [{"id": c.commit_id, "title": c.title, "authors": c.authors, "date": c.created_at.isoformat()}
                      for c in api.list_repo_commits(**op)]
        elif kind == "card":
            card = ModelCard.load(**op)
            result = {"data": card.data.to_dict(), "text": card.text}
        elif kind == "verify":
            v = api.verify_repo_checksums(**op)
            result = {"checked": v.checked_count, "mismatches": v.mismatches, "missing": v.missing_paths}
        else:
            raise ValueError(kind)
        out.append({"ok": result})
    except Exception as e:
        out.append({"error": type(e).__name__, "message": str(e)[:2000]})
print(json.dumps(out))
"""


def hf(endpoint: str, hf_home: Path, ops: list[dict[str, Any]], *, offline: bool = False) -> list[dict[str, Any]]:
    """Run ``ops`` through the real client in a fresh process; one result per op."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_OFFLINE="1" if offline else "0",
    )
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps(ops),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == len(ops)
    return results


def ok(result: dict[str, Any]) -> Any:
    assert "ok" in result, result
    return result["ok"]


EDUCATION = {
    "age_band": "6-8",
    "privacy_class": "no-student-data",
    "student_data": "none: it sees a drawing of a digit, never who drew it",
    "runs_on": "the student's tablet, offline",
}


def _build(env, version: str = "1.0.0", variants: dict[str, bytes] | None = None) -> Path:  # type: ignore[no-untyped-def]
    build = env.build("reader", version, variants=variants)
    doc = json.loads((build / "manifest.json").read_text())
    doc["card"]["education"] = EDUCATION
    (build / "manifest.json").write_text(json.dumps(doc, indent=2))
    return build


def _files(build: Path) -> dict[str, bytes]:
    return {p.relative_to(build).as_posix(): p.read_bytes() for p in build.rglob("*") if p.is_file()}


def _commit(env, version: str) -> str:  # type: ignore[no-untyped-def]
    doc = env.app.extensions["edzoo"].index.version("acme", "reader", version)
    return commit_id(doc.manifest_sha256)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_hf_client_downloads_by_version_alias_main_and_commit(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build = _build(env)
    env.publish(build, aliases=["stable"])
    files = _files(build)
    commit = _commit(env, "1.0.0")
    int8 = "variants/int8.tflite"
    home = tmp_path / "hf"
    revisions = ["1.0.0", "stable", "main", commit, commit[:7]]
    ops: list[dict[str, Any]] = [
        {"op": "download", "repo_id": "acme/reader", "filename": int8, "revision": r} for r in revisions
    ]
    ops += [
        {"op": "snapshot", "repo_id": "acme/reader", "allow_patterns": ["*.json", "variants/int8*"]},
        {"op": "model_info", "repo_id": "acme/reader", "files_metadata": True},
        {"op": "model_info", "repo_id": "acme/reader", "revision": "stable"},
        {"op": "list_files", "repo_id": "acme/reader"},
        {"op": "tree", "repo_id": "acme/reader"},
        {"op": "tree", "repo_id": "acme/reader", "path_in_repo": "variants", "revision": "1.0.0"},
        {"op": "paths_info", "repo_id": "acme/reader", "paths": ["manifest.json", "variants", "nope"]},
        {"op": "refs", "repo_id": "acme/reader"},
        {"op": "card", "repo_id_or_path": "acme/reader"},
        {"op": "verify", "repo_id": "acme/reader", "cache_dir": str(home / "hub")},
    ]
    results = hf(env.url, home, ops)
    downloads, (snap, info, info_stable, listed, top, sub, paths, refs, card, verified) = (
        results[: len(revisions)],
        results[len(revisions) :],
    )
    for r in downloads:
        got = ok(r)
        assert got["sha256"] == _sha(files[int8])
        assert f"/snapshots/{commit}/variants/int8.tflite" in got["path"]
    # the client's cache names blobs by ETag: the signed sha256, and README.md's git blob sha1
    blobs = {p.name for p in (home / "hub" / "models--acme--reader" / "blobs").iterdir()}
    signed = {_sha(files[int8]), _sha(files["manifest.json"])}
    assert signed < blobs and [len(b) for b in blobs - signed] == [40]

    got = ok(snap)
    assert got["commit"] == commit
    assert got["files"] == {"manifest.json": _sha(files["manifest.json"]), int8: _sha(files[int8])}

    got = ok(info)
    assert got["id"] == "acme/reader" and got["sha"] == commit and got["pipeline_tag"] == "image-classification"
    assert got["license"] == "apache-2.0" and "edzoo" in got["tags"]
    manifest = json.loads(files["manifest.json"])
    siblings = got["siblings"]
    assert set(siblings) == {"README.md", "manifest.json", "variants/fp32.tflite", int8}
    for v in manifest["variants"]:
        assert siblings[v["file"]]["size"] == v["size"] and siblings[v["file"]]["lfs_sha256"] == v["sha256"]
    assert siblings["manifest.json"]["lfs_sha256"] == _sha(files["manifest.json"])
    assert siblings["README.md"]["lfs_sha256"] is None  # a regular file: its id is its git blob sha1
    assert ok(info_stable)["sha"] == commit

    assert ok(listed) == ["README.md", "manifest.json", "variants/fp32.tflite", int8]
    assert ok(top) == [
        {"type": "RepoFolder", "path": "variants"},
        {"type": "RepoFile", "path": "README.md"},
        {"type": "RepoFile", "path": "manifest.json"},
    ]
    assert [e["path"] for e in ok(sub)] == ["variants/fp32.tflite", int8]
    assert ok(paths) == [
        {"type": "RepoFile", "path": "manifest.json"},
        {"type": "RepoFolder", "path": "variants"},
    ]
    assert ok(refs) == {"branches": {"main": commit, "stable": commit}, "tags": {"1.0.0": commit}}

    # README.md: Hugging Face's front matter, parsed by the client's own ModelCard, plus edzoo's fields
    data = ok(card)["data"]
    assert data["license"] == "apache-2.0" and data["language"] == ["en"]
    assert data["tags"] == ["image-classification", "math", "edzoo", "tflite"]
    assert data["datasets"] == ["fixture"] and data["metrics"] == ["accuracy"]
    assert data["pipeline_tag"] == "image-classification"
    assert data["edzoo"]["grades"] == ["1", "2"] and data["edzoo"]["subjects"] == ["math"]
    for key, value in EDUCATION.items():
        assert data["edzoo"][key] == value
    assert data["edzoo"]["reference_metric"] == {"variant": "fp32", "name": "accuracy", "value": 0.9}
    assert "# acme/reader 1.0.0" in ok(card)["text"] and "## Learners and privacy" in ok(card)["text"]

    got = ok(verified)  # the client's own checksum check: sha256 for the signed files
    assert got["checked"] >= 2 and got["mismatches"] == []

    # Offline, from the cache alone; the endpoint is a closed port to prove no request is needed.
    dead = "http://127.0.0.1:9"
    results = hf(
        dead,
        home,
        [
            {"op": "download", "repo_id": "acme/reader", "filename": int8},
            {"op": "download", "repo_id": "acme/reader", "filename": int8, "revision": "stable"},
            {"op": "download", "repo_id": "acme/reader", "filename": int8, "revision": commit},
            {"op": "snapshot", "repo_id": "acme/reader", "allow_patterns": ["*.json", "variants/int8*"]},
            {"op": "model_info", "repo_id": "acme/reader"},
            {"op": "download", "repo_id": "acme/reader", "filename": "variants/fp32.tflite"},
        ],
        offline=True,
    )
    for r in results[:3]:
        assert ok(r)["sha256"] == _sha(files[int8])
    assert ok(results[3])["commit"] == commit
    assert results[4]["error"] == "OfflineModeIsEnabled"
    assert results[5]["error"] == "LocalEntryNotFoundError"  # never downloaded


def test_unknown_repo_revision_and_file_raise_the_hf_exceptions(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env.publish(_build(env))
    ops = [
        {"op": "download", "repo_id": "acme/nothing", "filename": "manifest.json"},
        {"op": "download", "repo_id": "acme/reader", "filename": "manifest.json", "revision": "9.9.9"},
        {"op": "download", "repo_id": "acme/reader", "filename": "manifest.json", "revision": "0" * 40},
        {"op": "download", "repo_id": "acme/reader", "filename": "variants/none.tflite"},
        {"op": "model_info", "repo_id": "acme/nothing"},
        {"op": "model_info", "repo_id": "acme/reader", "revision": "nope"},
        {"op": "list_files", "repo_id": "acme/reader", "revision": "refs/pr/1"},
        {"op": "snapshot", "repo_id": "nobody/nothing"},
        {"op": "model_info", "repo_id": "justaname"},
        {"op": "download", "repo_id": "acme/reader", "filename": "x.bin", "repo_type": "dataset"},
    ]
    errors = [r.get("error") for r in hf(env.url, tmp_path / "hf", ops)]
    assert errors == [
        "RepositoryNotFoundError",
        "RevisionNotFoundError",
        "RevisionNotFoundError",
        "RemoteEntryNotFoundError",
        "RepositoryNotFoundError",
        "RevisionNotFoundError",
        "RevisionNotFoundError",
        "RepositoryNotFoundError",
        "RepositoryNotFoundError",
        "RepositoryNotFoundError",
    ]


def test_resolve_headers_ranges_and_raw_revisions(env) -> None:  # type: ignore[no-untyped-def]
    build = _build(env, variants={"fp32": os.urandom(5000), "int8": os.urandom(3000)})
    env.publish(build)
    data, commit = (build / "variants" / "fp32.tflite").read_bytes(), _commit(env, "1.0.0")
    http = urllib3.PoolManager(retries=False, timeout=10)
    url = f"{env.url}/acme/reader/resolve/main/variants/fp32.tflite"
    head = http.request("HEAD", url)
    assert head.status == 200 and head.headers["X-Repo-Commit"] == commit
    assert head.headers["ETag"] == f'"{_sha(data)}"' and head.headers["Content-Length"] == str(len(data))
    assert head.headers["X-Linked-Size"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-cache"  # main moves
    assert not [h for h in head.headers if "xet" in h.lower()] and "xet" not in head.headers.get("Link", "")
    part = http.request("GET", url, headers={"Range": "bytes=1000-"})
    assert part.status == 206 and part.data == data[1000:]
    assert part.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    whole = http.request("GET", f"{env.url}/acme/reader/resolve/{commit}/variants/fp32.tflite")
    assert whole.status == 200 and whole.data == data and "immutable" in whole.headers["Cache-Control"]
    readme = http.request("GET", f"{env.url}/acme/reader/resolve/1.0.0/README.md")
    blob_sha1 = hashlib.sha1(b"blob %d\0" % len(readme.data) + readme.data).hexdigest()
    assert readme.headers["ETag"] == f'"{blob_sha1}"'
    assert readme.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert readme.headers["Date"].count("GMT") == whole.headers["Date"].count("GMT") == 1  # one Date header
    front = yaml.safe_load(readme.data.decode().split("---\n")[1])
    assert front["edzoo"]["privacy_class"] == "no-student-data"
    again = http.request("GET", f"{env.url}/acme/reader/resolve/{commit[:10]}/README.md")
    assert again.data == readme.data  # deterministic
    # a revision with an encoded slash stays one revision (Werkzeug decodes %2F in request.path)
    raw = http.request("HEAD", f"{env.url}/acme/reader/resolve/refs%2Fpr%2F1/manifest.json")
    assert raw.status == 404 and raw.headers["X-Error-Code"] == "RevisionNotFound"
    missing = http.request("HEAD", f"{env.url}/acme/reader/resolve/main/nope.bin")
    assert missing.headers["X-Error-Code"] == "EntryNotFound" and missing.headers["X-Repo-Commit"] == commit
    body = json.loads(http.request("GET", f"{env.url}/api/models/acme/nothing").data)
    assert body["error"] == "not_found" and "acme/nothing" in body["message"]
    harnesses = json.loads(http.request("GET", f"{env.url}/api/agent-harnesses").data)
    assert harnesses == {"standardEnvVars": [], "harnesses": {}}
    tree = json.loads(http.request("GET", f"{env.url}/api/models/acme/reader/tree/main?recursive=true").data)
    assert not [e for e in tree if "xetHash" in e]


def test_a_tampered_blob_is_refused_and_a_tampered_cache_is_reported(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build = _build(env)
    env.publish(build)
    int8 = (build / "variants" / "int8.tflite").read_bytes()
    stored = env.blob_file(_sha(int8))
    op = {"op": "download", "repo_id": "acme/reader", "filename": "variants/int8.tflite"}

    stored.write_bytes(bytes(b ^ 0xFF for b in int8))  # same size, other bytes
    same_size = hf(env.url, tmp_path / "hf1", [dict(op)])[0]
    stored.write_bytes(int8 + b"more")  # another size
    other_size = hf(env.url, tmp_path / "hf2", [dict(op)])[0]
    for r in (same_size, other_size):
        assert r.get("error") == "HfHubHTTPError" and "no longer matches its signed sha256" in r["message"], r
    for home in (tmp_path / "hf1", tmp_path / "hf2"):  # nothing was cached
        assert not list((home / "hub" / "models--acme--reader" / "blobs").glob("*"))

    stored.write_bytes(int8)  # restored: served again
    home = tmp_path / "hf3"
    assert ok(hf(env.url, home, [dict(op)])[0])["sha256"] == _sha(int8)
    # The client's cache altered after the download: its checksum check finds it by sha256.
    cached = home / "hub" / "models--acme--reader" / "blobs" / _sha(int8)
    cached.write_bytes(bytes(len(int8)))
    got = ok(hf(env.url, home, [{"op": "verify", "repo_id": "acme/reader", "cache_dir": str(home / "hub")}])[0])
    assert [(m["path"], m["algorithm"], m["expected"]) for m in got["mismatches"]] == [
        ("variants/int8.tflite", "sha256", _sha(int8))
    ]


def test_a_new_version_gets_a_new_commit_and_main_moves(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = _build(env, "1.0.0")
    env.publish(first, aliases=["stable"])
    second = _build(env, "1.1.0")
    home = tmp_path / "hf"
    op = {"op": "download", "repo_id": "acme/reader", "filename": "variants/fp32.tflite"}
    before = ok(hf(env.url, home, [dict(op)])[0])
    env.publish(second)
    c1, c2 = _commit(env, "1.0.0"), _commit(env, "1.1.0")
    assert c1 != c2
    after, old, stable, refs = hf(
        env.url,
        home,
        [dict(op), {**op, "revision": "1.0.0"}, {**op, "revision": "stable"}, {"op": "refs", "repo_id": "acme/reader"}],
    )
    assert f"/snapshots/{c1}/" in before["path"] and f"/snapshots/{c2}/" in ok(after)["path"]
    assert ok(after)["sha256"] == _sha((second / "variants" / "fp32.tflite").read_bytes())
    assert ok(old)["sha256"] == ok(stable)["sha256"] == before["sha256"]
    assert ok(refs) == {"branches": {"main": c2, "stable": c1}, "tags": {"1.0.0": c1, "1.1.0": c2}}


def test_list_models_and_list_repo_commits(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env.publish(_build(env, "1.0.0"))
    env.publish(_build(env, "1.1.0"))
    env.publish(env.build("speaker", "1.0.0"))
    c1, c2 = _commit(env, "1.0.0"), _commit(env, "1.1.0")
    every, found, by_tag, licensed, none, first, commits, old = hf(
        env.url,
        tmp_path / "hf",
        [
            {"op": "list_models", "author": "acme"},
            {"op": "list_models", "search": "reader", "limit": 5},
            {"op": "list_models", "filter": ["license:apache-2.0", "no-such-tag"]},
            {"op": "list_models", "filter": "license:apache-2.0"},
            {"op": "list_models", "author": "nobody"},
            {"op": "list_models", "sort": "id", "limit": 1},
            {"op": "commits", "repo_id": "acme/reader"},
            {"op": "commits", "repo_id": "acme/reader", "revision": "1.0.0"},
        ],
    )
    assert [m["id"] for m in ok(every)] == ["acme/reader", "acme/speaker"]
    assert ok(found) == [{"id": "acme/reader", "author": "acme", "sha": c2, "tags": ok(found)[0]["tags"]}]
    assert "license:apache-2.0" in ok(found)[0]["tags"] and ok(by_tag) == []  # every filter must match
    assert len(ok(licensed)) == 2
    assert ok(none) == [] and [m["id"] for m in ok(first)] == ["acme/reader"]
    assert [c["id"] for c in ok(commits)] == [c2, c1] and ok(commits)[0]["title"] == "acme/reader 1.1.0"
    assert ok(commits)[0]["authors"] == ["acme"]
    assert [c["id"] for c in ok(old)] == [c1]


def _serve(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`edzoo serve` (gunicorn, 2 workers) in its own session; returns once it answers."""
    from services import _wait_port, free_port

    port = free_port()
    log = data.parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "edzoo"), "serve", "--data", str(data), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    _wait_port(port, proc, "edzoo serve", log, timeout=60)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while urllib3.request("GET", f"{url}/api/v1/health", retries=False).status != 200:  # workers booted
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return proc, url


@pytest.mark.slow
def test_under_gunicorn_with_s3_blobs_streamed_and_redirected(tmp_path: Path, moto_s3, s3_env) -> None:  # type: ignore[no-untyped-def]
    """`edzoo serve` (gunicorn) on S3 blobs: streamed through the server, then as 302s to
    presigned URLs that the client follows itself; a corrupt S3 object arrives short."""
    from builders import make_build_dir
    from conftest import ServerThread
    from services import _stop

    from registry.client import publish
    from registry.core import keys
    from registry.server import ServerConfig, admin, create_app
    from registry.storage.objects import S3Config, S3ObjectStore, blob_key

    blobs = moto_s3.new_bucket_url()
    data = tmp_path / "data"
    admin.init(data, tmp_path / "offline-keys", blobs=blobs)
    key, pub = tmp_path / "pk" / "acme.pem", tmp_path / "pk" / "acme.pub.json"
    keys.save_key_pair(keys.generate(), key, pub)
    token = admin.add_publisher(data, tmp_path / "offline-keys", "acme", pub)
    payload = os.urandom(300_000)
    build = make_build_dir(tmp_path / "build", "acme", "reader", "1.0.0", {"fp32": payload, "int8": os.urandom(999)})
    sha = _sha(payload)
    op = {"op": "download", "repo_id": "acme/reader", "filename": "variants/fp32.tflite"}
    http = urllib3.PoolManager(retries=False, timeout=10)
    proc, url = _serve(data, s3_env)
    try:
        publish(build, registry=url, key_path=key, token=token)
        snap = {"op": "snapshot", "repo_id": "acme/reader", "allow_patterns": ["variants/*"]}
        streamed, snapshot = hf(url, tmp_path / "hf", [dict(op), snap])
        assert ok(streamed)["sha256"] == sha
        assert set(ok(snapshot)["files"]) == {"variants/fp32.tflite", "variants/int8.tflite"}
        resolve_url = f"{url}/acme/reader/resolve/main/variants/fp32.tflite"
        part = http.request("GET", resolve_url, headers={"Range": "bytes=7-"})
        assert part.status == 206 and part.data == payload[7:]

        app = create_app({"EDZOO": ServerConfig.from_env(data, dict(os.environ), redirect_blobs=True)})
        server = ServerThread(app)
        try:
            head = http.request("HEAD", f"{server.url}/acme/reader/resolve/main/variants/fp32.tflite", redirect=False)
            assert head.status == 302 and head.headers["Location"].startswith(moto_s3.url)
            assert head.headers["X-Linked-Etag"] == f'"{sha}"' and head.headers["X-Linked-Size"] == str(len(payload))
            assert "X-Repo-Commit" in head.headers
            redirected = hf(server.url, tmp_path / "hf-redirect", [dict(op)])[0]
            assert ok(redirected)["sha256"] == sha
        finally:
            server.stop()
            app.extensions["edzoo"].close()

        store = S3ObjectStore(S3Config.from_url(blobs, dict(os.environ)))
        store.put_bytes(blob_key(sha), bytes(len(payload)))  # the bucket's copy corrupted, same size
        with pytest.raises(urllib3.exceptions.HTTPError):  # the server withholds the last chunk
            http.request("GET", resolve_url)
    finally:
        _stop(proc)
