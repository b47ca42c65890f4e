"""`python app.py` as a child process: on a free localhost port, started and stopped.

The tests that talk to a real server and the benchmarks that load one start the app the same
way, so a change to how it is launched (its arguments, its start-up time) is made once.
`launch_app` only starts it (some tests expect it to exit, or kill it themselves);
`running_app` also stops it however the block ends.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from testkit.processes import stop

REPO_ROOT = Path(__file__).resolve().parent.parent
START_LIMIT_S = 120.0  # importing torch and gradio alone takes seconds on a busy machine


def free_port() -> int:
    """A localhost port that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningApp:
    """A `python app.py` child process serving on `url`, its output going to `log`."""

    url: str
    process: subprocess.Popen
    log: Path


def launch_app(
    args: list[str], env: dict[str, str], output: IO[Any] | int, cwd: Path = REPO_ROOT,
    limit_s: float = START_LIMIT_S, start_new_session: bool = False,
) -> tuple[subprocess.Popen, int]:
    """Start `python app.py --port P ARGS` (stdout and stderr to `output`) and return once it
    listens on P or has exited, whichever comes first; (process, P). Kills it and raises
    TimeoutError after `limit_s`."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *args], cwd=cwd, env=env,
        stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=start_new_session,
    )
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.3)
    if process.poll() is None:
        process.kill()
        process.wait()
        raise TimeoutError(f"app.py {' '.join(args)} neither served nor exited within {limit_s:.0f} s")
    return process, port


@contextmanager
def running_app(
    args: list[str], env: dict[str, str], log: Path, limit_s: float = START_LIMIT_S,
) -> Iterator[RunningApp]:
    """`python app.py ARGS` serving on a free port, its output in `log`; stopped (SIGTERM, then
    SIGKILL) however the block ends. Raises RuntimeError, with the log's end, if it exits first."""
    with log.open("w") as output:
        process, port = launch_app(args, env, output, limit_s=limit_s)
        try:
            if process.poll() is not None:
                raise RuntimeError(f"app.py {' '.join(args)} exited with {process.returncode}:\n"
                                   f"{log.read_text()[-4000:]}")
            yield RunningApp(f"http://127.0.0.1:{port}/", process, log)
        finally:
            stop(process)
