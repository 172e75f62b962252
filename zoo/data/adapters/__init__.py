"""The standard layouts a team's data comes in, one adapter each: ``npz``, ``image-folder``,
``speech-commands``, ``conll``, ``dkt`` and ``csv``. Each reads files through the request's
:class:`~zoo.data._base.Source` (which records what it read), lets :func:`zoo.data.splits.plan`
decide the splits and returns :class:`~zoo.data._base.Parts`. Every problem a user can cause
is a one-line DataError naming the file (and line) and what to do.

One module per layout (:mod:`.npz`, :mod:`.images`, :mod:`.speech`, :mod:`.conll`, :mod:`.dkt`,
:mod:`.table`), and :mod:`._common` for what they share. Importing this package registers them,
in this order (the order ``--help`` and the error messages list them in).
"""

# Registration order is the order users see: keep it.
# isort: off
from . import npz, images, speech, conll, dkt, table  # noqa: F401
# isort: on

from ._common import IMAGE_SUFFIXES, TEXT_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "TEXT_SUFFIXES"]
