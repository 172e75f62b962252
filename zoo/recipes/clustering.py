"""Weight clustering (``cluster_int8``) and pruning + clustering + QAT (``pcqat_int8``)."""

from __future__ import annotations

from typing import Any

from .base import MIN_SPARSITY, Context, Made, NotApplicable, min_sparsity, recipe
from .pruning import _prune, measured_sparsity
from .qat import _annotate, _apply, _partial_note


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
