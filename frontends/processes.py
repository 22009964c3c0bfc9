"""Starting the long-running processes: Celery workers, beat (the sweeper's clock), Flower and the
HTTP intake.

`tillpost up` owns what it starts: each child runs in its own process group, and Ctrl-C or
SIGTERM stops every group (TERM, then KILL after a grace period), so nothing is left orphaned.
It also supervises them: a child that dies is started again, and one that keeps crashing stops all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from runtime.flower_auth import FLOWER_CONFIG_FILE
from workers.app import QUEUES

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def worker_command(extra: list[str], events: bool = True) -> list[str]:
    """A worker of every queue; `events` (-E) lets Flower follow each task (the benchmark measures
    posting alone, as the plain loop does, without them)."""
    base = [*CELERY, "worker", "-Q", ",".join(QUEUES), *(["-E"] if events else []), "--loglevel", "INFO"]
    return base + extra


def beat_command() -> list[str]:
    """Beat, the sweeper's clock, as a process of its own (not embedded in a worker with -B): killing
    or restarting a worker never stops the clock, and beat alone is restarted when it dies."""
    return [*CELERY, "beat", "--loglevel", "INFO"]


def flower_command(port: int = 5555) -> list[str]:
    """Flower on loopback only, asking for the password of runtime.flower_auth on every page and API call.

    Its configuration file reads the password inside Flower: it is on no command line. Flower refuses a
    cross-origin POST (Origin / Sec-Fetch-Site) whenever basic auth is on, so no web page can drive it.
    """
    return [*CELERY, "flower", "--address=127.0.0.1", f"--port={port}", f"--conf={FLOWER_CONFIG_FILE}"]


def intake_command(port: int = 8000) -> list[str]:
    """The HTTP intake (uvicorn, the app factory of frontends/intake/app.py) on loopback only: put a
    TLS-terminating proxy in front of it for the web shops."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", "frontends.intake.app:create_app",
        "--host", "127.0.0.1", f"--port={port}", "--no-server-header",
    ]  # fmt: skip


def exec_intake(port: int) -> None:
    """`tillpost intake`: become the HTTP intake."""
    command = intake_command(port)
    os.execv(command[0], command)


def exec_worker(extra: list[str]) -> None:
    """`tillpost worker`: become one Celery worker with the project's queues."""
    command = worker_command(extra)
    os.execv(command[0], command)


def start_process(command: list[str]) -> subprocess.Popen[bytes]:
    # Flower's API must never be open without the password, whatever the caller's environment says.
    env = {name: value for name, value in os.environ.items() if name != "FLOWER_UNAUTHENTICATED_API"}
    return subprocess.Popen(command, start_new_session=True, env=env)


def stop_process(child: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    _stop_children([("process", child)], grace)


RESTARTS, WINDOW = 5, 60.0  # a child restarted this often within this many seconds is given up on


def run_all(commands: list[tuple[str, list[str]]], grace: float = 20.0) -> int:
    """Start every command and keep it running until Ctrl-C or SIGTERM (then 0). A child that exits
    is started again, with a line saying so; one that keeps crashing stops everything (then 1)."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children = [_start(name, command) for name, command in commands]
    restarts: list[list[float]] = [[] for _ in commands]
    try:
        while not stopping:
            for i, (name, command) in enumerate(commands):
                if children[i][1].poll() is None:
                    continue
                if not _may_restart(name, children[i][1], restarts[i]):
                    return 1
                children[i] = _start(name, command)
            time.sleep(0.2)
    finally:
        _stop_children(children, grace)
    return 0


def _start(name: str, command: list[str]) -> tuple[str, subprocess.Popen[bytes]]:
    print(f"starting {name}: {' '.join(command[2:])}", flush=True)
    return name, start_process(command)


def _may_restart(name: str, child: subprocess.Popen[bytes], restarts: list[float]) -> bool:
    """Count a restart of the exited `child` in `restarts` (their times); False once it had too many."""
    _signal_group(child, signal.SIGKILL)  # what is left of it (a killed worker's pool processes)
    now = time.monotonic()
    restarts[:] = [at for at in restarts if now - at < WINDOW]
    if len(restarts) >= RESTARTS:
        print(
            f"{name} exited with {child.returncode} again: {RESTARTS} restarts in the last {WINDOW:.0f} s; "
            "stopping everything",
            flush=True,
        )
        return False
    restarts.append(now)
    print(
        f"{name} exited with {child.returncode}; restarting ({len(restarts)}/{RESTARTS} in the last {WINDOW:.0f} s)",
        flush=True,
    )
    return True


def _stop_children(children: list[tuple[str, subprocess.Popen[bytes]]], grace: float) -> None:
    for _, child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {grace:.0f}s; killing it", flush=True)
            _signal_group(child, signal.SIGKILL)
            child.wait()
        _signal_group(child, signal.SIGKILL)  # stragglers left in the group (pool children)


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)
