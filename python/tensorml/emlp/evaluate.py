"""Energy, forces on cores and pairs, and stress of an eMLP model by autograd.

Works for an :class:`~tensorml.emlp.model.EMLPModel` and for its TorchScript export alike.
Units: positions and cell in angstrom, field in V/angstrom, energy in eV, forces in
eV/angstrom, stress in eV/angstrom^3 with the ASE sign (sigma = (1/V) dE/d(strain), so a
compressed cell has negative stress).

* core forces F_j = -dE/dR_j at the given pairs (eq. 5 when the pairs are relaxed, where
  the second term of eq. 5 vanishes);
* pair forces f_j = -dE/dr_j (eq. 6);
* stress: positions and cell are strained, x -> x (1 + eps), and sigma = (1/V) dE/d eps at eps = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
import numpy as np
import torch

from .particles import PAIR_CHARGE


def model_dtype(model) -> torch.dtype:
    """Float dtype of a model's parameters (float32 or float64)."""
    for p in model.parameters():
        return p.dtype
    return torch.float64


@dataclass
class Inputs:
    """The six forward inputs of an eMLP model as tensors of the model's dtype (on its device), and
    whether the structure is periodic (from ``pbc`` unless given: callers in loops pass it, which
    spares a device synchronisation per structure)."""

    cores: torch.Tensor
    numbers: torch.Tensor
    pairs: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    efield: torch.Tensor
    periodic: Optional[bool] = None

    def __post_init__(self):
        if self.periodic is None:
            self.periodic = bool(self.pbc.all())


def make_inputs(model, cores, numbers, pairs, cell=None, pbc=None, efield=None) -> Inputs:
    """Convert positions (angstrom), numbers, cell rows (angstrom), pbc and field (V/angstrom)."""
    dtype = model_dtype(model)
    as_t = lambda x: torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype)  # noqa: E731
    cores_t = as_t(cores).reshape(-1, 3)
    pairs_t = as_t(pairs).reshape(-1, 3)
    numbers_t = torch.as_tensor(np.asarray(numbers), dtype=torch.long).reshape(-1)
    if len(numbers_t) != len(cores_t):
        raise ValueError(f"{len(numbers_t)} atomic numbers for {len(cores_t)} core positions")
    cell_t = torch.zeros((3, 3), dtype=dtype) if cell is None else as_t(cell).reshape(3, 3)
    pbc_t = (
        torch.zeros(3, dtype=torch.bool)
        if pbc is None
        else torch.as_tensor(np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy())
    )
    if bool(pbc_t.any()) and not bool(pbc_t.all()):
        raise ValueError(f"pbc {pbc_t.tolist()}: only fully periodic (3D) or isolated systems are supported")
    if bool(pbc_t.all()) and abs(float(torch.linalg.det(cell_t))) < 1e-9:
        raise ValueError("periodic system with a singular (zero-volume) cell")
    efield_t = torch.zeros(3, dtype=dtype) if efield is None else as_t(efield).reshape(3)
    return Inputs(cores_t, numbers_t, pairs_t, cell_t, pbc_t, efield_t)


def energy_and_forces(model, inputs: Inputs, stress: bool = False, create_graph: bool = False) -> dict:
    """``energy`` [] eV, ``core_forces`` [N,3], ``pair_forces`` [M,3] eV/angstrom, ``stress`` [3,3] eV/angstrom^3.

    ``stress`` needs a periodic system.  With ``create_graph`` the results stay differentiable
    with respect to the model parameters (training, eq. 31).
    """
    cores = inputs.cores.detach().requires_grad_(True)
    pairs = inputs.pairs.detach().requires_grad_(True)
    cell = inputs.cell
    wrt = [cores, pairs]
    if stress:
        if not inputs.periodic:
            raise ValueError("the stress is defined for periodic systems only")
        strain = torch.zeros((3, 3), dtype=cores.dtype, requires_grad=True)
        deform = torch.eye(3, dtype=cores.dtype) + strain
        energy = model(cores @ deform, inputs.numbers, pairs @ deform, cell @ deform, inputs.pbc, inputs.efield)
        wrt.append(strain)
    else:
        energy = model(cores, inputs.numbers, pairs, cell, inputs.pbc, inputs.efield)
    grads = torch.autograd.grad(energy, wrt, create_graph=create_graph, allow_unused=True)
    out = {"energy": energy if create_graph else energy.detach()}
    zero = lambda t, g: torch.zeros_like(t) if g is None else g  # noqa: E731
    out["core_forces"] = -zero(cores, grads[0])
    out["pair_forces"] = -zero(pairs, grads[1])
    if stress:
        volume = torch.abs(torch.linalg.det(cell))
        out["stress"] = zero(wrt[2], grads[2]) / volume
    return out


def total_charge_dipole(model, inputs: Inputs) -> torch.Tensor:
    """Dipole sum_i q_i R_i - 2 sum_k r_k (e*angstrom) of cores and (unwrapped) pairs."""
    q = model.core_charges(inputs.numbers).to(inputs.cores.dtype)
    return (q.unsqueeze(1) * inputs.cores).sum(0) + PAIR_CHARGE * inputs.pairs.sum(0)


def numpy_results(out: dict) -> dict:
    """Detach and convert a result dictionary to float64 numpy arrays."""
    return {k: (v.detach().to(torch.float64).numpy() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
