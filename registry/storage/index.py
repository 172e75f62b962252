"""The searchable index of a registry (SQLAlchemy 2: SQLite by default, PostgreSQL at scale).

Everything here except publishers is derived from publisher-signed metadata; it serves search
and the JSON API, never trust decisions. The served head (:class:`ServedHead`) is a copy of the
store's signed timestamp, which clients verify as they verify the store's. The publish log is
append-only. The schema is made and upgraded by Alembic migrations
(``registry/storage/migrations``) on every engine; writers take the database's own lock
(:meth:`Index.writer`), so any number of server processes can share it.

The tables are in :mod:`registry.storage.tables`; what the index returns in
:mod:`registry.storage.records`.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, inspect, or_, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from registry.core import modelindex, names
from registry.core.errors import ConflictError, NotFoundError, StorageError, UnavailableError, UsageError
from registry.core.recall import Withdrawal

from .records import (
    LogRecord,
    ModelRecord,
    ModelRefs,
    PublisherRecord,
    ServedHead,
    TokenRecord,
    VersionRecord,
    VersionRef,
)
from .tables import (
    HeadRow,
    LogEntry,
    Model,
    Publisher,
    Token,
    Version,
    WriterLock,
    describe_model,
    log_record,
    model_record,
    utcnow,
    version_record,
)

__all__ = ["Index", "migrate"]  # what it returns: registry.storage.records

MIGRATIONS = Path(__file__).parent / "migrations"

_MIGRATION_LOCK_ID = 0x6564_7A6F  # pg_advisory_xact_lock key of schema upgrades ("edzo")


class Index:
    """The registry's metadata database."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        """Open the database at ``url`` and bring its schema to the newest migration (unless
        ``upgrade`` is false: then an outdated schema is an error)."""
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect not in {"sqlite", "postgresql"}:
            raise UsageError(f"unsupported database {_safe_url(url)}: use sqlite:///PATH or postgresql://...")
        if self.dialect == "postgresql" and url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]  # psycopg 3, not psycopg2
        try:
            self.engine = create_engine(url, pool_pre_ping=True)
            if self.dialect == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            if upgrade:
                migrate(self.engine)
            else:
                current, head = schema_revision(self.engine)
                if current != head:
                    raise StorageError(
                        f"the index database is at schema {current}, not {head}: run a server to upgrade"
                    )
        except SQLAlchemyError as e:
            raise _db_error(e, f"cannot open the index database {_safe_url(url)}") from e

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            raise _db_error(e, "index database error") from e

    @contextlib.contextmanager
    def writer(self) -> Iterator[Session]:
        """A transaction holding the registry's single writer lock until it commits or rolls
        back. The first statement updates one row: PostgreSQL locks that row, SQLite takes its
        database write lock; either way a second writer, in any process on any machine, waits
        here. A writer that dies releases the lock with its connection."""
        with self.session() as s:
            s.execute(update(WriterLock).where(WriterLock.id == 1).values(writes=WriterLock.writes + 1))
            yield s

    # -- publishers and their upload tokens ------------------------------------------------
    def add_publisher(
        self,
        s: Session,
        namespace: str,
        keyid: str,
        public_key: dict,
        token_hash: str,
        *,
        expires_at: datetime | None = None,
    ) -> None:
        """Record a publisher and its first token in the writer transaction ``s``. A revoked
        publisher's namespace may be delegated again (to the same or another key)."""
        row = s.get(Publisher, namespace)
        if row is None:
            s.add(Publisher(namespace=namespace, keyid=keyid, public_key=public_key))
            action = "add-publisher"
        else:
            row.keyid, row.public_key, row.revoked_at = keyid, public_key, None
            action = "re-add-publisher"
        s.flush()
        s.add(Token(namespace=namespace, token_hash=token_hash, label="first", expires_at=expires_at))
        s.add(LogEntry(namespace=namespace, action=action, subject=namespace, detail={"keyid": keyid}))

    def set_publisher_key(self, s: Session, namespace: str, keyid: str, public_key: dict) -> str:
        """Record a rotated publisher key; returns the previous key id."""
        row = self._publisher(s, namespace)
        old, row.keyid, row.public_key = row.keyid, keyid, public_key
        s.add(
            LogEntry(
                namespace=namespace, action="rotate-publisher", subject=namespace, detail={"old": old, "new": keyid}
            )
        )
        return old

    def revoke_publisher(self, s: Session, namespace: str, reason: str) -> int:
        """Mark a publisher revoked and revoke all its tokens; returns how many tokens were live."""
        row = self._publisher(s, namespace)
        at = utcnow()
        row.revoked_at = at
        for model in s.scalars(select(Model).where(Model.namespace == namespace)):
            model.latest = None  # out of search and the catalog; its versions stay on record
        live = 0
        for token in s.scalars(select(Token).where(Token.namespace == namespace, Token.revoked_at.is_(None))):
            token.revoked_at = at
            live += 1
        s.add(LogEntry(namespace=namespace, action="revoke-publisher", subject=namespace, detail={"reason": reason}))
        return live

    def add_token(
        self, s: Session, namespace: str, token_hash: str, *, label: str = "", expires_at: datetime | None = None
    ) -> int:
        """A new upload token for a publisher; returns its id."""
        publisher = self._publisher(s, namespace)
        if publisher.revoked_at is not None:
            raise ConflictError(f"publisher {namespace!r} is revoked; delegate the namespace again first")
        token = Token(namespace=namespace, token_hash=token_hash, label=label[:100], expires_at=expires_at)
        s.add(token)
        s.flush()
        s.add(
            LogEntry(
                namespace=namespace,
                action="issue-token",
                subject=namespace,
                detail={"token": token.id, "expires_at": expires_at.isoformat() if expires_at else None},
            )
        )
        return token.id

    def revoke_tokens(self, s: Session, namespace: str, token_id: int | None = None) -> list[int]:
        """Revoke one token of a publisher (by id), or all its live tokens; returns their ids."""
        self._publisher(s, namespace)
        stmt = select(Token).where(Token.namespace == namespace, Token.revoked_at.is_(None))
        if token_id is not None:
            stmt = stmt.where(Token.id == token_id)
        revoked = []
        for token in s.scalars(stmt):
            token.revoked_at = utcnow()
            revoked.append(token.id)
        if token_id is not None and not revoked:
            raise NotFoundError(f"publisher {namespace!r} has no live token {token_id}")
        s.add(LogEntry(namespace=namespace, action="revoke-token", subject=namespace, detail={"tokens": revoked}))
        return revoked

    def tokens(self, namespace: str | None = None) -> list[TokenRecord]:
        """Every token (never its hash): id, namespace, label, dates and state."""
        now = utcnow()
        with self.session() as s:
            stmt = select(Token).order_by(Token.namespace, Token.id)
            if namespace:
                stmt = stmt.where(Token.namespace == namespace)
            out = []
            for t in s.scalars(stmt):
                expires, created, revoked = _aware(t.expires_at), _aware(t.created_at), _aware(t.revoked_at)
                state = "revoked" if t.revoked_at else ("expired" if expires and expires <= now else "live")
                out.append(TokenRecord(t.id, t.namespace, t.label, created, expires, revoked, state))
            return out

    def publisher_for_token(self, token_hash: str) -> str | None:
        """The namespace a live token (not revoked, not expired, of a publisher not revoked)
        may publish to, else None."""
        with self.session() as s:
            row = s.execute(
                select(Token.namespace, Token.expires_at)
                .join(Publisher, Publisher.namespace == Token.namespace)
                .where(Token.token_hash == token_hash, Token.revoked_at.is_(None), Publisher.revoked_at.is_(None))
            ).first()
            if row is None:
                return None
            expires = _aware(row.expires_at)
            return None if expires is not None and expires <= utcnow() else row.namespace

    def publishers(self) -> list[PublisherRecord]:
        with self.session() as s:
            return [
                PublisherRecord(p.namespace, p.keyid, p.created_at, p.revoked_at is not None)
                for p in s.scalars(select(Publisher).order_by(Publisher.namespace))
            ]

    def log_event(self, s: Session, action: str, subject: str, detail: dict[str, Any], namespace: str = "") -> None:
        """Append an administrative event (a key rotation, a renewal) to the log in ``s``."""
        s.add(LogEntry(namespace=namespace, action=action, subject=subject[:200], detail=detail))

    @staticmethod
    def _publisher(s: Session, namespace: str) -> Publisher:
        row = s.get(Publisher, namespace)
        if row is None:
            raise NotFoundError(f"no publisher for namespace {namespace!r}")
        return row

    # -- publishing --------------------------------------------------------------------------
    def record_publish(
        self,
        s: Session,
        namespace: str,
        versions: list[dict[str, Any]],
        indexes: dict[str, dict[str, Any]],
        detail: dict[str, Any],
        *,
        action: str = "publish",
        withdrawn: Mapping[str, Mapping[str, Withdrawal]] | None = None,
    ) -> None:
        """Add published versions (``{"manifest", "sha256", "size", "files"}``) and the
        models' signed version indexes (model name → versions.json document) in the writer
        transaction ``s``. A version already indexed with the same manifest is skipped (a
        retried publish); with another manifest it is a conflict. ``withdrawn`` (model name →
        version → Withdrawal) holds each indexed model's withdrawals, the publisher's and the
        registry admin's (default: what its index lists itself)."""
        for item in versions:
            doc = item["manifest"]
            model = self._model(s, doc["namespace"], doc["name"], create=True)
            exists = s.scalar(select(Version).where(Version.model_id == model.id, Version.version == doc["version"]))
            if exists is not None:
                if exists.manifest_sha256 == item["sha256"]:
                    continue
                raise ConflictError(f"{model.namespace}/{model.name}@{doc['version']} is already indexed")
            s.add(
                Version(
                    model=model,
                    version=doc["version"],
                    manifest_sha256=item["sha256"],
                    manifest_size=item["size"],
                    manifest=doc,
                    files=item["files"],
                )
            )
            if model.latest is None:  # described by its first version until it has a latest
                describe_model(model, doc)
            model.updated_at = utcnow()
            s.add(
                LogEntry(
                    namespace=namespace,
                    action=action,
                    subject=f"{model.namespace}/{model.name}@{doc['version']}",
                    detail=detail,
                )
            )
        for model_name, index_doc in indexes.items():
            model = self._model(s, namespace, model_name, create=True)
            model_withdrawn = (withdrawn or {}).get(model_name)
            if model_withdrawn is None:
                model_withdrawn = modelindex.publisher_withdrawals(index_doc)
            s.flush()
            self.record_withdrawals(s, namespace, model_name, index_doc, model_withdrawn)
            model.aliases = dict(index_doc.get("aliases", {}))
            s.add(
                LogEntry(
                    namespace=namespace,
                    action="index",
                    subject=f"{namespace}/{model_name}",
                    detail={"latest": model.latest, "aliases": model.aliases},
                )
            )
        s.flush()

    def record_withdrawals(
        self,
        s: Session,
        namespace: str,
        name: str,
        index_doc: Mapping[str, Any],
        withdrawn: Mapping[str, Withdrawal],
    ) -> list[str]:
        """Set which versions of a model are withdrawn (``withdrawn``: version → Withdrawal, the
        publisher's and the registry admin's) and its latest, the newest version not withdrawn
        (None when every one is: the model leaves search and the catalog). Logs each change;
        returns the versions whose state changed."""
        model = self._model(s, namespace, name, create=True)
        model.latest = modelindex.latest_version(index_doc, withdrawn)
        changed = []
        for row in s.scalars(select(Version).where(Version.model_id == model.id)):
            if row.version == model.latest:  # search and the catalog describe the latest release
                describe_model(model, row.manifest)
            w = withdrawn.get(row.version)
            new = w.to_json() if w is not None else None
            if row.withdrawn == new:
                continue
            row.withdrawn = new
            changed.append(row.version)
            s.add(
                LogEntry(
                    namespace=namespace,
                    action="withdraw" if new else "restore",
                    subject=f"{namespace}/{name}@{row.version}",
                    detail=new or {},
                )
            )
        return changed

    def indexed_versions(self, namespace: str) -> dict[str, set[str]]:
        """Model name → the versions the index holds, for one namespace."""
        with self.session() as s:
            rows = s.execute(select(Model.name, Version.version).join(Version).where(Model.namespace == namespace))
            out: dict[str, set[str]] = {}
            for name, version in rows:
                out.setdefault(name, set()).add(version)
            return out

    @staticmethod
    def _model(s: Session, namespace: str, name: str, create: bool = False) -> Model:
        model = s.scalar(select(Model).where(Model.namespace == namespace, Model.name == name))
        if model is None:
            if not create:
                raise NotFoundError(f"no model {namespace}/{name}")
            model = Model(namespace=namespace, name=name, subjects=[], grades=[], languages=[], aliases={})
            s.add(model)
            s.flush()
        return model

    # -- queries -----------------------------------------------------------------------------
    def search(
        self,
        q: str | None = None,
        *,
        namespace: str | None = None,
        task: str | None = None,
        subject: str | None = None,
        grade: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[ModelRecord]]:
        with self.session() as s:
            # Each model's versions in one more query, with only the columns to_json reads (not
            # one query per model loading every manifest: that made the catalog linear).
            versions = selectinload(Model.versions).load_only(Version.version, Version.withdrawn)
            stmt = select(Model).where(Model.latest.is_not(None)).options(versions)
            if q:
                # A substring match: autoescape makes % and _ in q plain characters (SQLite
                # and PostgreSQL alike), not LIKE wildcards that match everything.
                text = q.lower()
                stmt = stmt.where(
                    or_(
                        func.lower(Model.name).contains(text, autoescape=True),
                        func.lower(Model.summary).contains(text, autoescape=True),
                        func.lower(Model.namespace).contains(text, autoescape=True),
                    )
                )
            if namespace:
                stmt = stmt.where(Model.namespace == namespace)
            if task:
                stmt = stmt.where(Model.task == task)
            rows = list(s.scalars(stmt.order_by(Model.namespace, Model.name)))
            # subjects/grades are JSON lists: filtered here, portable across SQLite and PostgreSQL
            if subject:
                rows = [m for m in rows if subject in (m.subjects or [])]
            if grade:
                rows = [m for m in rows if grade in (m.grades or [])]
            return len(rows), [model_record(m) for m in rows[offset : offset + limit]]

    def model(self, namespace: str, name: str) -> ModelRecord:
        with self.session() as s:
            return model_record(self._model(s, namespace, name))

    def latest(self, namespace: str, name: str) -> str | None:
        """The latest release of a model (one row read; no versions loaded)."""
        with self.session() as s:
            model = self._model(s, namespace, name)
            return model.latest

    def manifest(self, namespace: str, name: str, version: str) -> dict[str, Any]:
        """The stored manifest document of a version (one row read)."""
        stored = self.stored_version(namespace, name, version)
        if stored is None:
            raise NotFoundError(f"no version {version} of {namespace}/{name}")
        return stored.manifest

    def refs(self, namespace: str, name: str) -> ModelRefs | None:
        """The model's latest, aliases and versions (no manifests loaded), or None if there is
        no such model."""
        with self.session() as s:
            model = s.scalar(select(Model).where(Model.namespace == namespace, Model.name == name))
            if model is None:
                return None
            rows = s.execute(
                select(Version.version, Version.manifest_sha256, Version.published_at).where(
                    Version.model_id == model.id
                )
            )
            versions = sorted(
                (VersionRef(v, sha, at) for v, sha, at in rows), key=lambda r: names.version_key(r.version)
            )
            return ModelRefs(namespace, name, model.latest, dict(model.aliases or {}), tuple(versions))

    def stored_version(self, namespace: str, name: str, version: str) -> VersionRecord | None:
        """One version with its manifest and files, or None (one row read)."""
        with self.session() as s:
            row = s.scalar(
                select(Version)
                .join(Model)
                .where(Model.namespace == namespace, Model.name == name, Version.version == version)
            )
            return None if row is None else version_record(namespace, name, row)

    def version(self, namespace: str, name: str, version: str) -> VersionRecord:
        """One version; :class:`NotFoundError` naming what is missing, the model or the version."""
        with self.session() as s:
            model = self._model(s, namespace, name)
            row = s.scalar(select(Version).where(Version.model_id == model.id, Version.version == version))
            if row is None:
                raise NotFoundError(f"no version {version} of {namespace}/{name}")
            return version_record(namespace, name, row)

    def log(self, *, namespace: str | None = None, limit: int = 100, after: int = 0) -> list[LogRecord]:
        with self.session() as s:
            stmt = select(LogEntry).where(LogEntry.id > after)
            if namespace:
                stmt = stmt.where(LogEntry.namespace == namespace)
            return [log_record(e) for e in s.scalars(stmt.order_by(LogEntry.id).limit(limit))]

    # -- the served head -------------------------------------------------------------------
    def head(self) -> ServedHead | None:
        """The served head as the last writer committed it; None before any writer copied one."""
        stmt = select(HeadRow.timestamp, HeadRow.timestamp_version, HeadRow.root_version).where(HeadRow.id == 1)
        try:
            with self.engine.connect() as c:
                row = c.execute(stmt).first()
        except SQLAlchemyError as e:
            raise _db_error(e, "index database error") from e
        return None if row is None else ServedHead(bytes(row[0]), int(row[1]), int(row[2]))

    def set_head(self, s: Session, head: ServedHead) -> None:
        """Inside :meth:`writer`: the head clients are served once this transaction commits."""
        row = s.get(HeadRow, 1)
        if row is None:
            s.add(
                HeadRow(
                    id=1,
                    timestamp=head.timestamp,
                    timestamp_version=head.timestamp_version,
                    root_version=head.root_version,
                )
            )
        elif (row.timestamp, row.root_version) != (head.timestamp, head.root_version):
            row.timestamp, row.timestamp_version, row.root_version = (
                head.timestamp,
                head.timestamp_version,
                head.root_version,
            )

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {
                "models": s.scalar(select(func.count()).select_from(Model).where(Model.latest.is_not(None))) or 0,
                "versions": s.scalar(select(func.count()).select_from(Version)) or 0,
                "publishers": s.scalar(select(func.count()).select_from(Publisher)) or 0,
            }


def _aware(at: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")  # a writer waits this long for the lock
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _db_error(e: SQLAlchemyError, what: str) -> StorageError:
    if isinstance(e, OperationalError | DBAPIError) and getattr(e, "connection_invalidated", False):
        return UnavailableError(f"{what}: the database connection was lost; retry")
    if isinstance(e, OperationalError):
        message = str(e.orig or e).strip().splitlines()[0]
        return UnavailableError(f"{what}: the database is unavailable ({message}); retry")
    return StorageError(f"{what}: {e}")


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def schema_revision(engine: Any) -> tuple[str | None, str]:
    """(the database's migration, the newest migration)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert head is not None
    return current, head


def migrate(engine: Any) -> None:
    """Bring the schema to the newest migration, once, however many processes start at the
    same time: PostgreSQL serializes them with an advisory lock, SQLite with a lock on a file
    beside the database. A database made before migrations existed is recognised and stamped."""
    from alembic import command

    current, head = schema_revision(engine)
    if current == head:
        return
    cfg = _alembic_config()
    with contextlib.ExitStack() as stack:
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            lock = stack.enter_context(open(f"{engine.url.database}.migrate-lock", "a+"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            tables = set(inspect(conn).get_table_names())
            if "alembic_version" not in tables and "publishers" in tables:
                command.stamp(cfg, "0001")  # made by create_all before migrations existed
            command.upgrade(cfg, "head")
