"""The Python API: record sale requests durably, enqueue them, read their outcomes.

ledger = Ledger.connect()                  # embedded servers when no URL is configured
ids = ledger.submit([request_dict, ...])   # durable in PostgreSQL, then enqueued
ledger.wait(ids, timeout=30)
ledger.outcomes(ids)                       # `sale show --json` documents, in order
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain import queries
from domain.db import make_engine, session_factory
from domain.posting.intake import receive
from frontends.outages import NotSent, ServiceUnavailable, service_behind
from runtime import embedded, settings

CHUNK = 200


class Ledger:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @classmethod
    def connect(cls, config: settings.Settings | None = None) -> Ledger:
        config = config or settings.load()
        embedded.ensure_running(config)
        return cls(session_factory(make_engine(settings.load().database_url)))

    def submit(self, payloads: Iterable[Any]) -> list[int]:
        """Commit every request as PENDING first, then enqueue their ids in chunks.

        If the process dies between the two, nothing is lost: the sweeper enqueues them later. When
        the broker cannot be reached, NotSent says so: the requests are recorded, and just as safe.
        """
        with self.sessions.begin() as session:
            intake_ids = receive(session, payloads)
        try:
            enqueue(intake_ids)
        except ServiceUnavailable as exc:
            raise NotSent(f"the {len(intake_ids)} request(s)", exc) from None
        return intake_ids

    def outcomes(self, intake_ids: list[int]) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return queries.outcomes(session, intake_ids)

    def wait(
        self,
        intake_ids: list[int],
        timeout: float = 60.0,
        poll: float = 0.2,
        watch: Callable[[int], None] | None = None,
    ) -> bool:
        """True once every request has an outcome; False if `timeout` seconds passed first.
        `watch` (frontends.recovery.Watch) is told how many are pending on every poll."""
        deadline = time.monotonic() + timeout
        while True:
            with self.sessions() as session:
                pending = queries.count_pending(session, intake_ids)
            if pending == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            if watch is not None:
                watch(pending)
            time.sleep(poll)


def enqueue(intake_ids: list[int], chunk: int = CHUNK) -> None:
    """Send the requests to the posting queue; ServiceUnavailable when the broker cannot be reached."""
    from tasks.posting import post_requests
    from workers.app import app  # noqa: F401  (configures the app the task is sent with)

    try:
        for start in range(0, len(intake_ids), chunk):
            post_requests.delay(intake_ids[start : start + chunk])
    except Exception as exc:
        if service_behind(exc) != "broker":
            raise
        raise ServiceUnavailable.of("broker", settings.load()) from exc
