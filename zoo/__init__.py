"""The build side of edzoo: train reference models and turn them into measured, optimized
variants written as build directories that ``edzoo publish`` accepts.

TensorFlow is imported lazily (``zoo._tf``), so importing this package costs nothing; install
with the ``[zoo]`` extra.
"""
