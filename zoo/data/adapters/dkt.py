"""The ``dkt`` layout: Deep Knowledge Tracing logs, three lines per student (answer count, skill
ids, 0/1 answers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data._base import Parts, Request, Source, fail, like_info, register_adapter, take
from zoo.datasets.common import Split

from ._common import _DKT_NAMES, _DKT_SUFFIXES, _for_request, _named_files, _plan, _sniff
from .conll import _max_len


@dataclass(frozen=True)
class _Student:
    key: str  # "<file>:<n>", the n-th student of the file: the group
    path: Path
    line: int  # of the student's first line
    skills: tuple[int, ...]  # original skill ids
    correct: tuple[int, ...]


def _ints(p: Path, text: str, what: str, line: int) -> list[int]:
    items = [t.strip() for t in text.split(",")]
    if items[-1] == "":  # a trailing comma, as the original files have, or no answers at all
        items.pop()
    try:
        return [int(t) for t in items]
    except ValueError:
        raise fail(
            p, f"has {what} that are not integers ({text[:40]!r})", "give comma-separated integers", line=line
        ) from None


def _parse_dkt(source: Source, p: Path) -> list[_Student]:
    lines = source.read_text(p).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 3:
        raise fail(
            p,
            f"has {len(lines)} lines, not a multiple of 3",
            "give each student three lines: the number of answers, the skill ids, the 0/1 answers",
        )
    if not lines:
        raise fail(p, "holds no students", "give each student three lines")
    students = []
    for k in range(0, len(lines), 3):
        count = lines[k].strip()
        if not re.fullmatch(r"[0-9]+", count):
            raise fail(p, f"should give a number of answers, not {count[:40]!r}", "give a whole number", line=k + 1)
        n = int(count)
        skills = _ints(p, lines[k + 1], "skill ids", k + 2)
        correct = _ints(p, lines[k + 2], "answers", k + 3)
        for got, what, line in ((skills, "skill ids", k + 2), (correct, "answers", k + 3)):
            if len(got) != n:
                raise fail(
                    p, f"lists {len(got)} {what} but line {k + 1} says {n}", "make the count match the list", line=line
                )
        if any(c not in (0, 1) for c in correct):
            raise fail(p, "has answers other than 0 and 1", "mark each answer 1 (right) or 0 (wrong)", line=k + 3)
        students.append(_Student(f"{source.rel(p)}:{k // 3 + 1}", p, k + 1, tuple(skills), tuple(correct)))
    return students


def _is_dkt(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() in _DKT_SUFFIXES and _sniff(p) == "dkt"
    if not p.is_dir():
        return False
    return any(
        f.is_file() and f.suffix.lower() in _DKT_SUFFIXES and _sniff(f) == "dkt"
        for f in p.iterdir()
        if any(rx.search(f.name.lower()) for _, rx in _DKT_NAMES)
    )


@register_adapter(
    "dkt",
    kind="knowledge-tracing",
    summary="3 lines per student (answer count; skill ids; 0/1 answers); a file, or a folder of train/test files",
    detect=_is_dkt,
)
def read_dkt(request: Request) -> Parts:
    """Deep Knowledge Tracing text files, one group per student, cut into windows of ``max_len``
    answers. Raises DataError as the module says."""
    src, o, like, path = request.source, request.options, request.like, request.source.path
    if path.is_file():
        files = {"all": path}
    elif path.is_dir():
        files = _named_files(src, path, _DKT_SUFFIXES, _DKT_NAMES, "DKT")
    else:
        raise fail(path, "is neither a file nor a folder", "give a DKT file or a folder of train and test files")
    read = {pool: _parse_dkt(src, f) for pool, f in _for_request(request, files).items()}
    if like is not None:
        skills = [int(s) for s in like_info(like, "skills", path, "skill mapping")]
        max_len: int | None = int(like_info(like, "max_len", path, "sequence length"))
    else:
        skills = sorted({s for pool in read.values() for st in pool for s in st.skills})
        max_len = None
    mapping = {s: i for i, s in enumerate(skills)}
    n_skills = len(mapping)
    for pool in read.values():
        for st in pool:
            for s in st.skills:
                if s not in mapping:
                    raise fail(
                        st.path,
                        f"has skill {s}, which the training data does not have",
                        "map it to a known skill, or drop the answer",
                        line=st.line + 1,
                    )
    students = {pool: [st for st in sts if len(st.skills) >= 2] for pool, sts in read.items()}
    keys = {pool: np.asarray([st.key for st in sts], dtype=str) for pool, sts in students.items()}
    p = _plan(request, keys, "student", files)
    chosen = {name: take(students, pieces) for name, pieces in p.pieces.items()}
    if max_len is None:
        max_len = _max_len(o, [len(st.skills) - 1 for st in chosen["train"]])
    splits = {}
    for name, group in chosen.items():
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
        for st in group:
            skill_ids = np.array([mapping[v] for v in st.skills], np.int64)
            right = np.array(st.correct, np.int64)
            inputs = 1 + skill_ids[:-1] + n_skills * right[:-1]
            targets, target_skills = right[1:], skill_ids[1:]
            for start in range(0, len(inputs), max_len):
                window = slice(start, start + max_len)
                rows.append((inputs[window], targets[window], target_skills[window], st.key))
        x = np.zeros((len(rows), max_len), np.int32)
        y = np.full((len(rows), max_len), -1, np.int64)
        skill = np.full((len(rows), max_len), -1, np.int64)
        for k, (a, b, c_, _) in enumerate(rows):
            x[k, : len(a)], y[k, : len(b)], skill[k, : len(c_)] = a, b, c_
        splits[name] = Split(x, y, {"skill": skill, "group": np.asarray([r[3] for r in rows], dtype=str)})
    info = {
        "skills": skills,
        "n_skills": n_skills,
        "max_len": max_len,
        "students": {name: len(group) for name, group in chosen.items()},
        "skipped_students": sum(len(read[pool]) - len(students[pool]) for pool in read),
        "encoding": "x = 1 + skill + n_skills * correct of the answers before each step (0: padding); "
        "y: the next answer's correctness, meta skill: its skill (-1: padding)",
    }
    return Parts(splits, ("wrong", "right"), p.declared, p.made, info)
