"""Z reports issued by two issuers at the same moment, each on its own connections (as two
`tillpost report z` processes would be): one number per outlet-day, numbers gap-free per outlet,
figures the day's own, never a deadlock or a database error."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from domain.db import make_engine
from domain.posting.decision import decide
from domain.posting.intake import receive
from services import reports
from services.unit_of_work import Database
from tests.integration.test_reports import post_in_process, reconciles, the_figures
from tests.shop import make_shop, sale

DAYS = [date(2025, 3, 1) + timedelta(days=n) for n in range(12)]


def a_day_of_sales(outlet: str, day: date) -> list[dict[str, Any]]:
    at = f"{day.isoformat()}T12:00:00+08:00"
    return [
        sale(f"{outlet}-{day}-1", [("TEA", "1")], [("CASH", "5.00")], outlet=outlet, occurred_at=at),
        sale(
            f"{outlet}-{day}-2",
            [("MUG", str(day.day))],
            [("CARD", str(Decimal("12.90") * day.day))],
            outlet=outlet,
            occurred_at=at,
        ),
    ]


def race(issuers: list[Database], calls: list[tuple[str, date]]) -> list[Any]:
    """Each issuer issues its (outlet, day) at the same moment; what each got (or raised)."""
    start = threading.Barrier(len(issuers))
    got: list[Any] = [None] * len(issuers)

    def issue(n: int) -> None:
        outlet, day = calls[n]
        start.wait()
        try:
            got[n] = reports.z_report(issuers[n], outlet, day.isoformat())
        except Exception as exc:  # reported by the test, never swallowed
            got[n] = exc

    threads = [threading.Thread(target=issue, args=(n,)) for n in range(len(issuers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_two_z_issuers_racing_give_one_number_per_outlet_day_gap_free_per_outlet(sessions, database_url):
    # Given two outlets with sales on each of twelve days
    with sessions.begin() as s:
        make_shop(s, outlets=("ORCH", "TAMP"))
    post_in_process(sessions, [r for day in DAYS for outlet in ("ORCH", "TAMP") for r in a_day_of_sales(outlet, day)])
    issuers = [Database(make_engine(database_url, pool_size=2)) for _ in range(2)]
    try:
        # When two issuers issue the same ORCH day at once, then two different TAMP days at once
        issued: dict[tuple[str, date], list[Any]] = {}
        for n, day in enumerate(DAYS):
            issued[("ORCH", day)] = race(issuers, [("ORCH", day), ("ORCH", day)])
            if n % 2 == 0:
                pair = [("TAMP", day), ("TAMP", DAYS[n + 1])]
                for call, document in zip(pair, race(issuers, pair), strict=True):
                    issued[call] = [document]
    finally:
        for issuer in issuers:
            issuer.dispose()

    # Then neither issuer failed (no deadlock, no clash of numbers)
    failures = {key: got for key, got in issued.items() if any(isinstance(g, Exception) for g in got)}
    assert failures == {}
    # And both issuers of an outlet-day got the same Z, which is the one kept
    for (outlet, day), got in issued.items():
        assert all(g == got[0] for g in got), (outlet, day)
        assert reports.issued_z_report(sessions, outlet, day.isoformat()) == got[0]
    # And the numbers of each outlet run 1, 2, 3, ... with no gap and none twice
    for outlet in ("ORCH", "TAMP"):
        numbers = sorted(got[0]["number"] for (o, _), got in issued.items() if o == outlet)
        assert numbers == list(range(1, len(DAYS) + 1)), outlet
    # And every Z holds its day's figures: what an X reads now, reconciled
    for (outlet, day), got in issued.items():
        now = reports.x_report(sessions, outlet, day.isoformat())
        assert the_figures(got[0]) == the_figures(now) and now["since_z"] == {}
        assert got[0]["sales"] == 2 and reconciles(got[0])


def test_a_sale_committed_while_a_z_is_being_summed_is_all_in_it_or_all_out(sessions, database_url):
    # Given an outlet's day with two sales, and the Z of that day held up half-way through its sums:
    # the late sale's transaction holds the tenders table, which the Z reads after sales and lines
    with sessions.begin() as s:
        make_shop(s, outlets=("ORCH",))
    day = DAYS[0]
    post_in_process(sessions, a_day_of_sales("ORCH", day))
    late = sale("LATE", [("TEA", "2")], [("CASH", "10.00")], outlet="ORCH", occurred_at=f"{day}T20:00:00+08:00")
    issuer = Database(make_engine(database_url, pool_size=2))
    got: list[Any] = []
    with sessions.begin() as poster:
        poster.execute(text("LOCK TABLE tenders IN ACCESS EXCLUSIVE MODE"))
        z = threading.Thread(target=lambda: got.append(reports.z_report(issuer, "ORCH", day.isoformat())))
        z.start()
        wait_until_blocked_on("tenders", poster)
        # When the late sale is posted and committed while the Z waits
        (intake_id,) = receive(poster, [late])
        assert decide(poster, intake_id).outcome == "POSTED"
    z.join(timeout=60)
    issuer.dispose()

    # Then the Z is the day of one moment: it reconciles, and the late sale is wholly after it
    (issued,) = got
    assert reconciles(issued), issued
    assert issued["sales"] == 2
    now = reports.x_report(sessions, "ORCH", day.isoformat())
    assert now["sales"] == 3 and now["since_z"]["sales"] == 1 and reconciles(now)


def wait_until_blocked_on(table: str, holder: Any) -> None:
    """Until another backend waits for a lock on `table` (the Z's statement that reads it)."""
    for _ in range(600):
        waiting = holder.scalar(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE NOT l.granted AND c.relname = :table AND l.pid <> pg_backend_pid()"
            ),
            {"table": table},
        )
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"no backend came to wait on {table}")
