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

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Response as BaseResponse

from registry.core import names
from registry.core.errors import EdzooError, StorageError, UsageError
from registry.core.manifest import describe_recipe
from registry.storage.objects import blob_key

from . import registry_of

__all__ = ["README_FORMAT", "bp", "commit_id", "render_readme"]

bp = Blueprint("hfroutes", __name__)
log = logging.getLogger("edzoo.hf")

# Bump when README.md's rendering changes: every commit id changes with it, so no client keeps a
# stale README cached under a commit whose content moved.
README_FORMAT = b"1"
README = "README.md"
_HEX_RE = re.compile(r"^[0-9a-f]{4,40}\Z")
_MAIN = frozenset({"main", "latest"})
_CHUNK = 1 << 20
_TRUE = frozenset({"true", "True"})  # httpx (huggingface_hub 1.x, 2.x) and requests (0.x) spellings
_FALSE = frozenset({"false", "False"})

# Hugging Face pipeline tags for edzoo's tasks (none for recommendation and other).
PIPELINE_TAGS = {
    "image-classification": "image-classification",
    "speech-commands": "audio-classification",
    "keyword-spotting": "audio-classification",
    "grammar-error-detection": "token-classification",
    "text-classification": "text-classification",
}


def commit_id(manifest_sha256: str) -> str:
    """The commit id of a version: stable for its content, unique to it."""
    return hashlib.sha1(b"edzoo-commit\0" + manifest_sha256.encode() + b"\0" + README_FORMAT).hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The Git LFS pointer file a Hub repository would hold for a blob."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _iso(dt: datetime | None) -> str | None:
    """ISO 8601 the way the Hub writes it (the client parses exactly this shape)."""
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- errors the Hugging Face client understands ------------------------------------------------------
class HfError(Exception):
    """A 404 with the ``X-Error-Code`` the client maps to its exception types."""

    def __init__(self, hf_code: str, message: str, *, commit: str | None = None) -> None:
        super().__init__(message)
        self.hf_code = hf_code
        self.message = message
        self.commit = commit


def _ascii(text: str) -> str:
    """Printable ASCII for a header: control characters and non-ASCII escaped."""
    return text.encode("unicode_escape").decode("ascii")


@bp.errorhandler(EdzooError)
def _edzoo_error(e: EdzooError) -> Any:
    # The app's JSON error, plus the header the Hugging Face client prints as the server's message.
    response = jsonify(e.to_json())
    # A blob that no longer matches its address is the server's fault, not a full disk.
    response.status_code = 500 if e.code == "blob_corrupt" else e.http_status
    response.headers["X-Error-Message"] = _ascii(e.message)
    return response


def _repo_not_found(repo: str) -> HfError:
    return HfError("RepoNotFound", f"no model {repo} in this registry")


@bp.errorhandler(HfError)
def _hf_error(e: HfError) -> Any:
    response = jsonify({"error": "not_found", "message": e.message})
    response.status_code = 404
    response.headers["X-Error-Code"] = e.hf_code
    response.headers["X-Error-Message"] = _ascii(e.message)
    if e.commit:  # lets the client cache that the file does not exist at this commit
        response.headers["X-Repo-Commit"] = e.commit
    return response


# -- a resolved revision ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One file of a revision. ``sha256`` is None for the generated README."""

    path: str
    size: int
    oid: str  # git blob sha1 (of the LFS pointer for LFS files)
    sha256: str | None
    pointer_size: int | None = None

    @property
    def etag(self) -> str:
        return self.sha256 or self.oid

    def tree_json(self, rev: Revision, expand: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "file", "oid": self.oid, "size": self.size, "path": self.path}
        if self.sha256 is not None:
            out["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        if expand:
            out["lastCommit"] = rev.last_commit()
        return out

    def sibling_json(self, blobs: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"rfilename": self.path}
        if blobs:
            out["size"] = self.size
            out["blobId"] = self.oid
            if self.sha256 is not None:
                out["lfs"] = {"sha256": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return out


@dataclass(frozen=True)
class Revision:
    namespace: str
    name: str
    version: str
    commit: str
    manifest_sha256: str
    manifest: dict[str, Any]
    files: dict[str, dict[str, Any]]  # the signed files: path -> {sha256, size}
    published_at: datetime | None
    created_at: datetime | None  # the model's first publish
    latest: str | None
    aliases: dict[str, str]
    versions: list[str]
    withdrawn: dict[str, Any] | None = None  # {"reason", "use", "at", "by"} of a withdrawn version

    @property
    def repo(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def readme(self) -> bytes:
        return _readme_bytes(self.manifest_sha256, self.manifest, self.files, self.withdrawn)

    def entries(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for path, info in self.files.items():
            pointer = lfs_pointer(info["sha256"], info["size"])
            out[path] = Entry(path, info["size"], git_blob_sha1(pointer), info["sha256"], len(pointer))
        readme = self.readme
        out.setdefault(README, Entry(README, len(readme), git_blob_sha1(readme), None))
        return dict(sorted(out.items()))

    def folders(self) -> set[str]:
        found: set[str] = set()
        for path in self.entries():
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                found.add("/".join(parts[:i]))
        return found

    def folder_oid(self, path: str) -> str:
        return hashlib.sha1(b"edzoo-tree\0" + self.commit.encode() + b"\0" + path.encode()).hexdigest()

    def last_commit(self) -> dict[str, Any]:
        return {"id": self.commit, "title": f"{self.repo} {self.version}", "date": _iso(self.published_at)}


def _registry():  # type: ignore[no-untyped-def]
    return registry_of(current_app)


def _check_repo(namespace: str, name: str) -> None:
    try:
        names.check_namespace(namespace)
        names.check_name(name, "model name")
    except UsageError as e:
        raise _repo_not_found(f"{namespace}/{name}") from e


def lookup(namespace: str, name: str, revision: str) -> Revision:
    """Resolve ``revision`` of the model ``namespace/name``; HfError when there is none."""
    _check_repo(namespace, name)
    repo = f"{namespace}/{name}"
    index = _registry().index
    refs = index.refs(namespace, name)
    if refs is None or refs.latest is None:
        raise _repo_not_found(repo)
    known = refs.commit_of()
    aliases = refs.aliases
    version: str | None
    if revision in _MAIN:
        version = refs.latest
    elif revision in known:
        version = revision
    elif revision in aliases:
        version = aliases[revision]
    elif _HEX_RE.match(revision.lower()):
        prefix = revision.lower()
        matches = sorted(v for v, sha in known.items() if commit_id(sha).startswith(prefix))
        if len(matches) > 1:
            raise HfError(
                "RevisionNotFound",
                f"revision {revision} of {repo} is ambiguous: it starts the commits of {', '.join(matches)}",
            )
        version = matches[0] if matches else None
    else:
        version = None
    if version is None or version not in known:
        raise HfError(
            "RevisionNotFound",
            f"{repo} has no revision {revision!r}: use a version, an alias, main or a commit id",
        )
    row = index.stored_version(namespace, name, version)
    if row is None:
        raise HfError("RevisionNotFound", f"{repo} has no version {version}")
    first = min((v.published_at for v in refs.versions if v.published_at is not None), default=None)
    return Revision(
        namespace=namespace,
        name=name,
        version=version,
        commit=commit_id(row.manifest_sha256),
        manifest_sha256=row.manifest_sha256,
        manifest=row.manifest,
        files=row.files,
        published_at=row.published_at,
        created_at=first,
        latest=refs.latest,
        aliases=aliases,
        versions=[v.version for v in refs.versions],
        withdrawn=row.withdrawn,
    )


# -- the generated README.md -------------------------------------------------------------------------
_README_CACHE: OrderedDict[str, bytes] = OrderedDict()
_README_LOCK = threading.Lock()


def _readme_bytes(
    manifest_sha256: str,
    manifest: dict[str, Any],
    files: dict[str, dict[str, Any]],
    withdrawn: dict[str, Any] | None = None,
) -> bytes:
    # A withdrawal (or its end) changes the README of the same manifest: it is part of the key.
    key = manifest_sha256 + (":" + json.dumps(withdrawn, sort_keys=True) if withdrawn else "")
    with _README_LOCK:
        cached = _README_CACHE.get(key)
        if cached is not None:
            _README_CACHE.move_to_end(key)
            return cached
    data = render_readme(manifest, files, manifest_sha256, withdrawn).encode()
    with _README_LOCK:
        _README_CACHE[key] = data
        while len(_README_CACHE) > 512:
            _README_CACHE.popitem(last=False)
    return data


def _hf_license(spdx: str) -> dict[str, str]:
    if spdx and " " not in spdx:
        return {"license": spdx.lower()}
    slug = re.sub(r"[^a-z0-9.]+", "-", spdx.lower()).strip("-") or "unknown"
    return {"license": "other", "license_name": slug}


def _reference_variant(m: dict[str, Any]) -> dict[str, Any]:
    variants = m.get("variants") or [{}]
    ref_id = (variants[0].get("metrics") or {}).get("reference_variant")
    return next((v for v in variants if v.get("id") == ref_id), variants[0])


def card_metadata(m: dict[str, Any], manifest_sha256: str, withdrawn: dict[str, Any] | None = None) -> dict[str, Any]:
    """README.md's YAML front matter: Hugging Face's fields, then the ``edzoo`` block (which
    carries ``withdrawn``, the reason, replacement, time and signer, for a withdrawn version)."""
    card = m.get("card") or {}
    education = card.get("education") or {}
    ref = _reference_variant(m)
    metric = ref.get("metrics") or {}
    task = m.get("task", "other")
    tags = list(dict.fromkeys([task, *m.get("subjects", []), "edzoo", "tflite"]))
    meta: dict[str, Any] = {**_hf_license(m.get("license", "")), "language": list(m.get("languages", [])), "tags": tags}
    datasets = list((m.get("provenance") or {}).get("dataset_digests") or {})
    if datasets:
        meta["datasets"] = datasets
    if metric.get("name"):
        meta["metrics"] = [metric["name"]]
    if task in PIPELINE_TAGS:
        meta["pipeline_tag"] = PIPELINE_TAGS[task]
    evaluation = card.get("evaluation_data") or {}
    if metric.get("name") and metric.get("value") is not None:
        dataset: dict[str, Any] = {
            "name": f"held-out evaluation data ({evaluation.get('size', '?')} examples)",
            "type": "heldout",
            "split": "test",
        }
        if evaluation.get("sha256"):
            dataset["revision"] = evaluation["sha256"]
        meta["model-index"] = [
            {
                "name": f"{m['namespace']}/{m['name']}",
                "results": [
                    {
                        "task": {"type": task},
                        "dataset": dataset,
                        "metrics": [
                            {
                                "type": metric["name"],
                                "value": metric["value"],
                                "name": f"{metric['name']} of {ref.get('id')} (reference variant)",
                                "verified": False,
                            }
                        ],
                    }
                ],
            }
        ]
    edzoo: dict[str, Any] = {
        "model": f"{m['namespace']}/{m['name']}",
        "version": m["version"],
        "manifest_sha256": manifest_sha256,
        "task": task,
        "subjects": list(m.get("subjects", [])),
        "grades": list(m.get("grades", [])),
    }
    for key in ("age_band", "privacy_class", "student_data", "runs_on"):
        if education.get(key):
            edzoo[key] = education[key]
    if metric.get("name"):
        edzoo["reference_metric"] = {"variant": ref.get("id"), "name": metric["name"], "value": metric.get("value")}
    edzoo["variants"] = [
        {"id": v.get("id"), "file": v.get("file"), "sha256": v.get("sha256"), "size": v.get("size")}
        for v in m.get("variants", [])
    ]
    if withdrawn:
        edzoo["withdrawn"] = dict(withdrawn)
        meta["tags"] = [*tags, "withdrawn"]
    meta["edzoo"] = edzoo
    return meta


def _yaml_scalar(value: Any) -> str:
    # JSON scalars (and flow lists of them) are valid YAML; ASCII escapes keep every parser happy.
    return json.dumps(value, ensure_ascii=True)


def _yaml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*\Z", key) else _yaml_scalar(key)


def _yaml_map(mapping: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_yaml_key(key)}:")
            lines += _yaml_map(value, indent + 2)
        elif isinstance(value, list) and value:
            lines.append(f"{pad}{_yaml_key(key)}:")
            lines += _yaml_list(value, indent)
        else:
            lines.append(f"{pad}{_yaml_key(key)}: {_yaml_scalar(value)}")
    return lines


def _yaml_list(items: list[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for item in items:
        if isinstance(item, dict) and item:
            sub = _yaml_map(item, indent + 2)
            lines.append(pad + "- " + sub[0][indent + 2 :])
            lines += sub[1:]
        else:
            lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def to_yaml(mapping: dict[str, Any]) -> str:
    """Block-style YAML of plain data (dicts, lists, strings, numbers, booleans, None)."""
    return "\n".join(_yaml_map(mapping, 0)) + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_readme(
    m: dict[str, Any], files: dict[str, dict[str, Any]], manifest_sha256: str, withdrawn: dict[str, Any] | None = None
) -> str:
    """README.md of a version: front matter, then the card as Markdown. Depends on the manifest,
    the signed file list and the signed withdrawal only, so it is the same for every request and
    every server."""
    card = m.get("card") or {}
    education = card.get("education") or {}
    repo = f"{m['namespace']}/{m['name']}"
    ref = _reference_variant(m)
    metric_name = (ref.get("metrics") or {}).get("name", "metric")
    lines = [
        "---",
        to_yaml(card_metadata(m, manifest_sha256, withdrawn)).rstrip("\n"),
        "---",
        "",
        f"# {repo} {m['version']}",
        "",
        *_withdrawn_notice(repo, m["version"], withdrawn),
        m.get("summary", ""),
        "",
        f"- Task: {m.get('task', '')}",
        f"- Subjects: {', '.join(m.get('subjects', []))}; grades: {', '.join(m.get('grades', []))}",
        f"- Languages: {', '.join(m.get('languages', []))}",
        f"- License: {m.get('license', '')}",
        "",
        "## Intended use",
        "",
        card.get("intended_use", ""),
        "",
        "## Limitations",
        "",
        *[f"- {item}" for item in card.get("limitations", [])],
        "",
        "## Learners and privacy",
        "",
    ]
    if education:
        lines.append(f"- Age band: {education.get('age_band', 'not stated')} years")
        lines.append(f"- Privacy class: {education.get('privacy_class', 'not stated')}")
        if education.get("student_data"):
            lines.append(f"- Student data: {education['student_data']}")
        if education.get("runs_on"):
            lines.append(f"- Runs on: {education['runs_on']}")
    else:
        lines.append("The card states no age band and no privacy class: ask the publisher before students use it.")
    lines += [
        "",
        "## Variants",
        "",
        f"| variant | file | recipe | bytes | {metric_name} | Δ vs {ref.get('id')} | p50 µs | min RAM MB |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for v in m.get("variants", []):
        met, bench, req = v.get("metrics") or {}, v.get("benchmarks") or {}, v.get("requirements") or {}
        lines.append(
            f"| {_cell(v.get('id'))} | `{_cell(v.get('file'))}` | {_cell(describe_recipe(v.get('recipe') or {}))} | "
            f"{v.get('size', 0):,} | {_cell(met.get('value', ''))} | {_cell(met.get('delta_vs_reference', ''))} | "
            f"{_cell(bench.get('latency_us_p50', ''))} | {_cell(req.get('min_ram_mb', ''))} |"
        )
    training, evaluation = card.get("training_data") or {}, card.get("evaluation_data") or {}
    lines += [
        "",
        "## Data",
        "",
        f"Training: {training.get('description', '')} {training.get('provenance', '')}".rstrip(),
        "",
        f"Evaluation: {evaluation.get('description', '')} sha256 `{evaluation.get('sha256', '')}`.",
        "",
    ]
    if card.get("ethical_considerations"):
        lines += ["## Ethical considerations", "", card["ethical_considerations"], ""]
    provenance = m.get("provenance") or {}
    lines += [
        "## Provenance",
        "",
        f"- Built at {provenance.get('built_at', '?')} with `{provenance.get('build_command', '?')}`",
        f"- Source commit: {provenance.get('source_commit') or 'none'}",
        "",
        "## Files and how to verify them",
        "",
        "Every file but this README is a TUF target signed by the publisher: its sha256 below is the",
        "signed one, and it is the file's ETag here. `edzoo pull` checks the signatures itself.",
        "",
        "| file | bytes | sha256 |",
        "|---|---:|---|",
    ]
    for path, info in sorted(files.items()):
        lines.append(f"| `{_cell(path)}` | {info['size']:,} | `{info['sha256']}` |")
    if "card.md" in files:
        lines += ["", "The card as the build rendered it, with every measurement, is `card.md`."]
    first = (m.get("variants") or [{}])[0]
    lines += [
        "",
        "## Get it",
        "",
        "```sh",
        f"edzoo pull {repo}@{m['version']} --variant {first.get('id')} --registry <this registry's URL>",
        "```",
        "",
        "or, with `HF_ENDPOINT` set to this registry's URL:",
        "",
        "```python",
        "from huggingface_hub import hf_hub_download",
        f'path = hf_hub_download("{repo}", "{first.get("file")}", revision="{m["version"]}")',
        "```",
        "",
    ]
    return "\n".join(lines)


# -- JSON routes ---------------------------------------------------------------------------------------
def _flag(name: str) -> bool:
    """A boolean query or form field: true or false (True and False as huggingface_hub 0.x sends
    them); absent is false."""
    values = request.values.getlist(name)
    if not values:
        return False
    if len(values) > 1:
        raise UsageError(f"parameter {name!r} is given {len(values)} times")
    if values[0] in _TRUE:
        return True
    if values[0] in _FALSE:
        return False
    raise UsageError(f"parameter {name!r} must be true or false, not {values[0]!r}")


@bp.get("/api/agent-harnesses")
def agent_harnesses() -> Any:
    # huggingface_hub 2.x asks once per process (and retries every process until it gets an answer).
    return jsonify({"standardEnvVars": [], "harnesses": {}})


def _withdrawn_notice(repo: str, version: str, withdrawn: dict[str, Any] | None) -> list[str]:
    if not withdrawn:
        return []
    who = "its publisher" if withdrawn.get("by") == "publisher" else "the registry admin"
    use = withdrawn.get("use")
    instead = f"Use `{repo}@{use}` instead." if use else "No replacement was named."
    return [
        f"> **Withdrawn.** {repo} {version} was withdrawn by {who} on {str(withdrawn.get('at', ''))[:10]}: "
        f"{_cell(withdrawn.get('reason', ''))}. {instead} `edzoo pull` refuses a pin of it.",
        "",
    ]


def _model_info(rev: Revision, *, siblings: bool = True) -> dict[str, Any]:
    blobs = _flag("blobs") if siblings else False
    entries = rev.entries()
    meta = card_metadata(rev.manifest, rev.manifest_sha256, rev.withdrawn)
    tags = [*meta["tags"], *(f"license:{meta['license']}",)]
    info: dict[str, Any] = {
        "_id": rev.commit[:24],
        "id": rev.repo,
        "modelId": rev.repo,
        "author": rev.namespace,
        "sha": rev.commit,
        "lastModified": _iso(rev.published_at),
        "createdAt": _iso(rev.created_at),
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": tags,
        "cardData": meta,
        "siblings": [e.sibling_json(blobs) for e in entries.values()] if siblings else [],
        "spaces": [],
        "usedStorage": sum(e.size for e in entries.values()),
        "edzoo": {
            "version": rev.version,
            "manifest_sha256": rev.manifest_sha256,
            "latest": rev.latest,
            "aliases": rev.aliases,
            "versions": rev.versions,
            "withdrawn": rev.withdrawn,
        },
    }
    if "pipeline_tag" in meta:
        info["pipeline_tag"] = meta["pipeline_tag"]
    return info


@bp.get("/api/models/<namespace>/<name>")
def model_info(namespace: str, name: str) -> Any:
    return jsonify(_model_info(lookup(namespace, name, "main")))


@bp.get("/api/models/<namespace>/<name>/revision/<path:revision>")
def model_info_at(namespace: str, name: str, revision: str) -> Any:
    return jsonify(_model_info(lookup(namespace, name, revision)))


@bp.get("/api/models/<name>")
def model_without_namespace(name: str) -> Any:
    raise HfError("RepoNotFound", f"no model {name}: edzoo repositories are named NAMESPACE/MODEL")


def _other_repo_type(kind: str) -> HfError:
    return HfError("RepoNotFound", f"this registry serves models only, not {kind}")


@bp.route("/api/datasets/<path:rest>", methods=["GET", "POST"])
def api_datasets(rest: str) -> Any:
    raise _other_repo_type("datasets")


@bp.route("/api/spaces/<path:rest>", methods=["GET", "POST"])
def api_spaces(rest: str) -> Any:
    raise _other_repo_type("spaces")


@bp.route("/datasets/<namespace>/<name>/resolve/<path:rest>", methods=["GET", "HEAD"])
def dataset_files(namespace: str, name: str, rest: str) -> Any:
    raise _other_repo_type("datasets")


@bp.route("/spaces/<namespace>/<name>/resolve/<path:rest>", methods=["GET", "HEAD"])
def space_files(namespace: str, name: str, rest: str) -> Any:
    raise _other_repo_type("spaces")


def _raw_rest(anchor: str, namespace: str, name: str, fallback: str) -> list[str]:
    """The path segments after ``/<namespace>/<name>/<anchor>/``, split on the raw request
    URI: Werkzeug decodes ``%2F`` in ``request.path``, which would move a revision's slash into
    the file path. Falls back to the routed ``rest`` when the server gives no raw URI."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        segments = [unquote(s) for s in urlsplit(raw).path.split("/")]
        for i in range(len(segments) - 2):
            if segments[i : i + 3] == [namespace, name, anchor]:
                return segments[i + 3 :]
    return fallback.split("/")


def _tree(rev: Revision, folder: str, recursive: bool, expand: bool) -> list[dict[str, Any]]:
    entries = rev.entries()
    folders = rev.folders()
    folder = folder.strip("/")
    if folder and folder not in folders:
        if folder in entries:
            raise HfError("EntryNotFound", f"{folder} is a file, not a folder, in {rev.repo}@{rev.version}")
        raise HfError("EntryNotFound", f"no folder {folder} in {rev.repo}@{rev.version}", commit=rev.commit)
    prefix = f"{folder}/" if folder else ""

    def wanted(path: str) -> bool:
        if not path.startswith(prefix):
            return False
        return recursive or "/" not in path[len(prefix) :]

    out: list[dict[str, Any]] = []
    for path in sorted(p for p in folders if wanted(p)):
        item: dict[str, Any] = {"type": "directory", "oid": rev.folder_oid(path), "size": 0, "path": path}
        if expand:
            item["lastCommit"] = rev.last_commit()
        out.append(item)
    out += [e.tree_json(rev, expand) for path, e in entries.items() if wanted(path)]
    return out


@bp.get("/api/models/<namespace>/<name>/tree/<revision>")
@bp.get("/api/models/<namespace>/<name>/tree/<revision>/<path:folder>")
def tree(namespace: str, name: str, revision: str, folder: str = "") -> Any:
    segments = _raw_rest("tree", namespace, name, f"{revision}/{folder}")
    revision, folder = segments[0], "/".join(s for s in segments[1:] if s)
    rev = lookup(namespace, name, revision)
    return jsonify(_tree(rev, folder, _flag("recursive"), _flag("expand")))


@bp.post("/api/models/<namespace>/<name>/paths-info/<path:revision>")
def paths_info(namespace: str, name: str, revision: str) -> Any:
    rev = lookup(namespace, name, revision)
    body = request.get_json() if request.is_json else None  # bad JSON: a UsageError (400)
    if isinstance(body, dict):
        paths, expand = body.get("paths"), body.get("expand", False)
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise UsageError('expected {"paths": ["file", ...], "expand": false}')
        if not isinstance(expand, bool):
            raise UsageError('expected {"paths": ["file", ...], "expand": false}')
    else:
        if "paths" not in request.form:
            raise UsageError("expected the form field 'paths' (once per path), as huggingface_hub sends it")
        paths = request.form.getlist("paths")
        expand = _flag("expand")
    entries, folders = rev.entries(), rev.folders()
    out: list[dict[str, Any]] = []
    for raw in dict.fromkeys(paths):
        path = raw.strip("/")
        if path in entries:
            out.append(entries[path].tree_json(rev, expand))
        elif path in folders:
            item: dict[str, Any] = {"type": "directory", "oid": rev.folder_oid(path), "size": 0, "path": path}
            if expand:
                item["lastCommit"] = rev.last_commit()
            out.append(item)
    return jsonify(out)


@bp.get("/api/models/<namespace>/<name>/refs")
def refs(namespace: str, name: str) -> Any:
    _check_repo(namespace, name)
    repo = f"{namespace}/{name}"
    model_refs = _registry().index.refs(namespace, name)
    if model_refs is None or model_refs.latest is None:
        raise _repo_not_found(repo)
    commits = {v: commit_id(sha) for v, sha in model_refs.commit_of().items()}
    latest, aliases = model_refs.latest, model_refs.aliases

    def ref(kind: str, ref_name: str, version: str) -> dict[str, str]:
        return {"name": ref_name, "ref": f"refs/{kind}/{ref_name}", "targetCommit": commits[version]}

    branches = [ref("heads", "main", latest)] if latest in commits else []
    branches += [ref("heads", a, v) for a, v in sorted(aliases.items()) if a not in _MAIN and v in commits]
    tags = [ref("tags", v, v) for v in sorted(commits, key=names.version_key)]
    out: dict[str, Any] = {"branches": branches, "converts": [], "tags": tags}
    if _flag("include_prs"):
        out["pullRequests"] = []
    return jsonify(out)


#: list_models' sort keys the registry can honour (downloads, likes and trending are all 0 here).
_SORTS = {"id", "lastModified", "createdAt", "downloads", "likes", "trendingScore"}


@bp.get("/api/models")
def list_models() -> Any:
    """huggingface_hub's ``list_models``: ``search`` (in the id), ``author`` (the namespace),
    ``filter`` (tags, all must match: ``task:...``, ``subject:...``, ``license:...``),
    ``sort`` and ``direction``, ``limit`` (default 1000), newest release described."""
    limit = request.args.get("limit", "1000")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise UsageError(f"limit must be a whole number 1..1000, not {limit!r}")
    sort = request.args.get("sort", "id")
    if sort not in _SORTS:
        raise UsageError(f"sort must be one of {', '.join(sorted(_SORTS))}, not {sort!r}")
    direction = request.args.get("direction", "1")
    if direction not in ("1", "-1"):
        raise UsageError(f"direction must be 1 or -1, not {direction!r}")
    author = request.args.get("author") or None
    if author is not None:
        try:
            names.check_namespace(author)
        except UsageError:
            return jsonify([])  # as the Hub answers for an author it does not know
    wanted = set(request.args.getlist("filter"))
    _, models = _registry().index.search(request.args.get("search") or None, namespace=author, limit=100_000)
    out = []
    for m in models:
        info = _model_info(lookup(m["namespace"], m["name"], "main"), siblings=False)
        if wanted <= set(info["tags"]):
            out.append(info)
    key = {"id": "id", "lastModified": "lastModified", "createdAt": "createdAt"}.get(sort)
    if key is not None:
        out.sort(key=lambda i: str(i[key]), reverse=direction == "-1")
    return jsonify(out[: int(limit)])


@bp.get("/api/models/<namespace>/<name>/commits/<path:revision>")
def list_commits(namespace: str, name: str, revision: str) -> Any:
    """huggingface_hub's ``list_repo_commits``: the versions up to ``revision``, newest first,
    one commit each (the commit ids of the tags), dated when each was published."""
    rev = lookup(namespace, name, revision)
    refs = _registry().index.refs(namespace, name)
    assert refs is not None  # lookup found the model
    upto = names.version_key(rev.version)
    history = [v for v in refs.versions if names.version_key(v.version) <= upto]
    return jsonify(
        [
            {
                "id": commit_id(v.manifest_sha256),
                "title": f"{rev.repo} {v.version}",
                "message": f"Publish {rev.repo} {v.version} (manifest sha256 {v.manifest_sha256})",
                "authors": [{"user": namespace}],
                "date": _iso(v.published_at),
            }
            for v in sorted(history, key=lambda v: names.version_key(v.version), reverse=True)
        ]
    )


# -- /resolve: the file downloads ----------------------------------------------------------------------
@bp.route("/<namespace>/<name>/resolve/<revision>/<path:filename>", methods=["GET", "HEAD"])
def resolve(namespace: str, name: str, revision: str, filename: str) -> Any:
    segments = _raw_rest("resolve", namespace, name, f"{revision}/{filename}")
    revision, path = segments[0], "/".join(segments[1:])
    rev = lookup(namespace, name, revision)
    entry = rev.entries().get(path)
    if entry is None:
        raise HfError("EntryNotFound", f"{rev.repo}@{rev.version} has no file {path!r}", commit=rev.commit)
    immutable = revision.lower() == rev.commit
    headers = {
        "X-Repo-Commit": rev.commit,
        "ETag": f'"{entry.etag}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(path),
        # A branch or an alias moves; a commit's files never change.
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
    }
    if entry.sha256 is None:
        return _serve_bytes(rev.readme, "text/markdown", headers)
    headers["X-Linked-Etag"] = f'"{entry.sha256}"'
    headers["X-Linked-Size"] = str(entry.size)
    return _serve_blob(entry, headers)


def _disposition(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    ascii_name = base.encode("ascii", "replace").decode().replace('"', "")
    return f"inline; filename*=UTF-8''{quote(base)}; filename=\"{ascii_name}\""


def _ignore_unsatisfiable_range(size: int) -> None:
    """Drop a Range header this file cannot satisfy, so the answer is the whole file (200), as
    HTTP allows, rather than a 416 the client would not recover from."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.range_for_length(size) is None:
        del request.environ["HTTP_RANGE"]


def _serve_bytes(data: bytes, mimetype: str, headers: dict[str, str]) -> BaseResponse:
    _ignore_unsatisfiable_range(len(data))
    response: BaseResponse = Response(data, mimetype=mimetype, headers=headers)
    if request.method == "HEAD":  # Werkzeug sends the headers of the full response, no body
        return response
    response = response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    response.headers.pop("Date", None)  # the WSGI server sends its own; two would be sent
    return response


def _head(size: int, mimetype: str, headers: dict[str, str]) -> BaseResponse:
    response = Response(mimetype=mimetype, headers=headers)
    response.headers["Content-Length"] = str(size)  # after the constructor, which sets it to 0
    return response


def _serve_blob(entry: Entry, headers: dict[str, str]) -> BaseResponse:
    assert entry.sha256 is not None
    registry = _registry()
    objects, key = registry.objects, blob_key(entry.sha256)
    if registry.config.redirect_blobs:
        url = objects.presigned_url(key, registry.config.redirect_expiry_s)
        if url is not None:
            # The client reads the X-Repo-Commit, X-Linked-Etag and X-Linked-Size of this 302 and
            # GETs the Location without its Authorization header.
            redirect_headers = {k: v for k, v in headers.items() if k not in {"ETag", "Accept-Ranges"}}
            redirect_headers["Cache-Control"] = "no-store"
            response = Response(status=302, headers={**redirect_headers, "Location": url})
            response.headers["Content-Length"] = "0"
            return response
    if request.method == "HEAD":
        return _head(entry.size, "application/octet-stream", headers)
    _ignore_unsatisfiable_range(entry.size)
    local = objects.local_path(key)
    if local is not None:
        if not _local_blob_matches(local, entry.sha256, entry.size):
            raise _corrupt(entry)
        response = send_file(local, mimetype="application/octet-stream", conditional=True, etag=entry.sha256)
        for k, v in headers.items():
            response.headers[k] = v
        response.headers.pop("Date", None)  # the WSGI server sends its own; two would be sent
        return response
    span = _byte_range(entry.size)
    start, stop = span or (0, entry.size)
    stream = _verified_chunks(objects.open(key), entry, start, stop)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{entry.size}"
    headers["Content-Length"] = str(stop - start)
    status = 206 if span is not None else 200
    return Response(stream, status=status, mimetype="application/octet-stream", headers=headers)


def _corrupt(entry: Entry) -> StorageError:
    log.error("blob %s of %s no longer matches its sha256: not serving it", entry.sha256, entry.path)
    return StorageError(
        f"the stored copy of {entry.path} no longer matches its signed sha256 {entry.sha256}: "
        "the registry's administrator must restore it from a backup or republish it",
        code="blob_corrupt",
    )


def _byte_range(size: int) -> tuple[int, int] | None:
    """The (start, stop) of a satisfiable single-range ``Range`` header, else None."""
    parsed = parse_range_header(request.environ.get("HTTP_RANGE"))
    return parsed.range_for_length(size) if parsed is not None else None


_VERIFIED: dict[tuple[str, int, int, int], bool] = {}
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 100_000


def _local_blob_matches(path: Path, sha256: str, size: int) -> bool:
    """Whether a local blob still holds the bytes of its address: hashed once per (path, inode,
    size, mtime) in this process, so a file changed on disk is hashed again."""
    st = os.stat(path)
    if st.st_size != size:
        return False
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is not None:
        return known
    with open(path, "rb") as f:
        ok = hashlib.file_digest(f, "sha256").hexdigest() == sha256
    with _VERIFIED_LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = ok
    return ok


def _verified_chunks(f: BinaryIO, entry: Entry, start: int, stop: int) -> Iterator[bytes]:
    """Stream bytes [start, stop) of a blob, hashing all of it; the last chunk is sent only once
    the sha256 and size matched, so a corrupt blob arrives short and the client rejects it."""
    digest = hashlib.sha256()
    pos = 0
    pending: bytes | None = None
    try:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            lo, hi = max(start - pos, 0), min(stop - pos, len(chunk))
            pos += len(chunk)
            if lo < hi:
                if pending is not None:
                    yield pending
                pending = chunk[lo:hi]
        if pos != entry.size or digest.hexdigest() != entry.sha256:
            # Raising (not returning) makes the WSGI server drop the connection, so the client
            # sees a short body at once instead of waiting on a kept-alive connection.
            raise _corrupt(entry)
        if pending is not None:
            yield pending
    finally:
        f.close()
