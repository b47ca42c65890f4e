"""`limit_malloc_arenas`: a drawing's memory is reused from one request to the next, and a huge
upload's is given back. Each case runs in a fresh interpreter, as the app and its workers set it
up (before any thread), and reads its own page faults and resident memory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings (Linux)"),
    pytest.mark.slow,  # a fresh interpreter per case
]

MEASURE = """
import json, resource, sys
import numpy as np
from mnist_model.memory import limit_malloc_arenas

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

limit_malloc_arenas()
drawing = 800 * 800 * 4  # bytes of an 800x800 RGBA drawing
for _ in range(3):
    np.ones(drawing, np.uint8)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(drawing, np.uint8)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 20
before = rss_mib()
upload = np.ones(300 * 2**20, np.uint8)  # ~ a 75-megapixel RGBA upload
during = rss_mib()
del upload
print(json.dumps({"faults_per_drawing": faults, "before": before, "during": during, "after": rss_mib()}))
"""


@pytest.fixture(scope="module")
def measured() -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_drawings_memory_is_reused_not_faulted_in_again(measured: dict[str, float]) -> None:
    # with glibc's trim threshold left at 128 KiB: ~600 page faults each time (2.5 MB / 4 KiB)
    assert measured["faults_per_drawing"] < 50


def test_a_huge_uploads_memory_is_given_back(measured: dict[str, float]) -> None:
    assert measured["during"] - measured["before"] > 250
    assert measured["after"] - measured["before"] < 20
