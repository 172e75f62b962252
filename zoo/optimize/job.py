""":func:`optimize`: a team's model and data through the zoo's pipeline, into a build folder."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from registry.core.errors import UsageError

from .. import kinds, recipes
from ..buildtypes import BuildResult, Job, Shift
from ..datasets.common import Dataset
from ..pipeline import choose, run
from ..tasks import Task
from ._base import _STUDENT_MAX_FRACTION, PROFILES
from .card import _card_fn, _slug, read_card
from .data import _check_fits, _dataset, _replace, _shift
from .model import _given_student, _input_shape, derive_student, load_model


def optimize(
    model: Any,
    data: Any,
    *,
    task: str,
    out: Path = Path("build"),
    recipes: Sequence[str] | None = None,
    metric: str | None = None,
    card: Any = None,
    shift_data: Any = None,
    student: Any = None,
    profile: str = "quick",
    seed: int = 0,
    name: str | None = None,
    namespace: str | None = None,
    version: str | None = None,
    data_options: Any = None,
    max_drop: Mapping[str, float] | None = None,
    log: Callable[[str], None] = print,
    argv: Sequence[str] | None = None,
) -> BuildResult:
    """Optimize ``model`` (a Keras model, or a ``.keras``/``.h5``/SavedModel path) on ``data``
    (a Dataset, or a path an adapter of :mod:`zoo.data` reads) as a ``task`` kind; write
    ``OUT/<namespace>/<name>/<version>/`` and return what was written (``.variants``: typed
    reports; ``.not_applied``: recipe -> why).

    ``recipes`` asks for recipes by name (fp32 is always built); one that cannot apply is then
    an error (RecipeError, exit 16). Without it every registered recipe is tried and those that
    cannot apply are reported, with the reason, in the table and the manifest.

    Raises ModelError (exit 15), DataError (exit 14), RecipeError (exit 16), UsageError (exit 2),
    QualityGateError (exit 12); nothing is written then.
    """
    kind = kinds.get(task)
    metric_name = _metric_name(kind, metric)
    scorer = kinds.metric(metric_name).score
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    chosen = choose(recipes)
    card_fields = read_card(card)

    keras_model = load_model(model)
    shape, where, dataset, shift = _checked_data(keras_model, data, kind, shift_data, data_options)
    student_factory = _student_factory(keras_model, student)
    card_fn = _card_fn(card_fields, where, shift.source if shift else None)
    task_obj = _task(
        kind, keras_model, shape, dataset, card_fields, student_factory, card_fn, metric_name, name, namespace
    )
    if version:
        task_obj = _replace(task_obj, version=version)
    job = Job(
        task=task_obj,
        profile=PROFILES[profile],
        version=task_obj.version,
        recipes=chosen,
        asked=frozenset(recipes or ()),
        allowed=_allowed_drops(chosen, max_drop),
        out=Path(out),
        score=scorer,
        seed=seed,
        argv=tuple(argv or sys.argv),
        pretrained=True,
        data=dataset,
        shift=shift,
        log=log,
    )
    return run(job)


def _metric_name(kind: kinds.Kind, metric: str | None) -> str:
    """The metric a ``kind`` is measured with: ``metric`` if it fits. Raises UsageError."""
    if metric is not None and kind.metrics and metric not in kind.metrics:
        raise UsageError(f"--metric {metric} does not fit {kind.name}; choose one of {', '.join(kind.metrics)}")
    if metric is not None and not kind.metrics and metric != kind.metric:
        raise UsageError(f"{kind.name} is measured with {kind.metric}; --metric is for the generic kind")
    return metric or kind.metric


def _checked_data(
    keras_model: Any, data: Any, kind: kinds.Kind, shift_data: Any, data_options: Any
) -> tuple[tuple[int | None, ...], str, Dataset, Shift | None]:
    """The model's input shape, where the data comes from, the data and the second evaluation
    set (None if not given), each checked against the model. Raises ModelError or DataError."""
    shape = _input_shape(keras_model)
    where = str(data) if not isinstance(data, Dataset) else str(data.info.get("source", "the given dataset"))
    dataset = _dataset(data, shape, data_options)
    _check_fits(keras_model, dataset, kind, where)
    if shift_data is None:
        return shape, where, dataset, None
    shift_name = str(shift_data) if isinstance(shift_data, (str, Path)) else "the shifted set"
    shift = _shift(shift_data, dataset, data_options, shift_name)
    _check_fits(
        keras_model,
        Dataset(dataset.train, dataset.val, shift.split, dataset.labels, dataset.info),
        kind,
        shift_name,
    )
    return shape, where, dataset, shift


def _student_factory(keras_model: Any, student: Any) -> Callable[[Any, Any], Any]:
    """The student the distillation recipe trains: the one given, or a narrower copy of
    ``keras_model``; when none can be derived, a factory raising why the recipe does not apply.
    Raises ModelError for a given student that cannot be loaded."""
    if student is not None:
        return _given_student(student)
    try:
        return derive_student(keras_model, _STUDENT_MAX_FRACTION)
    except recipes.NotApplicable as e:
        reason = e.reason

        def not_applicable(keras: Any, data: Any) -> Any:
            raise recipes.NotApplicable(reason)

        return not_applicable


def _task(
    kind: kinds.Kind,
    keras_model: Any,
    shape: tuple[int | None, ...],
    dataset: Dataset,
    card_fields: dict[str, Any],
    student: Callable[[Any, Any], Any],
    card: Callable[[Dataset], dict[str, Any]],
    metric_name: str,
    name: str | None,
    namespace: str | None,
) -> Task:
    """The pipeline's task for a given, already trained model: listing fields from the card,
    defaults where it says nothing."""
    info = dataset.info
    return Task(
        name=_slug(name or card_fields.get("name") or keras_model.name),
        version=str(card_fields.get("version") or "0.1.0"),
        task_type=kind.manifest_task,
        summary=str(card_fields.get("summary") or f"{keras_model.name}: {kind.summary}, optimized with edzoo")[:200],
        subjects=tuple(card_fields.get("subjects") or ("general",)),
        grades=tuple(str(g) for g in card_fields.get("grades") or ("K", *map(str, range(1, 13)))),
        languages=tuple(card_fields.get("languages") or ("zxx",)),
        license=str(card_fields.get("license") or "NOASSERTION"),
        load_data=lambda profile, seed, cache: dataset,
        teacher=lambda keras, d: keras_model,
        student=student,
        card=card,
        preprocessing=kind.preprocessing(info, tuple(int(d or 0) for d in shape)) if kind.preprocessing else {},
        profiles=PROFILES,
        namespace=str(namespace or card_fields.get("namespace") or "local"),
        metric=metric_name,
        output=kind.output,
        loss=kind.loss,
        targets=kind.targets,
        prune_layers=kind.prune_layers,
        cluster_layers=kind.cluster_layers,
        student_max_fraction=_STUDENT_MAX_FRACTION,
        education=dict(card_fields.get("education") or {}),
        kind=kind.name,
        files=_vocab_file if "vocab" in info else None,
    )


def _allowed_drops(chosen: Sequence[str], max_drop: Mapping[str, float] | None) -> dict[str, float]:
    """The largest quality drop each chosen recipe may cost: ``max_drop``'s, else the
    recipe's own. Raises UsageError for a recipe ``max_drop`` names that does not exist."""
    strange = sorted(set(max_drop or {}) - set(recipes.ids()))
    if strange:
        raise UsageError(f"max_drop names unknown recipes: {', '.join(strange)}; see `edzoo zoo list`")
    return {r: float((max_drop or {}).get(r, recipes.get(r).max_drop_points)) for r in chosen}


def _vocab_file(data: Dataset, root: Path) -> list[tuple[str, str]]:
    (root / "vocab.json").write_text(json.dumps(data.info["vocab"], ensure_ascii=False) + "\n")
    return [("vocab.json", "the token vocabulary: a token's id is its index (0 padding, 1 unknown)")]
