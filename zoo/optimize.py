"""Optimize a team's own trained model on its own data (``edzoo optimize``), and measure a
``.tflite`` someone else made (``edzoo measure``).

``optimize(model, data, task=KIND)`` runs the zoo's pipeline (:mod:`zoo.pipeline`) on the
given Keras model: every registered recipe that applies (post-training quantization needs only
calibration samples; QAT, pruning, clustering and PCQAT fine-tune with the kind's loss;
distillation trains a student the user gives, or a narrower copy edzoo derives from a plain
CNN or dense model), each variant measured through LiteRT on the test split and, when given,
on a second evaluation set from another source. The result is a build directory that
``edzoo publish`` accepts, with the same table, gates, card, golden I/O and provenance as a
reference build.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from registry.core.errors import UsageError
from zoo.errors import DataError, ModelError

from . import _tf, kinds, measure, recipes
from .buildtypes import BuildResult, Job, Shift
from .datasets.common import Dataset, Split, split_sha256
from .pipeline import choose, run
from .tasks import Profile, Task

__all__ = ["PROFILES", "MeasureResult", "derive_student", "load_model", "measure_tflite", "optimize", "read_card"]

# A team's model arrives trained: no teacher epochs. Fine-tunings and students as for the zoo.
PROFILES = {
    "quick": Profile(
        "quick",
        epochs=0,
        finetune_epochs=2,
        student_epochs=30,
        min_finetune_steps=500,
        min_student_steps=1500,
        select_on_validation=True,
        paired_gate=True,
        bench_runs=100,
        bench_warmup=20,
        golden_samples=3,
        prune_sparsity=0.6,
        pcqat_sparsity=0.6,
    ),
    "full": Profile(
        "full",
        epochs=0,
        finetune_epochs=6,
        student_epochs=60,
        min_finetune_steps=1000,
        min_student_steps=5000,
        select_on_validation=True,
        paired_gate=True,
        bench_runs=300,
        bench_warmup=50,
    ),
}
MERGE_LAYERS = ("Add", "Concatenate", "Multiply", "Subtract", "Average", "Maximum", "Minimum", "Dot")
NARROWED = ("Conv1D", "Conv2D", "Dense", "Embedding")
STUDENT_WIDTHS = (0.5, 0.35, 0.25, 0.18, 0.125)
_STUDENT_MAX_FRACTION = 1 / 3  # of the teacher's parameters, for a student edzoo derives
CARD_KEYS = {
    "namespace",
    "name",
    "version",
    "summary",
    "subjects",
    "grades",
    "languages",
    "license",
    "intended_use",
    "limitations",
    "training_data",
    "evaluation_data",
    "ethical_considerations",
    "education",
}


# -- model --------------------------------------------------------------------------------------


def load_model(source: Any) -> Any:
    """A Keras model: as given, or read from ``.keras``, ``.h5`` or a SavedModel folder (Keras
    2 format, as tf_keras saves it). Raises ModelError saying what the file is not."""
    t = _tf.load()
    if isinstance(source, t.keras.Model):
        return source
    path = Path(source)
    if not path.exists():
        raise ModelError(f"{path}: no such file or folder (give a .keras, .h5 or SavedModel folder)")
    if path.suffix == ".tflite":
        raise ModelError(f"{path}: a .tflite is already converted; measure it with `edzoo measure {path} --data ...`")
    if path.is_dir() and not (path / "saved_model.pb").exists():
        raise ModelError(f"{path}: a folder without saved_model.pb is not a SavedModel")
    if path.is_file() and path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path}: not a Keras model file (.keras, .h5) or a SavedModel folder")
    try:
        with _tf.quiet_native_stderr():
            model = t.keras.models.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises many kinds for a file it cannot read
        raise ModelError(
            f"{path}: Keras could not load it ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "save it with model.save(...) from tf_keras (Keras 2), with custom layers registered"
        ) from e
    if not isinstance(model, t.keras.Model):
        raise ModelError(
            f"{path}: a SavedModel that is not a Keras model cannot be fine-tuned; convert it to .tflite "
            "and use `edzoo measure`"
        )
    return model


def _input_shape(model: Any) -> tuple[int | None, ...]:
    inputs = model.inputs
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(
            f"{model.name} has {len(inputs)} inputs and {len(model.outputs)} outputs; edzoo optimizes models "
            "with one input and one output"
        )
    return tuple(inputs[0].shape[1:])


def derive_student(model: Any, max_fraction: float) -> Callable[[Any, Any], Any]:
    """A factory of a narrower copy of a plain CNN or dense model: every Conv1D, Conv2D, Dense
    and Embedding keeps its kind with a fraction of its filters or units (the output layer
    keeps its classes), freshly initialized, at the widest fraction that fits ``max_fraction``
    of the parameters. Raises recipes.NotApplicable for models with merge layers, attention,
    recurrence or nested models, where narrowing by layer would not keep the shapes."""
    keras = _tf.load().keras
    kinds_in = {type(layer).__name__ for layer in model.layers}
    blocked = sorted(
        kinds_in & {*MERGE_LAYERS, "MultiHeadAttention", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed"}
    )
    nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    if blocked or nested:
        what = ", ".join(blocked + [f"nested model {n}" for n in nested])
        raise recipes.NotApplicable(
            f"edzoo narrows plain CNN and dense models only (this one has {what}): give a student with --student"
        )
    weighted = [layer for layer in model.layers if layer.weights]
    if not weighted:
        raise recipes.NotApplicable("the model has no layer with weights to narrow")
    output_layer = weighted[-1].name
    teacher_params = _tf.param_count(model)

    def narrowed(width: float) -> Any:
        def clone(layer: Any) -> Any:
            config = layer.get_config()
            kind = type(layer).__name__
            if kind in NARROWED and layer.name != output_layer:
                key = {"Dense": "units", "Embedding": "output_dim"}.get(kind, "filters")
                config[key] = max(2, int(round(config[key] * width)))
            return layer.__class__.from_config(config)

        student = keras.models.clone_model(model, clone_function=clone)
        return student

    fits = None
    for width in STUDENT_WIDTHS:
        candidate = narrowed(width)
        if _tf.param_count(candidate) <= teacher_params * max_fraction:
            fits = width
            break
    if fits is None:
        raise recipes.NotApplicable(
            f"no narrower copy fits {max_fraction:.2g} of the teacher's {teacher_params:,} parameters "
            "(the layers edzoo narrows hold too few of them): give a student with --student"
        )
    width = fits

    def factory(keras_module: Any, data: Any) -> Any:
        return narrowed(width)

    return factory


def _given_student(source: Any) -> Callable[[Any, Any], Any]:
    t = _tf.load()
    if isinstance(source, t.keras.Model):
        weights = source.get_weights()

        def from_object(keras: Any, data: Any) -> Any:
            model = keras.models.clone_model(source)
            model.set_weights(weights)
            return model

        return from_object
    load_model(source)  # fails now, not in the middle of a build

    def from_file(keras: Any, data: Any) -> Any:
        return load_model(source)

    return from_file


# -- data ---------------------------------------------------------------------------------------


def _dataset(data: Any, model_shape: tuple[int | None, ...], options: Any) -> Dataset:
    if isinstance(data, Dataset):
        return data
    from . import data as adapters

    opts = options or adapters.DataOptions()
    if opts.image_size is None and len(model_shape) == 3 and all(model_shape):
        h, w, c = model_shape
        opts = _replace(opts, image_size=(int(h), int(w)), channels=opts.channels or int(c))  # type: ignore[arg-type]
    if opts.max_len is None and len(model_shape) == 1 and model_shape[0]:
        opts = _replace(opts, max_len=int(model_shape[0]))
    return adapters.load_data(data, opts)


def _replace(options: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(options, **changes)


def _check_fits(model: Any, data: Dataset, kind: kinds.Kind, where: str) -> None:
    """Shapes and labels against the model, before anything is trained or written."""
    want = _input_shape(model)
    for name in ("train", "val", "test"):
        split: Split = getattr(data, name)
        if not len(split.y):
            continue
        got = tuple(split.x.shape[1:])
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got, strict=False)):
            raise DataError(
                f"{where}: the {name} split's samples have shape {list(got)}, the model's input is "
                f"{[d if d is not None else 'any' for d in want]}: resize or re-encode the data to match",
                source=where,
            )
    if not len(data.test.y):
        raise DataError(f"{where}: no test split to measure the variants on (declare one, or let edzoo split)")
    out_shape = tuple(model.outputs[0].shape[1:])
    classes = int(out_shape[-1]) if out_shape else 1
    ys = np.concatenate([np.asarray(s.y).ravel() for s in (data.train, data.val, data.test)])
    top = int(ys.max()) if len(ys) else 0
    if kind.output == "softmax" and classes > 1 and top >= classes:
        raise DataError(
            f"{where}: labels go up to class {top} ({data.labels[top] if top < len(data.labels) else top!r}), the "
            f"model has {classes} outputs: the labels are outside its classes",
            source=where,
        )
    if len(data.labels) > classes > 1 and kind.output == "softmax":
        raise DataError(
            f"{where}: the data names {len(data.labels)} classes, the model has {classes} outputs", source=where
        )


def _shift(source: Any, data: Dataset, options: Any, name: str) -> Shift:
    if isinstance(source, Split):
        return Shift(name, source, split_sha256(source))
    if isinstance(source, Dataset):
        return Shift(name, source.test, split_sha256(source.test))
    from . import data as adapters

    split, info = adapters.load_eval(source, options or adapters.DataOptions(), like=data)
    return Shift(str(source), split, info.get("sha256") or split_sha256(split))


# -- card ---------------------------------------------------------------------------------------


def read_card(source: Any) -> dict[str, Any]:
    """The model's card and listing fields from a ``.yaml``/``.yml``/``.json`` file or a dict.
    Raises UsageError naming unknown keys or an unreadable file."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        card = dict(source)
        where = "card"
    else:
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"{path}: cannot read the card ({e.strerror})") from e
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                card = yaml.safe_load(text) or {}
            else:
                card = json.loads(text)
        except Exception as e:  # noqa: BLE001 - yaml and json errors have no common base
            raise UsageError(f"{path}: not valid {'YAML' if path.suffix != '.json' else 'JSON'}: {e}") from e
    if not isinstance(card, dict):
        raise UsageError(f"{where}: a card is a mapping of fields (summary, intended_use, limitations, ...)")
    unknown = sorted(set(card) - CARD_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown card fields {', '.join(unknown)}; known: {', '.join(sorted(CARD_KEYS))}")
    return card


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (s or "model")[:40].strip("-")


def _card_fn(card: dict[str, Any], data_where: str, shift_where: str | None) -> Callable[[Dataset], dict[str, Any]]:
    def make(data: Dataset) -> dict[str, Any]:
        info = data.info
        sizes = {k: int(len(getattr(data, k).y)) for k in ("train", "val", "test")}
        made = (info.get("splits") or {}).get("made")
        split_note = (
            f"split here with seed {made.get('seed')}" + (f" by {made['group']}" if made.get("group") else "")
            if made
            else "splits as declared by the data"
        )
        limitations = list(card.get("limitations") or [])
        if not limitations:
            limitations = [
                "Measured on a test split of the same source as the training data"
                + (
                    f" and on {shift_where}"
                    if shift_where
                    else "; no data from another source was given (--shift-data)"
                )
                + ": quality on other learners' input is "
                + ("shown beside it." if shift_where else "unknown."),
            ]
        training = card.get("training_data") or {
            "description": f"{sizes['train']:,} training and {sizes['val']:,} validation samples from {data_where} "
            f"({info.get('format', 'arrays')}; {split_note}).",
            "provenance": f"{data_where}; source digest {info.get('source_sha256', 'not recorded')}",
        }
        evaluation = {
            "description": f"{sizes['test']:,} held-out samples from {data_where}, never used for training, "
            "calibration or choosing.",
            "provenance": f"{data_where}; digest: sha256 of the split's arrays (zoo.datasets.common.split_sha256)",
            **(card.get("evaluation_data") or {}),
            "sha256": info["sha256"]["test"],
            "size": sizes["test"],
        }
        out: dict[str, Any] = {
            "intended_use": card.get("intended_use")
            or "Not stated by its publisher (optimized without a card: pass --card card.yaml).",
            "limitations": limitations,
            "training_data": training,
            "evaluation_data": evaluation,
        }
        if card.get("ethical_considerations"):
            out["ethical_considerations"] = card["ethical_considerations"]
        return out

    return make


# -- optimize -----------------------------------------------------------------------------------


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


# -- measure a .tflite --------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureResult:
    """A ``.tflite`` measured through LiteRT on a test split (and a shifted set)."""

    path: Path
    metric: str
    value: float
    ci95: tuple[float, float]
    n: int
    per_class: dict[str, float]
    shift_value: float | None
    shift_n: int | None
    ops: list[str]
    delegates: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    bench: dict[str, Any]
    dataset_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.path),
            "metric": {"name": self.metric, "value": round(self.value, 6), "ci95": list(self.ci95), "n": self.n},
            "per_class": self.per_class,
            "shift": None if self.shift_value is None else {"value": round(self.shift_value, 6), "n": self.shift_n},
            "dataset_sha256": self.dataset_sha256,
            "ops": self.ops,
            "delegates": self.delegates,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "benchmarks": self.bench,
        }


def measure_tflite(
    path: Path,
    data: Any,
    *,
    task: str = "generic",
    metric: str | None = None,
    shift_data: Any = None,
    data_options: Any = None,
    runs: int = 100,
) -> MeasureResult:
    """Score a ``.tflite`` on the test split of ``data`` through LiteRT, with the kind's metric,
    and time it. Needs no TensorFlow. Raises ModelError, DataError, UsageError."""
    path = Path(path)
    kind = kinds.get(task)
    scorer = kinds.metric(metric or kind.metric).score
    try:
        runner = measure.Runner(path)
    except (ValueError, RuntimeError, OSError) as e:
        raise ModelError(f"{path}: LiteRT cannot load it as a .tflite ({str(e).splitlines()[0][:160]})") from e
    detail = runner.interpreter.get_input_details()[0]
    want = tuple(int(d) for d in detail["shape_signature"][1:])
    if isinstance(data, Dataset):
        dataset = data
    else:
        from . import data as adapters

        opts = data_options or adapters.DataOptions()
        if opts.image_size is None and len(want) == 3 and min(want) > 0:
            opts = _replace(opts, image_size=(want[0], want[1]), channels=opts.channels or want[2])
        if opts.max_len is None and len(want) == 1 and want[0] > 0:
            opts = _replace(opts, max_len=want[0])
        dataset = adapters.load_data(data, opts)
    test = dataset.test
    if not len(test.y):
        raise DataError(f"{data}: no test split to measure on")
    got = tuple(test.x.shape[1:])
    if len(got) != len(want) or any(w > 0 and w != g for w, g in zip(want, got, strict=False)):
        raise DataError(f"{data}: samples have shape {list(got)}, {path.name} takes {list(want)}: resize or re-encode")
    with _tf.quiet_native_stderr():
        ev = measure.evaluate(path, test.x, test.y, dataset.labels, score=lambda o: scorer(o, test, dataset.labels))
        shifted = None
        if shift_data is not None:
            from . import data as adapters

            split, _ = adapters.load_eval(shift_data, data_options or adapters.DataOptions(), like=dataset)
            shifted = measure.evaluate(
                path, split.x, split.y, dataset.labels, score=lambda o: scorer(o, split, dataset.labels)
            )
    bench = measure.benchmark(path, test.x[0], measure.BenchConfig(runs=runs, warmup=min(20, runs)))
    return MeasureResult(
        path=path,
        metric=metric or kind.metric,
        value=ev.value,
        ci95=ev.score.ci95,
        n=ev.score.n,
        per_class=ev.score.per_class,
        shift_value=shifted.value if shifted else None,
        shift_n=shifted.score.n if shifted else None,
        ops=ev.ops,
        delegates=ev.delegates,
        inputs=ev.inputs,
        outputs=ev.outputs_spec,
        bench=bench,
        dataset_sha256=dataset.info["sha256"]["test"],
    )
