"""The dataset: splits by hash, corruption, tokenization, the cache (:func:`load`, :func:`texts`)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

from ._base import (
    _FORMAT,
    _FRAME_FILES,
    _GLOSS_FILES,
    _LICENSE,
    _SPLITS,
    ERROR_TYPES,
    LABELS,
    PROFILES,
    SIMPLE_PROFILES,
    WORDNET_DIR,
    GenerationParams,
)
from .blocklist import BLOCKLIST, blocked
from .rules import corrupt
from .simple import _INDEX_FILES, simple_sentences
from .tokenizer import Tokenizer
from .wordnet import SUBJECTS, _read, _require_inflection, sentences


def _split_of(clean: str) -> int:
    """0 train, 1 val, 2 test, from the hash of the clean sentence (seed-free)."""
    h = int(hashlib.sha256(("edzoo-grammar-split:" + clean).encode()).hexdigest()[:8], 16) % 10
    return 2 if h == 0 else 1 if h == 1 else 0


def _subset(corpus: list[str], n: int | None) -> list[int]:
    """Source ids of the profile: the ``n`` smallest subset hashes, in id order."""
    if n is None or n >= len(corpus):
        return list(range(len(corpus)))
    keys = sorted(
        range(len(corpus)), key=lambda k: hashlib.sha256(("edzoo-grammar-subset:" + corpus[k]).encode()).digest()
    )
    return sorted(keys[:n])


def _versions() -> dict[str, str]:
    from importlib import metadata

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "lemminflect": metadata.version("lemminflect"),
        "inflect": metadata.version("inflect"),
    }


def _package_version(package: str) -> str | None:
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _generate(profile: str, seed: int, p: GenerationParams, root: Path) -> tuple[dict[str, np.ndarray], dict]:
    corpus, stats = sentences(root, p)
    ids = _subset(corpus, PROFILES[profile])
    # The simple sentences come after every WordNet one, so WordNet source ids do not move.
    known = set(corpus)
    simple, simple_edits = simple_sentences(SIMPLE_PROFILES[profile], root)
    stats["sha256"].update({name: hashlib.sha256(_read(root / name)).hexdigest() for name in _INDEX_FILES})
    simple = [s for s in simple if s not in known]
    ids += range(len(corpus), len(corpus) + len(simple))
    corpus = corpus + simple
    rng = np.random.default_rng([seed, 0x6772])
    order = rng.permutation(len(ids))
    used = dict.fromkeys(ERROR_TYPES, 0)
    chosen: dict[int, tuple[str, str, int]] = {}
    applicable = dict.fromkeys(ERROR_TYPES, 0)
    clean_set = set(corpus)
    for k in order:
        sid = ids[int(k)]
        options = {}
        edits = simple_edits[corpus[sid]] if corpus[sid] in simple_edits else corrupt(corpus[sid])
        for kind, found in edits.items():
            # never another clean source, never a blocked word ("two dice" -> "two die")
            found = [(text, pos) for text, pos in found if text not in clean_set and not blocked(text)]
            if found:
                options[kind] = found
        for kind in options:
            applicable[kind] += 1
        if not options or rng.random() >= p.corrupt_fraction:
            continue
        kinds = [t for t in ERROR_TYPES if t in options]
        low = min(used[t] for t in kinds)
        ties = [t for t in kinds if used[t] == low]
        kind = ties[int(rng.integers(len(ties)))]
        text, pos = options[kind][int(rng.integers(len(options[kind])))]
        used[kind] += 1
        chosen[sid] = (kind, text, pos)
    records: list[tuple[int, str, int, int, int]] = []  # split, text, label, position, source
    for sid in ids:
        split = _split_of(corpus[sid])
        records.append((split, corpus[sid], 0, -1, sid))
        if sid in chosen:
            kind, text, pos = chosen[sid]
            records.append((split, text, LABELS.index(kind), pos, sid))
    arrays: dict[str, np.ndarray] = {}
    for k, name in enumerate(_SPLITS):
        rows = [r for r in records if r[0] == k]
        arrays[f"text_{name}"] = np.array([r[1] for r in rows], dtype=str)
        arrays[f"label_{name}"] = np.array([r[2] for r in rows], dtype=np.int64)
        arrays[f"position_{name}"] = np.array([r[3] for r in rows], dtype=np.int32)
        arrays[f"source_{name}"] = np.array([r[4] for r in rows], dtype=np.int32)
    info: dict[str, Any] = {
        "dataset": "edzoo grammar",
        "profile": profile,
        "seed": seed,
        "labels": list(LABELS),
        "params": asdict(p),
        "corpus": {
            **stats["counts"],
            "sentences": len(corpus) - len(simple),
            "profile_sentences": len(ids) - len(simple),
            "simple_sentences": len(simple),
        },
        "filter": stats["filter"],
        "generator": {
            "applicable_sentences": applicable,
            "chosen": used,
            "seeding": "numpy default_rng([seed, 0x6772]): visiting order, tie-breaks and sites",
            "balance": "each sentence takes the applicable type used least so far",
            "subjects": [s for s, _ in SUBJECTS],
        },
        "splits": {
            "rule": "h = int(sha256('edzoo-grammar-split:' + clean)[:8 hex], 16) % 10: 0 test, 1 val, else train",
            "subset": "quick: the sentences with the smallest sha256('edzoo-grammar-subset:' + clean)",
        },
        "sources": {
            "package": "wordnet-base",
            "version": _package_version("wordnet-base"),
            "dir": str(root),
            "sha256": stats["sha256"],
        },
        "license": _LICENSE,
        "raw_sha256": _raw_sha256(arrays),
        "format": _FORMAT,
        "versions": _versions(),
    }
    return arrays, info


def _raw_sha256(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(name.encode())
        if a.dtype.kind == "U":
            h.update("\n".join(a.tolist()).encode() + b"\x00" + str(a.size).encode())
        else:
            h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    if _raw_sha256(arrays) != info["raw_sha256"]:
        raise ValueError("cached grammar records do not match their recorded digest")
    p = GenerationParams(**info["params"])
    tok = Tokenizer.build(arrays["text_train"].tolist(), p.vocab_size, p.min_count, p.max_len)
    splits = {}
    for name in _SPLITS:
        text = arrays[f"text_{name}"]
        y = arrays[f"label_{name}"].astype(np.int64)
        pos = arrays[f"position_{name}"].astype(np.int32)
        encoded = np.where((pos >= 0) & (pos + 1 < p.max_len), pos + 1, -1).astype(np.int32)
        meta = {
            "error_type": y.astype(np.int32),
            "position": encoded,
            "source": arrays[f"source_{name}"].astype(np.int32),
            "text": text,
        }
        splits[name] = Split(tok.encode_batch(text.tolist()), y, meta)
    info = json.loads(json.dumps(info))
    info["tokenizer"] = tok.to_json()
    info["vocab_size"] = len(tok.vocab)
    info["counts"] = {
        name: {label: int((splits[name].y == k).sum()) for k, label in enumerate(LABELS)} for name in _SPLITS
    }
    info["sources_per_split"] = {name: int(np.unique(splits[name].meta["source"]).size) for name in _SPLITS}
    info["truncated"] = {
        name: int(sum(len(tok.tokens(t)) + 1 > p.max_len for t in splits[name].meta["text"])) for name in _SPLITS
    }
    info["test_texts"] = splits["test"].meta["text"].tolist()
    info["sha256"] = {name: split_sha256(splits[name]) for name in _SPLITS}
    return Dataset(splits["train"], splits["val"], splits["test"], LABELS, info)


def _cache_key(profile: str, seed: int, p: GenerationParams, root: Path) -> str:
    digests = {}
    for name in (*_GLOSS_FILES, *_FRAME_FILES, *_INDEX_FILES):
        digests[name] = hashlib.sha256(_read(root / name)).hexdigest()
    material = {
        "format": _FORMAT,
        "profile": profile,
        "size": PROFILES[profile],
        "simple": SIMPLE_PROFILES[profile],
        "seed": seed,
        "params": asdict(p),
        "blocklist": BLOCKLIST,
        "files": digests,
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def load(
    profile: str = "quick", seed: int = 0, cache_dir: Path | None = None, *, wordnet_dir: Path | None = None
) -> Dataset:
    """Grammar error detection records for ``profile`` (a key of :data:`PROFILES`).

    With ``cache_dir`` the texts and labels are stored there as ``.npz`` keyed by profile,
    seed, parameters, blocklist, WordNet file digests and library versions; a cached file that
    cannot be read or does not hash to its recorded digests is regenerated. Raises ValueError
    for an unknown profile or a bad seed, WordNetMissingError without ``wordnet-base`` and
    InflectionMissingError without lemminflect or inflect.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    check_seed(seed)
    _require_inflection()
    root = Path(wordnet_dir) if wordnet_dir is not None else WORDNET_DIR
    p = GenerationParams()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"grammar-{profile}-seed{seed}-{_cache_key(profile, seed, p, root)}.npz"
    else:
        for name in (*_GLOSS_FILES, *_FRAME_FILES, *_INDEX_FILES):
            if not (root / name).is_file():
                _read(root / name)  # raises WordNetMissingError before any work is done
    return cached(path, lambda: _generate(profile, seed, p, root), _finish)


def texts(data: Dataset, split: str) -> list[str]:
    """The sentences of ``split`` ("train", "val" or "test"), in record order."""
    if split not in _SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(_SPLITS)}")
    return getattr(data, split).meta["text"].tolist()
