"""Keep freed memory in the process (glibc malloc), so that torch reuses its tensor buffers.

glibc serves large blocks with mmap and unmaps them on free, so each model call faults its large
tensors in again (issue 18: 40-60 % of the CPU time of a LAMMPS step at 1536 atoms was page faults).
:func:`keep_freed_memory` turns that off for the process (``mallopt(M_MMAP_MAX, 0)``,
``M_TRIM_THRESHOLD`` 2 GiB), unless the user set a ``MALLOC_*_`` variable; the LAMMPS plugin does
the same in C++ (``pair_tensorml/tensorml_allocator.cpp``). The i-PI driver calls it at start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")
_done: str | None = None


def keep_freed_memory() -> str:
    """Apply the settings once per process; returns what was done (a line for the log)."""
    global _done
    if _done is not None:
        return _done
    user = [v for v in USER_SETTINGS if v in os.environ]
    if user:
        _done = f"glibc malloc left as set by {user[0]}"
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    except (OSError, AttributeError):  # not glibc
        ok = None
    if ok is None:
        _done = "allocator unchanged (not glibc)"
    elif ok:
        _done = "glibc malloc keeps freed memory for the next model call (M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB)"
    else:
        _done = "glibc malloc unchanged (mallopt refused)"
    return _done
