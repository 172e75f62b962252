"""Handwritten digits, capital letters and ``+ - =`` for early numeracy and literacy apps.

39 classes, :data:`LABELS`: ``"0"``..``"9"``, ``"A"``..``"Z"``, ``"+"``, ``"-"``, ``"="``
(the class id is the index). Every image is laid out as MNIST lays out a digit, which is what
a tablet app gets from a drawing canvas after :func:`registry.core.preprocess.mnist_character`:
28×28 grayscale, ink high, the character scaled to fit a 20×20 box (aspect kept) and placed
with its centre of mass at the centre. Nothing is downloaded: the real digits are vendored in
:mod:`zoo.datasets.sources` and the letters are drawn from Debian font packages.

Sources
-------
Real digits, written on paper (MNIST test set, :func:`zoo.datasets.sources.mnist_t10k`)
    NIST SD-3 (Census Bureau employees, its first 5,000 digits) trains and validates; NIST SD-1
    (high-school students, the other 5,000; writers disjoint from SD-3's) is the digits of the
    **test split**: every test digit is by a writer the model never saw. CC BY-SA 3.0.
Real digits, written on a tablet (UCI pendigits, :func:`zoo.datasets.sources.pendigits`)
    Pen coordinates (8 points per digit), drawn as strokes 2.2 px wide and laid out the same
    way (:func:`zoo.datasets.sources.render_pen`). The 30 writers of ``pendigits.tra`` train
    and validate; the 14 writers of ``pendigits.tes`` are the **held-out source**
    (:func:`heldout`): another collection, another input device, writers never seen. CC BY 4.0.
Synthetic characters (all 39 classes; letters and signs have no other source)
    Rendered from the handwriting-style fonts of the Debian packages in
    :data:`FONT_PACKAGES`, distorted at random (see Pipeline). Two packages are left out:
    ``fonts-femkeklaver`` draws hollow outlined letters with a shadow, and
    ``fonts-kristi``'s thin slanted capitals were unreadable at low resolution.

Splits
------
The test split and the held-out source are never trained, calibrated or chosen on.

* Digits: train and validation are SD-3 and ``pendigits.tra``, split per class with a seeded
  permutation (:attr:`GenerationParams.digits_val` to validation); test is SD-1. Each training
  digit also gets :attr:`Profile.real_copies` jittered copies (rotation ±10°, shear ±0.2,
  aspect ×1/1.15..1.15; tablet digits move their pen points, add Gaussian noise of 1.5 units
  per point and take a stroke width of 1.6–3.0 px; paper digits are warped and laid out again).
* Letters and signs hold out whole font *families* (the family name inside the font file,
  so the bold or italic of a test font never trains). Families are sorted by their first
  font file name (case-insensitive); position ``i % 5 == 2`` goes to test, ``i % 5 == 4`` to
  validation, the rest to training. With the packages of :data:`FONT_PACKAGES` that is
  test: Because We Create, Comic Neue (7 files); validation: Because We Mentor,
  DkgHandwriting (5 files); training: the other 8 families (10 files). Training and
  validation fonts also draw digits, so "drawn by a font" never means "a letter"; test fonts
  draw only letters and signs (test digits are all real).
* A training or validation image byte-identical to a test image is dropped
  (``info["dropped_duplicates"]`` counts them).
* Sizes: :data:`PROFILES` (``quick`` subsamples the digits per class and draws 16 synthetic
  samples per class and family for training; ``full`` uses every digit and 5× the fonts).

Pipeline (synthetic samples; numbers are :class:`GenerationParams` defaults)
-----------------------------------------------------------------------------
1. Render the character with Pillow (FreeType, basic layout) at 160 pt and crop it to its
   ink. A character the font lacks (it renders as the ``.notdef`` glyph) or that draws
   nothing is skipped for that font (``info`` lists them). Glyphs narrower than 0.6 of
   their height are widened by up to 1.3×. Fit into 36×36 px, aspect ratio kept, centred on
   a 64×64 canvas.
2. Random affine about the canvas centre: rotation ±12°, horizontal shear ±0.25 (tangent),
   scale ×0.85..1.15 (log-uniform) with aspect ×1/1.15..1.15, translation ±4 px.
3. Elastic distortion (Simard, Steinkraus and Platt, 2003): two fields of uniform(-1, 1)
   noise, each smoothed by a Gaussian of σ = 6 px and scaled by α = 45, move every output
   pixel's sampling point (about 1.2 px per axis). Bilinear sampling, threshold at half.
4. Crop to the ink and fit into a 64×64 frame (the longer side fills it, aspect kept).
5. Stroke thickness: dilate, or erode by at most 2 px, by thresholding the Euclidean distance
   to the stroke edge, so that the ink covers a random fraction of the frame:
   f ~ N(0.26, 0.073) clipped to [0.12, 0.40] — MNIST SD-3's digits, binarized at half and
   measured in the square of their longer side — times min(1, w / 0.7) where w is the
   shorter side over the longer (0.7 is MNIST's median): narrow glyphs get the digits' ink
   *density* instead of filling their counters.
6. MNIST layout (:func:`registry.core.preprocess.mnist_layout`): the binary frame reduced
   with an anti-aliasing filter to fit 20×20, centre of mass at (14, 14), 0..255.

Every sample has its own :class:`numpy.random.Generator`, seeded from (seed, font file name,
class index, sample index); nothing else feeds it (no global random state, no dict or set
order, no parallelism), so the same profile and seed give byte-identical arrays with the
same library and font versions (``info["versions"]`` and ``info["sources"]`` record them).

Model input (every class)
-------------------------
:func:`preprocess`: the 28×28 uint8 image as float32 divided by 255, shape ``(N, 28, 28, 1)``,
ink high. Splits hold these inputs; :func:`split_sha256` hashes them.

Limitations
-----------
* No child wrote any of it: the digits are by adults (Census employees) and high-school
  students on paper, and by 44 adults on a tablet; letters and signs are fonts made to look
  handwritten, bent at random. Accuracy on young children's handwriting is not measured.
* Letters are never tested on real handwriting: their test is two held-out font families.
* Class sizes differ: ``info["counts"]`` lists them per split.

The package, one job per module: :mod:`._base` (labels, profiles, parameters, errors),
:mod:`.fonts`, :mod:`.synthesis`, :mod:`.digits` (the real writers) and :mod:`.dataset`
(:func:`load`).
"""

from ._base import (
    EXCLUDED_PACKAGES,
    FONT_PACKAGES,
    FONT_ROOT,
    LABELS,
    PROFILES,
    Dataset,
    FontsMissingError,
    GenerationParams,
    Profile,
    Split,
    preprocess,
    split_sha256,
)
from .dataset import load
from .digits import heldout

__all__ = [
    "Dataset",
    "EXCLUDED_PACKAGES",
    "FONT_PACKAGES",
    "FONT_ROOT",
    "FontsMissingError",
    "GenerationParams",
    "LABELS",
    "PROFILES",
    "Profile",
    "Split",
    "heldout",
    "load",
    "preprocess",
    "split_sha256",
]
