"""The index's tables (SQLAlchemy ORM classes: publishers, tokens, models, versions, the
append-only publish log, the writer lock, the served head) and the conversions of their rows to
the frozen records of :mod:`registry.storage.records`. The schema is made by the migrations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from registry.core import names
from registry.core.errors import StorageError

from .records import LogRecord, ModelRecord, VersionRecord

__all__ = [
    "Base",
    "HeadRow",
    "LogEntry",
    "Model",
    "Publisher",
    "Token",
    "Version",
    "WriterLock",
    "describe_model",
    "log_record",
    "model_record",
    "utcnow",
    "version_record",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Publisher(Base):
    __tablename__ = "publishers"
    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)
    keyid: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Token(Base):
    """An upload token of a publisher, stored as the sha256 of the token."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(40), index=True)  # a publisher's
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    versions: Mapped[list[Version]] = relationship(back_populates="model", cascade="all")


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
    # {"reason", "use", "at", "by"} while the signed metadata withdraws this version, else None
    withdrawn: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    model: Mapped[Model] = relationship(back_populates="versions")


def describe_model(model: Model, doc: Mapping[str, Any]) -> None:
    """A model's searchable description, from one version's manifest."""
    model.task = doc.get("task", "")
    model.summary = doc.get("summary", "")[:1000]
    model.subjects = doc.get("subjects", [])
    model.grades = doc.get("grades", [])
    model.languages = doc.get("languages", [])
    model.license = doc.get("license", "")


class LogEntry(Base):
    __tablename__ = "publish_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    namespace: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class WriterLock(Base):
    """The row every writer updates first (see :meth:`Index.writer`)."""

    __tablename__ = "writer_lock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    writes: Mapped[int] = mapped_column(BigInteger)


class HeadRow(Base):
    """The one row of the served head (migration 0004)."""

    __tablename__ = "served_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    timestamp: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp_version: Mapped[int] = mapped_column(BigInteger)
    root_version: Mapped[int] = mapped_column(BigInteger)


def model_record(m: Model) -> ModelRecord:
    versions = sorted(m.versions, key=lambda v: names.version_key(v.version))
    return ModelRecord(
        namespace=m.namespace,
        name=m.name,
        task=m.task,
        summary=m.summary,
        subjects=m.subjects,
        grades=m.grades,
        languages=m.languages,
        license=m.license,
        latest=m.latest,
        aliases=m.aliases,
        versions=tuple(v.version for v in versions),
        withdrawn={v.version: v.withdrawn for v in versions if v.withdrawn},
        updated_at=m.updated_at,
    )


def version_record(namespace: str, name: str, row: Version) -> VersionRecord:
    return VersionRecord(
        model=f"{namespace}/{name}",
        version=row.version,
        manifest_sha256=row.manifest_sha256,
        manifest_size=row.manifest_size,
        manifest=row.manifest,
        files=dict(row.files),
        published_at=row.published_at,
        withdrawn=row.withdrawn or None,
    )


def log_record(e: LogEntry) -> LogRecord:
    return LogRecord(e.id, e.at, e.namespace, e.action, e.subject, e.detail)


@event.listens_for(LogEntry, "before_update")
@event.listens_for(LogEntry, "before_delete")
def _append_only(mapper: Any, connection: Any, target: LogEntry) -> None:
    raise StorageError("the publish log is append-only")
