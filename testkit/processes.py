"""The app processes that tests and benchmarks start: stopping them, and their CPU time and memory.

Since the app classifies in worker processes (`mnist_model.pool`), its CPU time and memory are
those of the server and of everything it started, read from /proc (Linux).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def stop(process: subprocess.Popen, grace_s: float = 10) -> None:
    """Ask `process` to end (SIGTERM); kill it if it has not within `grace_s` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def proc_status_kib(pid: int, key: str) -> int:
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the app's fork server and workers)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += [child for child, parent in parents.items() if parent == tree[-1]]
    return tree


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """User plus system CPU time so far of a process (all its threads), and of its descendants."""
    total = 0.0
    for member in process_tree(pid) if descendants else [pid]:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pss_kib(pid: int) -> int:
    """Proportional set size of a process and its descendants, in KiB: pages they share (the
    libraries, what the workers inherited from the fork server) count once in all."""
    total = 0
    for member in process_tree(pid):
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:  # gone meanwhile
            continue
        total += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return total
