"""One broken invariant: which check found it, and what is off in a shop manager's words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str
