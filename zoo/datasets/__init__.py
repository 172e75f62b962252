"""Datasets of the zoo, generated or loaded offline: nothing here downloads data at run time.

Each module exposes ``load(profile, seed, cache_dir=None)`` returning train, validation and
held-out test splits with their provenance; :mod:`zoo.datasets.handwriting` is the first.
These modules import numpy, scipy, scikit-learn and Pillow only, never TensorFlow.
"""
