"""Freed memory stays in the process: a repeated 64 MiB torch buffer faults its pages in once, not per call."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, torch
from tensorml.allocator import keep_freed_memory
if KEEP:
    print(keep_freed_memory())
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):  # warm up: the heap grows to its working size
    torch.ones(8 * 2**20, dtype=torch.float64).sum()
before = faults()
for _ in range(20):
    torch.ones(8 * 2**20, dtype=torch.float64).sum()  # 64 MiB allocated, touched, freed
print("faults", faults() - before)
"""


def probe(keep, env=None):
    out = subprocess.run(
        [sys.executable, "-c", PROBE.replace("KEEP", str(keep))],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, OMP_NUM_THREADS="1", **(env or {})),
    ).stdout
    return out, int(out.split("faults")[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc (Linux)")
def test_keep_freed_memory_removes_the_page_faults_of_repeated_buffers():
    _, default = probe(False)
    line, kept = probe(True)
    assert "keeps freed memory" in line
    # 20 x 64 MiB / 4 KiB pages = 327680 faults with glibc's defaults; kept: the pages are reused (10x fewer here)
    assert default > 100_000 and kept < default / 5
    line, user = probe(True, {"MALLOC_MMAP_MAX_": "65536"})
    assert "left as set by MALLOC_MMAP_MAX_" in line and user > 100_000
