"""Particle pairs within the short-range cutoff, for isolated and 3D-periodic systems.

The eMLP short range (seed eq. 18) sums over all particles j != i (atomic cores and electron
pairs alike) with r_ij < r_cutoff.  Pairs are *selected* without gradient and their vectors
r_ij = x_j - x_i + n (n a lattice translation, angstrom) are then recomputed with gradient,
so forces and the strain derivative come from autograd.  :func:`neighbor_pairs` selects by brute
force (O(P^2) per lattice translation) inside the TorchScript model; engines that relax many pairs
(:mod:`tensorml.emlp.batch`) select with :func:`vesin_pairs` instead, a cell list in O(P) from vesin
(the same edges and shifts, tested in tests/test_emlp_neighbors.py).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch


def _shift_grid(cell: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Integer lattice translations m with |frac + m| <= cutoff / plane spacing for |frac| <= 1/2, [S, 3]."""
    recip_lengths = torch.linalg.norm(torch.linalg.inv(cell.detach()), dim=0)  # 1 / plane spacing
    n = torch.ceil(cutoff * recip_lengths + 0.5).to(torch.long)
    a = torch.arange(-int(n[0]), int(n[0]) + 1, dtype=cell.dtype, device=cell.device)
    b = torch.arange(-int(n[1]), int(n[1]) + 1, dtype=cell.dtype, device=cell.device)
    c = torch.arange(-int(n[2]), int(n[2]) + 1, dtype=cell.dtype, device=cell.device)
    grid = torch.meshgrid([a, b, c], indexing="ij")
    return torch.stack([grid[0].reshape(-1), grid[1].reshape(-1), grid[2].reshape(-1)], dim=1)


def minimum_image_offsets(positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Lattice vectors L_ij = m_ij . cell ([P, P, 3]) with x_j - x_i - L_ij in the cell around zero.

    Particles may lie anywhere (unwrapped electron pairs): the offsets make the image search
    independent of how far outside the cell they are.  The integers m_ij are chosen without
    gradient; L_ij follows the cell (so the strain derivative is right).
    """
    fixed = positions.detach()
    diff = fixed.unsqueeze(0) - fixed.unsqueeze(1)
    m = torch.round(diff @ torch.linalg.inv(cell.detach()))
    return m @ cell


def neighbor_pairs(
    positions: torch.Tensor, cell: torch.Tensor, periodic: bool, cutoff: float
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(i, j, r_ij vectors) of all ordered pairs closer than ``cutoff`` (angstrom).

    ``periodic`` False: ``cell`` is ignored; True: rows of ``cell`` are the lattice vectors and
    all periodic images within the cutoff are included (also images of a particle itself).
    """
    n_particles = positions.shape[0]
    if periodic:
        shifts = _shift_grid(cell, cutoff) @ cell  # [S, 3]
        offsets = minimum_image_offsets(positions, cell)  # [P, P, 3]
    else:
        shifts = torch.zeros((1, 3), dtype=positions.dtype, device=positions.device)
        offsets = torch.zeros((n_particles, n_particles, 3), dtype=positions.dtype, device=positions.device)
    # Selection on detached copies.  (Not ``with torch.no_grad()``: TorchScript's common
    # subexpression elimination can then reuse a gradient-free result in the energy.)
    fixed = positions.detach()
    fixed_shifts = shifts.detach()
    diff = fixed.unsqueeze(0) - fixed.unsqueeze(1) - offsets.detach()  # [P, P, 3] = x_j - x_i - L_ij
    vec = diff.unsqueeze(0) + fixed_shifts.unsqueeze(1).unsqueeze(1)  # [S, P, P, 3]
    r2 = (vec * vec).sum(-1)
    idx = torch.arange(n_particles, device=positions.device)
    same = (idx.unsqueeze(1) == idx.unsqueeze(0)).unsqueeze(0)
    zero_shift = ((fixed_shifts * fixed_shifts).sum(-1) == 0).reshape(-1, 1, 1)
    keep = (r2 < cutoff * cutoff) & ~(same & zero_shift)
    found = torch.nonzero(keep)
    s = found[:, 0]
    i = found[:, 1]
    j = found[:, 2]
    vectors = positions[j] - positions[i] - offsets[i, j] + shifts[s]
    return i, j, vectors


def vesin_pairs(positions: np.ndarray, cell: np.ndarray, periodic: bool, cutoff: float):
    """(i, j, S) of all ordered pairs closer than ``cutoff`` (angstrom), by vesin's cell list, O(P).

    r_ij = x_j - x_i + S_ij . cell with integer S (so that a strained cell strains the vectors);
    particles may lie outside the cell (unwrapped electron pairs).  Isolated systems (``periodic``
    False) ignore ``cell`` and have S = 0.  Not TorchScript (an engine-side helper).
    Returns numpy (i [E] int64, j [E] int64, S [E, 3] int64).
    """
    from vesin import NeighborList

    points = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros((0, 3), dtype=np.int64)
    box = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3) if periodic else np.zeros((3, 3))
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, S = nl.compute(points=points, box=box, periodic=bool(periodic), quantities="ijS")
    return i.astype(np.int64), j.astype(np.int64), np.asarray(S).astype(np.int64).reshape(-1, 3)
