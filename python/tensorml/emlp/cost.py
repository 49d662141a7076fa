"""The training cost of the eMLP (seed eq. 31).

C = lambda_E / B sum_b ((E_b - E_tr,b) / N_b)^2 + lambda_f / (3N) sum_b sum_i |F_i - F_tr,i|^2
  + lambda_c / (3C) sum_b sum_j |f_j - f_tr,j|^2 + lambda_sigma / (9B_sigma) sum_b |sigma_b - sigma_tr,b|^2

over a mini-batch of B frames with N_b cores each (N cores, C pairs in total); the stress term
runs over the B_sigma frames that carry a stress.  Energies in eV, forces in eV/angstrom, stress
in eV/angstrom^3; the weights (Table 3: 1/eV^2, 1 angstrom^2/eV^2, 1 angstrom^2/eV^2) carry the
inverse units.  Energies are differences to a reference (eq. 32, :mod:`tensorml.emlp.reference`):
``reference`` gives (target reference, predicted reference) per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .evaluate import energy_and_forces, make_inputs
from .frames import EMLPFrame


@dataclass(frozen=True)
class CostWeights:
    energy: float = 1.0  # 1/eV^2
    forces: float = 1.0  # angstrom^2/eV^2
    pair_forces: float = 1.0  # angstrom^2/eV^2
    stress: float = 0.0  # angstrom^6/eV^2


def predict(model, frame: EMLPFrame, stress: bool, create_graph: bool = True) -> dict:
    """Model energy, core forces, pair forces (and stress) for one frame, differentiable in the weights."""
    inputs = make_inputs(model, frame.cores, frame.numbers, frame.pairs, frame.cell, frame.pbc, frame.efield)
    return energy_and_forces(model, inputs, stress=stress, create_graph=create_graph)


def emlp_cost(
    model,
    frames: Sequence[EMLPFrame],
    weights: CostWeights = CostWeights(),
    references: Optional[Sequence[tuple]] = None,
) -> tuple[torch.Tensor, dict]:
    """Eq. 31 for a mini-batch; returns (cost, {term: value}).

    ``references[b]`` = (target reference energy (float), predicted reference energy (tensor or
    float)) of frame b, subtracted from target and prediction (eq. 32); None = no reference.
    """
    if not frames:
        raise ValueError("empty mini-batch")
    energy_terms, force_sq, pair_sq, stress_terms = [], [], [], []
    n_cores = 0
    n_pairs = 0
    for b, frame in enumerate(frames):
        use_stress = weights.stress > 0 and frame.stress is not None
        out = predict(model, frame, use_stress)
        dtype = out["energy"].dtype
        target = torch.tensor(frame.energy, dtype=dtype)
        pred = out["energy"]
        if references is not None:
            target = target - float(references[b][0])
            pred = pred - references[b][1]
        energy_terms.append(((pred - target) / len(frame.cores)) ** 2)
        force_sq.append(((out["core_forces"] - torch.tensor(frame.forces, dtype=dtype)) ** 2).sum())
        pair_sq.append(((out["pair_forces"] - torch.tensor(frame.pair_forces, dtype=dtype)) ** 2).sum())
        if use_stress:
            stress_terms.append(((out["stress"] - torch.tensor(frame.stress, dtype=dtype)) ** 2).sum())
        n_cores += len(frame.cores)
        n_pairs += len(frame.pairs)
    parts = {
        "energy": torch.stack(energy_terms).mean(),
        "forces": torch.stack(force_sq).sum() / max(3 * n_cores, 1),
        "pair_forces": torch.stack(pair_sq).sum() / max(3 * n_pairs, 1),
    }
    if stress_terms:
        parts["stress"] = torch.stack(stress_terms).sum() / (9 * len(stress_terms))
    cost = (
        weights.energy * parts["energy"] + weights.forces * parts["forces"] + weights.pair_forces * parts["pair_forces"]
    )
    if "stress" in parts:
        cost = cost + weights.stress * parts["stress"]
    return cost, {k: float(v.detach()) for k, v in parts.items()}
