"""Real Celery worker processes for pipeline tests: subprocesses, prefork pool, real broker.

Tests use their own Redis database index, so they never eat a developer's queues.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from kombu.utils.url import url_to_parts

# Tests use a Redis database of their own (1..15, never 0), claimed per test run with a key in
# database 0, so that parallel runs on one machine (developers, agents, CI) never eat each other's
# messages. The claim expires on its own if a run dies without releasing it.
_claimed: list[int] = []


def _claim_db(admin: redis.Redis) -> int:
    if not _claimed:
        for db in [*range(1 + os.getpid() % 15, 16), *range(1, 1 + os.getpid() % 15)]:
            if admin.set(f"tillpost-test-db:{db}", os.getpid(), nx=True, ex=3 * 3600):
                _claimed.append(db)
                atexit.register(admin.delete, f"tillpost-test-db:{db}")
                break
        else:
            raise RuntimeError("every Redis database 1..15 is claimed by another test run")
    return _claimed[0]


def test_broker_url(url: str) -> str:
    if url.startswith("redis+socket://"):
        path = url.split("?")[0]
        db = _claim_db(redis.Redis(unix_socket_path=path[len("redis+socket://") :]))
        return path + f"?virtual_host={db}"
    scheme, host, port, user, password, _, _ = url_to_parts(url)
    auth = f"{user or ''}:{password}@" if password else ""
    db = _claim_db(redis.Redis(host=host or "localhost", port=port or 6379, password=password))
    return f"{scheme}://{auth}{host}:{port or 6379}/{db}"


def redis_client(url: str) -> redis.Redis:
    """A client on the test run's own database of the test broker URL."""
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.split("?")[0][len("redis+socket://") :], db=_claimed[0])
    return redis.Redis.from_url(url)


class Worker:
    """One `celery worker` process (its own process group), logging to a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, concurrency: int = 2, extra: list[str] | None = None):
        self.name = f"w{uuid.uuid4().hex[:6]}"
        self.log = log_dir / f"{self.name}.log"
        from frontends.processes import worker_command

        quiet = ["--without-gossip", "--without-mingle"]
        command = worker_command(["-c", str(concurrency), "-n", f"{self.name}@%h", *quiet, *(extra or [])])
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def pool_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a crash or OOM would."""
        self._signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        stop_group(self.process, timeout)
        self._signal(signal.SIGKILL)  # a pool process that outlived its main process

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)


def stop_group(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM a process started in a session of its own (its whole group), then SIGKILL it if it
    has not ended within `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until(condition, timeout: float = 60, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll `condition()` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# The user:password the tests' Flower requires (TILLPOST_FLOWER_AUTH); a new one for every run.
FLOWER_AUTH = f"tester:{uuid.uuid4().hex}"


def start_flower(env: dict[str, str], log_dir: Path, port: int, auth: str = FLOWER_AUTH) -> subprocess.Popen[bytes]:
    """Flower exactly as `tillpost up` starts it, requiring `auth` (given as TILLPOST_FLOWER_AUTH)."""
    from frontends.processes import flower_command

    return subprocess.Popen(
        flower_command(port),
        env=dict(env, TILLPOST_FLOWER_AUTH=auth),
        stdout=(log_dir / "flower.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def flower_request(
    port: int, path: str, method: str = "GET", auth: str | None = FLOWER_AUTH, headers: dict[str, str] | None = None
) -> Reply:
    """One HTTP request to Flower on loopback, with basic auth unless `auth` is None; errors are replies too."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Content-Type": "application/json", **(headers or {}), **_basic_auth(auth)},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, _lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as refused:
        return Reply(refused.code, _lower(refused.headers.items()), refused.read())


def flower_get(port: int, path: str, auth: str | None = FLOWER_AUTH) -> Any:
    """GET a Flower API path with basic auth and return its JSON (raises OSError when refused or down)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=_basic_auth(auth))
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def _basic_auth(auth: str | None) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
