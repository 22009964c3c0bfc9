"""Batch invariant: every batch's running tallies (what `batch show` and the progress bar read) equal
the same counts and sums taken from its rows now, so a tally that drifted is found, not trusted."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.batches import tallies
from domain.checks.violation import Violation


def tallies_match_their_rows(session: Session) -> list[Violation]:
    return [
        Violation(
            "batch_tally",
            f"batch {batch_id}: tally {tally}{f' {key}' if key else ''} holds {_figures(stored)}"
            f" but its rows come to {_figures(expected)}",
        )
        for batch_id, tally, key, stored, expected in tallies.drift(session)
    ]


def _figures(values: tuple[object, ...]) -> str:
    n, amount, tax = values
    return f"n {n}, amount {amount}, tax {tax}"
