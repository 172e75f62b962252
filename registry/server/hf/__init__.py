"""The download side of the Hugging Face Hub protocol, so the unmodified ``huggingface_hub``
client with ``HF_ENDPOINT`` pointed at a registry can download published models.

A repository is one model, ``<namespace>/<model>``. Its revisions are every published version
(``1.0.0``), every alias of the publisher-signed versions index (``stable``), ``main`` (and
``latest``) for the latest release, and one commit id per version: 40 hex digits,
``sha1(b"edzoo-commit\\0" + manifest sha256 + b"\\0" + README_FORMAT)``, so a commit's files never
change; any unambiguous prefix of 4 or more digits resolves too. A revision's files are the
version's signed files (``manifest.json``, ``variants/*.tflite``, the manifest's other files)
plus a generated ``README.md``: the model card with Hugging Face's YAML front matter and an
``edzoo:`` block of the education fields.

Signed files are served LFS-style: ``ETag`` and the tree's ``lfs.oid`` are their sha256, the
hash the publisher signed. ``README.md`` is a small regular file: its ``ETag`` is its git blob
sha1. Trust stays edzoo's: the TUF metadata is the truth and ``edzoo pull`` verifies it; the
Hugging Face client only checks sizes, so this server checks content before it serves it. A
local blob is hashed once per (path, inode, size, mtime) and process; a blob that no longer
matches its address is refused (HTTP 500, ``blob_corrupt``). A blob streamed from S3 is hashed
as it streams and its last chunk is held back until the hash matched, so a corrupt one arrives
short and the client rejects it. With ``redirect_blobs``, downloads are 302s to presigned
store URLs carrying the Hub's ``X-Linked-*`` headers; the bytes then bypass this check.

Routes: ``/api/agent-harnesses``; ``/api/models/{ns}/{name}[/revision/{rev}]`` (``?blobs=true``);
``/api/models/{ns}/{name}/tree/{rev}[/{path}]`` (``recursive``, ``expand``);
``POST /api/models/{ns}/{name}/paths-info/{rev}``; ``/api/models/{ns}/{name}/refs``;
``HEAD|GET /{ns}/{name}/resolve/{rev}/{path}`` (``Range: bytes=N-`` answers 206); ``/api/models``
(``list_models``: search, author, filter, sort, limit); ``/api/models/{ns}/{name}/commits/{rev}``
(``list_repo_commits``: one commit per version). Errors carry
``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``), which the client
turns into its own exception types. Nothing here ever speaks Xet.
"""

from .revisions import README_FORMAT, commit_id
from .routes import bp

__all__ = ["README_FORMAT", "bp", "commit_id"]
