"""Every setting tillpost reads, in one place (see ../shared/CLI.md for the contract).

Nothing here connects to anything: with no URL configured, the URLs point at the embedded
servers' sockets under TILLPOST_HOME, which `runtime.embedded.ensure_running` starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    configured_database_url: str | None
    configured_broker_url: str | None
    intake_keys: tuple[str, ...]
    shopify_secret: str | None
    woocommerce_secret: str | None
    web_outlet: str

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def redis_dir(self) -> Path:
        return self.home / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis_dir / "redis.sock"

    @property
    def database_url(self) -> str:
        if self.configured_database_url:
            return to_psycopg_url(self.configured_database_url)
        return f"postgresql+psycopg://postgres@/tillpost?host={self.pg_dir}"

    @property
    def broker_url(self) -> str:
        return self.configured_broker_url or f"redis+socket://{self.redis_socket}"

    @property
    def embedded(self) -> bool:
        return not (self.configured_database_url and self.configured_broker_url)


def to_psycopg_url(url: str) -> str:
    """Accept plain postgres:// URLs too, and always use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _keys(raw: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (raw or "").split(",") if k.strip())


def load(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        home=Path(env.get("TILLPOST_HOME") or ".tillpost").resolve(),
        configured_database_url=env.get("TILLPOST_DATABASE_URL") or None,
        configured_broker_url=env.get("TILLPOST_BROKER_URL") or None,
        intake_keys=_keys(env.get("TILLPOST_INTAKE_KEYS")),
        shopify_secret=env.get("TILLPOST_SHOPIFY_SECRET") or None,
        woocommerce_secret=env.get("TILLPOST_WOOCOMMERCE_SECRET") or None,
        web_outlet=env.get("TILLPOST_WEB_OUTLET") or "WEB",
    )
