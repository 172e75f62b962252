"""The student simulator: skills, items and how simulated students learn and answer (:class:`Simulator`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.datasets.common import check_seed

from ._base import _ITEM_STREAM


@dataclass(frozen=True)
class SimParams:
    """The simulated items, students and learning; the module docstring explains each."""

    n_skills: int = 8
    items_per_skill: int = 8
    guess: float = 0.15  # c: probability of a correct answer with no skill at all
    discrimination_log_mean: float = 0.6  # a = exp(N(discrimination_log_mean, discrimination_sd))
    discrimination_sd: float = 0.3
    skill_difficulty: tuple[float, float] = (-2.0, 2.0)  # base difficulty of the first and last skill
    item_difficulty_sd: float = 0.5  # b = skill base difficulty + N(0, item_difficulty_sd)
    skill_offset_sd: float = 0.25  # per-skill offsets of a student's ability ~ N(0, skill_offset_sd)
    gain_correct: float = 0.15  # offset increase after a correct answer ...
    gain_wrong: float = 0.075  # ... and after a wrong one
    transfer: float = 0.2  # the next skill's offset grows by this fraction of the gain


@dataclass
class State:
    """Students' latent abilities; :meth:`Simulator.answer` updates ``offsets`` in place."""

    ability: np.ndarray  # (n,) general ability
    offsets: np.ndarray  # (n, n_skills) per-skill offsets, grown by practice

    def copy(self) -> State:
        return State(self.ability.copy(), self.offsets.copy())


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


class Simulator:
    """Items with 2PL parameters grouped into skills, and students who learn by practising.

    ``Simulator(params, seed)`` draws the item table from ``default_rng([seed, 1])``; the
    arrays ``a``, ``b``, ``c`` and ``item_skill`` (all of length ``n_items``) are read-only.
    """

    def __init__(self, params: SimParams | None = None, seed: int = 0) -> None:
        check_seed(seed)
        p = params if params is not None else SimParams()
        if p.n_skills < 1 or p.items_per_skill < 1:
            raise ValueError(f"need at least one skill and one item per skill, got {p}")
        self.params = p
        self.seed = seed
        self.n_skills = p.n_skills
        self.items_per_skill = p.items_per_skill
        self.n_items = p.n_skills * p.items_per_skill
        rng = np.random.default_rng([seed, _ITEM_STREAM])
        a = np.exp(rng.normal(p.discrimination_log_mean, p.discrimination_sd, self.n_items))
        base = np.linspace(p.skill_difficulty[0], p.skill_difficulty[1], p.n_skills)
        self.item_skill = np.repeat(np.arange(p.n_skills, dtype=np.int64), p.items_per_skill)
        b = base[self.item_skill] + rng.normal(0.0, p.item_difficulty_sd, self.n_items)
        c = np.full(self.n_items, p.guess)
        self.a, self.b, self.c = a, b, c
        for arr in (self.a, self.b, self.c, self.item_skill):
            arr.setflags(write=False)

    @property
    def vocab_size(self) -> int:
        return 1 + 2 * self.n_items

    def skill_of(self, items: np.ndarray | int) -> np.ndarray:
        """The skill each item practises (item // items_per_skill). Raises ValueError for an unknown item."""
        return self.item_skill[self._check_items(items)]

    def item_table(self) -> list[dict[str, float | int]]:
        """One row per item: item, skill, a, b, c (JSON-serializable)."""
        return [
            {
                "item": i,
                "skill": int(self.item_skill[i]),
                "a": float(self.a[i]),
                "b": float(self.b[i]),
                "c": float(self.c[i]),
            }
            for i in range(self.n_items)
        ]

    def new_students(self, n: int, rng: np.random.Generator) -> State:
        """``n`` fresh students: ability ~ N(0, 1), then skill offsets ~ N(0, skill_offset_sd)."""
        ability = rng.standard_normal(n)
        offsets = rng.normal(0.0, self.params.skill_offset_sd, (n, self.n_skills))
        return State(ability, offsets)

    def p_correct(self, state: State, items: np.ndarray) -> np.ndarray:
        """Probability (float64, (n,)) that student ``k`` answers ``items[k]`` correctly now."""
        items = self._check_items(items)
        rows = np.arange(items.size)
        theta = state.ability + state.offsets[rows, self.item_skill[items]]
        return self.c[items] + (1.0 - self.c[items]) * _sigmoid(self.a[items] * (theta - self.b[items]))

    def p_all(self, state: State) -> np.ndarray:
        """Probability (float64, (n, n_items)) of a correct answer to every item, now."""
        theta = state.ability[:, None] + state.offsets[:, self.item_skill]
        return self.c + (1.0 - self.c) * _sigmoid(self.a * (theta - self.b))

    def learn(self, state: State, items: np.ndarray, correct: np.ndarray) -> None:
        """Apply learning in place after student ``k`` answered ``items[k]`` (``correct[k]``)."""
        items = self._check_items(items)
        rows = np.arange(items.size)
        skill = self.item_skill[items]
        gain = np.where(np.asarray(correct, dtype=bool), self.params.gain_correct, self.params.gain_wrong)
        state.offsets[rows, skill] += gain
        nxt = skill + 1
        has_next = nxt < self.n_skills
        state.offsets[rows[has_next], nxt[has_next]] += self.params.transfer * gain[has_next]

    def answer(self, state: State, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each student ``k`` answers ``items[k]``; returns correct (bool, (n,)) and learns in place."""
        correct = rng.random(len(state.ability)) < self.p_correct(state, items)
        self.learn(state, items, correct)
        return correct

    def _check_items(self, items: np.ndarray | int) -> np.ndarray:
        arr = np.asarray(items)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"items must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_items):
            raise ValueError(f"items must be in [0, {self.n_items}), got values in [{arr.min()}, {arr.max()}]")
        return arr.astype(np.int64, copy=False)
