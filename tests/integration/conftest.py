"""Fixtures the integration tests of the HTTP intake share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.intake_support import intake_env, running_intake


@pytest.fixture
def intake(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[httpx.Client]:
    """`tillpost intake --port P` (real uvicorn, loopback) with keys and webhook secrets; a client for it."""
    with running_intake(intake_env(pipeline_env), tmp_path / "intake.log") as client:
        yield client
