"""Open input files that may be gzip-compressed (``dump.gz``, ``props.dat.gz``, ``water.vel_0.xyz.gz``, ...).

A file is read through :mod:`gzip` when it starts with the gzip magic bytes (1f 8b), whatever
its name, so ``lmp ... dump ... *.gz`` output, ``gzip``-ed i-PI trajectories and plain text all
read the same way.  Format detection (:func:`tensorml.spectra.assemble.detect_format`) looks at
the decompressed text, and :func:`strip_gz` gives the name without ``.gz`` for extension checks.
"""

from __future__ import annotations

import gzip
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path) -> bool:
    """True if the file starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_text(path, errors: str = "strict") -> IO[str]:
    """Open a plain or gzip-compressed text file for reading."""
    if is_gzip(path):
        return gzip.open(path, "rt", errors=errors)
    return open(path, errors=errors)


def open_binary(path) -> IO[bytes]:
    """Open a plain or gzip-compressed file for reading bytes."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def strip_gz(path) -> str:
    """The file name without a trailing ``.gz``."""
    p = str(path)
    return p[:-3] if p.endswith(".gz") else p
