"""The registry server's configuration (:class:`ServerConfig`), read once at the entry point
from the environment, and the online signers it names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from registry.core import keys, trust
from registry.core.errors import UsageError

__all__ = ["ServerConfig", "online_signer"]


@dataclass(frozen=True)
class ServerConfig:
    """Where a registry server keeps its state. Read once at the entry point."""

    data_dir: Path
    database_url: str | None = None  # default: what registry.json names, else SQLite in the data folder
    blobs: str | None = None  # a folder or s3://bucket/prefix; default: registry.json's, else DATA_DIR/objects
    max_upload_bytes: int = 2 << 30
    # Every other body is small JSON: refused (413) above this, before it is read.
    max_json_bytes: int = 1 << 20
    # A publish carries signed roles: ~100 KB for a first publish (a namespace role and 256
    # bins), ~2 MB to re-sign every bin of a 10,000-file namespace. The token is checked first.
    max_publish_bytes: int = 64 << 20
    expiry: trust.Expiry = trust.Expiry()
    # /api/v1/health says degraded when anything served expires within this window.
    expiry_warning: timedelta = timedelta(days=30)
    redirect_blobs: bool = False  # answer target downloads with a 302 to a presigned store URL
    redirect_expiry_s: int = 600
    # Small targets of a store without local files (S3) are kept in memory, read once per
    # process: blobs are named by their sha256, so they never change. 0 turns it off.
    blob_cache_bytes: int = 64 << 20
    env: tuple[tuple[str, str], ...] = ()  # EDZOO_* settings read at the entry point (keys, S3)

    @classmethod
    def from_env(cls, data_dir: Path, env: dict[str, str], **overrides: Any) -> ServerConfig:
        try:
            config = cls(
                data_dir=Path(data_dir).resolve(),
                database_url=env.get("EDZOO_DATABASE_URL") or None,
                blobs=env.get("EDZOO_BLOBS") or None,
                max_upload_bytes=int(env.get("EDZOO_MAX_UPLOAD_BYTES", 2 << 30)),
                max_json_bytes=int(env.get("EDZOO_MAX_JSON_BYTES", 1 << 20)),
                max_publish_bytes=int(env.get("EDZOO_MAX_PUBLISH_BYTES", 64 << 20)),
                redirect_blobs=env.get("EDZOO_REDIRECT_BLOBS", "").lower() in {"1", "true", "yes"},
                redirect_expiry_s=int(env.get("EDZOO_REDIRECT_EXPIRY", 600)),
                blob_cache_bytes=int(env.get("EDZOO_BLOB_CACHE_BYTES", 64 << 20)),
                expiry_warning=timedelta(days=float(env.get("EDZOO_EXPIRY_WARNING_DAYS", 30))),
                env=tuple(sorted((k, v) for k, v in env.items() if k.startswith(("EDZOO_", "AWS_")))),
            )
        except ValueError as e:
            raise UsageError(f"bad EDZOO_* setting: {e}") from e
        return _replace(config, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'index.sqlite'}"


def _replace(config: ServerConfig, **changes: Any) -> ServerConfig:
    from dataclasses import replace

    return replace(config, **changes)


def online_signer(config: ServerConfig, role: str) -> Any:
    """The snapshot or timestamp signer: ``EDZOO_<ROLE>_KEY`` (a PEM, or the path of one), else
    ``DATA_DIR/keys/<role>.pem``."""
    value = dict(config.env).get(f"EDZOO_{role.upper()}_KEY") or os.environ.get(f"EDZOO_{role.upper()}_KEY")
    if value and value.lstrip().startswith("-----BEGIN"):
        return keys.signer_from_pem(value.encode(), f"EDZOO_{role.upper()}_KEY")
    return keys.load_signer(Path(value) if value else config.data_dir / "keys" / f"{role}.pem")
