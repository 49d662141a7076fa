"""Neighbour lists for whole systems (Python, ASE calculator, i-PI driver), from vesin."""

from __future__ import annotations

import numpy as np
from vesin import NeighborList


def neighbor_pairs(positions, cell, pbc, cutoff: float):
    """Directed pairs (i, j) with |r_ij| < cutoff, both directions, and their Cartesian shifts.

    r_ij = positions[j] - positions[i] + shifts[k] for pair k.  Positions may lie
    outside the cell (i-PI sends unwrapped beads); ``cell`` rows are lattice
    vectors and are ignored along non-periodic directions.
    Returns (i [E] int64, j [E] int64, shifts [E,3] float64), in input length units.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    pbc = np.asarray(pbc, dtype=bool).reshape(3)
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    if not pbc.any():
        cell = np.zeros((3, 3))
    elif abs(np.linalg.det(cell)) < 1e-12 and pbc.all():
        raise ValueError("periodic system with a degenerate cell")
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, S = nl.compute(points=positions, box=cell, periodic=pbc.tolist() if pbc.any() else False, quantities="ijS")
    shifts = S.astype(np.float64) @ cell
    return i.astype(np.int64), j.astype(np.int64), shifts
