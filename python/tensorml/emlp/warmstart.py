"""Warm starts for the pair relaxation: stored electron configurations of earlier structures.

In MD the previous step's relaxed pairs are the starting guess of the next relaxation (seed
Sec. 3.1.4).  With several independent trajectories through one client (i-PI beads) the
previous call is not the right one: :class:`PairMemory` keeps the relaxed pairs of recent
structures and returns those whose cores are closest (RMS core distance, angstrom) to a new
structure, moved along with the cores they followed (each pair keeps its offset from its
nearest core).  The box bound of the next relaxation is 3x the largest core displacement
since that structure (seed Sec. 3.1.4), but at least ``min_bound``.  With each configuration the
curvature pairs of its L-BFGS relaxation can be kept (``history``), so that the next relaxation
starts with that Hessian estimate instead of a guess (:func:`closest_entry`).
"""

from __future__ import annotations

from collections import deque
from typing import Optional

import numpy as np


class PairMemory:
    """Up to ``capacity`` (cores, numbers, pairs) triples; lookup by the closest cores."""

    def __init__(self, capacity: int = 64):
        if capacity < 1:
            raise ValueError("PairMemory capacity must be at least 1")
        self._items: deque = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._items)

    def store(self, cores, numbers, pairs, history=None) -> None:
        """Keep a relaxed configuration; ``history`` (optional) is its relaxation's L-BFGS curvature."""
        cores, numbers = np.array(cores, dtype=float), np.array(numbers, dtype=int)
        self._items.append((cores, numbers, np.array(pairs, dtype=float), history))

    def closest(self, cores, numbers) -> Optional[tuple[np.ndarray, float]]:
        """(pairs moved with the cores, largest core displacement in angstrom) or None if nothing matches."""
        found = self.closest_entry(cores, numbers)
        return None if found is None else found[:2]

    def closest_entry(self, cores, numbers) -> Optional[tuple[np.ndarray, float, object]]:
        """(pairs moved with the cores, largest core displacement in angstrom, stored history) or None."""
        cores = np.asarray(cores, dtype=float)
        numbers = np.asarray(numbers, dtype=int)
        best = None
        for stored_cores, stored_numbers, pairs, history in self._items:
            if stored_cores.shape != cores.shape or not np.array_equal(stored_numbers, numbers):
                continue
            rms = float(np.sqrt(((stored_cores - cores) ** 2).sum(1).mean()))
            if best is None or rms < best[0]:
                best = (rms, stored_cores, pairs, history)
        if best is None:
            return None
        _, stored_cores, pairs, history = best
        shift = cores - stored_cores
        if len(pairs) and len(cores):
            nearest = np.argmin(np.linalg.norm(pairs[:, None, :] - stored_cores[None, :, :], axis=-1), axis=1)
            pairs = pairs + shift[nearest]
        moved = float(np.linalg.norm(shift, axis=1).max()) if len(shift) else 0.0
        return pairs.copy(), moved, history
