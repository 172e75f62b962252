"""Installation plans: which variant of which catalog model each device group of a fleet gets.

A plan is made in two steps. :func:`resolve_catalog` is the only one that touches the
network (or the verified cache): it resolves every catalog entry to a version and reads its
TUF-verified manifest. :func:`make_plan` is then a pure function of the catalog, the fleet
and those manifests: for each device group it asks :func:`registry.core.select.select_many`
for the most valuable set of variants (value = catalog priority x the variant's metric) that
fits the group's storage budget (and memory budget, when the fleet sets one). Groups with the
same device profile and budgets get the same answer, computed once, so fleets of many
thousands of groups plan in well under a second.

The result is a :class:`registry.core.model.Plan`, whose ``to_dict`` is the ``plan.json``
that ``edzoo bundle`` reads; :func:`render_plan` turns it into tables a person reads,
:func:`write_plan` stores it.

Withdrawn (recalled) versions never enter a plan: ``latest`` is the newest version that is not
withdrawn, an alias that points to a withdrawn version is planned with the version the withdrawal
names instead (or the latest), and an entry pinned to a withdrawn version is dropped. Each case is
one line in the plan's ``warnings`` (and ``withdrawn`` lists the dropped pins), printed above the
tables.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from tuf.api.metadata import Metadata, TargetFile

from registry.core import names, select
from registry.core._internal.files import atomic_write
from registry.core.errors import EdzooError, NotFoundError, SignatureError, StorageError, UsageError, WithdrawnError
from registry.core.model import (
    DeviceProfile,
    InstallItem,
    Manifest,
    NotInstalled,
    Plan,
    PlanBudget,
    PlanCatalog,
    PlanFleet,
    PlanGroup,
    PlanModel,
    PlanRegistry,
    PlanTarget,
    PlanTotals,
    Unavailable,
    WithdrawnPin,
)
from registry.core.recall import Withdrawal, format_at
from registry.core.units import MB, format_bytes, format_bytes_exact, format_mb

from .catalog import Catalog, DeviceGroup, Fleet

__all__ = [
    "PLAN_KIND",
    "PLAN_SCHEMA_VERSION",
    "ResolvedModel",
    "make_plan",
    "plan_bytes",
    "render_plan",
    "resolve_catalog",
    "snapshot_version",
    "withdrawn_entry",
    "write_plan",
]

PLAN_SCHEMA_VERSION = 1
PLAN_KIND = "edzoo-plan"
_WIDTH = 110  # of the rendered tables
_WHY_LINES = 3  # a why longer than this many lines is cut; plan.json keeps it whole
_WITHDRAWN_FIELDS = ("version", "reason", "use", "latest", "by", "at")
# groups equal in these share one table in the text
_SAME_PLAN = ("profile", "policy", "budget", "install", "not_installed", "problems")


@dataclass(frozen=True)
class ResolvedModel:
    """A catalog model resolved against a registry: its version and its verified manifest."""

    model: str
    version: str
    manifest: dict[str, Any]
    manifest_sha256: str
    manifest_size: int
    manifest_target: str
    warning: str | None = None  # set when the catalog's alias pointed to a withdrawn version


class _Puller(Protocol):
    """What :func:`resolve_catalog` needs of :class:`registry.client.download.Puller`."""

    def fetch(self, path: str) -> tuple[Path, TargetFile, bool]: ...

    def resolve(self, ref: names.ModelRef, *, allow_withdrawn: bool = False) -> str: ...

    def withdrawn(self, ref: names.ModelRef) -> dict[str, Withdrawal]: ...

    def manifest(self, ref: names.ModelRef, version: str) -> tuple[dict[str, Any], bool]: ...


# -- resolving (the I/O part) ------------------------------------------------------------------
def resolve_catalog(catalog: Catalog, puller: _Puller) -> tuple[dict[str, ResolvedModel], list[dict[str, Any]]]:
    """Resolve each catalog entry to a version and its TUF-verified manifest.

    Returns ``(models by id, unavailable)``; ``unavailable`` lists ``{"model", "reason"}``
    for entries the registry does not have (model not published, unknown version or alias,
    every version withdrawn), in catalog order; an entry pinned to a withdrawn version is there
    too, with ``"withdrawn"`` (see :func:`withdrawn_entry`). An alias that points to a withdrawn
    version resolves to the version its withdrawal names (else the latest that is not
    withdrawn), with a ``warning``. Raises what the puller raises for everything else:
    SignatureError when verification fails, DownloadError when the registry cannot be reached,
    OfflineError when the verified cache does not hold what is needed.
    """
    models: dict[str, ResolvedModel] = {}
    unavailable: list[dict[str, Any]] = []
    for entry in catalog.entries:
        ref = names.ModelRef.parse(entry.ref)
        warning = None
        try:
            try:
                version = puller.resolve(ref)
            except WithdrawnError as e:
                withdrawal = _withdrawal(puller, ref, e)
                latest = _latest(puller, ref)
                if ref.revision == e.version:  # pinned by number: the school must choose
                    unavailable.append(withdrawn_entry(entry.model, withdrawal, latest))
                    continue
                version = withdrawal.use or latest or ""
                if not version:
                    raise NotFoundError(f"{withdrawal.message(ref.id)}; no other version is available") from e
                warning = (
                    f"{withdrawal.message(ref.id)}; the catalog's alias {ref.revision!r} points to it, "
                    f"so {ref.id}@{version} is planned instead"
                )
            manifest, _ = puller.manifest(ref, version)
            target = names.target_path(ref.namespace, ref.model, version, names.MANIFEST_FILE)
            _, info, _ = puller.fetch(target)  # already cached and verified: no download
        except NotFoundError as e:
            unavailable.append({"model": entry.model, "reason": e.message})
            continue
        models[entry.model] = ResolvedModel(
            model=entry.model,
            version=version,
            manifest=manifest,
            manifest_sha256=info.hashes["sha256"],
            manifest_size=info.length,
            manifest_target=target,
            warning=warning,
        )
    return models, unavailable


def _withdrawal(puller: _Puller, ref: names.ModelRef, e: WithdrawnError) -> Withdrawal:
    """The signed withdrawal behind ``e`` (the puller lists what its resolve refused)."""
    found = puller.withdrawn(ref).get(e.version)
    if found is None:
        raise e
    return found


def _latest(puller: _Puller, ref: names.ModelRef) -> str | None:
    """The newest version of ``ref``'s model that is not withdrawn, or None when there is none."""
    try:
        return puller.resolve(names.ModelRef(ref.namespace, ref.model, None))
    except NotFoundError:
        return None


def withdrawn_entry(model: str, withdrawal: Withdrawal, latest: str | None = None) -> dict[str, Any]:
    """The ``unavailable`` entry of a catalog entry pinned to a withdrawn version: ``reason`` is
    the one line a person reads (model, version, who, why, the version to use), ``withdrawn``
    the signed fields."""
    line = withdrawal.message(model)
    if withdrawal.use is None and latest is not None:
        line += f"; the latest version that is not withdrawn is {latest}"
    line += "; pin another version in the catalog"
    return {
        "model": model,
        "reason": line,
        "withdrawn": {
            "version": withdrawal.version,
            "reason": withdrawal.reason,
            "use": withdrawal.use,
            "latest": latest,
            "by": withdrawal.by,
            "at": format_at(withdrawal.at),
        },
    }


def snapshot_version(metadata_dir: Path) -> int | None:
    """The version of the snapshot stored in a verified metadata folder (the python-tuf
    updater and :class:`registry.core.offline.OfflineVerifier` only keep verified metadata),
    or None when none is stored. Raises SignatureError for a stored file that is not snapshot
    metadata."""
    path = Path(metadata_dir) / "snapshot.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        md = Metadata.from_bytes(data)
    except Exception as e:  # DeserializationError and anything malformed
        raise SignatureError(f"{path} is not TUF metadata: {e}") from e
    if md.signed.type != "snapshot":
        raise SignatureError(f"{path} holds {md.signed.type} metadata, not the snapshot")
    return int(md.signed.version)


# -- planning (pure) ---------------------------------------------------------------------------
def make_plan(
    catalog: Catalog,
    fleet: Fleet,
    models: Mapping[str, ResolvedModel],
    *,
    registry: str,
    snapshot_version: int | None,
    unavailable: Iterable[Mapping[str, Any]] = (),
) -> Plan:
    """The installation plan of ``catalog`` on ``fleet`` (its ``to_dict`` is ``plan.json``).

    Pure: no I/O, no clock; the same inputs give an equal plan (and :func:`plan_bytes` the
    same bytes). ``models`` are the catalog models that resolved (see :func:`resolve_catalog`),
    ``unavailable`` the others, with their reasons (an entry with ``"withdrawn"`` is a catalog
    pin to a withdrawn version: it is also listed in the plan's ``withdrawn`` and ``warnings``,
    as are the models whose alias pointed to a withdrawn version). Each group's policy is its device's default
    (:func:`registry.core.select.policy_for_device`); its budget is the group's
    ``free_storage_mb`` for all files together and, when given, its ``memory_mb`` for all
    models loaded at once. Groups with the same profile and budgets are planned once.

    Raises UsageError for a model that is not in the catalog, or that is both resolved and
    unavailable.
    """
    unavailable = list(unavailable)
    withdrawn = tuple(
        WithdrawnPin(model=str(u["model"]), **{k: u["withdrawn"][k] for k in _WITHDRAWN_FIELDS})
        for u in unavailable
        if u.get("withdrawn")
    )
    warnings = [str(u["reason"]) for u in unavailable if u.get("withdrawn")]
    missing = [Unavailable(str(u["model"]), str(u["reason"])) for u in unavailable]
    in_catalog = {e.model for e in catalog.entries}
    stray = sorted(set(models) - in_catalog) + sorted({u.model for u in missing} - in_catalog)
    if stray:
        raise UsageError(f"models not in catalog {catalog.id}: {', '.join(stray)}")
    twice = sorted(set(models) & {u.model for u in missing})
    if twice:
        raise UsageError(f"models both resolved and unavailable: {', '.join(twice)}")

    entries = [e for e in catalog.entries if e.model in models]
    warnings += [w for e in entries if (w := models[e.model].warning)]
    items = [(e.model, Manifest.from_dict(models[e.model].manifest)) for e in entries]
    weights = {e.model: e.priority for e in entries}
    versions = {e.model: models[e.model].version for e in entries}
    missing_required = [
        f"required model {u.model} is unavailable: {u.reason}" for u in missing if catalog.entry(u.model).required
    ]
    required = [e.model for e in entries if e.required]

    planned: dict[tuple[str, float, float | None], PlanGroup] = {}
    groups = _plan_groups(
        fleet, planned, lambda g: _plan_group(g, items, weights, versions, required, missing_required)
    )
    target_list = _targets(models, planned)

    return Plan(
        schema_version=PLAN_SCHEMA_VERSION,
        kind=PLAN_KIND,
        catalog=PlanCatalog(catalog.id, catalog.title, catalog.sha256),
        fleet=PlanFleet(fleet.id, fleet.sha256, fleet.devices, len(fleet.groups)),
        registry=PlanRegistry(registry, snapshot_version),
        models=tuple(
            PlanModel(
                model=e.model,
                version=models[e.model].version,
                priority=e.priority,
                required=e.required,
                manifest_target=models[e.model].manifest_target,
                manifest_sha256=models[e.model].manifest_sha256,
                manifest_size=models[e.model].manifest_size,
            )
            for e in entries
        ),
        unavailable=tuple(missing),
        withdrawn=withdrawn,
        warnings=warnings,
        groups=tuple(groups),
        targets=target_list,
        totals=PlanTotals(
            unique_bytes=sum(t.size for t in target_list),
            device_bytes=sum(g.bytes_total for g in groups),
            devices=fleet.devices,
        ),
    )


def _plan_groups(
    fleet: Fleet,
    planned: dict[tuple[str, float, float | None], PlanGroup],
    plan_one: Callable[[DeviceGroup], PlanGroup],
) -> list[PlanGroup]:
    """Each group of the fleet with its plan; groups of the same profile and budgets are
    planned once (``planned`` keeps the distinct plans)."""
    profile_keys: dict[int, str] = {}  # fleets share one object per profile source: canonicalise once
    groups: list[PlanGroup] = []
    for group in fleet.groups:
        pid = id(group.profile)
        if pid not in profile_keys:
            profile_keys[pid] = json.dumps(group.profile.to_dict(), sort_keys=True)
        key = (profile_keys[pid], group.free_storage_mb, group.memory_mb)
        if key not in planned:
            planned[key] = plan_one(group)
        shared = planned[key]
        groups.append(
            replace(
                shared,
                id=group.id,
                profile=group.profile.id,
                count=group.count,
                labels=dict(sorted(group.labels.items())),
                bytes_total=shared.bytes_per_device * group.count,
            )
        )
    return groups


def _targets(
    models: Mapping[str, ResolvedModel], planned: dict[tuple[str, float, float | None], PlanGroup]
) -> tuple[PlanTarget, ...]:
    """Every file some group installs, and every model's manifest, once each, by target path."""
    targets: dict[str, PlanTarget] = {}
    for m in models.values():
        targets[m.manifest_target] = PlanTarget(m.manifest_target, m.manifest_sha256, m.manifest_size)
    for shared in planned.values():
        for item in shared.install:
            targets[item.target] = PlanTarget(item.target, item.sha256, item.size)
    return tuple(targets[t] for t in sorted(targets))


def _plan_group(
    group: DeviceGroup,
    items: Sequence[tuple[str, Manifest]],
    weights: Mapping[str, float],
    versions: Mapping[str, str],
    required: Sequence[str],
    missing_required: Sequence[str],
) -> PlanGroup:
    """A group's plan entry as planned for its profile and budgets (another group with the same
    ones shares it, under its own id, count and labels)."""
    profile = group.profile
    name, policy, _ = select.policy_for_device(profile)
    # The budget is storage on the device, so it counts file bytes: a download-size policy
    # would count the (smaller) gzip sizes against it. Planning maximises value, so the size
    # measure only breaks ties between equally valuable plans.
    planning_policy = replace(policy, size_measure="file")
    budget = select.Budget(storage_mb=group.free_storage_mb, memory_mb=group.memory_mb)
    result = select.select_many(items, profile, budget, planning_policy, weights=weights)

    manifests = dict(items)
    install = []
    for model_id, choice in result.choices.items():
        ns, model = model_id.split("/", 1)
        variant = choice.variant
        alone = _pulled_alone(manifests[model_id], profile, policy)
        install.append(
            InstallItem(
                model=model_id,
                version=versions[model_id],
                variant=choice.variant_id,
                file=variant.file,
                target=names.target_path(ns, model, versions[model_id], variant.file),
                sha256=variant.sha256,
                size=variant.size,
                why=_why(choice, manifests[model_id]),
                # what `edzoo pull --device` on one such device would take, by the policy alone
                pull_would_take=alone,
            )
        )
    not_installed = tuple(NotInstalled(m, reason) for m, reason in result.left_out.items())
    problems = [
        f"required model {m} does not fit: {result.left_out[m]}" for m in required if m in result.left_out
    ] + list(missing_required)
    per_device = sum(choice.variant.size for choice in result.choices.values())
    if per_device > group.free_storage_mb * MB:  # select_many guarantees it; a plan must never lie
        raise AssertionError(f"plan for {group.id} takes {per_device} bytes, over its budget")
    return PlanGroup(
        id=group.id,
        profile=group.profile.id,
        count=group.count,
        labels=dict(sorted(group.labels.items())),
        policy=name,
        objective=OBJECTIVE,
        budget=PlanBudget(float(group.free_storage_mb), group.memory_mb),
        install=tuple(install),
        not_installed=not_installed,
        problems=problems,
        bytes_per_device=per_device,
        bytes_total=per_device * group.count,
        value=round(result.total_value, 6),
    )


#: What decides a group's plan, and how it relates to the policy a single pull applies.
OBJECTIVE = (
    "most accurate set of variants that fits the group's budget; the policy only limits which "
    "variants compete (a pull of one model applies the policy's own objective instead)"
)


def _pulled_alone(manifest: Manifest, profile: DeviceProfile, policy: select.Policy) -> str | None:
    """The variant ``edzoo pull --device`` would take on this device by ``policy`` alone, or
    None when none runs there on its own (a pull checks the device's storage share)."""
    try:
        return select.select(manifest, profile, policy).variant_id
    except EdzooError:
        return None


def _why(choice: select.Choice, manifest: Manifest) -> str:
    """Why this variant is in the plan: its value in the plan first, then why each more
    accurate variant lost (the budget, usually), then how it fits the device."""
    by_id = {v.id: v for v in manifest.variants}
    chosen = choice.variant.metrics.quality
    better = [
        f"not {vid}: {rejection.reason}"
        for vid, rejection in choice.others.items()
        if rejection.kind == "lost" and vid in by_id and by_id[vid].metrics.quality > chosen
    ]
    fit, *rest = choice.reasons
    return "; ".join([*rest[:1], *better, fit])


# -- output ------------------------------------------------------------------------------------
def plan_bytes(plan: Plan | Mapping[str, Any]) -> bytes:
    """The canonical bytes of a plan: JSON with sorted keys, indent 2, UTF-8, final newline."""
    doc = plan.to_dict() if isinstance(plan, Plan) else plan
    return (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n").encode()


def write_plan(plan: Plan | Mapping[str, Any], path: Path) -> None:
    """Write ``plan`` to ``path`` atomically (readers see the old file or the new one).

    Raises StorageError when the file cannot be written.
    """
    path = Path(path)
    try:
        atomic_write(path, plan_bytes(plan))
    except OSError as e:
        raise StorageError(f"cannot write the plan to {path}: {e.strerror or e}") from e


def _wrap(text: str, width: int, lines: int = _WHY_LINES) -> list[str]:
    wrapped = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = textwrap.shorten(wrapped[-1] + " …", width, placeholder=" …")
    return wrapped


def _budget_text(budget: PlanBudget) -> str:
    memory = budget.memory_mb
    memory_text = f"{format_mb(memory)} memory" if memory is not None else "no memory budget"
    return f"{format_bytes(budget.storage_mb * MB)} storage, {memory_text}"


def render_plan(plan: Plan | Mapping[str, Any]) -> str:
    """The plan as text: a table per device group (model, variant, size, why), what was not
    installed and why, problems, bytes per device and per group; then the fleet's totals.
    A group whose plan equals an earlier group's is one line that names that group."""
    plan = Plan.of(plan)
    out: list[str] = []
    catalog, fleet, registry = plan.catalog, plan.fleet, plan.registry
    out.append(
        f"plan: catalog {catalog.id} ({catalog.title}) on fleet {fleet.id}: "
        f"{fleet.devices:,} device{'s' if fleet.devices != 1 else ''} in {fleet.groups:,} "
        f"group{'s' if fleet.groups != 1 else ''}"
    )
    snapshot = registry.snapshot_version
    out.append(f"registry {registry.url}" + (f", snapshot version {snapshot}" if snapshot is not None else ""))
    if plan.models:
        out.append("models: " + ", ".join(f"{m.model}@{m.version} (priority {m.priority:g})" for m in plan.models))
    dropped = {w.model for w in plan.withdrawn or ()}
    missing = [u for u in plan.unavailable if u.model not in dropped]
    if missing:
        out.append("unavailable:")
        for u in missing:
            out += _indent(_wrap(f"{u.model}: {u.reason}", _WIDTH - 4, 2), "  - ", "    ")
    if plan.warnings:
        out.append("withdrawn:")
        for w in plan.warnings:
            out += _indent(_wrap(w, _WIDTH - 4, 4), "  ! ", "    ")

    seen: dict[str, str] = {}  # the plan of a group, as JSON -> the first group with it
    lacking = 0
    for g in plan.groups:
        if g.problems:
            lacking += 1
        doc = g.to_dict()
        same = json.dumps([doc[k] for k in _SAME_PLAN], sort_keys=True)
        count = f"{g.count:,} × {g.profile}"
        totals = f"{format_bytes(g.bytes_per_device)} per device, {format_bytes(g.bytes_total)} for the group"
        if same in seen:
            out.append(f"{g.id}: {count}, same plan as {seen[same]}: {totals}")
            continue
        seen[same] = g.id
        out += _group_text(g, count)

    out.append("")
    out.append(f"fleet {fleet.id}:")
    n_targets = len(plan.targets)
    out.append(
        f"  bundle:  {n_targets:,} file{'s' if n_targets != 1 else ''}, "
        f"{format_bytes_exact(plan.totals.unique_bytes)} to put in a bundle (each file once, manifests included)"
    )
    out.append(
        f"  devices: {format_bytes_exact(plan.totals.device_bytes)} copied onto {plan.totals.devices:,} "
        f"device{'s' if plan.totals.devices != 1 else ''}"
    )
    if lacking:
        out.append(
            f"  problems: {lacking:,} group{' lacks' if lacking == 1 else 's lack'} a required model (see above)"
        )
    if plan.withdrawn:
        n = len(plan.withdrawn)
        out.append(f"  withdrawn: {n:,} catalog pin{'' if n == 1 else 's'} to a withdrawn version dropped (see above)")
    out.append("  the full reasons are in the plan's JSON")
    return "\n".join(out) + "\n"


def _group_text(g: PlanGroup, count: str) -> list[str]:
    """One device group's part of :func:`render_plan`: its budget and policy, where the plan
    differs from a pull, its install table, what it leaves out and why, its bytes."""
    out: list[str] = []
    out.append("")
    out.append(f"{g.id}: {count}, budget {_budget_text(g.budget)}, policy {g.policy}")
    differ = [i for i in g.install if i.pull_would_take not in (None, i.variant)]
    if differ:
        out += _indent(
            _wrap(
                f"the plan takes the most accurate set within the budget, so it differs from a pull by "
                f"policy {g.policy}: "
                + "; ".join(f"{i.model} gets {i.variant}, a pull would take {i.pull_would_take}" for i in differ),
                _WIDTH - 4,
            ),
            "  ",
            "  ",
        )
    if g.labels:
        out.append("  labels: " + ", ".join(f"{k}={v}" for k, v in g.labels.items()))
    out += _install_table(g.install)
    if g.not_installed:
        out.append("  not installed:")
        for n in g.not_installed:
            out += _indent(_wrap(f"{n.model}: {n.reason}", _WIDTH - 6), "    - ", "      ")
    if g.problems:
        out.append("  problems:")
        for p in g.problems:
            out += _indent(_wrap(p, _WIDTH - 6), "    ! ", "      ")
    out.append(
        f"  {format_bytes_exact(g.bytes_per_device)} per device × {g.count:,} = "
        f"{format_bytes_exact(g.bytes_total)} for the group"
    )
    return out


def _indent(lines: list[str], first: str, rest: str) -> list[str]:
    return [(first if i == 0 else rest) + line for i, line in enumerate(lines)]


def _install_table(install: Sequence[InstallItem]) -> list[str]:
    if not install:
        return ["  installs nothing"]
    model_w = max(5, *(len(i.model) for i in install))
    variant_w = max(7, *(len(i.variant) for i in install))
    sizes = [format_bytes(i.size) for i in install]
    size_w = max(4, *(len(s) for s in sizes))
    lead = 2 + model_w + 2 + variant_w + 2 + size_w + 2
    why_w = max(40, _WIDTH - lead)
    # A clause every row shares (the plan's total, usually) says nothing about one row: the
    # group's footer carries the totals, plan.json every clause.
    clauses = [item.why.split("; ") for item in install]
    common = set.intersection(*(set(c) for c in clauses)) if len(install) > 1 else set()
    rows = [f"  {'model':<{model_w}}  {'variant':<{variant_w}}  {'size':>{size_w}}  why"]
    for item, size, parts in zip(install, sizes, clauses, strict=True):
        cells = f"  {item.model:<{model_w}}  {item.variant:<{variant_w}}  {size:>{size_w}}  "
        why = "; ".join(p for p in parts if p not in common) or item.why
        rows += _indent(_wrap(why, why_w), cells, " " * lead)
    return rows
