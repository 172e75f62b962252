"""Fault injection at named points of the server and the client's cache, for tests and
failure drills.

``EDZOO_FAULT="publish:after-snapshot=kill"`` makes a server process die with SIGKILL when it
reaches that point; several points are separated by commas. Actions:

- ``kill``: SIGKILL this process (a crash, an OOM kill, a pulled plug);
- ``sleep:SECONDS``: stall (a slow disk or network; lets a client time out);
- ``enospc``: raise ``OSError(ENOSPC)`` (a full disk);
- ``erofs``: raise ``OSError(EROFS)`` (a read-only file system, which a test run as root cannot
  make with permissions alone).

Unset (the default), :func:`point` costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time

ENV = "EDZOO_FAULT"
POINTS = (
    "upload:before-store",  # an upload was received and checked, not yet stored
    "publish:after-roles",  # the new roles are written, the snapshot is not
    "publish:after-snapshot",  # the new snapshot is written, the timestamp is not
    "publish:before-commit",  # the timestamp is written, the index transaction not committed
    "publish:after-commit",  # everything is written, the answer not yet sent
    "cache:metadata",  # the client is about to refresh (and write) TUF metadata in its cache
    "cache:blob",  # the client is about to write a downloaded file into its cache
    "cache:write",  # the client is about to write the next downloaded chunk (a disk filling up)
)


def point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        where, _, action = item.strip().partition("=")
        if where != name:
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action.startswith("sleep:"):
            time.sleep(float(action.split(":", 1)[1]))
        elif action in ("enospc", "erofs"):
            code = errno.ENOSPC if action == "enospc" else errno.EROFS
            raise OSError(code, os.strerror(code))
