"""The reference model: fixed formal charges plus environment-dependent atomic dipoles.

It exists to prove the pipe (export, LAMMPS, i-PI), not the science: small,
deterministic from a seed, but with every ingredient a real model has.

* Charges q_i: fixed per element (SPC/E water charges by default), so the
  charge part of the dipole never depends on the environment (seed of the
  EANN chapter, eq. 1 with constant q).
* Atomic dipoles, an equivariant sum over neighbours with learnable radial
  functions R and a many-body scalar prefactor:
      mu_i = (1 + tanh rho_i) sum_j R_{t_i t_j}(r_ij) r_ij,
      rho_i = sum_j D_{t_i t_j}(r_ij).
* Atomic polarizabilities (0e + 2e per atom, so they decompose over MPI domains):
      alpha_i = a_{t_i} I + sum_j A_{t_i t_j}(r_ij) (rhat rhat^T - I/3).
* Energy: positive pair terms plus an embedding term c_t rho_i^2 (many-body),
  and the coupling to a uniform field E (linear response):
      U = U_0 - E . (sum_i q_i r_i + mu_i) - E . alpha . E / (2 k_e),
  so that M = -dU/dE = sum_i (q_i r_i + mu_i + alpha_i E / k_e) and
  dF_i/dE = APT_i^T exactly.
Units: angstrom, eV, e; alpha is a polarizability volume in angstrom^3 and
k_e = 14.3996 eV*angstrom/e^2 is the Coulomb constant.
"""

from __future__ import annotations

from typing import Any, Dict, List

import torch
import torch.nn.functional as F

from ..units import COULOMB_CONSTANT
from .base import PerAtomModel
from .radial import GaussianBasis

#: Formal charges (e) of the SPC/E water model; other elements default to 0.
DEFAULT_CHARGES = {1: 0.4238, 8: -0.8476}


class ReferenceDipoleModel(PerAtomModel):
    model_type = "reference"
    #: the plumbing model has no repulsion (hot test MD brings atoms to ~0.09 angstrom): a low floor
    MIN_DISTANCE = 0.01

    def __init__(
        self,
        species: List[int] = (1, 8),
        cutoff: float = 4.0,
        n_basis: int = 8,
        charges: Dict[int, float] | None = None,
        seed: int = 0,
    ):
        super().__init__(list(species), cutoff, message_passing_layers=1)
        self.min_distance = self.MIN_DISTANCE
        charges = dict(DEFAULT_CHARGES if charges is None else charges)
        self.n_species = len(self.species)
        self.n_basis = int(n_basis)
        self.seed = int(seed)
        self.charge_values = {int(z): float(charges.get(int(z), 0.0)) for z in self.species}
        self.register_buffer(
            "charges_table",
            torch.tensor([self.charge_values[z] for z in self.species], dtype=torch.float64),
        )
        self.basis = GaussianBasis(cutoff, n_basis)
        gen = torch.Generator().manual_seed(self.seed)
        npair = self.n_species * self.n_species

        def param(*shape, scale=1.0, shift=0.0):
            return torch.nn.Parameter(torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + shift)

        self.w_energy = param(npair, n_basis, scale=0.5, shift=-2.0)  # softplus: > 0
        self.w_density = param(npair, n_basis, scale=0.3)
        self.w_embed = param(self.n_species, scale=0.3, shift=-2.0)  # softplus: > 0
        self.w_dipole = param(npair, n_basis, scale=0.05)
        self.w_alpha_iso = param(self.n_species, scale=0.1, shift=0.5)  # softplus: > 0
        self.w_alpha = param(npair, n_basis, scale=0.05)
        self.register_buffer("eye", torch.eye(3, dtype=torch.float64))
        self.k_e = float(COULOMB_CONSTANT)

    def provides(self) -> list[str]:
        return ["energy", "dipole", "polarizability", "charges", "atomic_dipoles"]

    def config(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "cutoff": self.cutoff,
            "n_basis": self.n_basis,
            "charges": self.charge_values,
            "seed": self.seed,
        }

    def forward(self, graph: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        positions = graph["positions"]
        edge_index = graph["edge_index"]
        edge_vectors = graph["edge_vectors"]
        efield = graph["efield"]
        n_atoms = positions.shape[0]
        i, j = edge_index[0], edge_index[1]
        r = torch.linalg.norm(edge_vectors, dim=1)
        basis = self.basis(r)  # [E, K], includes the cutoff function
        pair = species[i] * self.n_species + species[j]
        rhat = edge_vectors / r[:, None]
        zeros = positions.new_zeros(n_atoms)

        rho = zeros.index_add(0, i, (self.w_density[pair] * basis).sum(1))
        radial_mu = (self.w_dipole[pair] * basis).sum(1)
        mu = positions.new_zeros(n_atoms, 3).index_add(0, i, radial_mu[:, None] * edge_vectors)
        mu = mu * (1.0 + torch.tanh(rho))[:, None]

        aniso = (self.w_alpha[pair] * basis).sum(1)
        outer = rhat[:, :, None] * rhat[:, None, :] - self.eye / 3.0
        alpha = F.softplus(self.w_alpha_iso)[species][:, None, None] * self.eye
        alpha = alpha + positions.new_zeros(n_atoms, 3, 3).index_add(0, i, aniso[:, None, None] * outer)

        q = self.charges_table[species]
        permanent = q[:, None] * positions + mu
        induced = torch.einsum("nab,nb->na", alpha, efield) / self.k_e

        pair_energy = (F.softplus(self.w_energy[pair]) * basis).sum(1)
        energy = 0.5 * zeros.index_add(0, i, pair_energy) + F.softplus(self.w_embed)[species] * rho**2
        energy = energy - (permanent * efield).sum(1) - 0.5 * (induced * efield).sum(1)
        return {
            "energy": energy,
            "dipole": permanent + induced,
            "polarizability": alpha,
            "charges": q,
            "atomic_dipoles": mu + induced,
        }
