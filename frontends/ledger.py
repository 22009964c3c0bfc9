"""The Python API: record sale requests durably, send them, read their outcomes.

ledger = Ledger.connect()                  # embedded servers when no URL is configured
ids = ledger.submit([request_dict, ...])   # durable in PostgreSQL, then sent
ledger.wait(ids, timeout=30)
ledger.outcomes(ids)                       # `sale show --json` documents, in order
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from frontends.outages import sending
from runtime import settings
from services import intake
from services.unit_of_work import Database, connect
from tasks import messages


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def connect(cls, config: settings.Settings | None = None) -> Ledger:
        """A ledger on `config`'s database (the environment's settings when none is given)."""
        return cls(connect(config or settings.load()))

    def submit(self, payloads: Iterable[Any]) -> list[int]:
        """Commit every request as PENDING first, then send their ids in chunks.

        If the process dies between the two, nothing is lost: the sweeper sends them later. When
        the broker cannot be reached, NotSent says so: the requests are recorded, and just as safe.
        """
        intake_ids = intake.receive(self.db, payloads)
        with sending(f"the {len(intake_ids)} request(s)"):
            messages.send_requests(intake_ids)
        return intake_ids

    def outcomes(self, intake_ids: list[int]) -> list[dict[str, Any]]:
        return intake.outcomes(self.db, intake_ids)

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
            pending = intake.count_pending(self.db, intake_ids)
            if pending == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            if watch is not None:
                watch(pending)
            time.sleep(poll)
