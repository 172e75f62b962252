"""Named optimization recipes: how each variant is made from the trained teacher.

Each recipe returns a Keras model and a conversion mode; :func:`convert` turns that into a
``.tflite``. A recipe declares the largest accuracy drop (points, against the fp32 variant)
that it may cost: the build fails when a variant exceeds it.

tfmot notes: ``quantize_model`` refuses a model that went through pruning or clustering, so
the collaborative recipe (prune → cluster with sparsity preserved → QAT with clusters and
sparsity preserved, "PCQAT") uses ``quantize_annotate_model`` + ``quantize_apply`` with
``Default8BitClusterPreserveQuantizeScheme``; every other recipe starts from a fresh clone of
the teacher with its trained weights.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _tf

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
    from . import plugins

    plugins.load()
    return [r.id for r in sorted(RECIPES.values(), key=lambda r: (r.order, r.id))]


def get(rid: str) -> Recipe:
    from . import plugins

    plugins.load()
    try:
        return RECIPES[rid]
    except KeyError:
        from registry.core.errors import UsageError

        raise UsageError(f"unknown recipe {rid!r}; known: {', '.join(ids())}") from None


# -- conversion ------------------------------------------------------------------------------


def convert(made: Made, ctx: Context) -> bytes:
    """Keras model → ``.tflite`` bytes with the recipe's quantization."""
    tf = ctx.tf
    converter = tf.lite.TFLiteConverter.from_keras_model(made.model)
    if made.mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif made.mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif made.mode == "int8":
        # Calibration reads the training split (the validation split when there is none): the
        # test split is never touched.
        calib = (ctx.data.train.x if len(ctx.data.train.x) else ctx.data.val.x)[:CALIBRATION_SAMPLES]
        if not len(calib):
            raise NotApplicable(
                "full-integer int8 needs calibration samples: the data has no training or validation split"
            )
        dtype = np.float32 if np.issubdtype(calib.dtype, np.floating) else np.int32

        def representative() -> Any:
            for row in calib:
                yield [row[None, ...].astype(dtype)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        with _quiet_converter():
            return float_output_activation(converter.convert())
    elif made.mode != "fp32":
        raise ValueError(f"unknown conversion mode {made.mode!r}")
    with _quiet_converter():
        return converter.convert()


@contextlib.contextmanager
def _quiet_converter() -> Any:
    # The exporter prints the traced signature to stdout; keep the progress readable.
    with contextlib.redirect_stdout(io.StringIO()), _tf.quiet_native_stderr(), warnings.catch_warnings():
        # Known and harmless for int8 inputs: the converter reads the input statistics from the
        # calibration data instead.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        yield


# The operators a full-integer variant runs in float: the dequantization of its logits and the
# activation that makes them probabilities.
FLOAT_OUTPUT_OPS = frozenset({"DEQUANTIZE", "SOFTMAX", "LOGISTIC"})


def float_output_activation(model: bytes) -> bytes:
    """A full-integer ``.tflite`` whose outputs end ``int8 softmax (or sigmoid) → DEQUANTIZE``,
    rewritten to ``DEQUANTIZE → float softmax``: the same graph in int8 up to the logits, and
    float32 probabilities out, which an app can rank and threshold.

    An int8 softmax outputs steps of 1/256: every probability under 1/512 reads 0, so below the
    winning class the ranking is lost (ties) and no threshold falls between two close
    confidences. The cost is one float activation over the classes. Works on the converter's
    output for post-training and quantization-aware models alike (the converter quantizes a
    softmax even when QAT left it unannotated). Outputs of any other shape are left as they are.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    op = schema.BuiltinOperator
    m = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = m.subgraphs[0]

    def code(o: Any) -> int:
        c = m.operatorCodes[o.opcodeIndex]
        return max(c.builtinCode, c.deprecatedBuiltinCode)

    producer = {int(t): i for i, o in enumerate(graph.operators) for t in o.outputs}
    readers: dict[int, int] = {}
    for o in graph.operators:
        for t in o.inputs:
            readers[int(t)] = readers.get(int(t), 0) + 1
    for out in graph.outputs:
        d = producer.get(int(out))
        if d is None or code(graph.operators[d]) != op.DEQUANTIZE:
            continue
        probs = int(graph.operators[d].inputs[0])
        a = producer.get(probs)
        if a is None or code(graph.operators[a]) not in (op.SOFTMAX, op.LOGISTIC) or readers[probs] != 1:
            continue
        dequantize, activation = graph.operators[d], graph.operators[a]
        logits = int(activation.inputs[0])
        dequantize.inputs, dequantize.outputs = [logits], [probs]
        activation.inputs, activation.outputs = [probs], [int(out)]
        tensor = graph.tensors[probs]
        tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
        graph.operators[a], graph.operators[d] = dequantize, activation
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# -- the recipes -------------------------------------------------------------------------------


@recipe(
    "fp32",
    title="float32, the reference",
    quantization="none",
    max_drop=0.0,
    order=20,
)
def _fp32(ctx: Context) -> Made:
    return Made(ctx.teacher, "fp32", {})


@recipe(
    "dynamic",
    title="dynamic-range quantization",
    quantization="dynamic-range",
    max_drop=1.0,
    order=30,
)
def _dynamic(ctx: Context) -> Made:
    return Made(
        ctx.teacher, "dynamic", {"notes": "post-training dynamic-range quantization: int8 weights, float activations"}
    )


@recipe(
    "float16",
    title="float16 quantization",
    quantization="float16",
    max_drop=0.5,
    order=40,
)
def _float16(ctx: Context) -> Made:
    return Made(ctx.teacher, "float16", {"notes": "post-training float16 weights"})


@recipe(
    "int8",
    title="full-integer int8 (int8 input, float32 probabilities out)",
    quantization="int8",
    max_drop=1.0,
    order=10,
)
def _int8(ctx: Context) -> Made:
    return Made(
        ctx.teacher,
        "int8",
        {
            "io_dtype": "int8",
            "notes": f"post-training full-integer; calibration: {CALIBRATION_SAMPLES} training samples",
        },
    )


def _annotate(ctx: Context, model: Any) -> tuple[Any, list[str]]:
    """Annotate for QAT every layer tfmot's 8-bit scheme supports. Returns the annotated model
    and the layer classes left to post-training calibration (empty: the whole model is QAT)."""
    q = ctx.tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_module,
    )

    registry = registry_module.Default8BitQuantizeRegistry()
    # Batch normalization is folded into the convolution before it by the scheme's layout
    # transforms, not by the registry: it counts as supported.
    folded = (ctx.keras.layers.InputLayer, ctx.keras.layers.BatchNormalization)
    weighted = [layer for layer in model.layers if layer.weights and not isinstance(layer, folded)]
    unsupported = sorted({type(layer).__name__ for layer in weighted if not registry.supports(layer)})
    if weighted and len(unsupported) == len({type(layer).__name__ for layer in weighted}):
        raise NotApplicable(
            f"tfmot's 8-bit QAT scheme supports none of the layers with weights ({', '.join(unsupported)})"
        )
    if not unsupported:
        try:
            return q.quantize_annotate_model(model), []
        except (ValueError, TypeError, RuntimeError) as e:
            raise NotApplicable(f"tfmot could not annotate the model for QAT: {e}") from e

    def annotate(layer: Any) -> Any:
        clone = layer.__class__.from_config(layer.get_config())
        return q.quantize_annotate_layer(clone) if registry.supports(layer) else clone

    annotated = ctx.keras.models.clone_model(model, clone_function=annotate)
    for layer, src in zip(annotated.layers, model.layers, strict=True):
        getattr(layer, "layer", layer).set_weights(src.get_weights())
    return annotated, unsupported


def _apply(ctx: Context, annotated: Any, scheme: Any = None) -> Any:
    """tfmot's quantize_apply, its refusals (a layer layout it cannot quantize) as NotApplicable."""
    q = ctx.tfmot.quantization.keras
    try:
        return q.quantize_apply(annotated, scheme) if scheme is not None else q.quantize_apply(annotated)
    except (ValueError, TypeError, RuntimeError, KeyError) as e:
        raise NotApplicable(f"tfmot could not quantize the model for QAT: {type(e).__name__}: {e}") from e


def _partial_note(unsupported: list[str]) -> str:
    return (
        f"; tfmot's 8-bit QAT scheme does not support {', '.join(unsupported)}: those layers are "
        "trained in float and quantized after training from calibration data"
        if unsupported
        else ""
    )


@recipe(
    "qat_int8",
    title="quantization-aware training → int8",
    quantization="int8",
    max_drop=1.0,
    order=50,
    needs_training=True,
)
def _qat(ctx: Context) -> Made:
    annotated, unsupported = _annotate(ctx, ctx.clone_teacher())
    model = _apply(ctx, annotated)
    epochs = ctx.finetune_epochs()
    ctx.fit(model, epochs, lr=ctx.profile.learning_rate / 4)
    details: dict[str, Any] = {
        "io_dtype": "int8",
        "qat": True,
        "notes": f"quantization-aware fine-tuning, {epochs} epochs" + _partial_note(unsupported),
    }
    return Made(model, "int8", details)


def _prune(ctx: Context, target: float) -> Any:
    """Magnitude pruning of the dense layers to ``target`` sparsity with a polynomial schedule,
    then stripped."""
    sparsity = ctx.tfmot.sparsity.keras
    # Pruning needs longer than the other fine-tunings: it reaches the target sparsity at 30%,
    # then the remaining weights recover the accuracy.
    epochs = ctx.finetune_epochs(3)
    steps = int(np.ceil(len(ctx.data.train.y) / ctx.profile.batch_size)) * epochs
    end = max(2, int(steps * 0.3))
    # The mask is updated every `frequency` steps (tfmot's default, 100, would never reach the
    # target in a short fine-tuning): ten updates over the schedule.
    schedule = sparsity.PolynomialDecay(
        initial_sparsity=0.2, final_sparsity=target, begin_step=0, end_step=end, frequency=max(1, end // 10)
    )
    keras = ctx.keras

    def prune_some(layer: Any) -> Any:
        # Only the layers that hold most of the weights (the task says which): pruning small
        # kernels costs accuracy and saves little.
        if ctx.is_one_of(layer, ctx.task.prune_layers):
            return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer.__class__.from_config(layer.get_config())

    teacher = ctx.clone_teacher()
    if not any(ctx.is_one_of(layer, ctx.task.prune_layers) for layer in teacher.layers):
        raise NotApplicable(
            f"the model has no layer of the classes pruning acts on ({', '.join(ctx.task.prune_layers)})"
        )
    model = keras.models.clone_model(teacher, clone_function=prune_some)
    for layer, src in zip(model.layers, teacher.layers, strict=True):
        target_layer = getattr(layer, "layer", layer)
        target_layer.set_weights(src.get_weights())
    per_epoch = max(1, int(np.ceil(len(ctx.data.train.y) / ctx.profile.batch_size)))
    # Weights are chosen only once the target sparsity is reached.
    ctx.fit(model, epochs, callbacks=[sparsity.UpdatePruningStep()], select_from=int(np.ceil(end / per_epoch)))
    return sparsity.strip_pruning(model)


def measured_sparsity(model: Any, layer_types: tuple[type, ...] | None = None) -> float:
    """Fraction of zeros over the kernels (and embedding tables) of the layers pruning acts on
    (exactly the classes ``layer_types``; default: every layer)."""
    zeros = total = 0
    for layer in model.layers:
        if layer_types is not None and type(layer) not in layer_types:
            continue
        for w in layer.weights:
            if "kernel" in w.name or "embeddings" in w.name:
                values = w.numpy()
                zeros += int((values == 0).sum())
                total += values.size
    return round(zeros / total, 4) if total else 0.0


@recipe(
    "prune_int8",
    title="magnitude pruning → int8",
    quantization="int8",
    max_drop=1.5,
    order=60,
    needs_training=True,
    gates=(min_sparsity(MIN_SPARSITY),),
)
def _prune_int8(ctx: Context) -> Made:
    target = ctx.profile.prune_sparsity
    model = _prune(ctx, target)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "pruning": {
                "sparsity": measured_sparsity(model, ctx.layer_types(ctx.task.prune_layers)),
                "layers": list(ctx.task.prune_layers),
                "schedule": f"polynomial-decay 0.2 -> {target} over the first 30% of "
                f"{ctx.finetune_epochs(3)} fine-tuning epochs",
            },
        },
    )


def _cluster(ctx: Context, model: Any, clusters: int, preserve_sparsity: bool) -> Any:
    clustering = ctx.tfmot.clustering.keras
    params = {
        "number_of_clusters": clusters,
        "cluster_centroids_init": clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
        "preserve_sparsity": preserve_sparsity,
    }
    if ctx.task.cluster_layers is not None and not any(
        ctx.is_one_of(layer, ctx.task.cluster_layers) for layer in model.layers
    ):
        raise NotApplicable(
            f"the model has no layer of the classes clustering acts on ({', '.join(ctx.task.cluster_layers)})"
        )
    if ctx.task.cluster_layers is None:
        clustered = clustering.cluster_weights(model, **params)
    else:

        def cluster_some(layer: Any) -> Any:
            clone = layer.__class__.from_config(layer.get_config())
            if not ctx.is_one_of(layer, ctx.task.cluster_layers or ()):
                return clone
            # The wrapper takes over the kernel: the trained weights must be in place first.
            clone.build(layer.input_shape)
            clone.set_weights(layer.get_weights())
            return clustering.cluster_weights(clone, **params)

        clustered = ctx.keras.models.clone_model(model, clone_function=cluster_some)
        for layer, src in zip(clustered.layers, model.layers, strict=True):
            if not hasattr(layer, "layer"):
                layer.set_weights(src.get_weights())
    ctx.fit(clustered, ctx.finetune_epochs(), lr=ctx.profile.learning_rate / 4)
    return clustering.strip_clustering(clustered)


@recipe(
    "cluster_int8",
    title="weight clustering (k-means++ centroids) → int8",
    quantization="int8",
    max_drop=1.5,
    order=70,
    needs_training=True,
)
def _cluster_int8(ctx: Context, clusters: int | None = None) -> Made:
    clusters = clusters or ctx.task.clusters
    model = _cluster(ctx, ctx.clone_teacher(), clusters, preserve_sparsity=False)
    return Made(model, "int8", {"io_dtype": "int8", "clustering": _clustering(ctx, clusters)})


def _clustering(ctx: Context, clusters: int) -> dict[str, Any]:
    layers = list(ctx.task.cluster_layers) if ctx.task.cluster_layers is not None else "all supported"
    return {"clusters": clusters, "centroid_init": "kmeans++", "layers": layers}


@recipe(
    "pcqat_int8",
    title="pruning + clustering + QAT (PCQAT) → int8",
    quantization="int8",
    max_drop=1.0,
    order=80,
    needs_training=True,
    gates=(min_sparsity(MIN_SPARSITY),),
)
def _pcqat_int8(ctx: Context, clusters: int | None = None) -> Made:
    """Collaborative optimization: prune, cluster with sparsity kept, QAT with both kept."""
    tfmot = ctx.tfmot
    clusters = clusters or ctx.task.clusters
    target = ctx.profile.pcqat_sparsity
    pruned = _prune(ctx, target)
    clustered = _cluster(ctx, pruned, clusters, preserve_sparsity=True)
    annotated, unsupported = _annotate(ctx, clustered)
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    model = _apply(ctx, annotated, scheme)
    ctx.fit(model, ctx.finetune_epochs(), lr=ctx.profile.learning_rate / 8)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "qat": True,
            "pruning": {
                "sparsity": measured_sparsity(clustered, ctx.layer_types(ctx.task.prune_layers)),
                "layers": list(ctx.task.prune_layers),
                "schedule": f"polynomial-decay 0.2 -> {target}, then kept through clustering and QAT",
            },
            "clustering": _clustering(ctx, clusters),
            "notes": "tfmot collaborative optimization (PCQAT): sparsity- and cluster-preserving QAT"
            + _partial_note(unsupported),
        },
    )


def _student(ctx: Context, distill: bool) -> Any:
    """The student architecture, trained on hard labels, or distilled from the teacher's soft
    labels at temperature T: loss = a * hard + (1 - a) * T^2 * soft, where for a softmax output
    soft = KL(teacher_T || student_T), and for independent sigmoid outputs soft = the binary
    cross-entropy between sigmoid(teacher logits / T) and sigmoid(student logits / T) averaged
    over outputs."""
    keras, tf = ctx.keras, ctx.tf
    key = f"student-distill={distill}"
    if key in ctx.cache:
        return ctx.cache[key]
    ctx.keras.utils.set_random_seed(ctx.seed + 1)  # both students start from the same weights
    d = ctx.data
    if ctx.task.student is None:
        raise NotApplicable("no student model: give one (--student), or a plain CNN or dense model edzoo can narrow")
    student = ctx.task.student(keras, d)
    # A narrow network learns more slowly: both students get more epochs than the teacher.
    epochs = ctx.epochs(ctx.profile.student_epochs or 2 * ctx.profile.epochs, ctx.profile.min_student_steps)
    if not distill:
        ctx.fit(student, epochs)
    else:
        teacher_logits = logits_model(keras, ctx.teacher)
        t, alpha = _distill_params(ctx)
        sigmoid = ctx.task.output == "sigmoid"

        def distill_targets(x: Any, hard_targets: Any) -> np.ndarray:
            """The hard targets then the teacher's soft outputs, along the last axis (a class id
            for a softmax, per sample or per token; the task's targets for sigmoids)."""
            with _tf.quiet_native_stderr():
                logits = teacher_logits.predict(x, batch_size=512, verbose=0)
            hard = np.asarray(hard_targets, np.float32)
            if not sigmoid:
                hard = hard[..., None]
            elif hard.ndim != logits.ndim:
                hard = hard.reshape(len(hard), -1)
            soft = tf.sigmoid(logits / t) if sigmoid else tf.nn.softmax(logits / t)
            return np.concatenate([hard, soft.numpy()], axis=-1)

        targets = distill_targets(d.train.x, ctx.targets())
        k = targets.shape[-1] - int(teacher_logits.output.shape[-1])
        val_targets = None
        if ctx.profile.select_on_validation and len(d.val.y):
            val_hard = ctx.task.targets(d.val) if ctx.task.targets is not None else d.val.y
            val_targets = distill_targets(d.val.x, val_hard)
        student_logits = logits_model(keras, student)
        hard_loss = ctx.hard_loss(from_logits=True)

        def loss(y_true: Any, logits: Any) -> Any:
            hard_part = y_true[..., :k] if sigmoid else tf.cast(y_true[..., 0], tf.int32)
            if sigmoid:
                soft_part = keras.losses.binary_crossentropy(y_true[..., k:], logits / t, from_logits=True)
            else:
                soft_part = keras.losses.kl_divergence(y_true[..., k:], tf.nn.softmax(logits / t))
            return alpha * hard_loss(hard_part, logits) + (1 - alpha) * (t * t) * soft_part

        ctx.fit(student_logits, epochs, y=targets, loss=loss, val_y=val_targets)
    ctx.cache[key] = student
    return student


def logits_model(keras: Any, model: Any) -> Any:
    """The model up to its logits: the layer named ``logits`` if there is one, else the input of
    a final softmax or sigmoid activation layer. Raises NotApplicable when neither exists (a
    Dense layer with the activation built in hides its logits)."""
    names = {layer.name for layer in model.layers}
    if "logits" in names:
        return keras.Model(model.input, model.get_layer("logits").output)
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    is_act = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(activation, "__name__", "") in ("softmax", "sigmoid")
    )
    if is_act:
        return keras.Model(model.input, last.input)
    raise NotApplicable(
        f"distillation reads the logits: name the layer before the final activation 'logits', or end "
        f"{model.name} with a separate Softmax layer (its last layer is {type(last).__name__})"
    )


def _distill_params(ctx: Context) -> tuple[float, float]:
    t = ctx.task.distill_temperature
    a = ctx.task.distill_alpha
    return (DISTILL_TEMPERATURE if t is None else t), (DISTILL_ALPHA if a is None else a)


@recipe(
    "distilled_int8",
    title="distilled student (a fraction of the teacher) → int8",
    quantization="int8",
    max_drop=2.0,
    order=90,
    needs_training=True,
    gates=(student_share,),
)
def _distilled_int8(ctx: Context) -> Made:
    model = _student(ctx, distill=True)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "distilled_from": "fp32",
            "notes": "knowledge distillation, T={:g}, alpha={:g}; then full-integer int8".format(*_distill_params(ctx)),
        },
        parameters=_tf.param_count(model),
    )


@recipe(
    "student_int8",
    title="same student without distillation → int8",
    quantization="int8",
    max_drop=3.0,
    order=100,
    needs_training=True,
    gates=(student_share,),
)
def _student_int8(ctx: Context) -> Made:
    model = _student(ctx, distill=False)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "notes": "the distilled student's architecture trained on labels alone: the control for distillation",
        },
        parameters=_tf.param_count(model),
    )
