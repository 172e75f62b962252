"""The one owner of root pinning: the root a cache (``Puller``, and through it plans, bundles
being written and the school mirror) or a device set up from bundles trusts for a registry.

The rules, the same for every caller:

- The first use needs a root given by hand (``--root root.json``, from ``edzoo trust export``);
  it must be root metadata that its own keys sign, and it is pinned.
- After that the pin is never replaced silently. A root given again must be the pinned one or a
  root the store has since reached through a verified chain (``history/N.root.json``, written
  as python-tuf's updater writes ``root_history``); any other is refused.
- Verification starts from the newest root of that chain, never from an older one: a bundle or
  a mirror cannot take a device back to keys the registry rotated out.
- The pin is written without fsync (a first pull pays for no disk flush). A power cut just
  after first use can leave it empty; an empty pin pins nothing, so the next use needs a root
  given by hand again, as the first did. It never makes another root trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tuf.api.metadata import Metadata, Root

from ._internal.files import atomic_write
from .errors import SignatureError, UsageError


def check_root(data: bytes, source: object) -> Metadata[Root]:
    """``data`` as root metadata that its own keys sign; SignatureError otherwise."""
    try:
        md: Metadata[Root] = Metadata.from_bytes(data)
        if md.signed.type != Root.type:
            raise ValueError(f"it is {md.signed.type} metadata")
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except Exception as e:  # deserialization errors of every kind, bad signatures
        what = "the trusted root" if isinstance(source, bytes) else str(source)
        raise SignatureError(f"{what} is not valid TUF root metadata: {e}") from e
    return md


@dataclass(frozen=True)
class TrustStore:
    """The pinned root at ``pinned`` and the roots reached from it in ``history``
    (``N.root.json``). ``first_use`` is the error when no root is pinned and none is given
    (a UsageError), ``other_root`` the one when a root is given that the store never trusted (a
    SignatureError): each says what to do."""

    pinned: Path
    history: Path
    first_use: str
    other_root: str

    def is_pinned(self) -> bool:
        return self._pin() is not None

    def _pin(self) -> bytes | None:
        """The pinned root's bytes; None when there is no pin, or an empty one (see above)."""
        try:
            return self.pinned.read_bytes() or None
        except FileNotFoundError:
            return None

    def trusted(self, root: bytes | Path | None) -> bytes:
        """The root to verify from: the newest root of the verified chain (the pin itself before
        any rotation), or ``root`` on first use, checked but not yet pinned (:meth:`pin` it once
        what it verified is stored)."""
        given = None
        if root is not None:
            try:
                given = root if isinstance(root, bytes) else Path(root).read_bytes()
            except OSError as e:
                raise UsageError(f"cannot read trusted root {root!s}: {e.strerror or e}") from e
        stored = self._pin()
        if stored is not None:
            if given is not None and given != stored and not self._reached(given):
                raise SignatureError(self.other_root)
            return self.newest() or stored
        if given is None:
            raise UsageError(self.first_use)
        check_root(given, root)
        return given

    def pin(self, data: bytes) -> None:
        """Pin ``data`` on first use (never over an existing pin)."""
        if self._pin() is None:
            atomic_write(self.pinned, data, durable=False)

    def record(self, roots: Iterable[bytes]) -> None:
        """Keep roots a verification chained to (each checked by that verification), by version."""
        for data in roots:
            version = Metadata.from_bytes(data).signed.version
            path = self.history / f"{version}.root.json"
            if not path.exists():
                atomic_write(path, data)

    def newest(self) -> bytes | None:
        """The highest-version root of the history, or None."""
        versions = [int(p.name.split(".", 1)[0]) for p in self._history_files()]
        return (self.history / f"{max(versions)}.root.json").read_bytes() if versions else None

    def _history_files(self) -> list[Path]:
        if not self.history.is_dir():
            return []
        return [p for p in self.history.glob("*.root.json") if p.name.split(".", 1)[0].isdigit()]

    def _reached(self, data: bytes) -> bool:
        return any(p.read_bytes() == data for p in self._history_files())


__all__ = ["TrustStore", "check_root"]
