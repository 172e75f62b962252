"""The WordNet sentences: gloss examples and verb-frame sentences (the package docstring, "Sources")."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ._base import (
    _FRAME_FILES,
    _GLOSS_FILES,
    WORDNET_DIR,
    GenerationParams,
    InflectionMissingError,
    WordNetMissingError,
    _words,
)
from .blocklist import _SUFFIXES, BLOCKLIST, blocked

_ALLOWED = re.compile(r"[A-Za-z0-9 ,.;:!?'\-]+")

_QUOTED = re.compile(r'"([^"]+)"')

_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*")

#: Subjects that replace ``They`` in frame sentences: (text, singular?).
SUBJECTS: tuple[tuple[str, bool], ...] = (
    ("Sam", True),
    ("Mia", True),
    ("The teacher", True),
    ("My sister", True),
    ("Grandpa", True),
    ("They", False),
    ("We", False),
    ("The children", False),
    ("My friends", False),
    ("Sam and Mia", False),
)


def _sentence_like(text: str, p: GenerationParams) -> str | None:
    """The example as a sentence (a final period added when needed), or None when it is not one."""
    text = " ".join(text.split())
    if not text or not _ALLOWED.fullmatch(text) or not text[0].isupper() or ".." in text:
        return None
    if not p.min_words <= len(_WORD.findall(text)) <= p.max_words:
        return None
    if text[-1] not in ".!?":
        if not text[-1].isalnum():
            return None
        text += "."
    return text


_PARTICLES = _words("up down in out off on over away back through along around about together apart")


def _inflect_verb(lemma: str, tag: str) -> str:
    import lemminflect

    head, *rest = lemma.split("_")
    if tag == "VB":
        form = head
    else:
        forms = lemminflect.getInflection(head, tag)
        form = forms[0] if forms else head
    return " ".join([form, *rest])


def _stable_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def instantiate(template: str, lemma: str, key: str) -> str | None:
    """A frame template (``They %s the coin``) with ``lemma`` inflected in it; ``They`` may be
    replaced by a subject of :data:`SUBJECTS` chosen by a hash of ``key``. None when unusable."""
    head, *rest = lemma.split("_")
    if head == "be" or '"' in template or template.count("%s") != 1 or any(w not in _PARTICLES for w in rest):
        return None
    words = template.split()
    subject = None
    if words[:2] == ["They", "%s"] and not {"their", "themselves"} & {w.lower() for w in words}:
        subject = SUBJECTS[_stable_int(key) % len(SUBJECTS)]
        words = [*subject[0].split(), *words[1:]]
    out = []
    for w in words:
        if "%s" in w:
            if w.startswith("%sing"):
                verb, tail = _inflect_verb(lemma, "VBG"), w[5:]
            elif w.startswith("%ss"):
                verb, tail = _inflect_verb(lemma, "VBZ"), w[3:]
            elif subject is not None and subject[1]:
                verb, tail = _inflect_verb(lemma, "VBZ"), w[2:]
            else:
                verb, tail = _inflect_verb(lemma, "VB"), w[2:]
            out.append(verb + tail)
        else:
            out.append(w)
    text = " ".join(out)
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise WordNetMissingError(
            f"WordNet data file {path} not found; install the Debian package with: apt-get install wordnet-base"
        ) from e


def _raw_sentences(root: Path, p: GenerationParams) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(origin, sentence) before filtering and deduplication, and the sha256 of each file read."""
    digests: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    stats = {"gloss_examples": 0, "gloss_sentence_like": 0, "frame_pairs": 0, "frame_sentences": 0}
    for name in _GLOSS_FILES:
        raw = _read(root / name)
        digests[name] = hashlib.sha256(raw).hexdigest()
        for line in raw.decode("utf-8", errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            for example in _QUOTED.findall(line.split("|", 1)[1]):
                stats["gloss_examples"] += 1
                s = _sentence_like(example, p)
                if s is not None:
                    stats["gloss_sentence_like"] += 1
                    out.append(("gloss", s))
    files = {}
    for name in _FRAME_FILES:
        raw = _read(root / name)
        digests[name] = hashlib.sha256(raw).hexdigest()
        files[name] = raw.decode("utf-8", errors="replace")
    templates = {}
    for line in files["sents.vrb"].splitlines():
        num, _, text = line.partition(" ")
        if num.isdigit():
            templates[int(num)] = text.strip()
    for line in files["sentidx.vrb"].splitlines():
        key, _, nums = line.strip().partition(" ")
        if "%" not in key or not nums:
            continue
        lemma = key.split("%")[0]
        for num in nums.split(","):
            if not num.strip().isdigit() or int(num) not in templates:
                continue
            stats["frame_pairs"] += 1
            s = instantiate(templates[int(num)], lemma, f"{key} {num}")
            s = None if s is None else _sentence_like(s, p)
            if s is not None:
                stats["frame_sentences"] += 1
                out.append(("frame", s))
    return out, {"sha256": digests, "counts": stats}


def sentences(root: Path | None = None, params: GenerationParams | None = None) -> tuple[list[str], dict[str, Any]]:
    """Every clean source sentence (filtered, deduplicated, in file order; the index is the
    source id) and the corpus statistics. Raises WordNetMissingError, InflectionMissingError."""
    _require_inflection()
    p = params or GenerationParams()
    raw, stats = _raw_sentences(Path(root) if root is not None else WORDNET_DIR, p)
    seen: set[str] = set()
    kept: list[str] = []
    by_origin: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    dropped_total = 0
    for origin, s in raw:
        if s in seen:
            continue
        seen.add(s)
        cats = blocked(s)
        if cats:
            dropped_total += 1
            dropped.update(cats)
            continue
        kept.append(s)
        by_origin[origin] += 1
    stats["counts"].update({"unique_kept_" + k: v for k, v in sorted(by_origin.items())})
    stats["filter"] = {
        "blocklist_stems": sum(len(v) for v in BLOCKLIST.values()),
        "categories": sorted(BLOCKLIST),
        "dropped_sentences": dropped_total,
        "dropped_by_category": dict(sorted(dropped.items())),
        "rule": "whole lowercase words equal to a stem or a stem + one of: "
        + " ".join(s for s in _SUFFIXES if s)
        + "; also with the final consonant doubled (ed ing er ers y) or a final e dropped (ing er ers y)",
    }
    return kept, stats


def _require_inflection() -> None:
    try:
        import inflect  # noqa: F401
        import lemminflect  # noqa: F401
    except ImportError as e:
        raise InflectionMissingError(
            f"the grammar error generator needs lemminflect and inflect ({e}); install them with: "
            "pip install lemminflect inflect"
        ) from e
