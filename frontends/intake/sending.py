"""Sending what the intake recorded: at once, one message for this request alone (not waiting for a
chunk), after the commit and after the 202 went out. A broker that is down loses nothing: the
request is PENDING in PostgreSQL, and the sweeper sends it within TILLPOST_STALE_AFTER."""

from __future__ import annotations

import logging

from tasks.messages import send_requests

log = logging.getLogger("tillpost.intake")


def send_now(intake_ids: list[int], what: str) -> None:
    if not intake_ids:
        return
    try:
        send_requests(intake_ids)
    except Exception as exc:  # the broker's fault, whatever its client raises
        log.warning(
            "%s: recorded, but the broker cannot be reached (%s); it is safe in PostgreSQL and the sweeper sends it",
            what,
            type(exc).__name__,
        )
