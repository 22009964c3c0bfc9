"""Starting the long-running processes: Celery workers, beat (the sweeper's clock) and Flower.

`tillpost up` owns what it starts: each child runs in its own process group, and Ctrl-C or
SIGTERM stops every group (TERM, then KILL after a grace period), so nothing is left orphaned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from workers.app import QUEUES

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def worker_command(extra: list[str]) -> list[str]:
    base = [*CELERY, "worker", "-Q", ",".join(QUEUES), "-E", "--loglevel", "INFO"]
    return base + extra


def flower_command(port: int = 5555) -> list[str]:
    """Flower on loopback only; its HTTP API is open there without a password (FLOWER_UNAUTHENTICATED_API)."""
    return [*CELERY, "flower", "--address=127.0.0.1", f"--port={port}"]


def exec_worker(extra: list[str]) -> None:
    """`tillpost worker`: become one Celery worker with the project's queues."""
    command = worker_command(extra)
    os.execv(command[0], command)


def start_process(command: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FLOWER_UNAUTHENTICATED_API=os.environ.get("FLOWER_UNAUTHENTICATED_API", "true"))
    return subprocess.Popen(command, start_new_session=True, env=env)


def stop_process(child: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    _stop_children([("process", child)], grace)


def run_all(commands: list[tuple[str, list[str]]], grace: float = 20.0) -> int:
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in commands:
        print(f"starting {name}: {' '.join(command[2:])}", flush=True)
        children.append((name, start_process(command)))
    code = 0
    try:
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping the rest", flush=True)
                    code, stopping = 1, True
            time.sleep(0.2)
    finally:
        _stop_children(children, grace)
    return code


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
