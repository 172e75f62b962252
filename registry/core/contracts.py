"""Where the data contracts of ``manifests/`` (JSON Schemas, reference data) live.

In a source checkout they are the repository's ``manifests/`` folder; a wheel installs a copy
under ``<prefix>/share/edzoo/manifests``.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from .errors import NotFoundError


@functools.cache
def contracts_dir() -> Path:
    """Return the folder that holds ``schema/``, ``devices/``, ``examples/``."""
    candidates = [
        Path(__file__).resolve().parents[2] / "manifests",
        Path(sys.prefix) / "share" / "edzoo" / "manifests",
    ]
    for candidate in candidates:
        if (candidate / "schema").is_dir():
            return candidate
    raise NotFoundError(
        "edzoo's data contracts (manifests/schema) are missing; looked in " + ", ".join(str(c) for c in candidates)
    )


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``manifests/schema/<name>.schema.json``."""
    path = contracts_dir() / "schema" / f"{name}.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise NotFoundError(f"no schema named {name!r} at {path}") from e
