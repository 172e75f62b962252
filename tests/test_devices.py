"""Device profiles and selection where users meet them: `pull --device`, `explain`, the
registry's resolve endpoint (a suggestion the client checks), and `device probe`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import urllib3
from builders import make_realistic_build_dir

from registry.core.errors import NoCompatibleVariantError, SignatureError
from registry.core.profiles import load_profile, validate_profile


@pytest.fixture
def published(env):  # type: ignore[no-untyped-def]
    build = make_realistic_build_dir(env.tmp / "real", "acme", "letters", "1.0.0")
    env.publish(build)
    return env


DEVICES = [
    ("android-go-1gb", "pcqat", "smallest-download"),  # offline: the smallest download within 2 points
    ("chromebook-4gb", "student", "smallest"),  # battery, 4 GB: the smallest file within 2 points
    ("teacher-laptop", "qat", "best-accuracy"),  # room to spare: the most accurate
]


@pytest.mark.parametrize(("device", "variant", "policy"), DEVICES, ids=[d[0] for d in DEVICES])
def test_each_device_gets_its_variant_with_reasons(published, device, variant, policy):  # type: ignore[no-untyped-def]
    result = published.pull("acme/letters", device=load_profile(device))
    assert result.variant == variant and result.policy.startswith(policy)
    assert result.server_agreed is True
    assert result.choice.reasons and result.choice.others["dynamic"].kind == "rejected"
    assert "needs LiteRT 2.17.0" in result.choice.others["dynamic"].reason or device == "teacher-laptop"


def test_explicit_policy_overrides_the_device_default(published):  # type: ignore[no-untyped-def]
    result = published.pull("acme/letters", device=load_profile("android-go-1gb"), policy="best-accuracy")
    assert result.variant == "qat"


def test_client_refuses_a_server_suggestion_that_differs(published, mirror):  # type: ignore[no-untyped-def]
    def lie(path: str, body: bytes) -> bytes:
        if path.endswith("/resolve"):
            doc = json.loads(body)
            doc["variant"] = "fp32"
            return json.dumps(doc).encode()
        return body

    mirror.tamper = lie
    with pytest.raises(SignatureError, match="refusing the registry's suggestion"):
        published.pull("acme/letters", url=mirror.url, device=load_profile("teacher-laptop"))


def test_no_compatible_variant_lists_every_rejection(published):  # type: ignore[no-untyped-def]
    tiny = load_profile("android-go-1gb")
    tiny = {**tiny, "id": "tiny", "ram_mb": 1}
    with pytest.raises(NoCompatibleVariantError) as caught:
        published.pull("acme/letters", device=tiny)
    for vid in ("int8", "fp32", "dynamic", "pcqat", "qat", "student"):
        assert vid in str(caught.value)


RESOLVE_CASES = [
    ("get-reference-device", "GET", "?device=android-go-1gb", None, 200, "pcqat"),
    ("get-with-policy", "GET", "?device=android-go-1gb&policy=best-accuracy", None, 200, "qat"),
    ("post-profile", "POST", "", {"device": "teacher-laptop"}, 200, "qat"),
    ("unknown-device", "GET", "?device=toaster", None, 404, "not_found"),
    ("unknown-policy", "GET", "?device=teacher-laptop&policy=cheapest", None, 400, "bad_request"),
    ("no-device", "GET", "", None, 400, "bad_request"),
    ("bad-profile", "POST", "", {"profile": {"id": "x", "ram_mb": -1}}, 422, "invalid_manifest"),
    ("bad-policy-key", "POST", "", {"device": "teacher-laptop", "policy": {"speed": 1}}, 400, "bad_request"),
    ("unknown-version", "GET", "?device=teacher-laptop&version=9.9.9", None, 404, "not_found"),
    (
        "nothing-fits",
        "POST",
        "",
        {"profile": {**load_profile("android-go-1gb"), "ram_mb": 1}},
        422,
        "no_compatible_variant",
    ),
]


@pytest.mark.parametrize("case", RESOLVE_CASES, ids=[c[0] for c in RESOLVE_CASES])
def test_resolve_endpoint(published, case):  # type: ignore[no-untyped-def]
    _, method, query, body, status, expected = case
    url = f"{published.url}/api/v1/models/acme/letters/resolve{query}"
    r = urllib3.request(
        method,
        url,
        body=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    assert r.status == status, r.data
    doc = r.json()
    if status == 200:
        assert doc["variant"] == expected and doc["reasons"] and doc["version"] == "1.0.0"
    else:
        assert doc["error"] == expected


def _cli(env, *args):  # type: ignore[no-untyped-def]
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cli-cache")}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args], capture_output=True, text=True, env=run_env, timeout=120
    )


def test_cli_pull_and_explain(published):  # type: ignore[no-untyped-def]
    p = _cli(
        published,
        "pull",
        "acme/letters",
        "--device",
        "chromebook-4gb",
        "--registry",
        published.url,
        "--root",
        str(published.root),
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("variants/student.tflite")
    assert "chose student for chromebook-4gb with policy smallest" in p.stderr
    p = _cli(published, "explain", "acme/letters", "--device", "android-go-1gb", "--registry", published.url)
    assert p.returncode == 0, p.stderr
    assert "pcqat           CHOSEN" in p.stdout and "needs LiteRT 2.17.0, the device has 2.10" in p.stdout
    bad = _cli(published, "explain", "acme/letters", "--device", "toaster", "--registry", published.url)
    assert bad.returncode == 6 and "toaster" in bad.stderr
    policy = published.tmp / "app-policy.json"
    policy.write_text(json.dumps({"preset": "smallest", "max_drop_points": 0.5}))
    p = _cli(
        published,
        "explain",
        "acme/letters",
        "--device",
        "teacher-laptop",
        "--policy",
        str(policy),
        "--registry",
        published.url,
        "--json",
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["variant"] == "qat"  # the only variant within 0.5 points of the best
    policy.write_text(json.dumps({"preset": "smallest", "speed": 1}))
    bad = _cli(
        published,
        "explain",
        "acme/letters",
        "--device",
        "teacher-laptop",
        "--policy",
        str(policy),
        "--registry",
        published.url,
    )
    assert bad.returncode == 2 and "unknown policy key 'speed'" in bad.stderr


def test_device_probe_writes_a_valid_profile(tmp_path):  # type: ignore[no-untyped-def]
    pytest.importorskip("ai_edge_litert")
    out = tmp_path / "this.json"
    p = subprocess.run(
        [sys.executable, "-m", "registry.cli", "device", "probe", "-o", str(out), "--runs", "100"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    profile = json.loads(out.read_text())
    validate_profile(profile)
    assert profile["cpu"]["speed_factor"] > 0 and "Measured by `edzoo device probe`" in profile["source"]
    assert profile["runtime"]["version"] == "2.21"
