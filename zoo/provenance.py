"""Where a build came from: the commit, the exact command, when, the tools and their versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import subprocess
from pathlib import Path

from .measure import version_of

REPO = Path(__file__).resolve().parents[1]
TOOLS = (
    "tensorflow-cpu",
    "tf-keras",
    "tensorflow-model-optimization",
    "ai-edge-litert",
    "numpy",
    "scikit-learn",
    "scipy",
    "pillow",
)


def source_commit() -> tuple[str | None, bool]:
    """The checked-out commit and whether tracked files differ from it; (None, True) outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, True
    return head, bool(dirty)


def build_command(argv: list[str]) -> str:
    return shlex.join(argv)


def built_at() -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tool_versions() -> dict[str, str]:
    out = {"python": ".".join(map(str, __import__("sys").version_info[:3]))}
    for tool in TOOLS:
        with contextlib.suppress(Exception):
            out[tool] = version_of(tool)
    return out
