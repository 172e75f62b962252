"""Practice logs of simulated students, for knowledge tracing and for evaluating recommenders.

A knowledge-tracing model reads a student's last :data:`WINDOW` answers and predicts whether
the next one will be correct; an app uses those predictions to choose what to practise next.
No package ships real student interactions offline, so everything here comes from a seeded
student simulator (:class:`Simulator`), and the module also provides the harness that scores a
recommender on fresh simulated students (:func:`simulate`). **Synthetic: no real student data;**
results on it show that a model tracks *this* simulator, not real children.

Simulator (numbers are :class:`SimParams` defaults)
----------------------------------------------------
* ``n_skills = 8`` skills ordered easy to hard, ``items_per_skill = 8`` items each: 64 items.
  Item ``i`` practises skill ``i // items_per_skill`` (:attr:`Simulator.item_skill`).
* Items follow a 2PL model with a guessing floor (3PL with fixed ``c``):
  ``P(correct) = c + (1 - c) * sigmoid(a * (theta - b))`` with ``c = 0.15``, discrimination
  ``a = exp(N(0.6, 0.3))`` (median 1.82), difficulty ``b`` = the skill's base difficulty
  (evenly spaced from -2 for skill 0 to +2 for the last skill) ``+ N(0, 0.5)``. These values
  make the logs about 62 % correct with an oracle AUC of about 0.875, and leave a student's
  state readable from 32 answers: with the first settings tried (``c = 0.2``, ``a`` median
  1.35, skill offsets ``N(0, 0.5)``, 60 steps) a model of the window reached only 0.957 of the
  oracle AUC, most of the gap being hidden per-skill offsets no answer had revealed yet.
* A student has a general ability ``N(0, 1)`` and one offset per skill ``N(0, 0.25)``;
  ``theta`` for an item is ability + the offset of the item's skill.
* Learning: after every answer the offset of the practised skill grows by 0.15 when the
  answer was correct and by 0.075 when it was wrong, and the offset of the *next* skill by
  ``transfer = 0.2`` times as much (practising skill k prepares skill k + 1 a little; the
  last skill passes nothing on). There is no forgetting and no ceiling: every practice helps,
  most where ``theta`` is near the item difficulty.
* :meth:`Simulator.answer` draws the answer and applies learning **in place** on the
  :class:`State`; :meth:`Simulator.p_correct` / :meth:`Simulator.p_all` only read it.

The item table comes from ``numpy.random.default_rng([seed, 1])`` and is the same for every
profile; :func:`simulator` rebuilds it from a dataset (``info["simulator"]`` records it).

Logging policy (how the training students practise; :class:`LoggingParams`)
--------------------------------------------------------------------------
Every student starts at skill 0. At each step, with probability ``epsilon = 0.2`` the student
practises an item drawn uniformly from all 64 (so every item, including hard ones, is seen
early and late); otherwise a uniformly drawn item of the current skill. After
``k_correct = 3`` correct answers on items of the current skill the student moves on to the
next skill and stays on the last one once there. Student ``i`` has its own generator,
``default_rng([seed, 2, i])``, which draws, in this order, the ability, the skill offsets and
for every step the answer's uniform number, the epsilon coin, the random item and the
current-skill item; nothing else feeds it, so the same profile and seed give byte-identical
arrays (with the same numpy; ``info["versions"]``), and student ``i`` is the same student in
every profile with at least ``i + 1`` students and the same number of steps.

Samples, tokens and splits
--------------------------
An answer to item ``i`` that is correct (``c = 1``) or not (``c = 0``) is the token
``1 + 2 * i + c``; ``0`` is padding; the vocabulary has ``1 + 2 * n_items = 129`` tokens. For
every step ``t >= 1`` of every student, ``x`` holds the tokens of the last ``W`` interactions
before ``t`` (oldest first, left-padded with 0), ``y`` the answer at ``t`` (class 1 =
``"correct"``). ``meta``: ``item`` (int32, the item answered at ``t``), ``p_true`` (float32,
the simulator's probability of a correct answer at that moment, before learning; values
that float32 would round to 1.0 are stored as the largest float32 below 1), ``student`` and
``step`` (int32). Rows are ordered by student, then step.

Students, not interactions, are split: student ``i`` goes to validation when
``i % 10 == 8``, to test when ``i % 10 == 9`` and to training otherwise (80/10/10; the rule
does not depend on the seed). The test split is held out: nothing may be trained,
calibrated or chosen on it. :func:`simulate` draws yet other students (``default_rng([seed,
3])``), never seen in any split.

Reference numbers
-----------------
``info["oracle_auc"]`` is the AUC of ``p_true`` against ``y`` per split: no model can be
expected to beat it (answers are coin flips with these probabilities). :func:`baseline_skill_counts`
is the simple model to beat (item intercepts plus per-skill success and failure counts).
:func:`simulate` with :func:`curriculum_policy`, :func:`random_policy` and
:func:`oracle_policy` gives reference learning gains for a recommender. Measured with seed 0
(numpy 2.4): ``quick`` (2,000 students x 80 steps) 62.2 % correct, test AUC oracle 0.878,
baseline 0.832; ``full`` (6,000 x 80) 62.1 %, 0.875, 0.831. Over 500 students x 40 steps the
expected score on the item bank rises by 0.107 ± 0.004 with the curriculum, 0.109 ± 0.002
with random items (no better than random: in 40 steps the fixed order only reaches the easy
skills) and 0.156 ± 0.002 with the oracle; a recommender is worth shipping only if it
clearly beats random here.

Limitations
-----------
* Everything is synthetic: the skills, the item parameters and above all the learning rule
  (constant increments, no forgetting, no slips beyond the 2PL noise, no motivation or
  fatigue) are assumptions. A recommender that wins here has learnt this simulator.
* The logging policy decides which (student, item) pairs are observed: a model trained on
  these logs sees hard items mostly from students who already advanced, or through the
  20 % random items; its predictions for other practice orders are extrapolations.
* Windows of the same student overlap and are strongly correlated; count students, not
  windows, when judging how much data a split holds.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

__all__ = [
    "LABELS",
    "PAD",
    "PROFILES",
    "WINDOW",
    "Dataset",
    "LoggingParams",
    "Outcome",
    "Policy",
    "Profile",
    "SimParams",
    "Simulator",
    "Split",
    "State",
    "baseline_skill_counts",
    "curriculum_policy",
    "decode_tokens",
    "encode_window",
    "encode_windows",
    "load",
    "oracle_auc",
    "oracle_policy",
    "random_policy",
    "simulate",
    "simulator",
    "split_sha256",
]

LABELS: tuple[str, ...] = ("incorrect", "correct")
PAD = 0  # the padding token; an interaction is 1 + 2 * item + correct
WINDOW = 32  # interactions a model sees, oldest first

_FORMAT = 1  # bump when the generator changes in a way the params do not capture
_SPLITS = ("train", "val", "test")
# Second element of every seed sequence: one stream per purpose, so they never overlap.
_ITEM_STREAM, _LOG_STREAM, _EVAL_STREAM, _POLICY_STREAM = 1, 2, 3, 4
_LICENSE = "synthetic; generated by edzoo's seeded simulator; no real student data"
_P_MAX = np.nextafter(np.float32(1.0), np.float32(0.0))


# --------------------------------------------------------------------------- simulator


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


# --------------------------------------------------------------------------- tokens


def encode_windows(items: np.ndarray, correct: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Tokens (int32, (n, window)) of the last ``window`` interactions of each row.

    ``items`` and ``correct`` are (n, L) histories, oldest first; an item of -1 marks "no
    interaction" and becomes the padding token 0 (give ragged histories right-aligned, with
    -1 on the left). Shorter histories are left-padded with 0. Raises ValueError on shapes.
    """
    items = np.asarray(items)
    correct = np.asarray(correct)
    if items.ndim != 2 or items.shape != correct.shape:
        raise ValueError(f"expected items and correct of the same shape (n, L), got {items.shape} and {correct.shape}")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    tokens = np.where(items >= 0, 1 + 2 * items.astype(np.int64) + (correct != 0), PAD).astype(np.int32)
    out = np.zeros((items.shape[0], window), dtype=np.int32)
    take = min(window, tokens.shape[1])
    if take:
        out[:, window - take :] = tokens[:, tokens.shape[1] - take :]
    return out


def encode_window(history_items: np.ndarray, history_correct: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Tokens (int32, (window,)) of one student's last ``window`` interactions, oldest first, left-padded."""
    items = np.asarray(history_items).reshape(1, -1)
    correct = np.asarray(history_correct).reshape(1, -1)
    return encode_windows(items, correct, window)[0]


def decode_tokens(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, correct) of each token, int64 arrays of the same shape; padding gives (-1, 0)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.size and tokens.min() < 0:
        raise ValueError("tokens must be non-negative")
    pad = tokens == PAD
    items = np.where(pad, -1, (tokens - 1) // 2)
    correct = np.where(pad, 0, (tokens - 1) % 2)
    return items, correct


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class LoggingParams:
    """How the training students choose what to practise (see the module docstring)."""

    epsilon: float = 0.2  # share of steps on an item drawn from all items
    k_correct: int = 3  # correct answers on the current skill before moving on


@dataclass(frozen=True)
class Profile:
    """Simulated students, interactions per student and model window."""

    n_students: int
    steps: int
    window: int = WINDOW


#: ``quick`` (~73k training windows, about a second) fits CI; ``full`` has 4x the students and longer logs.
PROFILES: dict[str, Profile] = {
    "quick": Profile(n_students=2000, steps=80),
    "full": Profile(n_students=6000, steps=80),
}


def _student_split(student: np.ndarray) -> np.ndarray:
    """0 train, 1 val, 2 test, by student index."""
    r = student % 10
    return np.where(r == 8, 1, np.where(r == 9, 2, 0))


def _log(sim: Simulator, prof: Profile, lp: LoggingParams, seed: int) -> dict[str, np.ndarray]:
    """Every student's practice log: items, correct and p_true, each (n_students, steps)."""
    n, steps, k_items = prof.n_students, prof.steps, sim.items_per_skill
    ability = np.empty(n)
    offsets = np.empty((n, sim.n_skills))
    u_answer = np.empty((n, steps))
    u_eps = np.empty((n, steps))
    any_item = np.empty((n, steps), dtype=np.int64)
    skill_item = np.empty((n, steps), dtype=np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, _LOG_STREAM, i])
        ability[i] = rng.standard_normal()
        offsets[i] = rng.normal(0.0, sim.params.skill_offset_sd, sim.n_skills)
        u_answer[i] = rng.random(steps)
        u_eps[i] = rng.random(steps)
        any_item[i] = rng.integers(0, sim.n_items, steps)
        skill_item[i] = rng.integers(0, k_items, steps)
    state = State(ability, offsets)
    skill = np.zeros(n, dtype=np.int64)
    streak = np.zeros(n, dtype=np.int64)  # correct answers on the current skill
    items = np.empty((n, steps), dtype=np.int64)
    correct = np.empty((n, steps), dtype=bool)
    p_true = np.empty((n, steps))
    for t in range(steps):
        explore = u_eps[:, t] < lp.epsilon
        item = np.where(explore, any_item[:, t], skill * k_items + skill_item[:, t])
        p = sim.p_correct(state, item)
        ok = u_answer[:, t] < p
        sim.learn(state, item, ok)
        items[:, t], correct[:, t], p_true[:, t] = item, ok, p
        streak += ok & (sim.item_skill[item] == skill)
        advance = (streak >= lp.k_correct) & (skill < sim.n_skills - 1)
        skill[advance] += 1
        streak[advance] = 0
    return {
        "items": items.astype(np.int16 if sim.n_items < 2**15 else np.int32),
        "correct": correct.astype(np.uint8),
        "p_true": np.minimum(p_true.astype(np.float32), _P_MAX),
    }


def _raw_sha256(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in ("items", "correct", "p_true"):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + str(a.dtype.str).encode() + str(a.shape).encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__}


def _generate(profile: str, seed: int, params: SimParams, lp: LoggingParams) -> tuple[dict[str, np.ndarray], dict]:
    prof = PROFILES[profile]
    sim = Simulator(params, seed)
    arrays = _log(sim, prof, lp, seed)
    info: dict[str, Any] = {
        "dataset": "edzoo recommendation",
        "profile": profile,
        "seed": seed,
        "labels": list(LABELS),
        "simulator": {"params": asdict(params), "items": sim.item_table()},
        "logging": {
            "params": asdict(lp),
            "policy": "start at skill 0; with probability epsilon an item drawn from all items, else an item "
            "drawn from the current skill; move to the next skill after k_correct correct answers on the "
            "current skill, stay on the last",
            "seeding": "numpy default_rng([seed, 2, student index]) per student; items: default_rng([seed, 1])",
        },
        "profile_params": asdict(prof),
        "tokens": {
            "rule": "token = 1 + 2 * item + correct; 0 = padding; windows hold the last `window` interactions "
            "before the target step, oldest first, left-padded",
            "vocab_size": sim.vocab_size,
            "window": prof.window,
        },
        "splits": {"rule": "by student index: i % 10 == 8 val, i % 10 == 9 test, else train (seed-independent)"},
        "raw_sha256": _raw_sha256(arrays),
        "format": _FORMAT,
        "versions": _versions(),
        "license": _LICENSE,
    }
    return arrays, info


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    if _raw_sha256(arrays) != info["raw_sha256"]:
        raise ValueError("cached practice logs do not match their recorded digest")
    items = arrays["items"].astype(np.int64)
    correct = arrays["correct"].astype(np.int64)
    p_true = arrays["p_true"].astype(np.float32)
    n, steps = items.shape
    window = int(info["tokens"]["window"])
    tokens = (1 + 2 * items + correct).astype(np.int32)
    padded = np.concatenate([np.zeros((n, window), dtype=np.int32), tokens], axis=1)
    # windows[s, t] = the `window` tokens before step t, i.e. padded[s, t : t + window]
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[:, 1:steps]
    student = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None], (n, steps - 1))
    step = np.broadcast_to(np.arange(1, steps, dtype=np.int32)[None, :], (n, steps - 1))
    which = _student_split(np.arange(n))
    item_skill = np.array([row["skill"] for row in info["simulator"]["items"]], dtype=np.int32)
    splits = {}
    for k, name in enumerate(_SPLITS):
        rows = np.flatnonzero(which == k)
        meta = {
            "item": items[rows, 1:].astype(np.int32).ravel(),
            "skill": item_skill[items[rows, 1:].ravel()],
            "p_true": p_true[rows, 1:].ravel(),
            "student": student[rows].ravel().copy(),
            "step": step[rows].ravel().copy(),
        }
        x = np.ascontiguousarray(windows[rows].reshape(-1, window))
        splits[name] = Split(x, correct[rows, 1:].ravel().copy(), meta)
    info = json.loads(json.dumps(info))
    info["sizes"] = {name: int(splits[name].y.size) for name in _SPLITS}
    info["students"] = {name: int((which == k).sum()) for k, name in enumerate(_SPLITS)}
    info["percent_correct"] = {name: round(100 * float(splits[name].y.mean()), 2) for name in _SPLITS}
    info["oracle_auc"] = {name: round(oracle_auc(splits[name]), 4) for name in _SPLITS}
    info["sha256"] = {name: split_sha256(splits[name]) for name in _SPLITS}
    return Dataset(splits["train"], splits["val"], splits["test"], LABELS, info)


def _cache_key(profile: str, seed: int, params: SimParams, lp: LoggingParams) -> str:
    material = {
        "format": _FORMAT,
        "profile": asdict(PROFILES[profile]),
        "seed": seed,
        "params": asdict(params),
        "logging": asdict(lp),
        "numpy": np.__version__,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def load(profile: str = "quick", seed: int = 0, cache_dir: Path | None = None) -> Dataset:
    """Knowledge-tracing windows of simulated students for ``profile`` (a key of :data:`PROFILES`).

    With ``cache_dir`` the practice logs are stored there as ``.npz`` keyed by profile, seed,
    parameters and numpy version; a cached file that cannot be read or does not hash to its
    recorded digests is regenerated. Raises ValueError for an unknown profile or a bad seed.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    check_seed(seed)
    params, lp = SimParams(), LoggingParams()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"recommendation-{profile}-seed{seed}-{_cache_key(profile, seed, params, lp)}.npz"
    return cached(path, lambda: _generate(profile, seed, params, lp), _finish)


def simulator(data_or_seed: Dataset | int) -> Simulator:
    """The :class:`Simulator` a dataset was generated with (or the default one for a seed).

    Raises ValueError when the dataset's recorded item table differs from the rebuilt one
    (another numpy, or a dataset from another generator).
    """
    if isinstance(data_or_seed, Dataset):
        info = data_or_seed.info
        raw = dict(info["simulator"]["params"])
        raw["skill_difficulty"] = tuple(raw["skill_difficulty"])
        sim = Simulator(SimParams(**raw), int(info["seed"]))
        if sim.item_table() != info["simulator"]["items"]:
            raise ValueError("the rebuilt simulator's item table differs from the one recorded in the dataset")
        return sim
    return Simulator(SimParams(), data_or_seed)


# --------------------------------------------------------------------------- baselines


def oracle_auc(split: Split) -> float:
    """AUC of the simulator's true probabilities (``meta["p_true"]``) against the answers."""
    return float(roc_auc_score(split.y, split.meta["p_true"]))


def _skill_count_features(split: Split, sim: Simulator) -> sp.csr_matrix:
    """One-hot of the target item, then successes / W and failures / W on the target skill,
    each placed in that skill's column (so every skill has its own two slopes)."""
    n, window = split.x.shape
    items_w, correct_w = decode_tokens(split.x)
    item = split.meta["item"].astype(np.int64)
    skill = sim.item_skill[item]
    same = (items_w >= 0) & (sim.item_skill[np.maximum(items_w, 0)] == skill[:, None])
    succ = (same & (correct_w == 1)).sum(axis=1) / window
    fail = (same & (correct_w == 0)).sum(axis=1) / window
    rows = np.repeat(np.arange(n), 3)
    cols = np.stack([item, sim.n_items + skill, sim.n_items + sim.n_skills + skill], axis=1).ravel()
    vals = np.stack([np.ones(n), succ, fail], axis=1).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, sim.n_items + 2 * sim.n_skills))


def baseline_skill_counts(data: Dataset) -> dict[str, Any]:
    """Performance-factor-analysis baseline: logistic regression on the target item's one-hot
    (item easiness) plus, for the target item's skill only, the number of correct and of wrong
    answers to items of that skill within the window (divided by the window length; separate
    slopes per skill). Trained on train (C = 1, lbfgs); returns its AUC on val and test."""
    sim = simulator(data)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(_skill_count_features(data.train, sim), data.train.y)
    out: dict[str, Any] = {
        "model": "logistic regression: item one-hot + per-skill success and failure counts in the window",
        "n_train": int(data.train.y.size),
    }
    for name in ("val", "test"):
        split = getattr(data, name)
        p = model.predict_proba(_skill_count_features(split, sim))[:, 1]
        out[f"auc_{name}"] = float(roc_auc_score(split.y, p))
    return out


# --------------------------------------------------------------------------- recommender harness

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
