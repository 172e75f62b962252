"""Recall: withdrawn versions in the signed versions index and the registry admin's list, and
every path that hands out a model honouring them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from registry.core import modelindex, recall
from registry.core.errors import NotFoundError, UsageError, WithdrawnError
from registry.core.recall import BY_PUBLISHER, BY_REGISTRY, Withdrawal

AT = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def _w(version: str, use: str | None = None, by: str = BY_PUBLISHER, reason: str = "wrong labels") -> Withdrawal:
    return Withdrawal(version=version, reason=reason, use=use, at=AT, by=by)


def _index(versions: list[str], aliases: dict[str, str] | None = None, withdrawn: dict | None = None) -> dict:
    data = modelindex.build_index("acme", "reader", versions, aliases or {}, withdrawn)
    return modelindex.parse_index(data, "acme", "reader")


# -- the core: build, parse, resolve ---------------------------------------------------------------
# (id, versions, publisher's withdrawals, registry's withdrawals, revision, allow, expected | error class)
RESOLVE_CASES = [
    ("latest-skips-withdrawn", ["1.0.0", "1.1.0"], {"1.1.0": "1.0.0"}, {}, None, False, "1.0.0"),
    ("latest-word-skips-withdrawn", ["1.0.0", "1.1.0"], {"1.1.0": None}, {}, "latest", False, "1.0.0"),
    ("latest-skips-registry-withdrawn", ["1.0.0", "1.1.0"], {}, {"1.1.0": None}, None, False, "1.0.0"),
    ("latest-prefers-release-left", ["1.0.0", "2.0.0", "2.1.0-rc.1"], {"2.0.0": None}, {}, None, False, "1.0.0"),
    ("latest-only-prereleases-left", ["1.0.0", "1.1.0-rc.1"], {"1.0.0": None}, {}, None, False, "1.1.0-rc.1"),
    ("every-version-withdrawn", ["1.0.0", "1.1.0"], {"1.0.0": None}, {"1.1.0": None}, None, False, NotFoundError),
    ("every-version-withdrawn-allow", ["1.0.0"], {}, {"1.0.0": None}, None, True, NotFoundError),
    ("pin-withdrawn-refused", ["1.0.0", "1.0.1"], {"1.0.0": "1.0.1"}, {}, "1.0.0", False, WithdrawnError),
    ("pin-registry-withdrawn-refused", ["1.0.0", "1.0.1"], {}, {"1.0.0": "1.0.1"}, "1.0.0", False, WithdrawnError),
    ("pin-withdrawn-allowed", ["1.0.0", "1.0.1"], {"1.0.0": "1.0.1"}, {}, "1.0.0", True, "1.0.0"),
    ("pin-not-withdrawn", ["1.0.0", "1.0.1"], {"1.0.0": "1.0.1"}, {}, "1.0.1", False, "1.0.1"),
    ("alias-to-registry-withdrawn", ["1.0.0", "1.0.1"], {}, {"1.0.1": None}, "stable", False, WithdrawnError),
    ("alias-to-registry-withdrawn-allow", ["1.0.0", "1.0.1"], {}, {"1.0.1": None}, "stable", True, "1.0.1"),
    ("unknown-version", ["1.0.0"], {}, {}, "9.9.9", False, NotFoundError),
]


@pytest.mark.parametrize(
    "versions,mine,admin,revision,allow,expected", [c[1:] for c in RESOLVE_CASES], ids=[c[0] for c in RESOLVE_CASES]
)
def test_resolve_honours_withdrawals(versions, mine, admin, revision, allow, expected):  # type: ignore[no-untyped-def]
    aliases = {"stable": "1.0.1"} if "1.0.1" in versions and "1.0.1" not in mine else {}
    doc = _index(versions, aliases, {v: _w(v, use) for v, use in mine.items()})
    registry = {"acme/reader": {v: _w(v, use, BY_REGISTRY) for v, use in admin.items()}}
    withdrawn = recall.withdrawn_versions(doc, registry, "acme/reader")
    if isinstance(expected, str):
        assert modelindex.resolve(doc, revision, withdrawn=withdrawn, allow_withdrawn=allow) == expected
        return
    with pytest.raises(expected) as info:
        modelindex.resolve(doc, revision, withdrawn=withdrawn, allow_withdrawn=allow)
    if expected is WithdrawnError:
        e = info.value
        assert e.exit_code == 13 and e.http_status == 410
        assert e.reason == "wrong labels" and e.version in versions
        assert e.use == (mine.get(e.version) or admin.get(e.version))
        assert "\n" not in e.message and "wrong labels" in e.message and "--allow-withdrawn" in e.message
        if e.use:
            assert f"use acme/reader@{e.use} instead" in e.message


def test_pin_refused_names_reason_and_use():  # type: ignore[no-untyped-def]
    doc = _index(["1.0.0", "1.0.1"], {}, {"1.0.0": _w("1.0.0", "1.0.1")})
    with pytest.raises(WithdrawnError) as info:
        modelindex.resolve(doc, "1.0.0")
    assert info.value.to_json() == {
        "error": "withdrawn",
        "message": info.value.message,
        "version": "1.0.0",
        "reason": "wrong labels",
        "use": "1.0.1",
    }
    assert info.value.message.startswith(
        "acme/reader@1.0.0 was withdrawn by its publisher on 2026-12-02 07:00 UTC: wrong labels; "
        "use acme/reader@1.0.1 instead"
    )


def test_withdrawing_moves_aliases_to_use_or_removes_them():  # type: ignore[no-untyped-def]
    aliases = {"stable": "1.0.0", "edu": "1.0.0", "beta": "1.1.0"}
    doc = _index(["1.0.0", "1.0.1", "1.1.0"], aliases, {"1.0.0": _w("1.0.0", "1.0.1"), "1.1.0": _w("1.1.0")})
    assert doc["aliases"] == {"stable": "1.0.1", "edu": "1.0.1"}
    assert doc["schema_version"] == 2 and doc["versions"] == ["1.0.0", "1.0.1", "1.1.0"]
    assert doc["withdrawn"]["1.0.0"] == {"reason": "wrong labels", "use": "1.0.1", "at": "2026-12-02T07:00:00Z"}
    assert _index(["1.0.0"])["schema_version"] == 1 and "withdrawn" not in _index(["1.0.0"])


def test_withdrawn_versions_merges_and_follows_replacements():  # type: ignore[no-untyped-def]
    doc = _index(["1.0.0", "1.0.1", "1.0.2"], {}, {"1.0.0": _w("1.0.0", "1.0.1")})
    merged = recall.withdrawn_versions(
        doc, {"acme/reader": {"1.0.1": _w("1.0.1", "1.0.2", BY_REGISTRY)}}, "acme/reader"
    )
    assert merged["1.0.0"].use == "1.0.2" and merged["1.0.0"].by == BY_PUBLISHER
    assert merged["1.0.1"].by == BY_REGISTRY
    cycle = recall.withdrawn_versions(doc, {"acme/reader": {"1.0.1": _w("1.0.1", "1.0.0", BY_REGISTRY)}}, "acme/reader")
    assert cycle["1.0.0"].use is None and cycle["1.0.1"].use is None
    assert recall.withdrawn_versions(doc, None, "acme/reader")["1.0.0"].use == "1.0.1"


def _doc(**changes: object) -> bytes:
    doc: dict = {
        "schema_version": 2,
        "namespace": "acme",
        "name": "reader",
        "versions": ["1.0.0", "1.0.1"],
        "aliases": {},
        "withdrawn": {"1.0.0": {"reason": "wrong labels", "use": "1.0.1", "at": "2026-12-02T07:00:00Z"}},
    }
    for key, value in changes.items():
        if key.startswith("w_"):
            entry = doc["withdrawn"]["1.0.0"]
            if value is None:
                del entry[key[2:]]
            else:
                entry[key[2:]] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


# (id, document) — every one refused with one UsageError line
BAD_INDEXES = [
    ("schema-1-with-withdrawals", _doc(schema_version=1)),
    ("schema-3", _doc(schema_version=3)),
    ("withdrawn-not-object", _doc(withdrawn=["1.0.0"])),
    (
        "withdrawn-unlisted-version",
        _doc(withdrawn={"2.0.0": {"reason": "x", "use": None, "at": "2026-12-02T07:00:00Z"}}),
    ),
    ("withdrawn-not-semver", _doc(withdrawn={"one": {"reason": "x", "use": None, "at": "2026-12-02T07:00:00Z"}})),
    ("entry-not-object", _doc(withdrawn={"1.0.0": "wrong labels"})),
    ("reason-missing", _doc(w_reason=None)),
    ("reason-empty", _doc(w_reason="")),
    ("reason-blank", _doc(w_reason="   ")),
    ("reason-two-lines", _doc(w_reason="wrong\nlabels")),
    ("reason-control-char", _doc(w_reason="wrong\x1b[31m labels")),
    ("reason-too-long", _doc(w_reason="x" * 501)),
    ("reason-not-string", _doc(w_reason=42)),
    ("use-unlisted", _doc(w_use="9.9.9")),
    ("use-itself", _doc(w_use="1.0.0")),
    ("use-not-string", _doc(w_use=1)),
    (
        "use-withdrawn-too",
        _doc(
            withdrawn={
                "1.0.0": {"reason": "x", "use": "1.0.1", "at": "2026-12-02T07:00:00Z"},
                "1.0.1": {"reason": "y", "use": None, "at": "2026-12-02T07:00:00Z"},
            }
        ),
    ),
    ("at-missing", _doc(w_at=None)),
    ("at-not-utc", _doc(w_at="2026-12-02T07:00:00+01:00")),
    ("at-no-zone", _doc(w_at="2026-12-02T07:00:00")),
    ("at-date-only", _doc(w_at="2026-12-02")),
    ("at-impossible", _doc(w_at="2026-13-45T07:00:00Z")),
    ("at-number", _doc(w_at=1764658800)),
    ("unknown-field", _doc(w_by="registry")),
    ("alias-to-withdrawn", _doc(aliases={"stable": "1.0.0"})),
]


@pytest.mark.parametrize("data", [c[1] for c in BAD_INDEXES], ids=[c[0] for c in BAD_INDEXES])
def test_bad_index_documents_are_refused(data: bytes) -> None:
    with pytest.raises(UsageError) as info:
        modelindex.parse_index(data, "acme", "reader")
    assert "\n" not in info.value.message and "acme/reader/versions.json" in info.value.message


def test_good_index_documents_parse() -> None:
    assert modelindex.parse_index(_doc(), "acme", "reader")["withdrawn"]["1.0.0"]["use"] == "1.0.1"
    assert modelindex.parse_index(_doc(w_use=None, w_reason="x" * 500), "acme", "reader")
    assert modelindex.parse_index(_doc(withdrawn={}), "acme", "reader")["versions"] == ["1.0.0", "1.0.1"]


# (id, withdrawals.json bytes)
BAD_WITHDRAWALS = [
    ("not-json", b"{"),
    ("schema-2", b'{"schema_version": 2, "withdrawn": {}}'),
    ("withdrawn-missing", b'{"schema_version": 1}'),
    ("model-not-id", b'{"schema_version": 1, "withdrawn": {"reader": {}}}'),
    ("model-bad-namespace", b'{"schema_version": 1, "withdrawn": {"Acme/reader": {}}}'),
    ("model-empty", b'{"schema_version": 1, "withdrawn": {"acme/reader": {}}}'),
    (
        "reason-two-lines",
        b'{"schema_version": 1, "withdrawn": {"acme/reader": {"1.0.0": {"reason": "a\\nb", "use": null, '
        b'"at": "2026-12-02T07:00:00Z"}}}}',
    ),
    ("deep", b'{"schema_version": 1, "withdrawn": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
]


@pytest.mark.parametrize("data", [c[1] for c in BAD_WITHDRAWALS], ids=[c[0] for c in BAD_WITHDRAWALS])
def test_bad_withdrawals_documents_are_refused(data: bytes) -> None:
    with pytest.raises(UsageError):
        recall.parse_withdrawals(data)


def test_withdrawals_round_trip() -> None:
    entries = {"acme/reader": {"1.0.0": _w("1.0.0", "1.0.1", BY_REGISTRY)}, "acme/empty": {}}
    data = recall.build_withdrawals(entries)
    assert recall.parse_withdrawals(data) == {"acme/reader": entries["acme/reader"]}
    assert json.loads(data)["withdrawn"] == {
        "acme/reader": {"1.0.0": {"reason": "wrong labels", "use": "1.0.1", "at": "2026-12-02T07:00:00Z"}}
    }
    w = entries["acme/reader"]["1.0.0"]
    assert Withdrawal.from_json("1.0.0", w.to_json()) == w
    assert "by the registry admin" in w.message("acme/reader")


# -- the publisher: yank and unyank --------------------------------------------------------------
def _yank(env, ref: str, **kw):  # type: ignore[no-untyped-def]
    from registry.client.recall import yank

    return yank(ref, registry=env.url, key_path=env.key, token=env.token, **kw)


def _unyank(env, ref: str):  # type: ignore[no-untyped-def]
    from registry.client.recall import unyank

    return unyank(ref, registry=env.url, key_path=env.key, token=env.token)


def _api(env, path: str) -> dict:  # type: ignore[no-untyped-def]
    import urllib3

    response = urllib3.request("GET", env.url + path)
    return json.loads(response.data)


@pytest.fixture
def published(env):  # type: ignore[no-untyped-def]
    """acme/reader 1.0.0 and 1.0.1, alias stable -> 1.0.1."""
    env.publish(env.build(version="1.0.0"))
    env.publish(env.build(version="1.0.1"), aliases=["stable"])
    return env


def test_yank_moves_latest_and_aliases_back_and_unyank_restores(published):  # type: ignore[no-untyped-def]
    env = published
    result = _yank(env, "acme/reader@1.0.1", reason="mislabels the letter Q", use="1.0.0")
    assert (result.status, result.latest, result.aliases) == ("withdrawn", "1.0.0", {"stable": "1.0.0"})
    assert _yank(env, "acme/reader@1.0.1", reason="mislabels the letter Q", use="1.0.0").status == "unchanged"
    model = _api(env, "/api/v1/models/acme/reader")
    assert model["latest"] == "1.0.0" and model["aliases"] == {"stable": "1.0.0"}
    assert model["withdrawn"]["1.0.1"]["reason"] == "mislabels the letter Q"
    assert model["withdrawn"]["1.0.1"]["by"] == "publisher"
    version = _api(env, "/api/v1/models/acme/reader/versions/1.0.1")
    assert version["withdrawn"] == {**model["withdrawn"]["1.0.1"], "use": "1.0.0"}
    assert _api(env, "/api/v1/models/acme/reader/versions/1.0.0")["withdrawn"] is None
    assert env.pull("acme/reader").version == "1.0.0"

    # A new version keeps the withdrawal; unyank restores 1.0.1 (aliases stay where they moved).
    env.publish(env.build(version="1.0.2"))
    assert _api(env, "/api/v1/models/acme/reader")["withdrawn"].keys() == {"1.0.1"}
    assert _unyank(env, "acme/reader@1.0.1").status == "restored"
    model = _api(env, "/api/v1/models/acme/reader")
    assert (model["latest"], model["withdrawn"], model["aliases"]) == ("1.0.2", {}, {"stable": "1.0.0"})
    assert _unyank(env, "acme/reader@1.0.1").status == "unchanged"
    actions = [e["action"] for e in _api(env, "/api/v1/log")["entries"]]
    assert actions.count("withdraw") == 1 and actions.count("restore") == 1


# (id, ref, options, error class)
BAD_YANKS = [
    ("no-version", "acme/reader", {"reason": "x"}, UsageError),
    ("alias-not-version", "acme/reader@stable", {"reason": "x"}, UsageError),
    ("unknown-version", "acme/reader@9.9.9", {"reason": "x"}, NotFoundError),
    ("unknown-model", "acme/nothing@1.0.0", {"reason": "x"}, NotFoundError),
    ("empty-reason", "acme/reader@1.0.0", {"reason": ""}, UsageError),
    ("two-line-reason", "acme/reader@1.0.0", {"reason": "a\nb"}, UsageError),
    ("use-itself", "acme/reader@1.0.0", {"reason": "x", "use": "1.0.0"}, UsageError),
    ("use-unpublished", "acme/reader@1.0.0", {"reason": "x", "use": "2.0.0"}, UsageError),
    ("use-not-semver", "acme/reader@1.0.0", {"reason": "x", "use": "stable"}, UsageError),
]


def test_bad_yanks_are_refused_and_change_nothing(published):  # type: ignore[no-untyped-def]
    before = _api(published, "/api/v1/models/acme/reader")
    for case, ref, kw, error in BAD_YANKS:
        with pytest.raises(error):
            _yank(published, ref, **kw)
        assert _api(published, "/api/v1/models/acme/reader") == before, case


def test_yank_with_use_withdrawn_too_is_refused(published):  # type: ignore[no-untyped-def]
    _yank(published, "acme/reader@1.0.0", reason="old")
    with pytest.raises(UsageError, match="withdrawn too"):
        _yank(published, "acme/reader@1.0.1", reason="new", use="1.0.0")


def test_yank_signed_with_another_key_is_refused(published, tmp_path):  # type: ignore[no-untyped-def]
    from registry.client.recall import yank
    from registry.core import keys
    from registry.core.errors import SignatureError

    other = tmp_path / "mallory.pem"
    keys.save_key_pair(keys.generate(), other, tmp_path / "mallory.pub.json")
    with pytest.raises(SignatureError, match="not signed by your key"):
        yank("acme/reader@1.0.1", reason="x", registry=published.url, key_path=other, token=published.token)
    assert _api(published, "/api/v1/models/acme/reader")["withdrawn"] == {}


def _post_index(env, index: bytes, signer, extra: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    """Sign and post a versions index of acme/reader as a publisher would, but with any bytes
    and any key: what the registry itself must refuse."""
    import hashlib
    import tempfile
    from pathlib import Path

    from tuf.api.metadata import TargetFile

    from registry.client import upload
    from registry.client.http import ApiClient
    from registry.core import trust

    api = ApiClient(env.url, token=env.token)
    key = keys_of(env).public_key
    ns_md = upload._own_role(api, "acme", key)
    succinct = ns_md.signed.delegations.succinct_roles
    path = "acme/reader/versions.json"
    files = {path: TargetFile(len(index), {"sha256": hashlib.sha256(index).hexdigest()}, path), **(extra or {})}
    names_ = {succinct.get_role_for_target(p) for p in files}
    bins = {n: upload._own_role(api, n, key) for n in names_}
    existing = upload._listed_roles(api) & set(succinct.get_roles())
    changed, new_paths = trust.plan_publish(ns_md, bins, files, key=key, existing=existing)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "versions.json"
        local.write_bytes(index)
        upload.upload_blobs(api, [path], files, {path: local})
    upload.sign_and_post(api, changed, signer, "acme/reader")


def keys_of(env):  # type: ignore[no-untyped-def]
    from registry.core import keys

    return keys.load_signer(env.key)


def test_registry_refuses_forged_or_lossy_indexes(published, tmp_path):  # type: ignore[no-untyped-def]
    from registry.core import keys
    from registry.core.errors import ConflictError, SignatureError

    env = published
    _yank(env, "acme/reader@1.0.0", reason="old")
    mallory = keys.generate()
    withdrawn = {"1.0.0": _w("1.0.0")}
    cases = [
        ("drops-a-version", modelindex.build_index("acme", "reader", ["1.0.1"], {}), keys_of(env), ConflictError),
        (
            "another-key",
            modelindex.build_index("acme", "reader", ["1.0.0", "1.0.1"], {}, withdrawn),
            mallory,
            SignatureError,
        ),
        (
            "unlisted-version",
            modelindex.build_index("acme", "reader", ["1.0.0", "1.0.1", "3.0.0"], {}, withdrawn),
            keys_of(env),
            UsageError,
        ),
    ]
    before = _api(env, "/api/v1/models/acme/reader")
    for case, index, signer, error in cases:
        with pytest.raises(error):
            _post_index(env, index, signer)
        assert _api(env, "/api/v1/models/acme/reader") == before, case


def test_publishing_a_version_cannot_restore_withdrawn_ones(published):  # type: ignore[no-untyped-def]
    """An index written by a client that does not know withdrawals drops them: refused while
    it publishes a new version (a restore is `edzoo unyank`, an index-only change)."""
    import hashlib

    from tuf.api.metadata import TargetFile

    from registry.core.errors import ConflictError

    env = published
    _yank(env, "acme/reader@1.0.0", reason="old")
    build = env.build(version="1.1.0")
    files = {}
    for f in sorted(build.rglob("*")):
        if f.is_file():
            data, path = f.read_bytes(), f"acme/reader/1.1.0/{f.relative_to(build).as_posix()}"
            files[path] = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, path)
            _upload(env, f)
    lossy = modelindex.build_index("acme", "reader", ["1.0.0", "1.0.1", "1.1.0"], {"stable": "1.0.1"})
    with pytest.raises(ConflictError, match="would restore the withdrawn versions 1.0.0"):
        _post_index(env, lossy, keys_of(env), files)
    assert _api(env, "/api/v1/models/acme/reader")["versions"] == ["1.0.0", "1.0.1"]


def _upload(env, f) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from registry.client.http import ApiClient

    data = f.read_bytes()
    ApiClient(env.url, token=env.token).upload_blob(f, hashlib.sha256(data).hexdigest(), len(data))


# -- the registry admin: an emergency withdrawal with the offline targets keys --------------------
def test_admin_withdraws_with_the_offline_key_when_the_publisher_is_gone(published):  # type: ignore[no-untyped-def]
    from registry.server import keyadmin, recall_admin

    env = published
    keyadmin.revoke_tokens(env.data, "acme")  # the publisher cannot be reached: no yank will come
    result = recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.0.1", reason="harmful output", use="1.0.0")
    assert (result.status, result.withdrawal.by) == ("withdrawn", BY_REGISTRY)
    model = _api(env, "/api/v1/models/acme/reader")
    assert model["latest"] == "1.0.0" and model["withdrawn"]["1.0.1"]["by"] == "registry"
    assert model["aliases"] == {"stable": "1.0.1"}  # the publisher's signed alias; resolving it is refused
    again = recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.0.1", reason="harmful output", use="1.0.0")
    assert again.status == "unchanged"
    with pytest.raises(UsageError, match="withdrawn too"):
        recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.0.0", reason="x", use="1.0.1")
    with pytest.raises(NotFoundError):
        recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@9.0.0", reason="x")
    restored = recall_admin.unwithdraw(env.data, env.keys_dir, "acme/reader@1.0.1")
    assert restored.status == "restored"
    assert _api(env, "/api/v1/models/acme/reader")["latest"] == "1.0.1"


# -- clients: pull, --allow-withdrawn, offline, verify, explain, through the CLI -------------------
def _run(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from registry.cli.main import cli

    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


def test_clients_honour_a_yank_online_offline_and_in_verify(published):  # type: ignore[no-untyped-def]
    env = published
    device = env.pull("acme/reader@1.0.1", cache="device")  # a device that pulled 1.0.1 before the recall
    common = ["--registry", env.url, "--root", str(env.root)]
    token = env.tmp / "acme.token"
    token.write_text(env.token)

    code, out = _run(
        "yank", "acme/reader@1.0.1", "--reason", "mislabels the letter Q", "--use", "1.0.0",
        "--registry", env.url, "--key", str(env.key), "--token-file", str(token),
    )  # fmt: skip
    assert code == 0 and "withdrew acme/reader@1.0.1: mislabels the letter Q" in out and "latest: 1.0.0" in out, out

    cache = ["--cache", str(env.tmp / "laptop")]
    code, out = _run("pull", "acme/reader@1.0.1", *common, *cache)
    assert code == 13, out
    assert "withdrawn by its publisher" in out and "mislabels the letter Q" in out
    assert "use acme/reader@1.0.0 instead" in out and "--allow-withdrawn" in out
    assert len(out.strip().splitlines()) == 1
    code, out = _run("pull", "acme/reader", *common, *cache)
    assert code == 0 and "acme/reader@1.0.0" in out, out
    code, out = _run("pull", "acme/reader@stable", *common, *cache)
    assert code == 0 and "acme/reader@1.0.0" in out, out  # the alias moved with the yank
    code, out = _run("pull", "acme/reader@1.0.1", "--allow-withdrawn", "--json", *common, *cache)
    assert code == 0, out
    assert "warning: acme/reader@1.0.1 was withdrawn" in out and "use acme/reader@1.0.0 instead" in out
    assert json.loads(out[out.index("{") :])["withdrawn"]["reason"] == "mislabels the letter Q"

    # The device has not seen the recall: offline it still serves 1.0.1 and verifies it.
    device_cache = ["--cache", str(env.tmp / "device")]
    code, out = _run("pull", "acme/reader@1.0.1", "--offline", *common, *device_cache)
    assert code == 0, out
    assert _run("verify", str(device.path), *device_cache)[0] == 0
    # Once online it sees the new metadata; from then on offline pulls and verify refuse 1.0.1.
    assert _run("pull", "acme/reader", *common, *device_cache)[0] == 0
    code, out = _run("pull", "acme/reader@1.0.1", "--offline", *common, *device_cache)
    assert code == 13 and "use acme/reader@1.0.0 instead" in out, out
    code, out = _run("verify", str(device.path), *device_cache)
    assert code == 13 and "the file is authentic, but acme/reader@1.0.1 was withdrawn" in out, out
    assert "use acme/reader@1.0.0 instead" in out and len(out.strip().splitlines()) == 1
    code, out = _run("explain", "acme/reader@1.0.1", "--device", "android-go-2gb", "--offline", *common, *device_cache)
    assert code == 13 and "mislabels the letter Q" in out, out
    code, out = _run(
        "explain", "acme/reader@1.0.1", "--device", "android-go-2gb", "--allow-withdrawn", *common, *device_cache
    )
    assert code == 0 and "warning: acme/reader@1.0.1 was withdrawn" in out, out

    code, out = _run(
        "unyank", "acme/reader@1.0.1", "--registry", env.url, "--key", str(env.key), "--token-file", str(token)
    )
    assert code == 0 and "restored acme/reader@1.0.1" in out, out
    assert _run("pull", "acme/reader@1.0.1", *common, *device_cache)[0] == 0
    assert _run("verify", str(device.path), *device_cache)[0] == 0


def test_clients_honour_the_registry_admins_withdrawal(published):  # type: ignore[no-untyped-def]
    from registry.client import Puller
    from registry.server import recall_admin

    env = published
    device = env.pull("acme/reader@1.0.1", cache="device")
    code, out = _run(
        "registry", "withdraw", str(env.data), "acme/reader@1.0.1", "--reason", "harmful output", "--use", "1.0.0",
        "--keys", str(env.keys_dir),
    )  # fmt: skip
    assert code == 0 and "withdrew acme/reader@1.0.1" in out, out
    puller = Puller(env.url, root=env.root, cache_dir=env.tmp / "device")
    ref = names_ref("acme/reader@stable")
    assert puller.withdrawn(ref)["1.0.1"].by == BY_REGISTRY
    assert puller.resolve(names_ref("acme/reader")) == "1.0.0"
    with pytest.raises(WithdrawnError, match="withdrawn by the registry admin.*harmful output") as info:
        puller.resolve(ref)  # the publisher's alias still points to 1.0.1
    assert (info.value.version, info.value.use) == ("1.0.1", "1.0.0")
    assert env.pull("acme/reader@1.0.1", cache="device", allow_withdrawn=True).withdrawn.by == BY_REGISTRY
    code, out = _run("verify", str(device.path), "--cache", str(env.tmp / "device"))
    assert code == 13 and "withdrawn by the registry admin" in out, out
    with pytest.raises(WithdrawnError):
        env.pull("acme/reader@1.0.1", cache="device", offline=True)

    recall_admin.unwithdraw(env.data, env.keys_dir, "acme/reader@1.0.1")
    assert env.pull("acme/reader@stable", cache="device").version == "1.0.1"


def names_ref(text: str):  # type: ignore[no-untyped-def]
    from registry.core import names

    return names.ModelRef.parse(text)


# -- what the registry shows: the JSON API (against its contract), the web catalog, Hugging Face ----
def test_api_web_and_hugging_face_show_a_withdrawn_version(published):  # type: ignore[no-untyped-def]
    import jsonschema
    import urllib3

    from registry.server import openapi

    env = published
    _yank(env, "acme/reader@1.0.1", reason="mislabels <Q> & more", use="1.0.0")

    schemas = json.loads(openapi.CONTRACT.read_text())["components"]
    for path, schema in [
        ("/api/v1/models/acme/reader", "Model"),
        ("/api/v1/models/acme/reader/versions/1.0.1", "Version"),
        ("/api/v1/models/acme/reader/versions/1.0.0", "Version"),
        ("/api/v1/models?q=reader", "ModelList"),
    ]:
        jsonschema.validate(_api(env, path), {"$ref": f"#/components/schemas/{schema}", "components": schemas})
    assert _api(env, "/api/v1/models?q=reader")["models"][0]["latest"] == "1.0.0"

    def page(path: str) -> str:
        r = urllib3.request("GET", env.url + path, headers={"Accept": "text/html"})
        assert r.status == 200, path
        return r.data.decode()

    withdrawn = page("/models/acme/reader?version=1.0.1")
    assert '<span class="badge badge-withdrawn">withdrawn</span>' in withdrawn
    assert "Its publisher withdrew acme/reader 1.0.1 on " in withdrawn
    assert "mislabels &lt;Q&gt; &amp; more" in withdrawn and "<Q>" not in withdrawn
    assert 'href="/models/acme/reader?version=1.0.0">1.0.0</a> instead' in withdrawn
    assert "edzoo pull acme/reader@1.0.0" in withdrawn and "edzoo pull acme/reader@1.0.1" not in withdrawn
    assert ">1.0.1 (withdrawn)</option>" in withdrawn and ">1.0.0 (latest)</option>" in withdrawn
    latest = page("/models/acme/reader")
    assert 'acme/reader <span class="version">1.0.0</span>' in latest and "badge-withdrawn" not in latest

    main = _api(env, "/api/models/acme/reader")
    assert (main["edzoo"]["version"], main["edzoo"]["latest"], main["edzoo"]["withdrawn"]) == ("1.0.0", "1.0.0", None)
    info = _api(env, "/api/models/acme/reader/revision/1.0.1")
    assert info["edzoo"]["withdrawn"]["reason"] == "mislabels <Q> & more"
    assert info["cardData"]["edzoo"]["withdrawn"]["use"] == "1.0.0" and "withdrawn" in info["tags"]
    readme = urllib3.request("GET", env.url + "/acme/reader/resolve/1.0.1/README.md").data.decode()
    assert "  withdrawn:\n" in readme and "> **Withdrawn.** acme/reader 1.0.1 was withdrawn by its publisher" in readme
    assert "Use `acme/reader@1.0.0` instead." in readme
    assert "Withdrawn" not in urllib3.request("GET", env.url + "/acme/reader/resolve/main/README.md").data.decode()
    branches = {b["name"]: b["targetCommit"] for b in _api(env, "/api/models/acme/reader/refs")["branches"]}
    assert branches["main"] == branches["stable"] == main["sha"]

    _unyank(env, "acme/reader@1.0.1")  # the README of the same manifest changes back
    assert "Withdrawn" not in urllib3.request("GET", env.url + "/acme/reader/resolve/1.0.1/README.md").data.decode()
