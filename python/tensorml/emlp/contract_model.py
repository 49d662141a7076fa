"""An eMLP as a model of the tensorml contract: electron pairs are particles of the pseudo-species X.

Seed eq. 3 splits, the way LAMMPS users expect, into a short-range part that this module holds and
the point-charge long range that the engine adds (LAMMPS ``kspace_style ewald``/``pppm`` on the
particle charges, the Python engines :mod:`tensorml.emlp.longrange`):

    E_eMLP = E_short-range (eqs. 14-24, SchNet over cores and pairs)
           + sum_{i<j, r_ij < r_c} k_e q_i q_j (erf(gamma r_ij) - 1) / r_ij     (Gaussian minus point, eq. 8)
           + E_self (eq. 9) + E_ext (eq. 12) + sum_i e_ref(Z_i)                   (this module)
           + k_e/2 sum_{i != j} q_i q_j / r_ij                                    (the engine: point charges)

The Gaussian-minus-point kernel -erfc(gamma r)/r is short-ranged: r_c is where erfc(gamma r_c) falls
to ``tol`` (10.3 angstrom for gamma = 0.3928/angstrom and tol = 1e-8), so the split equals the
Gaussian electrostatics of eqs. 8-9 to that tolerance, for molecules and (with Ewald sums of the point
charges) for periodic cells alike.

Long-range kind ``gaussian_kspace`` (periodic cells only) drops the correction: an Ewald sum whose
splitting parameter equals gamma has a real-space part that is exactly the point-minus-Gaussian kernel
erfc(gamma r)/r, so the Gaussian electrostatics are its reciprocal part alone (plus this module's self
energy, which kspace styles subtract). LAMMPS: ``kspace_style ewald``/``pppm`` with ``kspace_modify
gewald`` gamma and no Coulomb pair style; the cutoff is SchNet's (4 angstrom), not r_c.

Particles: cores (atomic numbers, charges of Table 1) and electron pairs (atomic number 0, symbol X,
charge -2 e) in one list. Every per-particle quantity is a contribution of the particle's own
(local) atom: energies eps_i + half of each correction pair + self + field + reference, dipoles
q_i r_i (unwrapped positions), charges q_i. The contract wrapper turns them into the energy, the
forces on every particle (on pairs: minus the relaxation gradient), the virial and the dipole.
Energies are computed for the graph's local particles only (``n_local``; the contract sums no other):
on a domain of a parallel engine, SchNet's layers skip the ghosts no local energy depends on
(:meth:`SchNet.needed_receivers`), and the correction runs over local receivers.
Units: angstrom, eV, e, V/angstrom.
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch

from ..models.base import PerAtomModel
from .model import EMLPModel
from .particles import PAIR_CHARGE

#: Atomic number of the electron-pair pseudo-species (ASE's symbol "X").
PAIR_Z = 0
#: Long-range kinds: what the engine adds to this module (see the module docstring).
LONG_RANGE_KINDS = ("point_charges", "gaussian_kspace")
#: Default truncation of the Gaussian-minus-point correction: erfc(gamma r_c) = tol.
DEFAULT_CORRECTION_TOL = 1e-8
#: Relaxation defaults engines take from the metadata (eV/angstrom, angstrom): converged when the
#: largest pair force is below fmax; a pair closer than collapse_distance to another pair, or farther
#: than escape_distance from every core, stops the run; at most max_iterations steps of at most
#: max_step each (the engines of tensorml.emlp.engine use the same values).
RELAXATION_DEFAULTS = {
    "fmax": 1e-3,
    "max_step": 0.1,
    "max_iterations": 2000,
    "collapse_distance": 0.1,
    "escape_distance": 2.5,
}


def correction_cutoff(gamma: float, tol: float = DEFAULT_CORRECTION_TOL) -> float:
    """r_c (angstrom) with erfc(gamma r_c) = tol: beyond it the Gaussian and point charges agree."""
    from scipy.special import erfcinv

    return float(erfcinv(tol)) / gamma


class ExplicitElectronModel(PerAtomModel):
    """The short-range part of an eMLP (see the module docstring) on contract graphs."""

    model_type = "emlp"

    def __init__(self, emlp: EMLPModel, tol: float = DEFAULT_CORRECTION_TOL, long_range: str = "point_charges"):
        if long_range not in LONG_RANGE_KINDS:
            raise ValueError(f"unknown long-range kind {long_range!r}; known: {', '.join(LONG_RANGE_KINDS)}")
        elements = [int(z) for z in emlp.config["species"]]
        self_cut = float(emlp.short_range.cutoff)
        r_c = max(correction_cutoff(emlp.gamma, tol), self_cut) if long_range == "point_charges" else self_cut
        schnet_reach = float(emlp.short_range.cutoff) * len(emlp.short_range.interactions)
        super().__init__([PAIR_Z] + elements, r_c, message_passing_layers=max(1, math.ceil(schnet_reach / r_c)))
        self.emlp_config = dict(emlp.config)
        self.tol = float(tol)
        self.long_range = long_range
        self.corrected = long_range == "point_charges"
        self.short_range = emlp.short_range  # species index 0 = pair, k = element k-1: the contract's order
        self.schnet_cutoff = float(emlp.short_range.cutoff)
        self.gamma = float(emlp.gamma)
        self.k_e = float(emlp.k_e)
        charges = [float(PAIR_CHARGE)] + [float(emlp.charge_table[z]) for z in elements]
        self.register_buffer("charge_table", torch.tensor(charges, dtype=torch.float64))
        reference = [0.0] + [float(emlp.reference_table[z]) for z in elements]
        self.register_buffer("reference_table", torch.tensor(reference, dtype=torch.float64))
        # local energies reach T SchNet cutoffs through message passing and r_c through the correction
        self.halo = max(schnet_reach, r_c)
        self.min_distance = 0.01  # a pair on a core: the correction's 1/r and the engine's cancel only in sum

    def provides(self) -> List[str]:
        return ["energy", "dipole", "charges"]

    def config(self) -> dict:
        return {"emlp": self.emlp_config, "tol": self.tol, "long_range": self.long_range}

    def metadata_extra(self) -> dict:
        """The ``explicit_electrons`` table of docs/model-contract.md (model units: angstrom, eV, e)."""
        return {
            "explicit_electrons": {
                "species": [PAIR_Z],
                "charge": float(PAIR_CHARGE),
                # fixed charge (e) of every particle species, by atomic number (X = 0): what the
                # engine's point-charge long range (LAMMPS: atom charges) must use
                "particle_charges": {str(z): float(q) for z, q in zip(self.species, self.charge_table.tolist())},
                "relaxation": dict(RELAXATION_DEFAULTS),
                "long_range": {
                    "kind": self.long_range,
                    "gaussian_gamma": self.gamma,
                    "correction_cutoff": self.cutoff,
                    "coulomb_constant": self.k_e,
                },
            }
        }

    def forward(self, graph: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        species, positions = graph["species"], graph["positions"]
        i, j, vectors = graph["edge_index"][0], graph["edge_index"][1], graph["edge_vectors"]
        q = self.charge_table[species].to(positions.dtype)
        out: Dict[str, torch.Tensor] = {"charges": q}
        if "dipole" in requested:
            out["dipole"] = q.unsqueeze(1) * positions
        if "energy" in requested:
            r2 = (vectors * vectors).sum(-1)
            n_local = int(graph["n_local"].item())
            near = r2 < self.schnet_cutoff * self.schnet_cutoff
            # only the local particles' energies count (the engine sums them): SchNet updates what they need
            eps = self.short_range.edge_energies(species, i[near], j[near], vectors[near], n_local)
            correction = torch.zeros_like(q)
            if self.corrected:
                # directed edges: each unordered pair twice, half each; -erfc(gamma r)/r = (erf - 1)/r
                own = i < n_local
                io, jo = i[own], j[own]
                r = torch.sqrt(torch.clamp(r2[own], min=1e-20))
                pair = 0.5 * self.k_e * q[io] * q[jo] * (-torch.special.erfc(self.gamma * r) / r)
                correction = correction.index_add(0, io, pair)
            self_energy = self.k_e * self.gamma / math.sqrt(math.pi) * q * q
            field = -(q.unsqueeze(1) * positions * graph["efield"]).sum(1)
            reference = self.reference_table[species].to(positions.dtype)
            out["energy"] = eps + correction + self_energy + field + reference
        return out


def from_emlp(
    emlp: EMLPModel, tol: float = DEFAULT_CORRECTION_TOL, long_range: str = "point_charges"
) -> ExplicitElectronModel:
    """The contract form of a trained eMLP (same weights, no copy of the SchNet)."""
    return ExplicitElectronModel(emlp, tol, long_range)
