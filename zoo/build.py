"""Build a reference model of the zoo (``edzoo zoo build NAME``): its registered task
(:mod:`zoo.tasks`) through the shared pipeline (:mod:`zoo.pipeline`), into
``build/<namespace>/<model>/<version>/`` that ``edzoo publish`` accepts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from registry.core.errors import UsageError

from . import recipes, tasks
from .artifacts import format_table
from .buildtypes import KERAS_TOLERANCE, REFERENCE, BuildResult, Job, QualityGateError
from .errors import RecipeError
from .pipeline import choose, run

__all__ = ["KERAS_TOLERANCE", "ORDER", "REFERENCE", "BuildResult", "QualityGateError", "build", "format_table"]

# The built-in recipes in manifest order (a client that does not choose gets the first);
# recipes.ids() also lists those other packages register (read only when asked).
ORDER = tuple(r.id for r in sorted(recipes.RECIPES.values(), key=lambda r: (r.order, r.id)))


def build(
    task_name: str,
    *,
    profile: str = "quick",
    out: Path = Path("build"),
    seed: int = 0,
    only: Sequence[str] | None = None,
    max_drop: dict[str, float] | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
    argv: Sequence[str] | None = None,
) -> BuildResult:
    """Build ``task_name`` and write its build directory under ``out``.

    ``only`` restricts the recipes (fp32 is always built: it is the reference). ``max_drop``
    overrides recipes' allowed drops (points). Raises QualityGateError naming each variant over
    its allowance (the build directory is not written then).
    """
    task = tasks.get(task_name)
    if profile not in task.profiles:
        raise UsageError(f"unknown profile {profile!r}; choose one of {', '.join(task.profiles)}")
    prof = task.profiles[profile]
    skipped = sorted(set(only or ()) & set(task.not_applicable))
    if skipped:
        raise RecipeError(
            "; ".join(f"{r} does not apply to {task.name}: {task.not_applicable[r]}" for r in skipped),
            recipe=skipped[0],
            reason=task.not_applicable[skipped[0]],
        )
    chosen = choose(only, task.not_applicable)
    allowed = {r: recipes.get(r).max_drop_points for r in chosen} | task.max_drop | (max_drop or {})
    allowed = {r: allowed[r] + (prof.gate_slack if r != REFERENCE else 0.0) for r in chosen}
    from . import kinds

    score = task.score or kinds.get(task.kind).scorer(task.metric)
    job = Job(
        task=task,
        profile=prof,
        version=task.version + prof.version_suffix,
        recipes=chosen,
        asked=frozenset(only or ()),
        allowed=allowed,
        out=Path(out),
        score=score,
        seed=seed,
        cache_dir=cache_dir,
        argv=tuple(argv or sys.argv),
        log=log,
    )
    return run(job)
