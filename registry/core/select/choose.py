"""One model: :func:`select` picks the variant that suits a device under a policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import NoCompatibleVariantError
from ..model import DeviceProfile, Manifest
from .evaluate import (
    _anchor,
    _Candidate,
    _chosen_sentence,
    _Device,
    _dominates,
    _evaluate,
    _fit_sentence,
    _ident,
    _io_note,
    _latency_sentence,
    _Ranking,
)
from .policy import Policy
from .results import Choice, Rejection


def select(
    manifest: Manifest | Mapping[str, Any], profile: DeviceProfile | Mapping[str, Any], policy: Policy
) -> Choice:
    """Choose the variant of ``manifest`` that suits the device of ``profile`` under ``policy``.

    ``manifest`` is a :class:`Manifest` or a validated manifest document
    (:func:`registry.core.manifest.validate_manifest`), ``profile`` a :class:`DeviceProfile`
    or a validated device profile (:func:`registry.core.profiles.load_profile`).
    Hard constraints come first (see the module docstring), then the policy's objective; the
    returned :class:`Choice` says why, with numbers, for the chosen variant and every other.

    Raises :class:`NoCompatibleVariantError`, listing every variant with its reasons, when
    no variant passes the hard constraints.
    """
    manifest = Manifest.of(manifest)
    device = _Device.of(DeviceProfile.of(profile), policy)
    candidates = _anchor([_evaluate(v, device) for v in manifest.variants])
    if not candidates:
        raise NoCompatibleVariantError(f"{_ident(manifest)} has no variants")
    runnable = [c for c in candidates if not c.problems]
    if not runnable:
        lines = [f"{c.id}: {'; '.join(c.problems)}" for c in candidates]
        raise NoCompatibleVariantError(
            f"no variant of {_ident(manifest)} can run on {device.label}:\n  " + "\n  ".join(lines)
        )
    ranking = _Ranking.of(candidates, policy)
    chosen = min(runnable, key=ranking.key)
    dominators = [c.id for c in runnable if _dominates(c, chosen)]
    assert not dominators, f"{chosen.id} is dominated by {dominators}"
    tier = ranking.tier(chosen)
    same_tier = sum(1 for c in runnable if ranking.tier(c) == tier)
    headline = [_fit_sentence(chosen, device), _chosen_sentence(chosen, ranking, same_tier)]
    return _choice(chosen, candidates, ranking, headline)


def _choice(
    chosen: _Candidate,
    candidates: Sequence[_Candidate],
    ranking: _Ranking,
    headline: Iterable[str],
    *,
    objective: str | None = None,
    beaten: Mapping[str, str] | None = None,
) -> Choice:
    """Assemble the reasons for ``chosen`` (after ``headline``) and the rejection of every
    other candidate. Losers in the chosen variant's tier are compared on ``objective``
    (default: the tier's); ``beaten`` holds reasons, by id, that replace the comparison.
    """
    tier = ranking.tier(chosen)
    reasons = [*headline, _latency_sentence(chosen)]
    if chosen.suits:
        reasons.append(
            f"suits the device's {', '.join(chosen.suits)} (a delegate it lists); the estimate is for the CPU"
        )
    io = _io_note(chosen.variant)
    if io:
        reasons.append(io)
    others: dict[str, Rejection] = {}
    for c in candidates:
        if c is chosen:
            continue
        if c.problems:
            others[c.id] = Rejection("rejected", "; ".join(c.problems))
        elif beaten and c.id in beaten:
            others[c.id] = Rejection("lost", beaten[c.id])
        elif ranking.tier(c) > tier:
            others[c.id] = Rejection("lost", ranking.why_tier(c))
        else:
            others[c.id] = Rejection("lost", ranking.versus(c, chosen, objective))
    estimates = {c.id: c.estimate for c in candidates}
    return Choice(chosen.variant, reasons, others, estimates)
