"""The ``conll`` layout: token-per-line files (token first, label last, a blank line between
sentences), one file or a folder of train/dev/test files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data._base import (
    MAX_LEN_CAP,
    DataOptions,
    Parts,
    Request,
    Source,
    fail,
    label_index,
    like_info,
    register_adapter,
    take,
)
from zoo.datasets.common import Split

from ._common import _CONLL_NAMES, TEXT_SUFFIXES, _for_request, _named_files, _plan, _sniff


@dataclass(frozen=True)
class _Sentence:
    path: Path
    tokens: tuple[str, ...]  # lowercased
    labels: tuple[str, ...]
    lines: tuple[int, ...]  # of each token, for errors


def _parse_conll(source: Source, p: Path) -> list[_Sentence]:
    out: list[_Sentence] = []
    tokens: list[str] = []
    labels: list[str] = []
    lines: list[int] = []

    def end_sentence() -> None:
        if tokens:
            out.append(_Sentence(p, tuple(tokens), tuple(labels), tuple(lines)))
            tokens.clear()
            labels.clear()
            lines.clear()

    for i, raw in enumerate(source.read_text(p).splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0] == "-DOCSTART-":
            end_sentence()
            continue
        if len(fields) < 2:
            raise fail(p, f"has the token {fields[0]!r} but no label", "put the label in the last column", line=i)
        tokens.append(fields[0].lower())
        labels.append(fields[-1])
        lines.append(i)
    end_sentence()
    if not out:
        raise fail(p, "holds no sentences", "give one token and its label per line, a blank line between sentences")
    return out


def _is_conll(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() in TEXT_SUFFIXES and _sniff(p) == "conll"
    if not p.is_dir():
        return False
    return any(
        f.is_file() and f.suffix.lower() in TEXT_SUFFIXES and _sniff(f) == "conll"
        for f in p.iterdir()
        if any(rx.search(f.name.lower()) for _, rx in _CONLL_NAMES)
    )


def _max_len(o: DataOptions, train_lengths: Sequence[int]) -> int:
    return o.max_len or min(MAX_LEN_CAP, max(train_lengths, default=1))


@register_adapter(
    "conll",
    kind="token-classification",
    summary="token-per-line files (token first, label last, blank line between sentences); "
    "a file, or a folder of train/dev/test files",
    detect=_is_conll,
)
def read_conll(request: Request) -> Parts:
    """CoNLL-style token files; the vocabulary comes from the training split (``like``'s when
    given). Raises DataError as the module says."""
    src, o, like, path = request.source, request.options, request.like, request.source.path
    if path.is_file():
        files = {"all": path}
    elif path.is_dir():
        files = _named_files(src, path, TEXT_SUFFIXES, _CONLL_NAMES, "token")
    else:
        raise fail(path, "is neither a file nor a folder", "give a CoNLL file or a folder of them")
    sentences = {pool: _parse_conll(src, f) for pool, f in _for_request(request, files).items()}
    p = _plan(request, {pool: np.arange(len(s)) for pool, s in sentences.items()}, "sentence", files)
    chosen = {name: take(sentences, pieces) for name, pieces in p.pieces.items()}
    if like is not None:
        vocab = list(like_info(like, "vocab", path, "vocabulary"))
        max_len = int(like_info(like, "max_len", path, "sequence length"))
        labels = like.labels
    else:
        counts = Counter(t for s in chosen["train"] for t in s.tokens)
        vocab = ["[PAD]", "[UNK]", *sorted(counts, key=lambda t: (-counts[t], t))]
        max_len = _max_len(o, [len(s.tokens) for s in chosen["train"]])
        found = {label for pool in sentences.values() for s in pool for label in s.labels}
        labels = (("O",) if "O" in found else ()) + tuple(sorted(found - {"O"}))
    ids = {t: i for i, t in enumerate(vocab)}
    index = label_index(labels)
    splits, truncated, unknown = {}, {}, {}
    for name, group in chosen.items():
        x = np.zeros((len(group), max_len), np.int32)
        y = np.full((len(group), max_len), -1, np.int64)
        for k, s in enumerate(group):
            for j, (token, label) in enumerate(zip(s.tokens[:max_len], s.labels[:max_len], strict=True)):
                if label not in index:
                    raise fail(
                        s.path,
                        f"has the label {label!r}, which the training data does not have",
                        f"use its labels: {', '.join(labels)}",
                        line=s.lines[j],
                    )
                x[k, j] = ids.get(token, 1)
                y[k, j] = index[label]
        truncated[name] = sum(len(s.tokens) > max_len for s in group)
        unknown[name] = int(((x == 1) & (y >= 0)).sum())
        splits[name] = Split(x, y, {})
    info = {"vocab": vocab, "max_len": max_len, "truncated": truncated, "unknown_tokens": unknown}
    return Parts(splits, labels, p.declared, p.made, info)
