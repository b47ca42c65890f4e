"""Stopping the app processes that the benchmarks start, whatever state they are in."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, grace_s: float = 10) -> None:
    """Ask `process` to end (SIGTERM); kill it if it has not within `grace_s` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
