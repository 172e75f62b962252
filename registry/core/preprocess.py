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


def unknown_token(token: str) -> str:
    """The unknown-word token for an out-of-vocabulary (lowercased) token, by the rules in
    ``tokenizer.json``'s ``unknown_rules``."""
    if any("0" <= c <= "9" for c in token):
        return "[UNK-NUM]"
    if not any("a" <= c <= "z" for c in token):
        return "[UNK-PUNCT]"
    vowel = "-V" if token[0] in "aeiou" else ""
    n = len(token)
    if token.endswith("ing") and n >= 5:
        suffix = "-ing"
    elif token.endswith("ed") and n >= 4:
        suffix = "-ed"
    elif token.endswith("ly") and n >= 4:
        suffix = "-ly"
    elif token.endswith("s") and not token.endswith("ss") and n >= 3:
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

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, source: str = "tokenizer.json") -> WordTokenizer:
        """Read a tokenizer description. Raises UsageError when it is another kind of tokenizer."""
        if d.get("type") != "edzoo-grammar-words" or d.get("pattern") != TOKEN_PATTERN:
            raise UsageError(f"{source}: not an edzoo-grammar-words tokenizer; this edzoo cannot run it")
        if d.get("padding", "right") != "right" or d.get("truncation", "right") != "right":
            raise UsageError(f"{source}: only right padding and truncation are supported")
        return cls(tuple(d["vocab"]), int(d["max_len"]))

    def tokens(self, text: str) -> list[str]:
        """The text's tokens, lowercased (ASCII only)."""
        return re.findall(TOKEN_PATTERN, text.translate(_LOWER))

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` (1) then the token ids, cut to ``max_len``; not padded."""
        ids = {t: i for i, t in enumerate(self.vocab)}
        out = [1]
        for t in self.tokens(text)[: self.max_len - 1]:
            out.append(ids[t] if t in ids else ids[unknown_token(t)])
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


def normalizer(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The normalizer called ``name``. Raises UsageError naming the known ones."""
    if name == "mnist" and "mnist" not in NORMALIZERS:
        mnist = globals().get("mnist_character")
        if callable(mnist):
            NORMALIZERS["mnist"] = mnist
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
