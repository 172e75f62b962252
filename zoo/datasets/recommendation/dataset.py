"""The dataset: simulated students per split, their windows, the cache (:func:`load`), the simulator of a
build (:func:`simulator`) and the oracle AUC of the true probabilities."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

from ._base import _FORMAT, _LICENSE, _LOG_STREAM, _P_MAX, _SPLITS, LABELS, WINDOW
from .students import SimParams, Simulator, State


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


def oracle_auc(split: Split) -> float:
    """AUC of the simulator's true probabilities (``meta["p_true"]``) against the answers."""
    return float(roc_auc_score(split.y, split.meta["p_true"]))
