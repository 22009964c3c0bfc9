"""Test services: a real PostgreSQL and Redis, never stand-ins.

With TILLPOST_DATABASE_URL / TILLPOST_BROKER_URL set (CI sets them to the machine's servers) the
tests use those; otherwise the embedded servers under TILLPOST_HOME (default ./.tillpost) start.
Each test run gets its own fresh database, migrated with the project's own Alembic migrations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from domain.db import make_engine
from domain.tables import Base
from migrations.schema import upgrade
from runtime import embedded, settings
from services.unit_of_work import Database

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared; skip when it is absent, but fail in CI where it must be there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is absent: this test reads real data from ../shared (never copied into the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def service_settings() -> settings.Settings:
    configured = settings.load()
    embedded.ensure_running(configured)
    return settings.load()


@pytest.fixture(scope="session")
def database_url(service_settings: settings.Settings) -> Iterator[str]:
    server = make_url(service_settings.database_url)
    name = f"tillpost_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(
        server.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=10, max_overflow=10)
    yield eng
    eng.dispose()


TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


class TestDatabase(Database):
    """The test run's database: a Database for the use cases (`db.transaction`, `db.read`), and
    a sessionmaker too (`sessions()`, `sessions.begin()`) for the tests that arrange and
    read the ledger directly."""

    __test__ = False  # not a test class, whatever its name

    def __call__(self) -> Session:
        return self.sessions()

    def __getattr__(self, name: str) -> Any:  # begin(), kw ...: the sessionmaker's
        return getattr(self.sessions, name)


@pytest.fixture
def sessions(engine: Engine) -> TestDatabase:
    """The database, on an emptied ledger (every table truncated before the test)."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return TestDatabase(engine)


@pytest.fixture(scope="session")
def broker_url(service_settings: settings.Settings) -> str:
    from tests.workers import test_broker_url

    return test_broker_url(service_settings.broker_url)


@pytest.fixture
def pipeline_env(database_url: str, broker_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for worker processes, a purged test broker, and this process's app pointed at it."""
    from tests.workers import redis_client
    from workers.app import app

    redis_client(broker_url).flushdb()
    app.conf.broker_url = broker_url
    return dict(
        os.environ,
        TILLPOST_DATABASE_URL=database_url,
        TILLPOST_BROKER_URL=broker_url,
        TILLPOST_HOME=str(tmp_path / "home"),
    )


@pytest.fixture
def start_worker(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Start real worker processes: `start_worker(concurrency=2)`; all are stopped after the test."""
    from tests.workers import Worker

    started: list[Worker] = []

    def start(concurrency: int = 2, extra: list[str] | None = None) -> Worker:
        worker = Worker(pipeline_env, tmp_path, concurrency, extra)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
