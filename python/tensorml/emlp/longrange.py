"""The engine's long range of a contract eMLP: the Coulomb energy of point charges.

With :mod:`tensorml.emlp.contract_model` holding the Gaussian-minus-point correction, what is left
of seed eq. 8 is the energy of point charges q_i at the particle positions (k_e = 1/(4 pi eps0),
charges e, positions angstrom, energy eV):

* isolated systems: the direct sum k_e/2 sum_{i != j} q_i q_j / r_ij;
* 3D-periodic cells: the Ewald sum with tin-foil boundary conditions (what LAMMPS ``kspace_style
  ewald``/``pppm`` compute), real space sum'_{i,j,n} q_i q_j erfc(alpha r)/r / 2, reciprocal space
  as in :func:`tensorml.emlp.ewald.reciprocal_energy`, minus the self term alpha/sqrt(pi) sum q_i^2.

Differentiable (forces and strain by autograd) and TorchScript-compatible. Brute force over
particle pairs: molecules and small cells; large cells want torch-pme (a later step).
"""

from __future__ import annotations

import math

import torch

from .electrostatics import K_E
from .ewald import _index_grid, reciprocal_energy
from .neighbors import minimum_image_offsets


def direct_energy(positions: torch.Tensor, charges: torch.Tensor, k_e: float = K_E) -> torch.Tensor:
    """k_e/2 sum_{i != j} q_i q_j / r_ij (eV) of an isolated system."""
    diff = positions.unsqueeze(1) - positions.unsqueeze(0)
    r2 = (diff * diff).sum(-1)
    off = ~torch.eye(positions.shape[0], dtype=torch.bool, device=positions.device)
    r = torch.sqrt(torch.where(off, r2, torch.ones_like(r2)))
    qq = charges.unsqueeze(1) * charges.unsqueeze(0)
    return 0.5 * k_e * torch.where(off, qq / r, torch.zeros_like(r)).sum()


def ewald_point_energy(
    positions: torch.Tensor, charges: torch.Tensor, cell: torch.Tensor, alpha: float, tol: float, k_e: float = K_E
) -> torch.Tensor:
    """Point-charge Ewald energy (eV) of a 3D-periodic cell; ``alpha`` 1/angstrom, ``tol`` relative truncation."""
    r_cut = math.sqrt(-math.log(tol)) / alpha
    recip_lengths = torch.linalg.norm(torch.linalg.inv(cell.detach()), dim=0)
    n = torch.ceil(r_cut * recip_lengths + 0.5).to(torch.long)
    shifts = _index_grid(n, positions.dtype, positions.device) @ cell
    offsets = minimum_image_offsets(positions, cell)
    diff = positions.unsqueeze(0) - positions.unsqueeze(1) - offsets
    vec = diff.unsqueeze(0) + shifts.unsqueeze(1).unsqueeze(1)
    r2 = (vec * vec).sum(-1)
    keep = (r2.detach() > 1e-20) & (r2.detach() < r_cut * r_cut)
    r = torch.sqrt(torch.where(keep, r2, torch.ones_like(r2)))
    qq = (charges.unsqueeze(1) * charges.unsqueeze(0)).unsqueeze(0)
    real = 0.5 * k_e * torch.where(keep, qq * torch.special.erfc(alpha * r) / r, torch.zeros_like(r)).sum()
    self_term = k_e * alpha / math.sqrt(math.pi) * (charges * charges).sum()
    return real + reciprocal_energy(positions, charges, cell, alpha, tol, k_e) - self_term


def gaussian_kspace_energy(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor,
    gamma: float,
    tol: float = 1e-10,
    k_e: float = K_E,
) -> torch.Tensor:
    """Long range of kind ``gaussian_kspace``: the reciprocal Ewald sum with alpha = gamma minus the
    self term gamma/sqrt(pi) sum q_i^2 (what a LAMMPS kspace style with gewald = gamma computes), eV."""
    self_term = k_e * gamma / math.sqrt(math.pi) * (charges * charges).sum()
    return reciprocal_energy(positions, charges, cell, gamma, tol, k_e) - self_term


def long_range_energy(
    kind: str,
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor,
    pbc: torch.Tensor,
    gamma: float,
    tol: float = 1e-10,
) -> torch.Tensor:
    """What the engine adds to a contract eMLP of this ``explicit_electrons.long_range.kind`` (eV)."""
    if kind == "point_charges":
        return point_charge_energy(positions, charges, cell, pbc, tol=tol)
    if kind == "gaussian_kspace":
        if not bool(pbc.all()):
            raise ValueError("eMLP long range 'gaussian_kspace' is for 3D-periodic cells; export with point_charges")
        return gaussian_kspace_energy(positions, charges, cell, gamma, tol)
    raise ValueError(f"unknown eMLP long-range kind {kind!r}")


def point_charge_energy(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor,
    pbc: torch.Tensor,
    alpha: float = 0.35,
    tol: float = 1e-10,
    k_e: float = K_E,
) -> torch.Tensor:
    """Coulomb energy of point charges: direct sum when isolated, Ewald when 3D-periodic (eV)."""
    if bool(pbc.all()):
        return ewald_point_energy(positions, charges, cell, alpha, tol, k_e)
    if bool(pbc.any()):
        raise ValueError("eMLP long range: only fully periodic (3D) or isolated systems, not mixed pbc")
    return direct_energy(positions, charges, k_e)
