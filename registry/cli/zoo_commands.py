"""`edzoo zoo list|build` (the reference models), `edzoo optimize` (a team's own model on its own
data) and `edzoo measure` (a `.tflite` someone else made). The build side needs the [zoo] extra
(TensorFlow); `measure` needs only LiteRT. Choices and help come from the zoo's registries, so
a task kind or recipe another package registers shows up here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from registry.cli.options import json_option
from registry.core.errors import UsageError


class _RegistryChoice(click.Choice):
    """A choice read from a zoo registry when first needed (not when `edzoo` starts: the client
    install has no zoo dependencies)."""

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self._names = names
        super().__init__([], case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> list[str]:  # type: ignore[override]
        return self._names()

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


def _task_names() -> list[str]:
    from zoo import tasks

    return tasks.names()


def _kind_names() -> list[str]:
    from zoo import kinds

    return kinds.names()


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.group()
def zoo() -> None:
    """Build the reference models; list task kinds, recipes and data layouts (needs the [zoo] extra)."""


@zoo.command("list")
def zoo_list() -> None:
    """List the zoo's reference models, the task kinds `edzoo optimize` serves, the data layouts it
    reads and every registered recipe with its allowance."""
    from zoo import data, kinds, recipes, tasks

    click.echo("reference models (edzoo zoo build NAME):")
    for name in tasks.names():
        task = tasks.get(name)
        click.echo(f"  {task.namespace}/{task.name} {task.version} [{task.kind}]: {task.summary}")
        click.echo(f"    profiles: {', '.join(task.profiles)}; metric: {task.metric}")
        if task.education:
            click.echo(f"    ages {task.education['age_band']}; privacy: {task.education['privacy_class']}")
        for rid, why in task.not_applicable.items():
            click.echo(f"    not built: {rid}: {why}")
    click.echo("task kinds (edzoo optimize --task KIND):")
    for kind in kinds.kinds():
        extra = f"; --metric {' | '.join(kind.metrics)}" if kind.metrics else ""
        click.echo(f"  {kind.name:22s} {kind.summary} (metric {kind.metric}{extra}; data: {', '.join(kind.layouts)})")
    click.echo("data layouts (--data PATH, --format NAME):")
    for adapter in data.adapters():
        click.echo(f"  {adapter.name:16s} {adapter.summary}")
    click.echo("recipes (allowed drop of the metric vs fp32, points; * trains, so needs a training split):")
    for rid in recipes.ids():
        r = recipes.get(rid)
        gates = f"; gates: {', '.join(g.__name__ for g in r.gates)}" if r.gates else ""
        click.echo(f"  {rid:15s}{'*' if r.needs_training else ' '} {r.title} (<= {r.max_drop_points}{gates})")


@zoo.command("build")
@click.argument("model", metavar="MODEL", type=_RegistryChoice(_task_names))
@click.option(
    "--profile",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="quick: small enough for CI; full: what gets published.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Writes OUT/<namespace>/<model>/<version>/.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--only", default=None, help="Comma-separated recipe ids (fp32 is always built); see `edzoo zoo list`.")
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Cache for generated datasets [default: OUT/.cache].",
)
def zoo_build(model: str, profile: str, out: Path, seed: int, only: str | None, cache_dir: Path | None) -> None:
    """Train MODEL, build every optimized variant, measure each through LiteRT, write a build
    directory that `edzoo publish` accepts, and print the table of variants.

    \b
    handwriting     digits, capital letters and + - = (image classification)
    speech          12 spoken keywords + unknown + silence (needs espeak-ng)
    grammar         grammar error detection, per token (needs wordnet-base)
    recommendation  knowledge tracing and the next exercise (simulated students)

    Models other packages register (entry point `edzoo.tasks`) are listed by `edzoo zoo list`.
    Fails (exit 12), writing nothing, when a variant loses more than its recipe allows or the
    model misses its quality bar against the baseline measured in the same build.
    """
    from zoo import build as zoo_build

    result = zoo_build.build(
        model,
        profile=profile,
        out=out,
        seed=seed,
        only=_csv(only),
        cache_dir=cache_dir or out / ".cache",
        log=lambda line: click.echo(line, err=True),
        argv=["edzoo", *sys.argv[1:]],
    )
    click.echo(zoo_build.format_table(result.rows, result.not_applied))
    click.echo(f"{result.out_dir} ({result.seconds:.0f} s)")


def _max_drops(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for value in values:
        rid, sep, points = value.partition("=")
        try:
            out[rid.strip()] = float(points)
        except ValueError:
            sep = ""
        if not sep or not rid.strip() or out[rid.strip()] < 0:
            raise UsageError(f"--max-drop {value!r}: write RECIPE=POINTS, e.g. pcqat_int8=2.5")
    return out


def _data_options(f: Any) -> Any:
    """How --data (and --shift-data) is read."""
    f = click.option(
        "--frontend",
        type=click.Choice(["logmel"]),
        default=None,
        help="Audio: turn waveforms into the zoo's log-mel levels (98x40 per 1 s clip) [default: raw waveform].",
    )(f)
    f = click.option(
        "--group",
        default=None,
        help="Split by group: a CSV column, or a regex with one capture group over a file's path (a writer, a "
        "speaker, a student) [default: the speaker for Speech Commands, the student for DKT].",
    )(f)
    f = click.option("--label-column", default="label", show_default=True, help="CSV: the label column.")(f)
    f = click.option(
        "--format",
        "data_format",
        default=None,
        help="The data layout (see `edzoo zoo list`) [default: detected from the path].",
    )(f)
    return f


def _options(data_format: str | None, group: str | None, label_column: str, frontend: str | None, seed: int) -> Any:
    from zoo.data import DataOptions

    return DataOptions(format=data_format, seed=seed, group=group, label_column=label_column, frontend=frontend)


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True, help="Training and test data.")
@click.option(
    "--task",
    "kind",
    type=_RegistryChoice(_kind_names),
    required=True,
    help="What the model does (see `edzoo zoo list`).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Writes OUT/<namespace>/<name>/<version>/.",
)
@click.option(
    "--recipes",
    "recipe_ids",
    default=None,
    help="Comma-separated recipe ids, each then required to apply (fp32 is always built) [default: every recipe; "
    "those that cannot apply are listed with the reason].",
)
@click.option("--metric", default=None, help="The generic kind's metric: accuracy, auc or macro_f1.")
@click.option(
    "--max-drop",
    "max_drops",
    multiple=True,
    metavar="RECIPE=POINTS",
    help="Allow RECIPE to lose up to POINTS of the metric against fp32 (repeatable) [default: the recipe's own "
    "allowance, see `edzoo zoo list`].",
)
@click.option(
    "--card",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="card.yaml (or .json): name, version, summary, subjects, grades, languages, license, intended_use, "
    "limitations, ethical_considerations, education.",
)
@click.option(
    "--shift-data",
    type=click.Path(path_type=Path),
    default=None,
    help="A second evaluation set from another source (other writers, speakers, students): every variant is "
    "measured and gated on it too.",
)
@click.option(
    "--student",
    type=click.Path(path_type=Path),
    default=None,
    help="The student for distillation [default: a narrower copy of a plain CNN or dense model].",
)
@click.option(
    "--profile",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="quick: 2 fine-tuning epochs, 30 student epochs; full: 6 and 60, longer timings.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the splits, the fine-tunings, the student.")
@click.option("--name", default=None, help="Model name in the registry [default: the card's, else the Keras model's].")
@click.option("--namespace", default=None, help="Registry namespace [default: the card's, else local].")
@click.option("--version", "model_version", default=None, help="Version [default: the card's, else 0.1.0].")
@_data_options
@json_option("Print the variants as JSON.")
def optimize(
    model: Path,
    data_path: Path,
    kind: str,
    out: Path,
    recipe_ids: str | None,
    metric: str | None,
    max_drops: tuple[str, ...],
    card: Path | None,
    shift_data: Path | None,
    student: Path | None,
    profile: str,
    seed: int,
    name: str | None,
    namespace: str | None,
    model_version: str | None,
    data_format: str | None,
    group: str | None,
    label_column: str,
    frontend: str | None,
    as_json: bool,
) -> None:
    """Optimize your own trained Keras model (.keras, .h5 or a SavedModel folder) on your own data:
    every recipe (post-training dynamic, float16 and int8; QAT, pruning, clustering, PCQAT,
    distillation) makes a variant, each is measured through LiteRT on the test split (and on
    --shift-data), gated, and written with its card and golden I/O as a build directory that
    `edzoo publish` accepts.

    \b
    DATA layouts (detected; --format to choose):
      npz              x_train, y_train, x_test, y_test [, x_val, y_val, labels]
      image folder     DATA/<class>/*.png (or DATA/train|val|test/<class>/...)
      speech-commands  DATA/<word>/<speaker>_nohash_<n>.wav [+ validation_list.txt, testing_list.txt]
      conll            token ... label per line, blank line between sentences
      dkt              3 lines per student: count, skill ids, 0/1 answers
      csv              a header, a label column, numeric features [, a group or split column]
    Without declared splits edzoo splits with --seed (by --group where given) and records the digests.

    \b
    Examples:
      edzoo optimize shapes.keras --data images/ --task image-classification --out build/
      edzoo optimize kws.h5 --data speech_commands/ --task audio-classification --frontend logmel \\
          --shift-data other_speakers/ --card card.yaml
      edzoo optimize dkt.keras --data students.txt --task knowledge-tracing --recipes int8,qat_int8

    Exit codes: 12 a variant failed its gate, 14 bad data, 15 not a model, 16 a recipe asked for
    cannot apply; nothing is written then.
    """
    from zoo import artifacts
    from zoo import optimize as opt

    options = _options(data_format, group, label_column, frontend, seed)
    result = opt.optimize(
        model,
        data_path,
        task=kind,
        out=out,
        recipes=_csv(recipe_ids),
        metric=metric,
        max_drop=_max_drops(max_drops),
        card=card,
        shift_data=shift_data,
        student=student,
        profile=profile,
        seed=seed,
        name=name,
        namespace=namespace,
        version=model_version,
        data_options=options,
        log=lambda line: click.echo(line, err=True),
        argv=["edzoo", *sys.argv[1:]],
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out_dir": str(result.out_dir),
                    "metric": result.metric,
                    "variants": [v.__dict__ for v in result.variants],
                    "not_applied": result.not_applied,
                },
                indent=1,
            )
        )
        return
    click.echo(artifacts.format_table(result.rows, result.not_applied))
    click.echo(f"{result.out_dir} ({result.seconds:.0f} s); publish it with `edzoo publish {result.out_dir} ...`")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True, help="Data with a test split.")
@click.option(
    "--task",
    "kind",
    type=_RegistryChoice(_kind_names),
    default="generic",
    show_default=True,
    help="How outputs are scored (see `edzoo zoo list`).",
)
@click.option("--metric", default=None, help="The generic kind's metric: accuracy, auc or macro_f1.")
@click.option("--shift-data", type=click.Path(path_type=Path), default=None, help="A second evaluation set.")
@click.option("--runs", default=100, show_default=True, type=click.IntRange(1, 100000), help="Timed blocks.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the split when DATA declares none.")
@_data_options
@json_option("Print the measurements as JSON.")
def measure(
    model: Path,
    data_path: Path,
    kind: str,
    metric: str | None,
    shift_data: Path | None,
    runs: int,
    seed: int,
    data_format: str | None,
    group: str | None,
    label_column: str,
    frontend: str | None,
    as_json: bool,
) -> None:
    """Measure a .tflite someone else made, through LiteRT: the task's metric on DATA's test
    split (and --shift-data), the operators and delegates it needs, per-call latency beside the
    interpreter's empty-call cost. Needs no TensorFlow.

    Exit codes: 14 bad data, 15 not a .tflite LiteRT can load.
    """
    from zoo import optimize as opt

    if model.suffix != ".tflite":
        raise UsageError(f"{model}: `edzoo measure` takes a .tflite; optimize a Keras model with `edzoo optimize`")
    result = opt.measure_tflite(
        model,
        data_path,
        task=kind,
        metric=metric,
        shift_data=shift_data,
        data_options=_options(data_format, group, label_column, frontend, seed),
        runs=runs,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=1))
        return
    lo, hi = result.ci95
    b = result.bench
    click.echo(f"{model}: {result.metric} {result.value:.4f} (95% CI {lo:.4f}-{hi:.4f}, n={result.n})")
    if result.shift_value is not None:
        click.echo(f"  shifted set: {result.metric} {result.shift_value:.4f} (n={result.shift_n})")
    click.echo(
        f"  latency p50 {b['latency_us_p50']} µs, p90 {b['latency_us_p90']} µs per invoke "
        f"({b.get('invokes_per_timing', 1)} per timing; an empty invoke costs {b.get('empty_invoke_us_p50', '?')} µs)"
    )
    click.echo(f"  ops: {', '.join(result.ops)}; delegates: {', '.join(result.delegates) or 'none agree'}")


COMMANDS: tuple[click.Command, ...] = (zoo, optimize, measure)
