"""Keeping a long-running process's memory flat: few glibc malloc arenas, big blocks mapped.

The app's server and its worker processes decode one image after another, of any size up to
`preprocess.MAX_PIXELS`. With glibc's defaults that memory is kept rather than given back, so
both call `limit_malloc_arenas` before their first request.
"""

from __future__ import annotations

import ctypes
import sys


def limit_malloc_arenas(arenas: int = 2, mmap_threshold: int = 4 << 20) -> None:
    """Few glibc malloc arenas, blocks of `mmap_threshold` bytes or more mapped, and the rest kept
    (Linux only).

    glibc gives threads their own arenas, up to 8 per core, and the images that Gradio's worker
    threads decoded left each arena holding freed memory it rarely returns: under a steady 10
    requests/s the app (classifying in its threads then, as `--workers 0` does now) grew 10% in
    5 minutes with the defaults, 0% in 4 with 2 arenas (`python -m benchmarks.load soak`). Blocks
    of `mmap_threshold` bytes or more get their own mapping, given back on release: otherwise glibc
    raises that threshold after each big free, and one 40-megapixel upload would leave its ~300 MB
    in the arenas for good. Smaller blocks are reused: at 1 MiB, the threshold first chosen, each
    800x800 drawing (2.5 MB of RGBA) was mapped afresh, 626 page faults and ~2 ms of a worker's 9.
    The heap is trimmed only when `2 * mmap_threshold` bytes are free at its top, as glibc's own
    rule would set it: with the default (128 KiB, kept once the threshold is fixed) a worker gave
    the freed drawing back after every request and faulted it in again on the next, ~1,000 page
    faults a drawing (`python -m benchmarks.app_latency`: the server and workers spent 29-30 ms of
    CPU per drawing under load with them, 24-25 without).
    Call before the process starts threads.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD (fixed: no longer raised dynamically)
        libc.mallopt(-1, 2 * mmap_threshold)  # M_TRIM_THRESHOLD, as glibc's dynamic rule would set it
    except (OSError, AttributeError):  # not glibc (musl has no arenas to limit)
        pass
