"""The model card's shared text, in Markdown: what the build's ``card.md`` and the Hugging Face
README both say of a version, in one wording. Each renderer adds its own middle (the build's
measurements; the served files and how to fetch them) between :func:`card_head` and
:func:`card_tail`; the web catalog shows the same facts through :func:`education_facts`.

Takes a :class:`~registry.core.model.Manifest` that passed validation; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model import Manifest

__all__ = ["NO_EDUCATION", "card_head", "card_tail", "education_facts", "education_lines"]

#: What a card says when its publisher stated no learners or privacy class.
NO_EDUCATION = "The card states no age band and no privacy class: ask the publisher before students use it."


def education_facts(education: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The card's learners and privacy as (label, value): age band, privacy class, and the
    student data and where it runs when the card says."""
    facts = [
        ("Age band", f"{education.get('age_band', 'not stated')} years"),
        ("Privacy class", str(education.get("privacy_class", "not stated"))),
    ]
    if education.get("student_data"):
        facts.append(("Student data", str(education["student_data"])))
    if education.get("runs_on"):
        facts.append(("Runs on", str(education["runs_on"])))
    return facts


def education_lines(education: Mapping[str, Any]) -> list[str]:
    """:func:`education_facts` as Markdown bullets."""
    return [f"- {label}: {value}" for label, value in education_facts(education)]


def card_head(m: Manifest, *, notice: Sequence[str] = ()) -> list[str]:
    """The title, ``notice`` (a withdrawal, say), the summary and facts, the intended use, the
    limitations, and the learners; ends with a blank line."""
    card = m.card
    education = card.get("education")
    return [
        f"# {m.id} {m.version}",
        "",
        *notice,
        m.summary,
        "",
        f"- Task: {m.task}",
        f"- Subjects: {', '.join(m.subjects)}; grades (age band): {', '.join(m.grades)}",
        f"- Languages: {', '.join(m.languages)}",
        f"- License: {m.license}",
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Limitations",
        "",
        *[f"- {item}" for item in card["limitations"]],
        "",
        "## Learners and privacy",
        "",
        *(education_lines(education) if education else [NO_EDUCATION]),
        "",
    ]


def card_tail(m: Manifest) -> list[str]:
    """The data, the ethical considerations when the card has them, and the provenance; ends
    with a blank line."""
    card, provenance = m.card, m.provenance
    training, evaluation = card["training_data"], card["evaluation_data"]
    lines = [
        "## Data",
        "",
        f"Training: {training['description']} {training['provenance']} "
        f"Licence: {training.get('license', 'see metrics.json')}."
        + (f" People: {training['people']}." if training.get("people") else ""),
        "",
        f"Evaluation: {evaluation['description']} "
        + (f"{evaluation['provenance']} " if evaluation.get("provenance") else "")
        + (f"Licence: {evaluation['license']}. " if evaluation.get("license") else "")
        + (f"People: {evaluation['people']}. " if evaluation.get("people") else "")
        + f"Test split sha256 `{evaluation['sha256']}`.",
        "",
    ]
    if card.get("ethical_considerations"):
        lines += ["## Ethical considerations", "", card["ethical_considerations"], ""]
    return [
        *lines,
        "## Provenance",
        "",
        f"- Built at {provenance['built_at']} with `{provenance['build_command']}`",
        f"- Source commit: {provenance['source_commit'] or 'none'}"
        + (" (with uncommitted changes)" if provenance.get("source_dirty") else ""),
        "- Tools: " + ", ".join(f"{k} {v}" for k, v in provenance["tool_versions"].items()),
        "- Seeds: " + ", ".join(f"{k} {v}" for k, v in provenance["random_seeds"].items()),
        "",
    ]
