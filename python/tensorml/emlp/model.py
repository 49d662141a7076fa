"""The eMLP energy model (seed eq. 3): SchNet short range + Gaussian electrostatics + field.

E_eMLP(R, Z; r, E_ext) = E_short-range (eqs. 14-24) + E_Coulomb (eq. 8) + E_self (eq. 9)
                        + E_ext (eq. 12) + sum_i e_ref(Z_i),

in eV, for atomic cores at R (angstrom) with atomic numbers Z, electron pairs at r (angstrom)
and a uniform field E_ext (V/angstrom).  Periodic systems (3D only) use the Ewald sum of
:mod:`tensorml.emlp.ewald` for eqs. 8-9.  e_ref(Z) are per-element reference energies (eV):
the eq. 32 reference of a composition made of hydride energies is linear in the element
counts, so it is a sum of per-element values (:mod:`tensorml.emlp.reference`); they are zero
in a fresh model and set after training so that energies are absolute.

The module is TorchScript-scriptable: ``forward(core_positions [N,3], core_numbers [N] int64,
pair_positions [M,3], cell [3,3], pbc [3] bool, efield [3]) -> energy []``; forces on cores and
pairs (and the stress, through a strain of positions and cell) come from autograd.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import nn

from .electrostatics import K_E, coulomb_energy, field_energy, self_energy
from .ewald import ewald_energy
from .particles import MAX_Z, PAIR_CHARGE, core_charge
from .schnet import PRESETS, SchNet

#: Inverse Gaussian width gamma of eq. 8 (1/angstrom), seed Table 3.
DEFAULT_GAMMA = 0.3928


def build_config(
    species,
    preset: str = "table3",
    gamma: float = DEFAULT_GAMMA,
    ewald_alpha: Optional[float] = None,
    ewald_tol: float = 1e-10,
    seed: int = 0,
    **schnet,
) -> dict:
    """A complete model configuration: elements, SchNet hyper-parameters (a preset, overridable), gamma.

    The default preset is the seed's Table 3 (F 512, G 128, N 32, T 4); ``small`` is a CPU-sized one."""
    if preset not in PRESETS:
        raise ValueError(f"unknown SchNet preset {preset!r}; known: {sorted(PRESETS)}")
    unknown = set(schnet) - set(PRESETS[preset])
    if unknown:
        raise ValueError(f"unknown SchNet hyper-parameter(s) {sorted(unknown)}; known: {sorted(PRESETS[preset])}")
    params = dict(PRESETS[preset])
    params.update(schnet)
    species = sorted({int(z) for z in species})
    for z in species:
        core_charge(z)  # raises for elements without a core charge
    return {
        "species": species,
        "preset": preset,
        "schnet": params,
        "gamma": float(gamma),
        "ewald_alpha": float(gamma if ewald_alpha is None else ewald_alpha),
        "ewald_tol": float(ewald_tol),
        "seed": int(seed),
    }


class EMLPModel(nn.Module):
    """eMLP energy of one system (cores, electron pairs, cell, field), eq. 3."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        species: List[int] = [int(z) for z in config["species"]]
        index = torch.zeros(MAX_Z + 1, dtype=torch.long)
        charges = torch.zeros(MAX_Z + 1, dtype=torch.float64)
        for k, z in enumerate(species):
            index[z] = k + 1
            charges[z] = float(core_charge(z))
        self.register_buffer("species_index", index)
        self.register_buffer("charge_table", charges)
        self.register_buffer("reference_table", torch.zeros(MAX_Z + 1, dtype=torch.float64))
        self.gamma = float(config["gamma"])
        self.ewald_alpha = float(config["ewald_alpha"])
        self.ewald_tol = float(config["ewald_tol"])
        self.pair_charge = float(PAIR_CHARGE)
        self.k_e = float(K_E)
        params = config["schnet"]
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(int(config.get("seed", 0)))
        try:
            self.short_range = SchNet(
                len(species) + 1,
                features=int(params["features"]),
                filters=int(params["filters"]),
                n_basis=int(params["n_basis"]),
                n_interactions=int(params["n_interactions"]),
                norm=float(params["norm"]),
                cutoff=float(params["cutoff"]),
                cutoff_width=float(params["cutoff_width"]),
            )
        finally:
            torch.random.set_rng_state(generator_state)
        self.to(torch.float64)

    # ------------------------------------------------------------------ helpers
    def set_reference_energies(self, energies: Dict[int, float]) -> None:
        """Per-element reference energies e_ref(Z) in eV (e.g. from eq. 32 hydrides)."""
        for z, e in energies.items():
            if int(self.species_index[int(z)]) == 0:
                raise ValueError(f"element Z={z} is not one of the model's species {self.config['species']}")
            self.reference_table[int(z)] = float(e)

    @torch.jit.export
    def core_charges(self, core_numbers: torch.Tensor) -> torch.Tensor:
        """Charges (e) of atomic cores (Table 1)."""
        self._check_species(core_numbers)
        return self.charge_table[core_numbers]

    def _check_species(self, core_numbers: torch.Tensor) -> None:
        if core_numbers.numel() > 0:
            if bool((core_numbers < 0).any()) or bool((core_numbers > 118).any()):
                raise ValueError("eMLP: atomic number outside 0..118")
            if bool((self.species_index[core_numbers] == 0).any()):
                raise ValueError("eMLP: structure contains an element the model was not trained for")

    @torch.jit.export
    def energy_terms(
        self,
        core_positions: torch.Tensor,
        core_numbers: torch.Tensor,
        pair_positions: torch.Tensor,
        cell: torch.Tensor,
        pbc: torch.Tensor,
        efield: torch.Tensor,
    ) -> Dict[str, torch.Tensor]:
        """Every term of eq. 3 (eV): short_range, coulomb, self, electrostatic (coulomb + self), field, reference."""
        self._check_species(core_numbers)
        periodic = bool(pbc.all())
        if bool(pbc.any()) and not periodic:
            raise ValueError("eMLP: only fully periodic (3D) or isolated systems are supported, not mixed pbc")
        positions = torch.cat([core_positions, pair_positions], dim=0)
        q_pairs = torch.full(
            (pair_positions.shape[0],), self.pair_charge, dtype=positions.dtype, device=positions.device
        )
        charges = torch.cat([self.charge_table[core_numbers].to(positions.dtype), q_pairs])
        species = torch.cat(
            [
                self.species_index[core_numbers],
                torch.zeros(pair_positions.shape[0], dtype=torch.long, device=positions.device),
            ]
        )
        terms: Dict[str, torch.Tensor] = {}
        terms["short_range"] = self.short_range(positions, species, cell, periodic)
        if periodic:
            terms["electrostatic"] = ewald_energy(
                positions, charges, cell, self.gamma, self.ewald_alpha, self.ewald_tol, self.k_e
            )
        else:
            terms["coulomb"] = coulomb_energy(positions, charges, self.gamma, self.k_e)
            terms["self"] = self_energy(charges, self.gamma, self.k_e)
            terms["electrostatic"] = terms["coulomb"] + terms["self"]
        terms["field"] = field_energy(positions, charges, efield)
        terms["reference"] = self.reference_table[core_numbers].to(positions.dtype).sum()
        return terms

    def forward(
        self,
        core_positions: torch.Tensor,
        core_numbers: torch.Tensor,
        pair_positions: torch.Tensor,
        cell: torch.Tensor,
        pbc: torch.Tensor,
        efield: torch.Tensor,
    ) -> torch.Tensor:
        """E_eMLP of eq. 3 in eV (positions angstrom, cell rows angstrom, field V/angstrom)."""
        t = self.energy_terms(core_positions, core_numbers, pair_positions, cell, pbc, efield)
        return t["short_range"] + t["electrostatic"] + t["field"] + t["reference"]
