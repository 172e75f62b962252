"""What a recipe is and where recipes are registered: :class:`Context` (what a recipe gets),
:class:`Made` (what it returns), :class:`Recipe`, the gates, :func:`recipe` / :func:`register`,
:func:`ids` and :func:`get`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _tf

CALIBRATION_SAMPLES = 300

DISTILL_TEMPERATURE = 4.0

DISTILL_ALPHA = 0.3  # weight of the hard-label loss; the rest goes to the teacher's soft labels

SELECT_PATIENCE = 10  # epochs without a better validation loss before a selected fine-tuning stops

MIN_SPARSITY = 0.5  # the pruning recipes' gate


@dataclass
class Context:
    """What recipes share: the trained teacher, the data, the profile."""

    teacher: Any
    data: Any
    profile: Any
    task: Any
    seed: int
    log: Callable[[str], None] = print
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def tf(self) -> Any:
        return _tf.load().tf

    @property
    def keras(self) -> Any:
        return _tf.load().keras

    @property
    def tfmot(self) -> Any:
        return _tf.load().tfmot

    def clone_teacher(self) -> Any:
        model = self.keras.models.clone_model(self.teacher)
        model.set_weights(self.teacher.get_weights())
        return model

    def fit(
        self,
        model: Any,
        epochs: int,
        *,
        callbacks: list | None = None,
        x: Any = None,
        y: Any = None,
        loss: Any = None,
        lr: float | None = None,
        val_y: Any = None,
        select_from: int = 0,
    ) -> Any:
        """Train ``model`` (its final probabilities, unless ``loss`` says otherwise) on the
        training split with the task's loss.

        With the profile's ``select_on_validation``, the weights kept are those of the epoch
        (from ``select_from`` on) with the lowest validation loss, and training stops after
        ``SELECT_PATIENCE`` epochs without a better one: a fine-tuning of a small data set
        neither stops short of recovering nor runs on into overfitting. ``val_y``: the
        validation targets when ``y`` is not the task's."""
        d = self.data
        callbacks = list(callbacks or [])
        validation = None
        if self.profile.select_on_validation and len(d.val.y):
            if val_y is None and y is None:
                val_y = self.task.targets(d.val) if self.task.targets is not None else d.val.y
            if val_y is not None:
                validation = (d.val.x, val_y)
                callbacks.append(
                    self.keras.callbacks.EarlyStopping(
                        monitor="val_loss",
                        patience=SELECT_PATIENCE,
                        restore_best_weights=True,
                        start_from_epoch=select_from,
                    )
                )
        if loss is None:
            loss = self.hard_loss(from_logits=False)
        rate: Any = lr or self.profile.learning_rate
        if lr is None and self.profile.cosine:
            # Full trainings (not fine-tunings) decay the rate to zero along a cosine.
            steps = epochs * int(np.ceil(len(d.train.x if x is None else x) / self.profile.batch_size))
            rate = self.keras.optimizers.schedules.CosineDecay(rate, max(1, steps))
        model.compile(
            optimizer=self.keras.optimizers.Adam(rate),
            loss=loss,
            metrics=["accuracy"] if loss == "sparse_categorical_crossentropy" else None,
        )
        with _tf.quiet_native_stderr():
            model.fit(
                d.train.x if x is None else x,
                self.targets() if y is None else y,
                batch_size=self.profile.batch_size,
                epochs=epochs,
                shuffle=True,
                verbose=0,
                callbacks=callbacks,
                validation_data=validation,
            )
        return model

    def targets(self) -> Any:
        """What the task's loss compares the model with, for the training split."""
        if self.task.targets is not None:
            return self.task.targets(self.data.train)
        return self.data.train.y

    def hard_loss(self, from_logits: bool) -> Any:
        if self.task.loss is None and self.task.output == "softmax":
            if not from_logits:
                return "sparse_categorical_crossentropy"
            return lambda y_true, logits: self.keras.losses.sparse_categorical_crossentropy(
                y_true, logits, from_logits=True
            )
        tf, task = self.tf, self.task
        return lambda y_true, y_pred: task.loss(tf, y_true, y_pred, from_logits)

    def epochs(self, epochs: int, min_steps: int) -> int:
        """``epochs`` over the training split, or more when that is fewer than ``min_steps``
        optimizer steps (a small data set needs more passes to recover from pruning or to
        train a student)."""
        per_epoch = max(1, int(np.ceil(len(self.data.train.y) / self.profile.batch_size)))
        return max(epochs, int(np.ceil(min_steps / per_epoch)))

    def finetune_epochs(self, factor: int = 1) -> int:
        return self.epochs(factor * self.profile.finetune_epochs, factor * self.profile.min_finetune_steps)

    def layer_types(self, names: tuple[str, ...]) -> tuple[type, ...]:
        return tuple(getattr(self.keras.layers, n) for n in names)

    def is_one_of(self, layer: Any, names: tuple[str, ...]) -> bool:
        """Exactly one of these layer classes (DepthwiseConv2D is a Conv2D subclass in Keras,
        and pruning or clustering its few weights costs accuracy for nothing)."""
        return type(layer) in self.layer_types(names)


@dataclass(frozen=True)
class Made:
    """A recipe's output, before conversion."""

    model: Any
    mode: str  # fp32 | dynamic | float16 | int8
    details: dict[str, Any] = field(default_factory=dict)  # goes into the manifest's recipe
    parameters: int | None = None


class NotApplicable(Exception):
    """Raised by a recipe's ``make`` (or its ``applies`` check) when it cannot apply to this
    model: the pipeline reports ``reason`` in the table and the manifest (or fails with
    RecipeError when the recipe was asked for by name). Never a silent skip."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GateFacts:
    """What a recipe's gates compare a variant with."""

    teacher_parameters: int
    student_max_fraction: float


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


Gate = Callable[[str, Made, GateFacts], GateCheck]


@dataclass(frozen=True)
class Recipe:
    """How one variant is made from the trained model, the largest drop of the task's metric
    (points, against fp32) it may cost, and the gates of its own (sparsity reached, a student's
    share of the teacher). ``needs_training``: it fine-tunes or trains, so it needs a training
    split; ``order``: where the manifest lists it (a client that does not choose gets the
    first)."""

    id: str
    title: str
    quantization: str  # the manifest's recipe.quantization
    max_drop_points: float
    make: Callable[[Context], Made]
    order: int = 1000
    needs_training: bool = False
    gates: tuple[Gate, ...] = ()

    def check(self, made: Made, facts: GateFacts) -> list[GateCheck]:
        return [gate(self.id, made, facts) for gate in self.gates]


def min_sparsity(threshold: float) -> Gate:
    """The pruned kernels must be at least ``threshold`` zeros."""

    def gate(rid: str, made: Made, facts: GateFacts) -> GateCheck:
        got = float(made.details["pruning"]["sparsity"])
        return GateCheck(
            "sparsity",
            got >= threshold,
            f"{rid}: pruning reached {got:.0%} sparsity (at least {threshold:.0%} required)",
        )

    gate.__name__ = f"sparsity >= {threshold:.0%}"
    return gate


def student_share(rid: str, made: Made, facts: GateFacts) -> GateCheck:
    """A student may hold at most the task's share of the teacher's parameters."""
    params = made.parameters or 0
    limit = facts.teacher_parameters * facts.student_max_fraction
    return GateCheck(
        "student share",
        params <= limit,
        f"{rid}: {params:,} parameters is more than {facts.student_max_fraction:.2g} of the teacher's "
        f"{facts.teacher_parameters:,}",
    )


RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe (``edzoo optimize --recipes``, ``edzoo zoo build --only``). Another package
    registers through an ``edzoo.recipes`` entry point (:mod:`zoo.plugins`)."""
    if recipe.id in RECIPES and RECIPES[recipe.id] is not recipe:
        raise ValueError(f"recipe {recipe.id!r} is registered twice")
    RECIPES[recipe.id] = recipe
    return recipe


def recipe(
    id: str,
    *,
    title: str,
    quantization: str,
    max_drop: float,
    order: int,
    needs_training: bool = False,
    gates: tuple[Gate, ...] = (),
) -> Callable[[Callable[[Context], Made]], Callable[[Context], Made]]:
    """Register the decorated ``make(ctx) -> Made`` as a recipe."""

    def wrap(make: Callable[[Context], Made]) -> Callable[[Context], Made]:
        register(Recipe(id, title, quantization, max_drop, make, order, needs_training, gates))
        return make

    return wrap


def ids() -> list[str]:
    """Every registered recipe, in manifest order."""
    from .. import plugins

    plugins.load()
    return [r.id for r in sorted(RECIPES.values(), key=lambda r: (r.order, r.id))]


def get(rid: str) -> Recipe:
    from .. import plugins

    plugins.load()
    try:
        return RECIPES[rid]
    except KeyError:
        from registry.core.errors import UsageError

        raise UsageError(f"unknown recipe {rid!r}; known: {', '.join(ids())}") from None
