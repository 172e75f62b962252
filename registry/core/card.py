"""Text of a model card that every renderer shares (the build's ``card.md``, the Hugging Face
README): one wording for one fact, whatever the page around it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["education_lines"]


def education_lines(education: Mapping[str, Any]) -> list[str]:
    """The card's learners and privacy as Markdown bullets: age band, privacy class, and the
    student data and where it runs when the card says."""
    lines = [
        f"- Age band: {education.get('age_band', 'not stated')} years",
        f"- Privacy class: {education.get('privacy_class', 'not stated')}",
    ]
    if education.get("student_data"):
        lines.append(f"- Student data: {education['student_data']}")
    if education.get("runs_on"):
        lines.append(f"- Runs on: {education['runs_on']}")
    return lines
