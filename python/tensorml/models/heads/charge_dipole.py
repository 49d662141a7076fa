"""Dipole from atomic charges (EANN seed eq. 1) plus equivariant atomic dipoles.

    M = sum_i q_i r_i + sum_i mu_i,      mu_i = sum_c w_ic(s_i) v_ic

where v_ic are the backbone's polar-vector features of atom i and w_ic(s_i) come from an
atomic network of its invariant features.  Charges are either

* ``charges: fixed``: one charge per element (learnable unless ``train_charges: false``,
  initialized from ``fixed_charges`` or by least squares on the training dipoles;
  ``neutral_formula: H2O`` keeps them exactly neutral for that formula unit, so that M does not
  depend on the origin and sum_i APT_i = 0 holds exactly for any number of molecules), or
* ``charges: environment``: q_i = q_t + NN_t(s_i), environment dependent (the seed's atomic
  charge model).  The total-charge cost of seed eq. 6, (Q_NN - Q_ref)^2 with
  Q_NN = sum_i q_i, is a loss term of the trainer (weight ``charge``);
  ``charge_correction: uniform`` instead shifts all charges of a system by the same amount so
  that sum_i q_i = ``total_charge`` exactly.

Why environment-dependent charges are for isolated molecules only (eMLP seed, Fig. 1): under
periodic boundary conditions an atom and its images are the same atom, and the position that
multiplies q_i in sum_i q_i r_i is only defined up to a lattice vector.  With fixed charges
the ambiguity is a constant quantum q_i L that never changes along a (unwrapped) trajectory, and
dM/dr_i = q_i I + dmu/dr_i does not depend on it.  When charges fluctuate, moving charge dq
from atom i to atom j changes M by dq (r_j - r_i), and which image of j that is - the charge
going "left" or "right" across the cell - changes the answer: the change of polarization
depends on the choice of cell, and so does the APT (its term sum_j r_j dq_j/dr_i).  Local
atomic dipoles mu_i depend only on relative vectors r_ij and are well defined.  So the
periodic-safe dipole is fixed charges + local dipoles; a model with environment charges
refuses to compute a dipole on a graph with periodic images or ghost atoms.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..nn import ElementMLP, edges_cross_images, system_sum


class ChargeDipoleHead(torch.nn.Module):
    def __init__(
        self,
        n_species: int,
        n_scalars: int,
        n_vectors: int,
        charges: str = "fixed",
        atomic_dipoles: bool = True,
        hidden: Optional[List[int]] = None,
        fixed_charges: Optional[List[float]] = None,
        train_charges: bool = True,
        charge_correction: str = "none",
        total_charge: float = 0.0,
        neutral_formula: Optional[str] = None,
        neutral_counts: Optional[List[float]] = None,
    ):
        super().__init__()
        if charges not in ("fixed", "environment"):
            raise ValueError(f"dipole head: charges must be 'fixed' or 'environment', got {charges!r}")
        if charge_correction not in ("none", "uniform"):
            raise ValueError(f"dipole head: charge_correction must be 'none' or 'uniform', got {charge_correction!r}")
        if charge_correction != "none" and charges == "fixed":
            raise ValueError("dipole head: charge_correction applies to environment charges only")
        self.hidden = [int(h) for h in (hidden if hidden is not None else [32, 32])]
        self.charges = charges
        self.environment = charges == "environment"
        self.use_dipoles = bool(atomic_dipoles) and n_vectors > 0
        self.train_charges = bool(train_charges)
        self.uniform = charge_correction == "uniform"
        self.charge_correction = charge_correction
        self.total_charge = float(total_charge)
        self.n_vectors = int(n_vectors)
        if fixed_charges is not None:
            q0 = torch.tensor(fixed_charges, dtype=torch.get_default_dtype())
        else:
            q0 = torch.zeros(n_species)
        if q0.shape != (n_species,):
            raise ValueError(f"dipole head: {len(q0)} fixed charges for {n_species} elements")
        self.charges_given = fixed_charges is not None
        self.element_charges = torch.nn.Parameter(q0, requires_grad=self.train_charges)
        # fixed charges kept neutral for a formula unit n (e.g. H2O): q -> q - n (n.q)/(n.n)
        self.neutral_formula = neutral_formula
        self.neutral = neutral_counts is not None
        counts = neutral_counts if neutral_counts is not None else [1.0] * n_species
        self.register_buffer("neutral_counts", torch.tensor(counts, dtype=torch.get_default_dtype()))
        n_out = (1 if self.environment else 0) + (self.n_vectors if self.use_dipoles else 0)
        self.n_out = n_out
        self.mlp = ElementMLP(n_scalars, self.hidden, max(n_out, 1), n_species, zero_last=True)
        # the atomic dipoles start small but not zero (so that they receive gradients)
        if self.use_dipoles:
            with torch.no_grad():
                self.mlp.layers[-1].weight.normal_(0.0, 0.01)

    def config(self) -> Dict[str, Any]:
        return {
            "charges": self.charges,
            "atomic_dipoles": self.use_dipoles,
            "hidden": self.hidden,
            "train_charges": self.train_charges,
            "charge_correction": self.charge_correction,
            "total_charge": self.total_charge,
            "neutral_formula": self.neutral_formula,
        }

    def project(self, charges: torch.Tensor) -> torch.Tensor:
        """Element charges, made neutral for the formula unit when ``neutral_formula`` is set."""
        if not self.neutral:
            return charges
        n = self.neutral_counts
        return charges - n * (n @ charges) / (n @ n)

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        positions = graph["positions"]
        q = self.project(self.element_charges)[species]
        out = self.mlp(features["scalars"], species)
        k = 0
        if self.environment:
            if edges_cross_images(positions, graph["edge_index"], graph["edge_vectors"], int(graph["n_local"].item())):
                raise RuntimeError(
                    "tensorml: this model's dipole uses environment-dependent charges, which are ill defined "
                    "under periodic boundary conditions and on MPI domains (see the dipole head docs); "
                    "use a model with fixed charges and atomic dipoles for periodic systems"
                )
            q = q + out[:, 0]
            k = 1
            if self.uniform:
                batch = graph["batch"]
                n_sys = int(graph["n_systems"].item())
                total = system_sum(q, batch, n_sys)
                count = system_sum(torch.ones_like(q), batch, n_sys)
                q = q + ((self.total_charge - total) / count)[batch]
        dipole = q[:, None] * positions
        if self.use_dipoles:
            w = out[:, k : k + self.n_vectors]
            mu = torch.einsum("nc,nca->na", w, features["vectors"])
        else:
            mu = torch.zeros_like(positions)
        return {"dipole": dipole + mu, "charges": q, "atomic_dipoles": mu}
