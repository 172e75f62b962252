"""The recommender harness: policies that pick the next exercise and the simulated learning gain
they give (:func:`simulate`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from zoo.datasets.common import check_seed

from ._base import _EVAL_STREAM, _POLICY_STREAM, WINDOW
from .students import Simulator, State
from .tokens import decode_tokens

#: ``policy(windows, rng) -> items``: windows int32 (n, W) of each student's recent tokens, the
#: next item (int, (n,)) for each. A policy with attribute ``needs_state = True`` is also given
#: the true :class:`State` as a third argument (oracle policies only).
Policy = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """Result of :func:`simulate`. Scores are expected scores on the whole item bank (mean of
    P(correct) over all items); a skill is mastered when its items' mean P is at least 0.8."""

    gains: np.ndarray  # (n,) score after - score before
    score_before: np.ndarray  # (n,)
    score_after: np.ndarray  # (n,)
    mastered_before: np.ndarray  # (n,) number of mastered skills
    mastered_after: np.ndarray  # (n,)
    practice_correct: float  # share of practice answers that were correct
    mean_gain: float
    ci95: tuple[float, float]  # normal approximation: mean ± 1.96 sd / sqrt(n)
    items: np.ndarray = field(repr=False)  # (n, steps) the items the policy chose


def simulate(sim: Simulator, policy: Policy, n_students: int, steps: int, seed: int, window: int = WINDOW) -> Outcome:
    """Run ``policy`` on ``n_students`` fresh students for ``steps`` practice items each.

    Students come from ``default_rng([seed, 3])`` (never a student of :func:`load`'s splits)
    with their answers' uniform numbers drawn up front, so two policies run with the same
    seed meet the same students and the same luck; the policy gets ``default_rng([seed, 4])``.
    The policy is called once per step with read-only windows (the format of the dataset's
    ``x``). Raises ValueError for bad sizes or when the policy returns bad items.
    """
    check_seed(seed)
    if n_students < 2 or steps < 1 or window < 1:
        raise ValueError(f"need n_students >= 2, steps >= 1, window >= 1; got {n_students}, {steps}, {window}")
    rng = np.random.default_rng([seed, _EVAL_STREAM])
    state = sim.new_students(n_students, rng)
    u = rng.random((n_students, steps))
    policy_rng = np.random.default_rng([seed, _POLICY_STREAM])
    needs_state = bool(getattr(policy, "needs_state", False))

    def mastered(p: np.ndarray) -> np.ndarray:
        per_skill = p.reshape(n_students, sim.n_skills, sim.items_per_skill).mean(axis=2)
        return (per_skill >= 0.8).sum(axis=1)

    p0 = sim.p_all(state)
    windows = np.zeros((n_students, window), dtype=np.int32)
    chosen = np.empty((n_students, steps), dtype=np.int64)
    n_correct = 0
    for t in range(steps):
        view = windows.copy()
        view.setflags(write=False)
        items = np.asarray(policy(view, policy_rng, state.copy()) if needs_state else policy(view, policy_rng))
        if items.shape != (n_students,):
            raise ValueError(f"policy returned shape {items.shape}, expected ({n_students},)")
        items = sim._check_items(items)
        ok = u[:, t] < sim.p_correct(state, items)
        sim.learn(state, items, ok)
        n_correct += int(ok.sum())
        chosen[:, t] = items
        windows[:, :-1] = windows[:, 1:]
        windows[:, -1] = 1 + 2 * items + ok
    p1 = sim.p_all(state)
    before, after = p0.mean(axis=1), p1.mean(axis=1)
    gains = after - before
    mean = float(gains.mean())
    half = 1.96 * float(gains.std(ddof=1)) / np.sqrt(n_students)
    return Outcome(
        gains=gains,
        score_before=before,
        score_after=after,
        mastered_before=mastered(p0),
        mastered_after=mastered(p1),
        practice_correct=n_correct / (n_students * steps),
        mean_gain=mean,
        ci95=(mean - half, mean + half),
        items=chosen,
    )


def curriculum_policy(sim: Simulator) -> Policy:
    """Fixed order: each skill's items in order, easy skills first, then round again (step
    ``t`` gets item ``t mod n_items``); read from the last item in the window."""

    def policy(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        last, _ = decode_tokens(windows[:, -1])
        return np.where(last < 0, 0, (last + 1) % sim.n_items)

    return policy


def random_policy(sim: Simulator) -> Policy:
    """An item drawn uniformly from all items at every step."""

    def policy(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(rng.integers(0, sim.n_items, size=windows.shape[0]))

    return policy


def oracle_policy(sim: Simulator, target: float = 0.7) -> Policy:
    """Upper reference that cheats: reads the TRUE state and gives each student the item whose
    current P(correct) is closest to ``target`` (ties: lowest item). Not a deployable policy."""

    def policy(windows: np.ndarray, rng: np.random.Generator, state: State) -> np.ndarray:
        return np.abs(sim.p_all(state) - target).argmin(axis=1)

    policy.needs_state = True  # type: ignore[attr-defined]
    return policy
