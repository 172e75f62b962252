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

The package, one job per module: :mod:`._base`, :mod:`.students` (the simulator),
:mod:`.tokens`, :mod:`.dataset` (:func:`load`), :mod:`.baselines` and :mod:`.harness`.
"""

from zoo.datasets.common import Dataset, Split, split_sha256

from ._base import LABELS, PAD, WINDOW
from .baselines import baseline_skill_counts
from .dataset import PROFILES, LoggingParams, Profile, load, oracle_auc, simulator
from .harness import Outcome, Policy, curriculum_policy, oracle_policy, random_policy, simulate
from .students import SimParams, Simulator, State
from .tokens import decode_tokens, encode_window, encode_windows

__all__ = [
    "Dataset",
    "LABELS",
    "LoggingParams",
    "Outcome",
    "PAD",
    "PROFILES",
    "Policy",
    "Profile",
    "SimParams",
    "Simulator",
    "Split",
    "State",
    "WINDOW",
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
