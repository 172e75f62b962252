"""The recommendation model's quick build (the simulator): the checks every task passes, its
learning gains, and what the build refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from zoo_task_checks import *  # noqa: F403  (the checks every task's build passes)
from zoo_task_checks import read

from registry.core.errors import UsageError
from zoo import build as zoo_build
from zoo import tasks

TASK = "recommendation"

pytestmark = [pytest.mark.tf, pytest.mark.slow(minutes=5)]


def test_recommendation_reports_learning_gains(built):  # type: ignore[no-untyped-def]
    metrics = read(built, "metrics.json")
    for rid, v in metrics["variants"].items():
        gains = v["more"]["learning_gain"]
        assert {"recommender", "curriculum", "random", "oracle"} <= set(gains), rid
        assert gains["oracle"]["mean_gain"] >= gains["random"]["mean_gain"]
    breakdown = metrics["variants"]["fp32"]["breakdown"]
    assert 0.5 < breakdown["oracle_auc"] <= 1 and len(breakdown["auc_per_skill"]) == 8


def test_recommend_picks_the_item_nearest_the_target_in_an_open_skill() -> None:
    from zoo.tasks.recommendation import recommend

    item_skill = np.array([0, 0, 1, 1])
    probs = np.array(
        [
            [0.95, 0.9, 0.5, 0.68],  # skill 0 mastered: 0.68 in skill 1
            [0.6, 0.71, 0.2, 0.3],  # both open: 0.71
            [0.99, 0.95, 0.9, 0.92],  # all mastered: nearest the target overall
        ]
    )
    assert recommend(probs, item_skill, target=0.7, mastery=0.85).tolist() == [3, 1, 2]


def test_a_recipe_that_does_not_apply_is_refused_with_the_reason(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from zoo.errors import RecipeError

    task = replace(tasks.get("recommendation"), not_applicable={"qat_int8": "no reason but a test"})
    monkeypatch.setattr(tasks, "get", lambda name: task)
    with pytest.raises(RecipeError, match="qat_int8 does not apply to recommendation: no reason but a test") as e:
        zoo_build.build("recommendation", only=["qat_int8"], out=tmp_path, log=lambda _: None)
    assert (e.value.recipe, e.value.reason, e.value.exit_code) == ("qat_int8", "no reason but a test", 16)
    with pytest.raises(UsageError, match="unknown profile 'huge'") as usage:
        zoo_build.build("recommendation", profile="huge", out=tmp_path, log=lambda _: None)
    assert usage.value.exit_code == 2 and not any(tmp_path.iterdir())


def test_a_missed_bar_fails_the_build_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zoo.tasks import recommendation

    monkeypatch.setattr(recommendation, "AUC_FRACTION", 1.01)  # above the oracle: no model can pass
    with pytest.raises(zoo_build.QualityGateError, match=r"bar: AUC >= 1.01 x oracle AUC: fp32 0\.\d+"):
        zoo_build.build("recommendation", out=tmp_path, only=["int8"], cache_dir=tmp_path / "c", log=lambda _: None)
    assert not list(tmp_path.glob("edzoo/*"))
