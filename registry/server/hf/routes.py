"""The Hugging Face Hub routes: model info, trees, paths-info, refs, list_models,
list_repo_commits and the ``/resolve`` downloads, with the errors the client understands
(``X-Error-Code``: ``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, jsonify, request

from registry.core import names
from registry.core.errors import EdzooError, UsageError

from .. import registry_of
from ..repository import Registry
from .blobs import disposition, serve_blob, serve_bytes
from .readme import card_metadata
from .revisions import HfError, Revision, check_repo, commit_id, iso, repo_not_found
from .revisions import lookup as lookup_in

__all__ = ["bp"]

bp = Blueprint("hfroutes", __name__)
_MAIN = frozenset({"main", "latest"})
_TRUE = frozenset({"true", "True"})  # httpx (huggingface_hub 1.x, 2.x) and requests (0.x) spellings
_FALSE = frozenset({"false", "False"})


def _registry() -> Registry:
    return registry_of(current_app)


def lookup(namespace: str, name: str, revision: str) -> Revision:
    return lookup_in(_registry().index, namespace, name, revision)


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


@bp.errorhandler(HfError)
def _hf_error(e: HfError) -> Any:
    response = jsonify({"error": "not_found", "message": e.message})
    response.status_code = 404
    response.headers["X-Error-Code"] = e.hf_code
    response.headers["X-Error-Message"] = _ascii(e.message)
    if e.commit:  # lets the client cache that the file does not exist at this commit
        response.headers["X-Repo-Commit"] = e.commit
    return response


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
        "lastModified": iso(rev.published_at),
        "createdAt": iso(rev.created_at),
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
    check_repo(namespace, name)
    repo = f"{namespace}/{name}"
    model_refs = _registry().index.refs(namespace, name)
    if model_refs is None or model_refs.latest is None:
        raise repo_not_found(repo)
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
        info = _model_info(lookup(m.namespace, m.name, "main"), siblings=False)
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
                "date": iso(v.published_at),
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
        "Content-Disposition": disposition(path),
        # A branch or an alias moves; a commit's files never change.
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
    }
    if entry.sha256 is None:
        return serve_bytes(rev.readme, "text/markdown", headers)
    headers["X-Linked-Etag"] = f'"{entry.sha256}"'
    headers["X-Linked-Size"] = str(entry.size)
    return serve_blob(_registry(), entry, headers)
