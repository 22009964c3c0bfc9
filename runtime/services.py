"""Where the ledger's PostgreSQL and broker are, and whether they run (`tillpost services status`).

An embedded server is running when its process is; a configured one when it answers within a few
seconds. URLs are shown without their password.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from runtime import embedded
from runtime.settings import Settings, redacted

ANSWER_WITHIN = 3  # seconds a configured server has to answer


@dataclass(frozen=True)
class ServiceStatus:
    service: str  # "database" or "broker"
    state: str  # "running", "stopped" (embedded) or "unreachable" (configured)
    embedded: bool
    url: str
    data_dir: str | None  # the embedded server's folder

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(settings: Settings) -> list[ServiceStatus]:
    return [_database(settings), _broker(settings)]


def _database(settings: Settings) -> ServiceStatus:
    url = settings.database_url
    if url == settings.embedded_database_url:
        running = embedded.postgres_pid(settings.pg_dir) is not None
        return ServiceStatus("database", _state(running), True, url, str(settings.pg_dir))
    return ServiceStatus("database", _answer(_database_answers(url)), False, redacted(url), None)


def _broker(settings: Settings) -> ServiceStatus:
    url = settings.broker_url
    if url == settings.embedded_broker_url:
        running = embedded.redis_pid(settings.redis_dir) is not None
        return ServiceStatus("broker", _state(running), True, url, str(settings.redis_dir))
    return ServiceStatus("broker", _answer(_broker_answers(url)), False, redacted(url), None)


def _state(running: bool) -> str:
    return "running" if running else "stopped"


def _answer(answers: bool) -> str:
    return "running" if answers else "unreachable"


def _database_answers(url: str) -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    engine = create_engine(url, connect_args={"connect_timeout": ANSWER_WITHIN})
    try:
        engine.connect().close()
    except DBAPIError:
        return False
    finally:
        engine.dispose()
    return True


def _broker_answers(url: str) -> bool:
    import redis

    if url.startswith("redis+socket://"):
        client = redis.Redis(unix_socket_path=urlsplit(url).path, socket_connect_timeout=ANSWER_WITHIN)
    else:
        client = redis.Redis.from_url(url, socket_connect_timeout=ANSWER_WITHIN)
    try:
        client.ping()
    except redis.RedisError:
        return False
    finally:
        client.close()
    return True
