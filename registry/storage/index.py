"""The searchable index of a registry (SQLAlchemy 2: SQLite by default, PostgreSQL at scale).

Everything here except publishers is derived from publisher-signed metadata; it serves search
and the JSON API, never trust decisions. The publish log is append-only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from registry.core import names
from registry.core.errors import ConflictError, NotFoundError, StorageError

__all__ = ["Index"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Publisher(Base):
    __tablename__ = "publishers"
    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)
    keyid: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[dict] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("namespace", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    task: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(String(1000), default="")
    subjects: Mapped[list] = mapped_column(JSON, default=list)
    grades: Mapped[list] = mapped_column(JSON, default=list)
    languages: Mapped[list] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(64), default="")
    latest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    aliases: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    versions: Mapped[list[Version]] = relationship(back_populates="model", cascade="all")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.namespace}/{self.name}",
            "namespace": self.namespace,
            "name": self.name,
            "task": self.task,
            "summary": self.summary,
            "subjects": self.subjects,
            "grades": self.grades,
            "languages": self.languages,
            "license": self.license,
            "latest": self.latest,
            "aliases": self.aliases,
            "versions": sorted((v.version for v in self.versions), key=names.version_key),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    manifest_size: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[dict] = mapped_column(JSON)
    files: Mapped[dict] = mapped_column(JSON)  # path within the version -> {sha256, size}
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    model: Mapped[Model] = relationship(back_populates="versions")

    def to_json(self, *, manifest: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": f"{self.model.namespace}/{self.model.name}",
            "version": self.version,
            "manifest": {"sha256": self.manifest_sha256, "size": self.manifest_size},
            "files": self.files,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "variants": [_variant_summary(v) for v in self.manifest.get("variants", [])],
        }
        if manifest:
            out["manifest_document"] = self.manifest
        return out


def _variant_summary(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": v.get("id"),
        "file": v.get("file"),
        "sha256": v.get("sha256"),
        "size": v.get("size"),
        "format": v.get("format"),
        "recipe": v.get("recipe"),
        "metrics": v.get("metrics"),
        "benchmarks": v.get("benchmarks"),
        "requirements": v.get("requirements"),
    }


class LogEntry(Base):
    __tablename__ = "publish_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    namespace: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat() if self.at else None,
            "namespace": self.namespace,
            "action": self.action,
            "subject": self.subject,
            "detail": self.detail,
        }


@event.listens_for(LogEntry, "before_update")
@event.listens_for(LogEntry, "before_delete")
def _append_only(mapper: Any, connection: Any, target: LogEntry) -> None:
    raise StorageError("the publish log is append-only")


class Index:
    """The registry's metadata database."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = create_engine(url)
            if url.startswith("sqlite"):
                event.listen(self.engine, "connect", _sqlite_pragmas)
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot open the index database {url}: {e}") from e

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            raise StorageError(f"index database error: {e}") from e

    # -- publishers ------------------------------------------------------------------------
    def add_publisher(self, namespace: str, keyid: str, public_key: dict, token_hash: str) -> None:
        with self.session() as s:
            row = s.get(Publisher, namespace)
            if row is None:
                s.add(Publisher(namespace=namespace, keyid=keyid, public_key=public_key, token_hash=token_hash))
                action = "add-publisher"
            else:
                row.keyid, row.public_key, row.token_hash = keyid, public_key, token_hash
                action = "rotate-publisher"
            s.add(LogEntry(namespace=namespace, action=action, subject=namespace, detail={"keyid": keyid}))

    def publisher_for_token(self, token_hash: str) -> str | None:
        with self.session() as s:
            row = s.scalar(select(Publisher).where(Publisher.token_hash == token_hash))
            return row.namespace if row else None

    def publishers(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [
                {"namespace": p.namespace, "keyid": p.keyid, "created_at": p.created_at.isoformat()}
                for p in s.scalars(select(Publisher).order_by(Publisher.namespace))
            ]

    # -- publishing --------------------------------------------------------------------------
    def record_publish(
        self,
        namespace: str,
        versions: list[dict[str, Any]],
        indexes: dict[str, dict[str, Any]],
        detail: dict[str, Any],
        before_commit: Callable[[], None],
    ) -> None:
        """Add published versions (``{"manifest", "sha256", "size", "files"}``) and the
        models' signed version indexes (model name → versions.json document) in one
        transaction; ``before_commit`` runs last inside it (the server writes the TUF
        timestamp there, so the index never shows what clients cannot yet fetch)."""
        with self.session() as s:
            for item in versions:
                doc = item["manifest"]
                model = self._model(s, doc["namespace"], doc["name"], create=True)
                exists = s.scalar(
                    select(Version).where(Version.model_id == model.id, Version.version == doc["version"])
                )
                if exists is not None:
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
                model.task = doc.get("task", "")
                model.summary = doc.get("summary", "")[:1000]
                model.subjects = doc.get("subjects", [])
                model.grades = doc.get("grades", [])
                model.languages = doc.get("languages", [])
                model.license = doc.get("license", "")
                model.updated_at = _utcnow()
                s.add(
                    LogEntry(
                        namespace=namespace,
                        action="publish",
                        subject=f"{model.namespace}/{model.name}@{doc['version']}",
                        detail=detail,
                    )
                )
            for model_name, index_doc in indexes.items():
                model = self._model(s, namespace, model_name, create=True)
                model.latest = names.latest_of(index_doc["versions"])
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
            before_commit()

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
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.session() as s:
            stmt = select(Model).where(Model.latest.is_not(None))
            if q:
                like = f"%{q.lower()}%"
                stmt = stmt.where(
                    or_(
                        func.lower(Model.name).like(like),
                        func.lower(Model.summary).like(like),
                        func.lower(Model.namespace).like(like),
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
            return len(rows), [m.to_json() for m in rows[offset : offset + limit]]

    def model(self, namespace: str, name: str) -> dict[str, Any]:
        with self.session() as s:
            return self._model(s, namespace, name).to_json()

    def latest(self, namespace: str, name: str) -> str | None:
        """The latest release of a model (one row read; no versions loaded)."""
        with self.session() as s:
            model = self._model(s, namespace, name)
            return model.latest

    def manifest(self, namespace: str, name: str, version: str) -> dict[str, Any]:
        """The stored manifest document of a version (one row read)."""
        with self.session() as s:
            row = s.scalar(
                select(Version)
                .join(Model)
                .where(Model.namespace == namespace, Model.name == name, Version.version == version)
            )
            if row is None:
                raise NotFoundError(f"no version {version} of {namespace}/{name}")
            return row.manifest

    def version(self, namespace: str, name: str, version: str) -> dict[str, Any]:
        with self.session() as s:
            model = self._model(s, namespace, name)
            row = s.scalar(select(Version).where(Version.model_id == model.id, Version.version == version))
            if row is None:
                raise NotFoundError(f"no version {version} of {namespace}/{name}")
            return row.to_json()

    def log(self, *, namespace: str | None = None, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        with self.session() as s:
            stmt = select(LogEntry).where(LogEntry.id > after)
            if namespace:
                stmt = stmt.where(LogEntry.namespace == namespace)
            return [e.to_json() for e in s.scalars(stmt.order_by(LogEntry.id).limit(limit))]

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {
                "models": s.scalar(select(func.count()).select_from(Model).where(Model.latest.is_not(None))) or 0,
                "versions": s.scalar(select(func.count()).select_from(Version)) or 0,
                "publishers": s.scalar(select(func.count()).select_from(Publisher)) or 0,
            }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
