"""Keeping a long-running process's memory flat: few glibc malloc arenas, big blocks mapped.

The app's server and its worker processes decode one image after another, of any size up to
`decode.MAX_PIXELS`. With glibc's defaults that memory is kept rather than given back, so both
call `limit_malloc_arenas` before their first request (`python -m benchmarks.load soak` measures
the effect).
"""

from __future__ import annotations

import ctypes
import sys


def limit_malloc_arenas(arenas: int = 2, mmap_threshold: int = 4 << 20) -> None:
    """Few glibc malloc arenas, blocks of `mmap_threshold` bytes or more mapped, and the rest kept
    (Linux only). Call before the process starts threads.

    - Arenas: glibc gives threads their own, up to 8 per core, and each keeps the freed memory of
      the images its thread decoded; two arenas keep a busy server's memory level.
    - The mmap threshold: blocks this large get their own mapping, given back on release;
      otherwise glibc raises the threshold after each big free and one huge upload stays in the
      heap for good. It is above an 800x800 drawing (2.5 MB of RGBA), so drawings reuse memory
      instead of faulting in fresh pages on every request.
    - The trim threshold: the heap is trimmed only when `2 * mmap_threshold` bytes are free at its
      top, as glibc's own rule would set it; fixing the mmap threshold otherwise leaves it at
      128 KiB, and a worker would give each drawing's memory back and fault it in again.
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
