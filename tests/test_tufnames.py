"""The static repository's names and caching rules (registry.core.tufnames), shared by the
registry server and the school mirror."""

from __future__ import annotations

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


def test_metadata_answered_ahead_of_flask_is_the_routes_answer(env) -> None:  # type: ignore[no-untyped-def]
    """The fast path in front of the app gives every metadata file the body and headers the
    route gives it; what it cannot answer (a missing file, another method) reaches the route."""
    from werkzeug.test import Client

    from registry.server.tufroutes import MetadataFastPath

    env.publish(env.build())
    app = env.app
    assert isinstance(app.wsgi_app, MetadataFastPath)
    fast, route = Client(app.wsgi_app), Client(app.wsgi_app._app)  # with and without the fast path
    served = app.extensions["edzoo"]
    names = ["timestamp.json", "1.root.json", "root.json", "2.root.json", "1.acme.json", "timestamp.json%0A"]
    names += [f"{v}.snapshot.json" for v in range(1, 4)]
    for name in names:
        a, b = fast.get(f"/tuf/metadata/{name}"), route.get(f"/tuf/metadata/{name}")
        assert (a.status_code, a.data) == (b.status_code, b.data), name
        assert sorted(a.headers.items()) == sorted(b.headers.items()), name
    assert fast.get("/tuf/metadata/2.root.json").json["error"] == "not_found"  # the app's error answer
    assert fast.head("/tuf/metadata/timestamp.json").status_code == 200
    assert served.metadata_file("1.acme.json") == fast.get("/tuf/metadata/1.acme.json").data
