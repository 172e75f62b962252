"""The build side of edzoo: train reference models and turn them into measured, optimized
variants written as build directories that ``edzoo publish`` accepts.

TensorFlow is imported lazily (``zoo._tf``), so importing this package costs nothing; install
with the ``[zoo]`` extra.
"""


def keras():  # type: ignore[no-untyped-def]
    """``tf_keras`` (Keras 2), imported the way tensorflow-model-optimization needs it
    (``TF_USE_LEGACY_KERAS=1`` set before TensorFlow loads). Build models for
    :func:`zoo.optimize.optimize` with it. Raises MissingZooDependencies without the [zoo] extra."""
    from . import _tf

    return _tf.load().keras
