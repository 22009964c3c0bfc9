"""Fixtures integration tests share: the HTTP intake, and the stock books checked after a posting test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.intake_support import intake_env, running_intake
from tests.shop import stock_drift


@pytest.fixture
def intake(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[httpx.Client]:
    """`tillpost intake --port P` (real uvicorn, loopback) with keys and webhook secrets; a client for it."""
    with running_intake(intake_env(pipeline_env), tmp_path / "intake.log") as client:
        yield client


@pytest.fixture
def on_hand_equals_the_sum_of_movements(sessions):  # type: ignore[no-untyped-def]
    """After the test: for each (outlet, product), on hand is the sum of its stock movements."""
    yield
    with sessions.begin() as s:
        assert stock_drift(s) == {}
