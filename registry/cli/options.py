"""What the `edzoo` commands share: the top-level group's error handling, progress bars, and the
options several command groups take (the cache, the trusted root, a registry's backends)."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from registry.core.errors import EdzooError
from registry.core.units import format_bytes

DEFAULT_PORT = 8470


def default_keys_dir() -> Path:
    if os.environ.get("EDZOO_KEYS"):
        return Path(os.environ["EDZOO_KEYS"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edzoo" / "keys"


#: Files at least this large get progress lines when stderr is not a terminal (a log, CI).
LOG_PROGRESS_MIN = 1 << 20


class LineProgress:
    """Progress for a log: one line on stderr at each tenth of the file and at the end
    (``reader.tflite: 8.0 MB of 80.0 MB (10%)``), nothing for files under
    :data:`LOG_PROGRESS_MIN`."""

    def __init__(self, desc: str, total: int) -> None:
        self.desc, self.total, self.done, self.next = desc, total, 0, 10

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        self.done += n
        if self.total < LOG_PROGRESS_MIN:
            return
        percent = self.done * 100 // self.total
        if percent >= self.next:
            self.next = percent // 10 * 10 + 10
            print(
                f"{self.desc}: {format_bytes(self.done)} of {format_bytes(self.total)} ({percent}%)",
                file=sys.stderr,
                flush=True,
            )


def progress_bars(enabled: bool):  # type: ignore[no-untyped-def]
    """A progress factory for downloads: a tqdm bar on a terminal, :class:`LineProgress` lines
    when stderr is a file or a pipe; None when not ``enabled``."""
    if not enabled:
        return None
    if not sys.stderr.isatty():
        return LineProgress
    from tqdm import tqdm

    @contextmanager
    def bar(desc: str, total: int):  # type: ignore[no-untyped-def]
        with tqdm(
            total=total,
            desc=desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            leave=False,
            file=sys.stderr,
        ) as t:
            yield t

    return bar


#: Set in ``ctx.meta`` by :func:`json_option` when ``--json`` was given.
JSON_META = "edzoo.json"


def json_option(help_text: str = "Print the result as JSON.") -> Any:
    """``--json`` (``as_json``): the command prints data as JSON, and a failure prints
    ``{"error": {"error": CODE, "message": ..., "exit_code": N}}`` on stdout besides the line
    on stderr."""

    def mark(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[JSON_META] = True
        return value

    return click.option("--json", "as_json", is_flag=True, callback=mark, help=help_text)


class EdzooGroup(click.Group):
    """The top-level group: an EdzooError becomes one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdzooError as e:
            click.echo(f"error: {e.message}", err=True)
            if ctx.meta.get(JSON_META):  # --json: the error as data on stdout too, in one stable shape
                click.echo(json.dumps({"error": {**e.to_json(), "exit_code": e.exit_code}}))
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def cache_option(help_text: str = "Cache folder [default: $EDZOO_CACHE or ~/.cache/edzoo].") -> Any:
    return click.option(
        "--cache", "cache_dir", type=click.Path(path_type=Path), envvar="EDZOO_CACHE", default=None, help=help_text
    )


def root_option(help_text: str) -> Any:
    return click.option(
        "--root", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help=help_text
    )


def backend_options(f: Any) -> Any:
    """--db and --blobs: where a registry keeps its index and its objects."""
    f = click.option(
        "--blobs",
        envvar="EDZOO_BLOBS",
        default=None,
        help="Where blobs and TUF metadata live: a folder or s3://BUCKET/PREFIX [default: what `registry init` "
        "recorded, else DATA_DIR/objects; env EDZOO_BLOBS]. S3 settings: EDZOO_S3_ENDPOINT_URL, EDZOO_S3_REGION "
        "and boto3's credential chain.",
    )(f)
    return click.option(
        "--db",
        "--database-url",
        "database_url",
        envvar="EDZOO_DATABASE_URL",
        default=None,
        help="The index database: sqlite:///PATH or postgresql://USER@HOST/DB [default: what `registry init` "
        "recorded, else SQLite in DATA_DIR; env EDZOO_DATABASE_URL]. Passwords: PGPASSWORD or ~/.pgpass.",
    )(f)


def device_profile(spec: str, cache_dir: Path | None) -> dict[str, Any]:
    """The device profile SPEC names: a reference id, a profile .json, or `this` (probed once and
    kept in the cache)."""
    from registry.client.cache import default_cache_dir
    from registry.client.device import load_device

    return load_device(spec, cache_dir=cache_dir or default_cache_dir())
