"""Ewald summation of the Gaussian-charge electrostatics (seed eqs. 8-9) for 3D-periodic systems.

The Coulomb plus self energy of eqs. 8-9 is the electrostatic energy of the Gaussian charge
densities, E = k_e/2 sum_{i,j} sum_n q_i q_j phi_gamma(|x_j - x_i + n|) with
phi_gamma(r) = erf(gamma r)/r and phi_gamma(0) = 2 gamma/sqrt(pi) (the i = j, n = 0 term is the
self energy of eq. 9).  With an Ewald parameter alpha <= gamma, phi_gamma = (phi_gamma - phi_alpha)
+ phi_alpha, the first part summed in real space and the second in reciprocal space
(tin-foil boundary conditions, neutralising background for charged cells):

  E / k_e = 1/2 sum'_{i,j,n} q_i q_j (erf(gamma r) - erf(alpha r)) / r + (gamma - alpha)/sqrt(pi) sum_i q_i^2
            + (2 pi / V) sum_{k != 0} exp(-k^2 / (4 alpha^2)) / k^2 |S(k)|^2 - pi Q^2 / (2 V alpha^2),

S(k) = sum_i q_i exp(i k . x_i), Q = sum_i q_i.  The default alpha = gamma needs no real-space
sum at all (the Gaussians of the eMLP are wide, gamma = 0.3928/angstrom).  Both sums are
truncated where the neglected terms fall below ``tol`` (relative).  Positions in angstrom,
cell rows are lattice vectors (angstrom), charges in e, energy in eV.  TorchScript-compatible;
derivatives with respect to positions and cell by autograd.
"""

from __future__ import annotations

import math

import torch

from .electrostatics import K_E
from .neighbors import minimum_image_offsets


def _index_grid(n: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """All integer triples with |m_k| <= n_k, shape [S, 3]."""
    a = torch.arange(-int(n[0]), int(n[0]) + 1, dtype=dtype, device=device)
    b = torch.arange(-int(n[1]), int(n[1]) + 1, dtype=dtype, device=device)
    c = torch.arange(-int(n[2]), int(n[2]) + 1, dtype=dtype, device=device)
    grid = torch.meshgrid([a, b, c], indexing="ij")
    return torch.stack([grid[0].reshape(-1), grid[1].reshape(-1), grid[2].reshape(-1)], dim=1)


def reciprocal_energy(
    positions: torch.Tensor, charges: torch.Tensor, cell: torch.Tensor, alpha: float, tol: float, k_e: float = K_E
) -> torch.Tensor:
    """(2 pi k_e / V) sum_{k != 0} exp(-k^2/(4 alpha^2))/k^2 |S(k)|^2 - pi k_e Q^2/(2 V alpha^2), eV."""
    volume = torch.abs(torch.linalg.det(cell))
    recip = 2.0 * math.pi * torch.linalg.inv(cell).transpose(0, 1)  # rows b_k, a_i . b_k = 2 pi delta
    k_max = 2.0 * alpha * math.sqrt(-math.log(tol))
    lengths = torch.linalg.norm(cell.detach(), dim=1)
    n = torch.ceil(k_max * lengths / (2.0 * math.pi)).to(torch.long)
    m = _index_grid(n, positions.dtype, positions.device)
    k = m @ recip
    k2 = (k * k).sum(-1)
    keep = (k2.detach() > 0) & (k2.detach() <= k_max * k_max)
    k = k[keep]
    k2 = k2[keep]
    phase = positions @ k.transpose(0, 1)  # [P, K]
    c = charges @ torch.cos(phase)
    s = charges @ torch.sin(phase)
    weight = torch.exp(-k2 / (4.0 * alpha * alpha)) / k2
    total = charges.sum()
    energy = 2.0 * math.pi / volume * (weight * (c * c + s * s)).sum()
    return k_e * (energy - math.pi * total * total / (2.0 * volume * alpha * alpha))


def real_space_energy(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor,
    gamma: float,
    alpha: float,
    tol: float,
    k_e: float = K_E,
) -> torch.Tensor:
    """k_e/2 sum'_{i,j,n} q_i q_j (erf(gamma r) - erf(alpha r))/r + k_e (gamma - alpha)/sqrt(pi) sum q^2, eV."""
    self_part = k_e * (gamma - alpha) / math.sqrt(math.pi) * (charges * charges).sum()
    if alpha >= gamma:
        return self_part
    r_cut = math.sqrt(-math.log(tol)) / alpha
    recip_lengths = torch.linalg.norm(torch.linalg.inv(cell.detach()), dim=0)  # 1 / plane spacing
    n = torch.ceil(r_cut * recip_lengths + 0.5).to(torch.long)
    shifts = _index_grid(n, positions.dtype, positions.device) @ cell  # [S, 3]
    offsets = minimum_image_offsets(positions, cell)  # unwrapped particles: start from the nearest image
    diff = positions.unsqueeze(0) - positions.unsqueeze(1) - offsets  # [P, P, 3], x_j - x_i - L_ij
    vec = diff.unsqueeze(0) + shifts.unsqueeze(1).unsqueeze(1)  # [S, P, P, 3]
    r2 = (vec * vec).sum(-1)
    keep = (r2.detach() > 1e-20) & (r2.detach() < r_cut * r_cut)
    r = torch.sqrt(torch.where(keep, r2, torch.ones_like(r2)))
    kernel = (torch.erf(gamma * r) - torch.erf(alpha * r)) / r
    qq = (charges.unsqueeze(1) * charges.unsqueeze(0)).unsqueeze(0)
    pair = torch.where(keep, qq * kernel, torch.zeros_like(kernel))
    return 0.5 * k_e * pair.sum() + self_part


def ewald_energy(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor,
    gamma: float,
    alpha: float,
    tol: float,
    k_e: float = K_E,
) -> torch.Tensor:
    """E_Coulomb + E_self (eqs. 8-9) of a 3D-periodic system by Ewald summation (eV).

    ``alpha`` (1/angstrom) must satisfy 0 < alpha <= gamma; ``tol`` is the relative truncation
    of both sums (e.g. 1e-10).
    """
    if alpha <= 0.0 or alpha > gamma:
        raise ValueError("Ewald parameter alpha must satisfy 0 < alpha <= gamma")
    return reciprocal_energy(positions, charges, cell, alpha, tol, k_e) + real_space_energy(
        positions, charges, cell, gamma, alpha, tol, k_e
    )
