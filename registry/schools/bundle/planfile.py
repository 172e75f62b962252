"""Plans inside a bundle: reading and checking ``plan.json``, its models, and dropping withdrawn
versions from it."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from registry.core import names, recall
from registry.core.errors import (
    ManifestError,
    UsageError,
)
from registry.core.model import Plan, PlanGroup, RecordError, WithdrawnPin
from registry.core.recall import Withdrawal

from .files import _read_json

MAX_PLAN_BYTES = 64 << 20  # a plan of 10,000 device groups is a few MB
_SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


def _check_file_entry(item: Any, where: str) -> tuple[str, str, int]:
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected an object with target, sha256 and size")
    target = item.get("target")
    if not isinstance(target, str):
        raise ManifestError(f"{where}.target: expected a target path")
    try:
        names.TargetName.parse(target)
    except UsageError as e:
        raise ManifestError(f"{where}.target: {e.message}") from e
    return (target, *_check_sha_size(item, where))


def _check_index_entry(item: Any, where: str) -> None:
    """An entry of bundle.json's ``indexes``: a model's versions index or the withdrawals list."""
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected an object with target, sha256 and size")
    target = item.get("target")
    ok = target == recall.WITHDRAWALS_PATH
    if not ok and isinstance(target, str):
        with contextlib.suppress(UsageError):
            ok = names.TargetName.parse(target).is_index
    if not ok:
        raise ManifestError(f"{where}.target: expected NAMESPACE/MODEL/{names.INDEX_FILE} or {recall.WITHDRAWALS_PATH}")
    _check_sha_size(item, where)


def _check_sha_size(item: dict[str, Any], where: str) -> tuple[str, int]:
    sha, size = item.get("sha256"), item.get("size")
    if not isinstance(sha, str) or not _SHA256_RE.match(sha):
        raise ManifestError(f"{where}.sha256: expected 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}.size: expected a byte count")
    return sha, size


def _parse_plan(data: bytes, doc: Any, source: str, *, in_bundle: bool = False) -> Plan:
    """Check the parts of a plan a bundle relies on; return it typed. The plan in a bundle may
    list no file (every model it named was withdrawn: the bundle then only removes them from
    devices)."""
    fix = "make it with `edzoo plan CATALOG FLEET`"
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-plan":
        raise ManifestError(f'{source} is not an edzoo plan (no "kind": "edzoo-plan"): {fix}')
    if doc.get("schema_version") != 1:
        raise ManifestError(f"{source}: plan schema_version {doc.get('schema_version')!r} is not supported (1 is)")
    registry = doc.get("registry")
    if not isinstance(registry, dict) or not isinstance(registry.get("url"), str):
        raise ManifestError(f"{source}: $.registry.url is missing: {fix}")
    targets = doc.get("targets")
    if not isinstance(targets, list) or (not targets and not in_bundle):
        raise ManifestError(f"{source}: $.targets lists no files: nothing to bundle")
    signed: dict[str, tuple[str, int]] = {}
    for i, item in enumerate(targets):
        target, sha, size = _check_file_entry(item, f"{source}: $.targets[{i}]")
        if target in signed:
            raise ManifestError(f"{source}: $.targets[{i}]: {target} is listed twice")
        signed[target] = (sha, size)
    groups = doc.get("groups")
    if not isinstance(groups, list):
        raise ManifestError(f"{source}: $.groups is missing: {fix}")
    for g, group in enumerate(groups):
        where = f"{source}: $.groups[{g}]"
        if not isinstance(group, dict) or not isinstance(group.get("id"), str):
            raise ManifestError(f"{where}: expected a group with an id")
        for i, item in enumerate(group.get("install") or []):
            target, sha, size = _check_file_entry(item, f"{where}.install[{i}]")
            if signed.get(target) != (sha, size):
                raise ManifestError(
                    f"{where}.install[{i}]: {target} is not among $.targets with that sha256 and size: "
                    f"the plan was edited; {fix}"
                )
    for i, model in enumerate(doc.get("models") or []):
        if not isinstance(model, dict) or not isinstance(model.get("manifest_target"), str):
            raise ManifestError(f"{source}: $.models[{i}]: expected a model with a manifest_target")
    try:
        return Plan.from_dict(doc)
    except RecordError as e:
        raise ManifestError(f"{source}: {e.where}: {e.problem}: the plan was edited; {fix}") from e


def _plan_models(plan: Plan) -> list[names.ModelRef]:
    """Every model a plan names (its models, and the models of its groups' files), in order."""
    seen: dict[str, names.ModelRef] = {}
    found = [m.model for m in plan.models]
    found += [i.model for g in plan.groups for i in g.install]
    for t in plan.targets:
        name = names.TargetName.parse(t.target)
        found.append(f"{name.namespace}/{name.model}")
    for model in found:
        if model not in seen:
            try:
                seen[model] = names.ModelRef.parse(model)
            except UsageError as e:
                raise ManifestError(f"the plan names a model {model!r} that is not NAMESPACE/MODEL: {e.message}") from e
    return list(seen.values())


@dataclass(frozen=True)
class Dropped:
    """A withdrawn model version left out of a bundle (or of a device's install), and why."""

    model: str
    version: str
    message: str  # one line: who withdrew it when, why, what to use instead

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "version": self.version, "message": self.message}


def _drop_withdrawn(plan: Plan, withdrawn: dict[str, dict[str, Withdrawal]]) -> tuple[Plan, list[Dropped]]:
    """``plan`` without the files of withdrawn versions, and what was dropped (the plan is
    returned unchanged, the same object, when nothing is withdrawn)."""

    def hit(model: str, version: str) -> Withdrawal | None:
        return withdrawn.get(model, {}).get(version)

    dropped: dict[tuple[str, str], Dropped] = {}

    def drop(model: str, version: str) -> bool:
        w = hit(model, version)
        if w is not None and (model, version) not in dropped:
            line = f"{w.message(model)}; left out of this bundle (the plan was made before the withdrawal)"
            dropped[(model, version)] = Dropped(model, version, line)
        return w is not None

    def target_hit(target: str) -> bool:
        name = names.TargetName.parse(target)
        return name.version is not None and drop(f"{name.namespace}/{name.model}", name.version)

    kept_targets = tuple(t for t in plan.targets if not target_hit(t.target))
    kept_models = tuple(m for m in plan.models if not drop(m.model, m.version))
    groups: list[PlanGroup] = []
    for g in plan.groups:
        install = tuple(i for i in g.install if not target_hit(i.target))
        if len(install) == len(g.install):
            groups.append(g)
            continue
        per_device = sum(i.size for i in install)
        groups.append(replace(g, install=install, bytes_per_device=per_device, bytes_total=per_device * g.count))
    if not dropped:
        return plan, []
    required = {m.model for m in plan.models if m.required}
    missing = [f"required model {d.model} is unavailable: {d.message}" for d in dropped.values() if d.model in required]
    if missing:
        groups = [replace(g, problems=[*g.problems, *missing]) for g in groups]
    typed = replace(
        plan,
        models=kept_models,
        groups=tuple(groups),
        targets=kept_targets,
        withdrawn=(
            *(plan.withdrawn or ()),
            *(
                # read, not built: a pin the bundle drops has no "latest" key (built ones write it)
                WithdrawnPin.from_dict({"model": d.model, **withdrawn[d.model][d.version].to_json(), "version": v})
                for (_, v), d in dropped.items()
            ),
        ),
        warnings=[*(plan.warnings or []), *(d.message for d in dropped.values())],
        totals=replace(
            plan.totals,
            unique_bytes=sum(t.size for t in kept_targets),
            device_bytes=sum(g.bytes_total for g in groups),
        ),
    )
    return typed, list(dropped.values())


def load_plan(path: Path) -> tuple[bytes, Plan]:
    """The bytes and the document of a plan.json, checked for what a bundle needs."""
    data, doc = _read_json(Path(path), MAX_PLAN_BYTES, "plan", "make it with `edzoo plan CATALOG FLEET`")
    return data, _parse_plan(data, doc, str(path))
