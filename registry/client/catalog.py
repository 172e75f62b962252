"""Finding models: search a registry's catalog, and suggest what a mistyped name meant.

Both read the registry's JSON API (``/api/v1/models``), which is unsigned: what they return
is a hint for a person, never something a pull trusts. A pull still verifies the model it is
given against the signed metadata.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from registry.core.errors import EdzooError, NoCompatibleVariantError

from .cache import Cache, RegistryCache
from .http import ApiClient, ClientConfig

__all__ = ["Hit", "search", "suggest", "suggest_cached"]


@dataclass(frozen=True)
class Hit:
    """One model of a search: its catalog entry and, with a device, the variant it would get."""

    model: dict[str, Any]
    variant: str | None = None  # with a device: the suggested variant of the latest release
    reasons: tuple[str, ...] = field(default=())  # with a device: why it was chosen

    @property
    def id(self) -> str:
        return str(self.model["id"])

    def to_json(self) -> dict[str, Any]:
        out = {
            k: self.model.get(k)
            for k in ("id", "latest", "task", "summary", "subjects", "grades", "languages", "license", "aliases")
        }
        if self.variant is not None:
            out["variant"] = self.variant
        return out


def search(
    registry: str,
    query: str | None = None,
    *,
    task: str | None = None,
    subject: str | None = None,
    grade: str | None = None,
    namespace: str | None = None,
    device: dict[str, Any] | None = None,
    limit: int = 20,
    config: ClientConfig = ClientConfig(),
) -> tuple[int, list[Hit]]:
    """``(total matches, hits)``: the registry's catalog filtered by words of ``query`` (in the
    name, id or summary), task, subject, grade and namespace, newest releases only. With
    ``device`` (a profile), only models with a variant that runs on it, each with the variant
    the registry suggests (the total then counts those). Raises DownloadError, UsageError."""
    api = ApiClient(registry, config=config)
    params = {"q": query, "task": task, "subject": subject, "grade": grade, "namespace": namespace}
    qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v)
    doc = api.get_json(f"/models?limit={limit}{'&' + qs if qs else ''}")
    models = list(doc.get("models", []))
    if device is None:
        return int(doc.get("total", len(models))), [Hit(m) for m in models]
    hits = []
    for m in models:
        try:
            answer = api.post_json(f"/models/{m['id']}/resolve", {"profile": device})
        except NoCompatibleVariantError:
            continue
        hits.append(Hit(m, str(answer.get("variant", "")), tuple(answer.get("reasons", ()))))
    return len(hits), hits


def suggest(
    registry: str, wanted: str, *, cache: Cache | None = None, config: ClientConfig = ClientConfig()
) -> list[str]:
    """Model ids close to ``wanted`` (a mistyped ``namespace/model``), best first, at most 3:
    from the registry's catalog, or, when it cannot be asked, from what the cache holds for it.
    Never raises: a hint that cannot be had is no hint."""
    try:
        doc = ApiClient(registry, config=config).get_json("/models?limit=500")
        known = [str(m["id"]) for m in doc.get("models", [])]
    except (EdzooError, KeyError, TypeError, ValueError):
        return suggest_cached(cache.registry(registry), wanted) if cache is not None else []
    return _close(wanted, known)


def suggest_cached(reg: RegistryCache, wanted: str) -> list[str]:
    """:func:`suggest` over the models the cache has pulled from ``reg`` (offline)."""
    models = reg.root / "models"
    return _close(wanted, [f"{ns.name}/{m.name}" for ns in sorted(models.glob("*")) for m in sorted(ns.glob("*"))])


def _close(wanted: str, known: list[str]) -> list[str]:
    """The ids of ``known`` close to ``wanted``: by the model name alone (a typo in the name),
    or as a whole id when the namespace is mistyped too; a shared namespace alone is no match."""
    by_name: dict[str, list[str]] = {}
    for k in known:
        by_name.setdefault(k.split("/", 1)[-1], []).append(k)
    close: list[str] = []
    for name in difflib.get_close_matches(wanted.split("/", 1)[-1], by_name, n=3, cutoff=0.75):
        close += by_name[name]
    close += difflib.get_close_matches(wanted, known, n=3, cutoff=0.9)
    return list(dict.fromkeys(c for c in close if c != wanted))[:3]
