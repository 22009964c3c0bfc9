"""Peak resident memory of a process tree, for the benchmark's worker RSS figures."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree, sampled from /proc every 0.2 s."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.peak, self.stop = root_pid, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in [self.root_pid, *_children(self.root_pid)]:
                self.peak[pid] = max(self.peak.get(pid, 0), _rss_mb(pid))
            time.sleep(0.2)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rss_mb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except FileNotFoundError:
        pass
    return 0
