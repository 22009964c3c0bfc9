"""A URL printed by tillpost never shows a password, wherever the URL carries it."""

import pytest

from runtime.settings import redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://shop:hunter2@db:5432/tillpost", "postgresql://shop:***@db:5432/tillpost"),
        ("postgresql://shop@db/tillpost?password=hunter2", "postgresql://shop@db/tillpost?password=***"),
        (
            "postgresql://db/tillpost?sslmode=require&PASSWORD=hunter2&user=shop",
            "postgresql://db/tillpost?sslmode=require&PASSWORD=***&user=shop",
        ),
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (
            "postgresql+psycopg://postgres@/tillpost?host=/tmp/pg",
            "postgresql+psycopg://postgres@/tillpost?host=/tmp/pg",
        ),
    ],
)
def test_a_password_is_never_shown(url, shown):
    assert redacted(url) == shown
    assert "hunter2" not in redacted(url)
