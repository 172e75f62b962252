"""The OpenAPI 3.1 contract of the registry's JSON endpoints, served at ``/api/v1/openapi.json``.

The contract is kept beside the code: ``openapi.json`` here documents ``/api/v1`` and the TUF
routes; an area served by its own blueprint adds a fragment ``openapi_<area>.json`` beside it
(``{"paths": {...}, "components": {"schemas": {...}}}``), merged in when the document is served.
``tests/test_openapi.py`` keeps it honest: every route of the app is documented and every
documented path exists, every error code the package can emit is in the ``ErrorCode`` enum,
and schemathesis finds no server error and no response that breaks the schema.

The schemas of the data contracts (``Manifest``, ``DeviceProfile``) are copies of
``manifests/schema/*.schema.json`` converted to components (:func:`contract_schemas`); after a
change there, ``python -m registry.server.openapi`` rewrites them in ``openapi.json``.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from pathlib import Path
from typing import Any

from flask import Blueprint, Response

from registry.core.contracts import load_schema

__all__ = ["CONTRACT", "bp", "contract_schemas", "document", "merge"]

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "openapi.json"
FRAGMENT_GLOB = "openapi_*.json"
# The data contracts published as component schemas: component name -> manifests/schema/<name>.schema.json
DATA_CONTRACTS = {"Manifest": "manifest", "DeviceProfile": "device"}
_COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_OPERATION_KEYS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The merged contract. Its bytes are built once per set of files (a fragment added or
    changed on disk is picked up on the next request)."""
    return Response(_serialized(_files_stamp()), mimetype="application/json", headers={"Cache-Control": "no-cache"})


def document() -> dict[str, Any]:
    """The contract: ``openapi.json`` merged with every ``openapi_*.json`` fragment beside it."""
    return json.loads(_serialized(_files_stamp()))


def _files_stamp() -> tuple[tuple[str, int, int], ...]:
    files = [CONTRACT, *sorted(HERE.glob(FRAGMENT_GLOB))]
    stamp = []
    for path in files:
        stat = path.stat()
        stamp.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)


@functools.lru_cache(maxsize=4)
def _serialized(stamp: tuple[tuple[str, int, int], ...]) -> bytes:
    base = _read(Path(stamp[0][0]))
    for path, _, _ in stamp[1:]:
        merge(base, _read(Path(path)), source=Path(path).name)
    return json.dumps(base, ensure_ascii=False).encode()


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RuntimeError(f"cannot read the OpenAPI document {path.name}: {e}") from e
    if not isinstance(doc, dict):
        raise RuntimeError(f"{path.name}: expected a JSON object")
    return doc


def merge(base: dict[str, Any], fragment: dict[str, Any], *, source: str = "fragment") -> dict[str, Any]:
    """Merge a fragment's ``paths``, ``components`` and ``tags`` into ``base`` (in place).

    A fragment may add operations to a path the base has, never replace one; a component of
    the same name must be identical. Anything else is an error naming ``source``.
    """
    unknown = sorted(set(fragment) - {"paths", "components", "tags"})
    if unknown:
        raise RuntimeError(f"{source}: a fragment holds only paths, components and tags, not {', '.join(unknown)}")
    paths = base.setdefault("paths", {})
    for path, item in fragment.get("paths", {}).items():
        target = paths.setdefault(path, {})
        for key, value in item.items():
            if key in target and (key in _OPERATION_KEYS or target[key] != value):
                raise RuntimeError(f"{source}: {key.upper()} {path} is already documented")
            target[key] = value
    components = base.setdefault("components", {})
    for section, entries in fragment.get("components", {}).items():
        if section not in _COMPONENT_SECTIONS:
            raise RuntimeError(f"{source}: unknown components section {section!r}")
        target = components.setdefault(section, {})
        for name, value in entries.items():
            if name in target and target[name] != value:
                raise RuntimeError(f"{source}: components.{section}.{name} differs from the one already defined")
            target[name] = value
    tags = base.setdefault("tags", [])
    known = {t.get("name") for t in tags}
    tags.extend(t for t in fragment.get("tags", []) if t.get("name") not in known)
    return base


def contract_schemas() -> dict[str, Any]:
    """The component schemas of the data contracts: each JSON Schema of ``manifests/schema``
    named in :data:`DATA_CONTRACTS`, its ``$defs`` hoisted to components ``<Name>_<def>``."""
    out: dict[str, Any] = {}
    for component, name in DATA_CONTRACTS.items():
        schema = copy.deepcopy(load_schema(name))
        for key in ("$schema", "$id"):
            schema.pop(key, None)
        defs = schema.pop("$defs", {})
        prefix = f"#/components/schemas/{component}_"
        out[component] = _rewrite_refs(schema, prefix)
        for def_name, definition in defs.items():
            out[f"{component}_{def_name}"] = _rewrite_refs(definition, prefix)
    return out


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v, prefix) for k, v in node.items()}
        target = out.get("$ref")
        if isinstance(target, str) and target.startswith("#/$defs/"):
            out["$ref"] = prefix + target.removeprefix("#/$defs/")
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    return node


def sync_contract_schemas(path: Path = CONTRACT) -> bool:
    """Rewrite the data-contract schemas in ``path``; True if anything changed."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    prefixes = tuple(f"{c}_" for c in DATA_CONTRACTS)
    fresh = contract_schemas()
    stale = {k for k in schemas if k.startswith(prefixes) and k not in fresh}
    if all(schemas.get(k) == v for k, v in fresh.items()) and not stale:
        return False
    for k in stale:
        del schemas[k]
    schemas.update(fresh)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = sync_contract_schemas()
    print(f"{CONTRACT}: {'updated' if changed else 'already in step with manifests/schema'}")
    sys.exit(0)
