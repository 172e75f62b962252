"""`edzoo cache ls | verify | prune`, `edzoo verify PATH...` and `--json` errors: a corrupted
cached file is reported, never shown as fine; pruning keeps every pulled file usable offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import Env


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cache"), "EDZOO_RETRIES": "0"}
    run_env.pop("EDZOO_REGISTRY", None)
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args], env=run_env, capture_output=True, text=True, timeout=60
    )


def _pulled(env: Env) -> tuple[Path, Path]:
    env.publish(env.build())
    a = env.pull("acme/reader").path
    b = env.pull("acme/reader", variant="int8").path
    return a, b


def test_cache_ls_hashes_and_reports_a_corrupted_file(env):  # type: ignore[no-untyped-def]
    a, _ = _pulled(env)
    p = _cli(env, "cache", "ls", "--json")
    assert p.returncode == 0, p.stderr
    files = {f["target"]: f["state"] for f in json.loads(p.stdout)["files"]}
    assert files["acme/reader/1.0.0/variants/fp32.tflite"] == "ok" and set(files.values()) == {"ok"}
    blob = a.resolve()
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    p = _cli(env, "cache", "ls")
    assert p.returncode == 4 and "variants/fp32.tflite" in p.stdout and "corrupt" in p.stdout, p.stdout
    assert p.stderr.startswith("error: 1 pulled file(s) are not ok")


def test_cache_verify_checks_every_file_against_the_signed_metadata(env):  # type: ignore[no-untyped-def]
    a, b = _pulled(env)
    p = _cli(env, "cache", "verify")
    assert p.returncode == 0 and "OK acme/reader/1.0.0/variants/int8.tflite" in p.stdout, p.stderr
    blob = b.resolve()
    blob.chmod(0o644)
    blob.write_bytes(b"x" * blob.stat().st_size)
    p = _cli(env, "cache", "verify", "--json")
    states = {d["target"]: d["state"] for d in map(json.loads, p.stdout.splitlines())}
    assert p.returncode == 4 and states["acme/reader/1.0.0/variants/int8.tflite"] == "corrupt"
    assert states["acme/reader/1.0.0/variants/fp32.tflite"] == "ok"


def test_verify_takes_several_paths_and_json_errors(env):  # type: ignore[no-untyped-def]
    a, b = _pulled(env)
    p = _cli(env, "verify", str(a), str(b), "--json")
    assert p.returncode == 0 and [json.loads(x)["ok"] for x in p.stdout.splitlines()] == [True, True]
    p = _cli(env, "verify", str(a), str(env.key), "--json")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert p.returncode == 2 and lines[0]["ok"] and lines[1]["error"]["exit_code"] == 2
    # any command's failure under --json: the error as data on stdout, the line on stderr
    p = _cli(env, "pull", "acme/nothing", "--registry", env.url, "--root", str(env.root), "--json")
    assert p.returncode == 6 and p.stderr.startswith("error: no model acme/nothing")
    assert json.loads(p.stdout) == {
        "error": {"error": "not_found", "message": p.stderr.strip()[len("error: ") :], "exit_code": 6}
    }


def test_cache_prune_keeps_every_pulled_file_usable_offline(env):  # type: ignore[no-untyped-def]
    a, _ = _pulled(env)
    cache = env.tmp / "cache"
    stray = cache / "blobs" / "sha256" / "00" / ("0" * 64)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by an old pull")
    partial = cache / "blobs" / "incomplete" / ("1" * 64 + ".incomplete")
    partial.write_bytes(b"half")
    p = _cli(env, "cache", "prune", "--dry-run", "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and doc["blobs"] == [str(stray)] and doc["partials"] == [str(partial)]
    assert doc["freed_bytes"] == len(b"left by an old pull") + 4 and stray.exists()
    p = _cli(env, "cache", "prune")
    assert p.returncode == 0 and p.stdout.startswith("removed 1 blobs, 1 partial downloads")
    assert not stray.exists() and not partial.exists()
    assert env.pull("acme/reader", offline=True).path == a  # the index, manifest and file all stayed
    p = _cli(env, "cache", "prune", "--registry", env.url)
    assert p.returncode == 0 and "registries" in p.stdout
    assert _cli(env, "cache", "ls", "--json").returncode == 0 and not list(cache.glob("registries/*"))


def test_explain_json_gives_the_policy_as_data(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    args = ["explain", "acme/reader", "--device", "android-go-1gb", "--registry", env.url, "--root", str(env.root)]
    p = _cli(env, *args, "--json")
    assert p.returncode == 0, p.stderr
    policy = json.loads(p.stdout)["policy"]
    assert policy["name"] == "smallest-download" and isinstance(policy["why"], str) and len(policy) > 2
    p = _cli(env, *args, "--policy", "fastest", "--json")
    assert json.loads(p.stdout)["policy"]["name"] == "fastest"
