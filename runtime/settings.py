"""Every setting tillpost reads, in one place (see ../shared/CLI.md for the contract).

Nothing here connects to anything: with no URL configured, the URLs point at the embedded
servers' sockets under TILLPOST_HOME, which `runtime.embedded.ensure_running` starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Settings:
    home: Path
    configured_database_url: str | None
    configured_broker_url: str | None
    intake_keys: tuple[str, ...]
    shopify_secret: str | None
    woocommerce_secret: str | None
    web_outlet: str
    flower_auth: str | None  # `user:password` Flower asks for; see runtime.flower_auth
    stale_after: float = 60.0  # seconds undone work may wait before the sweeper sends it again
    sweep_interval: float = 30.0  # seconds between sweeps (beat's schedule, the workers' own check)

    @property
    def intake_key_companies(self) -> dict[str, str | None]:
        """Each intake key and the company it is bound to ("KEY:COMPANY"), or None for a key of the
        whole installation (it may post and read for every company). A key never contains ':'.
        "KEY:" (a company left empty) is no key at all: a typo never widens a key to every company."""
        bound: dict[str, str | None] = {}
        for entry in self.intake_keys:
            key, colon, company = entry.partition(":")
            if key.strip() and (not colon or company.strip()):
                bound[key.strip()] = company.strip() if colon else None
        return bound

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
    def embedded_database_url(self) -> str:
        return f"postgresql+psycopg://postgres@/tillpost?host={self.pg_dir}"

    @property
    def embedded_broker_url(self) -> str:
        return f"redis+socket://{self.redis_socket}"

    @property
    def database_url(self) -> str:
        if self.configured_database_url:
            _require_scheme("TILLPOST_DATABASE_URL", self.configured_database_url, DATABASE_SCHEMES)
            return to_psycopg_url(self.configured_database_url)
        return self.embedded_database_url

    @property
    def broker_url(self) -> str:
        if self.configured_broker_url:
            _require_scheme("TILLPOST_BROKER_URL", self.configured_broker_url, BROKER_SCHEMES)
            return self.configured_broker_url
        return self.embedded_broker_url

    def check_urls(self) -> None:
        """Raise UnsupportedUrl when a configured URL names a server tillpost cannot talk to."""
        _ = self.database_url, self.broker_url

    @property
    def embedded(self) -> bool:
        return not (self.configured_database_url and self.configured_broker_url)


DATABASE_SCHEMES = ("postgresql+psycopg://", "postgresql://", "postgres://")
BROKER_SCHEMES = ("redis://", "rediss://", "redis+socket://")


class UnsupportedUrl(ValueError):
    """A configured URL names a kind of server tillpost cannot use (bad input, exit status 2)."""

    def __init__(self, variable: str, url: str, schemes: tuple[str, ...]) -> None:
        self.variable, self.url, self.schemes = variable, redacted(url), schemes
        super().__init__(f"{variable}={self.url} is not supported: use a URL starting {' or '.join(schemes)}")


def _require_scheme(variable: str, url: str, schemes: tuple[str, ...]) -> None:
    if not url.startswith(schemes):
        raise UnsupportedUrl(variable, url, schemes)


SECRET_PARAMETERS = ("password", "passwd", "sslpassword")


def redacted(url: str) -> str:
    """The URL with its password (if any, in the user part or a query parameter such as
    ?password=) shown as ***: safe to print or log."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}")
    query = "&".join(_redacted_parameter(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(query=query))


def _redacted_parameter(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    return f"{name}=***" if equals and name.lower() in SECRET_PARAMETERS else parameter


def to_psycopg_url(url: str) -> str:
    """Accept plain postgres:// URLs too, and always use the psycopg 3 driver."""
    for prefix in DATABASE_SCHEMES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _keys(raw: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (raw or "").split(",") if k.strip())


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name) or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


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
        stale_after=_seconds(env, "TILLPOST_STALE_AFTER", 60.0),
        sweep_interval=_seconds(env, "TILLPOST_SWEEP_INTERVAL", 30.0),
        flower_auth=env.get("TILLPOST_FLOWER_AUTH") or None,
    )
