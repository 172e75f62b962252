"""Choosing the variant of a model that suits a device, and a set of models that fits a budget.

Selection is a pure function of a manifest, a device profile (:mod:`registry.core.profiles`)
and a :class:`Policy`. It works in two steps:

1. **Hard constraints.** A variant is *rejected* when the device's runtime is older than
   ``requirements.min_runtime_version``, when the runtime lists its operators and lacks one the
   variant uses, when the variant needs a custom operator the runtime does not register, when
   it runs only with a delegate the device lacks, when its run-time memory exceeds the share
   of RAM a model may use, or when its file exceeds the share of free storage it may take.
2. **The policy.** Among the variants left, the policy's objective decides: the most accurate
   within a latency budget, the smallest within an accuracy floor, or the fastest within it.
   The others *lost*, each with the sentence that says why.

Latency is never guessed from file size: the estimate scales each variant's measured p50 (see
:func:`estimate_latency_us`). Quantities a person reads are in binary units (1 MB = 2^20 bytes,
like the ``*_mb`` fields of manifests and profiles); latencies are in microseconds.

The chosen variant is never *dominated*: no other variant that passes the hard constraints is
at least as accurate, at most as large and at most as slow, and strictly better in one of the
three. The ranking guarantees it (every ranking key orders by those three quantities) and
:func:`select` asserts it.

:func:`select_many` chooses at most one variant per model so that a catalog fits a storage
(and optionally a memory) budget with the largest total value.

The package, one job per module: :mod:`.latency` (the latency model), :mod:`.policy`,
:mod:`.results` (what selection returns), :mod:`.evaluate` (a variant against a device, and
the sentences), :mod:`.choose` (:func:`select`), :mod:`.knapsack` (:func:`select_many`).
"""

from __future__ import annotations

from ..units import MB
from .choose import select
from .evaluate import LATENCY_NOISE, speed_class
from .knapsack import select_many
from .latency import DEFAULT_FORMAT_FACTORS, Estimate, FormatFactor, estimate_latency_us
from .policy import OBJECTIVES, POLICIES, Policy, policy_for_device
from .results import Budget, Choice, Plan, Rejection

__all__ = [
    "Budget",
    "Choice",
    "DEFAULT_FORMAT_FACTORS",
    "Estimate",
    "FormatFactor",
    "LATENCY_NOISE",
    "MB",
    "OBJECTIVES",
    "POLICIES",
    "Plan",
    "Policy",
    "Rejection",
    "estimate_latency_us",
    "policy_for_device",
    "select",
    "select_many",
    "speed_class",
]
