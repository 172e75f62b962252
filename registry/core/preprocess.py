"""The manifest's preprocessing contract as plain code an app can copy: the grammar word
tokenizer (as ``tokenizer.json`` describes it), answer-history tokens for knowledge tracing,
image scaling, normalizers looked up by name, and int8 input/output (de)quantization.

Only numpy; no TensorFlow, no zoo."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from registry.core.errors import UsageError

#: The grammar tokenizer's regular expression (``tokenizer.json`` repeats it; a different one is refused).
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]"
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


#: The unknown-word rule sets a ``tokenizer.json`` may name (``unknown_rules_version``; absent
#: is 1). Version 2 reads a final ``us`` or ``is`` as singular (``cactus``, ``oasis``), where
#: version 1 took every final ``s`` but ``ss`` for a plural.
UNKNOWN_RULES_VERSIONS = (1, 2)


def unknown_token(token: str, version: int = 1) -> str:
    """The unknown-word token for an out-of-vocabulary (lowercased) token, by the rules in
    ``tokenizer.json``'s ``unknown_rules`` of that ``unknown_rules_version``."""
    if any("0" <= c <= "9" for c in token):
        return "[UNK-NUM]"
    if not any("a" <= c <= "z" for c in token):
        return "[UNK-PUNCT]"
    vowel = "-V" if token[0] in "aeiou" else ""
    n = len(token)
    singular_s = ("ss", "us", "is") if version >= 2 else ("ss",)
    if token.endswith("ing") and n >= 5:
        suffix = "-ing"
    elif token.endswith("ed") and n >= 4:
        suffix = "-ed"
    elif token.endswith("ly") and n >= 4:
        suffix = "-ly"
    elif token.endswith("s") and not token.endswith(singular_s) and n >= 3:
        suffix = "-s"
    else:
        suffix = ""
    return f"[UNK{vowel}{suffix}]"


@dataclass(frozen=True)
class WordTokenizer:
    """The ``edzoo-grammar-words`` tokenizer: ASCII-lowercase, split by :data:`TOKEN_PATTERN`,
    ``[CLS]`` then ids (unknown words by shape), cut to ``max_len``, right-padded with 0."""

    vocab: tuple[str, ...]
    max_len: int
    unknown_rules_version: int = 1

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, source: str = "tokenizer.json") -> WordTokenizer:
        """Read a tokenizer description. Raises UsageError when it is another kind of tokenizer,
        or names unknown-word rules this edzoo does not know."""
        if d.get("type") != "edzoo-grammar-words" or d.get("pattern") != TOKEN_PATTERN:
            raise UsageError(f"{source}: not an edzoo-grammar-words tokenizer; this edzoo cannot run it")
        if d.get("padding", "right") != "right" or d.get("truncation", "right") != "right":
            raise UsageError(f"{source}: only right padding and truncation are supported")
        version = d.get("unknown_rules_version", 1)
        if version not in UNKNOWN_RULES_VERSIONS or isinstance(version, bool):
            raise UsageError(
                f"{source}: unknown-word rules version {version!r}; this edzoo knows "
                f"{', '.join(map(str, UNKNOWN_RULES_VERSIONS))}: upgrade edzoo to run this model"
            )
        return cls(tuple(d["vocab"]), int(d["max_len"]), int(version))

    def tokens(self, text: str) -> list[str]:
        """The text's tokens, lowercased (ASCII only)."""
        return re.findall(TOKEN_PATTERN, text.translate(_LOWER))

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` (1) then the token ids, cut to ``max_len``; not padded."""
        ids = {t: i for i, t in enumerate(self.vocab)}
        out = [1]
        for t in self.tokens(text)[: self.max_len - 1]:
            out.append(ids[t] if t in ids else ids[unknown_token(t, self.unknown_rules_version)])
        return out

    def encode_padded(self, text: str) -> np.ndarray:
        """int32 ``(max_len,)``: :meth:`encode`, right-padded with 0."""
        ids = self.encode(text)
        row = np.zeros(self.max_len, np.int32)
        row[: len(ids)] = ids
        return row


def history_tokens(
    history: Sequence[Mapping[str, Any]], length: int, *, n_skills: int | None = None, source: str = "history"
) -> np.ndarray:
    """int32 ``(length,)`` tokens of an answer history, its last ``length`` answers oldest first.

    Recommendation (``n_skills`` None): item i answered is ``1 + 2*i + correct``, left-padded
    with 0. Knowledge tracing (``n_skills`` S): ``1 + skill + S*correct``, right-padded with 0.

    Raises UsageError for an entry without an int ``item`` and a bool ``correct``."""
    tokens: list[int] = []
    for k, entry in enumerate(history):
        item = entry.get("item") if isinstance(entry, Mapping) else None
        correct = entry.get("correct") if isinstance(entry, Mapping) else None
        if not isinstance(item, int) or isinstance(item, bool) or item < 0 or not isinstance(correct, bool):
            raise UsageError(f'{source}: entry {k} must be {{"item": INT >= 0, "correct": true|false}}')
        if n_skills is not None and item >= n_skills:
            raise UsageError(f"{source}: entry {k} names skill {item}; the model knows 0..{n_skills - 1}")
        tokens.append(1 + item + n_skills * int(correct) if n_skills is not None else 1 + 2 * item + int(correct))
    tokens = tokens[-length:]
    out = np.zeros(length, np.int32)
    if tokens and n_skills is None:
        out[length - len(tokens) :] = tokens
    elif tokens:
        out[: len(tokens)] = tokens
    return out


def scale(values: np.ndarray, pixel_range: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """float32 ``values`` mapped linearly from ``pixel_range`` to ``target`` (e.g. 0..255 to 0..1)."""
    lo, hi = float(pixel_range[0]), float(pixel_range[1])
    a, b = float(target[0]), float(target[1])
    return ((np.asarray(values, np.float32) - lo) / (hi - lo) * (b - a) + a).astype(np.float32)


#: Normalizers a manifest's image block may name (``"normalize": NAME``): grayscale -> grayscale.
NORMALIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {}


def register_normalizer(
    name: str,
) -> Callable[[Callable[[np.ndarray], np.ndarray]], Callable[[np.ndarray], np.ndarray]]:
    """Decorator: make a normalizer available to manifests as ``"normalize": name``."""

    def add(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        NORMALIZERS[name] = fn
        return fn

    return add


def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an anti-aliased linear resampling (a triangle filter widened by
    the reduction factor, as Pillow's BILINEAR resize does), pixel centres aligned."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    src = np.arange(n_in) + 0.5
    w = np.clip(1.0 - np.abs(src[None, :] - centres[:, None]) / support, 0.0, None)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return w


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 2-D float image resampled to ``height`` x ``width`` (anti-aliased linear)."""
    a = np.asarray(image, np.float64)
    return (_resample_matrix(a.shape[0], height) @ a @ _resample_matrix(a.shape[1], width).T).astype(np.float32)


def mnist_layout(ink: np.ndarray, size: int = 28, box: int = 20, threshold: float = 0.05) -> np.ndarray:
    """MNIST's layout of one character: ``ink`` (2-D, ink high, background 0, any scale) is
    cropped to the pixels above ``threshold`` of its peak, scaled so its longer side fills
    ``box`` pixels (aspect kept), and placed in a ``size`` x ``size`` frame with its centre of
    mass at pixel (size/2, size/2) in row and column indices: (14, 14), as MNIST measured it.
    Returns float32 on the input's scale; blank input gives zeros."""
    a = np.clip(np.asarray(ink, np.float32), 0.0, None)
    frame = np.zeros((size, size), np.float32)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0:
        return frame
    rows = np.flatnonzero((a > threshold * peak).any(axis=1))
    cols = np.flatnonzero((a > threshold * peak).any(axis=0))
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = a.shape
    f = box / max(h, w)
    small = resize(a, max(1, round(h * f)), max(1, round(w * f)))
    total = float(small.sum())
    sh, sw = small.shape
    cy = float((small.sum(axis=1) * np.arange(sh)).sum() / total)
    cx = float((small.sum(axis=0) * np.arange(sw)).sum() / total)
    top, left = int(round(size / 2 - cy)), int(round(size / 2 - cx))
    ys = slice(max(0, top), min(size, top + sh))
    xs = slice(max(0, left), min(size, left + sw))
    frame[ys, xs] = small[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
    return frame


@register_normalizer("mnist")
def mnist_character(gray: np.ndarray) -> np.ndarray:
    """A photo, scan or canvas export of one character (grayscale 0..255, dark ink on a light
    background or light on dark, the background read from the image's border) as MNIST shows
    it: 28 x 28, ink high on 0, 0..255 with the strongest stroke at 255, laid out by
    :func:`mnist_layout`. The border's grain (its 99th percentile, at least 8 levels) is taken
    off first, so paper noise is neither ink nor part of the character's box."""
    g = np.asarray(gray, np.float32)
    if g.ndim != 2 or min(g.shape) < 2:
        raise UsageError(f"expected a 2-D grayscale image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    ink = background - g if background >= 128 else g - background
    # The paper's own grain, measured on the border, is not ink.
    floor = max(8.0, float(np.percentile(np.abs(border - background), 99)))
    ink = np.clip(ink - floor, 0.0, None)
    if float(ink.max()) < 16:  # a blank page
        return np.zeros((28, 28), np.float32)
    image = mnist_layout(ink)
    return np.clip(image / max(float(image.max()), 1e-6) * 255.0, 0.0, 255.0).astype(np.float32)


def normalizer(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The normalizer called ``name``. Raises UsageError naming the known ones."""
    try:
        return NORMALIZERS[name]
    except KeyError:
        known = ", ".join(sorted(NORMALIZERS)) or "none"
        raise UsageError(
            f"the manifest asks for image normalizer {name!r}, which this edzoo does not have (known: {known}); "
            "upgrade edzoo"
        ) from None


def quantize(x: np.ndarray, scale_: float, zero_point: int, dtype: Any) -> np.ndarray:
    """``x`` as an int tensor of ``dtype`` by the tensor's quantization (round, then clip)."""
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, np.float32) / scale_ + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale_: float, zero_point: int) -> np.ndarray:
    """float32 values of an int tensor by its quantization."""
    return ((np.asarray(q, np.float32) - zero_point) * scale_).astype(np.float32)
