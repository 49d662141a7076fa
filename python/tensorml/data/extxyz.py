"""Write labelled frames as extxyz (the on-disk form of :mod:`tensorml.data.keys`), append-safe.

:func:`frame_to_extxyz` turns a standardized frame (nuclei with 3x3 ``apt`` and
``polarizability``, ``info['electron_pairs']`` as an (M, 3) array) into one extxyz block:
polarizability flattened row-major, apt as a 9-column per-atom array, electron pairs as
``X`` atoms after the nuclei.  :func:`append_frames` appends whole blocks with a single
write and flush, so that an interrupted run leaves at most one torn block at the end,
which :func:`complete_frames` detects and :func:`truncate_torn_tail` removes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from ase import Atoms

from .keys import ELECTRON_PAIR_SYMBOL


def to_disk_atoms(frame: Atoms) -> Atoms:
    """The ASE Atoms that is written to disk for a standardized frame (see module docstring)."""
    n = len(frame)
    pairs = np.asarray(frame.info.get("electron_pairs", np.zeros((0, 3))), dtype=float).reshape(-1, 3)
    m = len(pairs)
    out = Atoms(
        list(frame.get_chemical_symbols()) + [ELECTRON_PAIR_SYMBOL] * m,
        positions=np.vstack([frame.positions, pairs]) if m else frame.positions.copy(),
    )
    if frame.pbc.any():
        out.cell = frame.cell
        out.pbc = frame.pbc
    for key, value in frame.info.items():
        if key == "electron_pairs":
            continue
        if key == "polarizability":
            value = np.asarray(value, dtype=float).reshape(9)
        elif isinstance(value, (list, tuple)):
            value = np.asarray(value)
        if isinstance(value, np.ndarray) and value.ndim > 1:
            value = value.reshape(-1)
        if isinstance(value, np.generic):
            value = value.item()
        out.info[key] = value
    if m:
        out.info["n_electron_pairs"] = m
    for key, value in frame.arrays.items():
        if key in ("numbers", "positions"):
            continue
        value = np.asarray(value)
        if value.ndim > 2:
            value = value.reshape(n, -1)
        if m:
            pad = np.zeros((m,) + value.shape[1:], dtype=value.dtype)
            value = np.concatenate([value, pad])
        out.arrays[key] = value
    return out


def frame_to_extxyz(frame: Atoms) -> str:
    """One extxyz block (text) for a standardized frame."""
    from ase.io import write

    buf = io.StringIO()
    write(buf, to_disk_atoms(frame), format="extxyz")
    return buf.getvalue()


def append_frames(path: str | Path, frames) -> None:
    """Append frames to ``path`` with one write + flush + fsync per call."""
    text = "".join(frame_to_extxyz(f) for f in frames)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def complete_frames(path: str | Path) -> tuple[int, int]:
    """(number of complete xyz blocks, byte offset just after the last complete block)."""
    path = Path(path)
    if not path.exists():
        return 0, 0
    count, good_end = 0, 0
    with open(path, "rb") as fh:
        while True:
            line = fh.readline()
            if not line:
                break
            if not line.strip():
                good_end = fh.tell()
                continue
            try:
                natoms = int(line.split()[0])
            except ValueError:
                break
            ok = True
            for _ in range(natoms + 1):
                body = fh.readline()
                if not body.endswith(b"\n"):
                    ok = False
                    break
            if not ok:
                break
            count += 1
            good_end = fh.tell()
    return count, good_end


def truncate_torn_tail(path: str | Path) -> int:
    """Cut a partly written last block off ``path``; returns the number of complete blocks."""
    path = Path(path)
    count, end = complete_frames(path)
    if path.exists() and path.stat().st_size != end:
        with open(path, "r+b") as fh:
            fh.truncate(end)
    return count
