"""The static repository's names and caching rules (registry.core.tufnames), shared by the
registry server and the school mirror."""

from __future__ import annotations

import json

import pytest

from registry.core import tufnames

H = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"acme/reader/1.0.0/variants/{H}.int8.tflite", ("acme/reader/1.0.0/variants/", H, "int8.tflite")),
        (f"{H}.withdrawals.json", ("", H, "withdrawals.json")),
        (f"acme/../{H}.x", None),  # no way out of the folder
        (f"acme//{H}.x", None),  # an empty segment
        (f"acme/.ssh/{H}.x", None),  # hidden
        (f"acme/{H}..", None),
        (f"acme/{H}.x\n", None),  # a trailing newline is no name ($ would accept it)
        (f"acme/{H.upper()}.x", None),  # the hash is lowercase hex
        ("acme/reader/x.json", None),  # no hash: not a consistent-snapshot name
        ("/".join(["a"] * tufnames.MAX_TARGET_DEPTH) + f"/{H}.x", None),
    ],
)
def test_target_paths(path: str, expected: tuple[str, str, str] | None) -> None:
    assert tufnames.split_target_path(path) == expected


@pytest.mark.parametrize(
    ("name", "cache"),
    [
        ("timestamp.json", tufnames.REVALIDATE),
        ("root.json", tufnames.REVALIDATE),
        ("2.root.json", tufnames.REVALIDATE),  # probed for the next version on every refresh
        ("3.snapshot.json", tufnames.IMMUTABLE),
        ("7.acme.json", tufnames.IMMUTABLE),
        ("12.acme.bin-0a.json", tufnames.IMMUTABLE),
        ("timestamp.json\n", None),
        ("../root.json", None),
        ("3.Snapshot.json", None),
    ],
)
def test_metadata_names_and_caching(name: str, cache: str | None) -> None:
    assert tufnames.is_metadata_name(name) is (cache is not None)
    if cache is not None:
        assert tufnames.metadata_cache_control(name) == cache


def test_the_server_answers_with_the_rules(env) -> None:  # type: ignore[no-untyped-def]
    import urllib3

    env.publish(env.build())
    http = urllib3.PoolManager()
    for name, status, cache in [
        ("timestamp.json", 200, tufnames.REVALIDATE),
        ("1.root.json", 200, tufnames.REVALIDATE),
        ("2.root.json", 404, tufnames.REVALIDATE),  # the end of a root probe is never cached
        ("timestamp.json%0A", 404, tufnames.REVALIDATE),
    ]:
        r = http.request("GET", f"{env.url}/tuf/metadata/{name}")
        assert (r.status, r.headers["Cache-Control"]) == (status, cache), name


def pulled_urls(env) -> list[str]:  # type: ignore[no-untyped-def]
    """The paths a cold pull of acme/reader asks for."""
    from registry.client import Puller

    puller = Puller(env.url, root=env.root, cache_dir=env.tmp / "urls")
    puller.pull("acme/reader")
    return [u[len(env.url) :] for u in puller.urls_fetched]


def test_answers_ahead_of_flask_are_the_routes_answers(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The fast path in front of the app gives every metadata file and target the body and
    headers the routes give them; what it does not answer (a missing file, a range, a
    conditional request, another method) reaches the routes."""
    from werkzeug.test import Client

    from registry.server.tufroutes import FastPath

    env.publish(env.build())
    app = env.app
    assert isinstance(app.wsgi_app, FastPath)
    fast, route = Client(app.wsgi_app), Client(app.wsgi_app._app)  # with and without the fast path
    served = app.extensions["edzoo"]
    names = ["timestamp.json", "1.root.json", "root.json", "2.root.json", "1.acme.json", "timestamp.json%0A"]
    names += [f"{v}.snapshot.json" for v in range(1, 4)]
    for name in names:
        assert answer(fast, f"/tuf/metadata/{name}") == answer(route, f"/tuf/metadata/{name}"), name
    pulled = env.pull("acme/reader")
    variant = next(u for u in pulled_urls(env) if u.endswith(".tflite"))
    for url in [variant, variant.replace(pulled.sha256, "0" * 64), variant.replace(".tflite", ".tflite/x")]:
        assert answer(fast, url) == answer(route, url), url
    assert answer(fast, variant)[1] == pulled.path.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(served.objects, "local_path", lambda key: None)  # a store without local files (S3)
        for url in [variant, variant.replace(pulled.sha256, "0" * 64)]:
            assert answer(fast, url) == answer(route, url), url
        assert answer(fast, variant)[1] == pulled.path.read_bytes()
    resumed = answer(fast, variant, headers={"Range": "bytes=5-"})  # a range goes to the route
    assert resumed[:2] == (206, pulled.path.read_bytes()[5:])
    assert answer(fast, variant, headers={"If-None-Match": f'"{pulled.sha256}"'})[0] == 304
    assert json.loads(answer(fast, "/tuf/metadata/2.root.json")[1])["error"] == "not_found"  # the app's answer
    assert answer(fast, "/tuf/metadata/timestamp.json", method="HEAD")[0] == 200
    assert served.metadata_file("1.acme.json") == answer(fast, "/tuf/metadata/1.acme.json")[1]


def answer(client, url: str, method: str = "GET", **kwargs) -> tuple[int, bytes, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """Status, body and sorted headers of one request, its response closed (a file it served too)."""
    with client.open(url, method=method, **kwargs) as response:
        return response.status_code, response.get_data(), sorted(response.headers.items())
