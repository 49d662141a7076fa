"""eMLP energies of several structures in one pass, for the pair relaxation (seed eq. 4).

A relaxation evaluates the energy and the pair forces hundreds of times per MD step, for every
bead or structure the engine serves.  :func:`energy_backend` gives the relaxer an object that
maps a list of :class:`Item` (one structure each: cores, numbers, pairs, cell, pbc, field) to
their energies [B] (eV), differentiable with respect to every input:

* :class:`EdgeEnergies` for eMLP models (:class:`~tensorml.emlp.model.EMLPModel`, or its
  TorchScript export, rebuilt from the weights and the scripted hyper-parameters): the SchNet short
  range of all structures runs as one graph (their particles concatenated), over neighbour lists
  from vesin's cell list (O(N), :func:`~tensorml.emlp.neighbors.vesin_pairs`) instead of the
  brute-force O(N^2) selection inside the model's forward; the long-range terms (eqs. 8-12, Ewald
  for periodic cells) are those of the model, structure by structure.  The first evaluation is
  checked against the module's own forward (a file whose scripted code differs from this version's
  model falls back to :class:`ForwardEnergies`, with a warning);
* :class:`ForwardEnergies` for any other module with the eMLP forward signature (test models,
  wrappers): its forward, structure by structure.

Everything stays on the model's device (CPU or GPU); vesin runs on the CPU on a detached copy of
the positions.  Units: angstrom, e, V/angstrom, eV.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Optional, Sequence

import numpy as np
import torch

from .evaluate import Inputs
from .electrostatics import coulomb_energy, field_energy, self_energy
from .ewald import ewald_energy
from .neighbors import vesin_pairs
from .particles import PAIR_CHARGE


#: one structure as forward inputs (tensors on the model's device, in its dtype): the eMLP's Inputs
Item = Inputs


class ForwardEnergies:
    """Energies by the module's forward, one structure after the other."""

    kind = "forward"

    def __init__(self, module):
        self.module = module

    def __call__(self, items: Sequence[Item]) -> torch.Tensor:
        return torch.stack([self.module(t.cores, t.numbers, t.pairs, t.cell, t.pbc, t.efield) for t in items])


class EdgeEnergies:
    """eMLP energies (eq. 3) of several structures, the short range as one graph over vesin lists."""

    kind = "edges"

    def __init__(self, model):
        self.model = model
        self.cutoff = float(model.short_range.cutoff)

    def __call__(self, items: Sequence[Item]) -> torch.Tensor:
        m = self.model
        species, vectors, heads, tails, owner, long_range = [], [], [], [], [], []
        offset = 0
        for b, t in enumerate(items):
            positions = torch.cat([t.cores, t.pairs], dim=0)
            device, dtype = positions.device, positions.dtype
            n_pairs = t.pairs.shape[0]
            charges = torch.cat(
                [
                    m.charge_table[t.numbers].to(dtype),
                    torch.full((n_pairs,), float(PAIR_CHARGE), dtype=dtype, device=device),
                ]
            )
            species.append(
                torch.cat([m.species_index[t.numbers], torch.zeros(n_pairs, dtype=torch.long, device=device)])
            )
            i, j, shift = vesin_pairs(
                positions.detach().cpu().numpy(), t.cell.detach().cpu().numpy(), t.periodic, self.cutoff
            )
            i = torch.as_tensor(i, device=device)
            j = torch.as_tensor(j, device=device)
            vec = positions[j] - positions[i]
            if t.periodic:
                vec = vec + torch.as_tensor(shift, dtype=dtype, device=device) @ t.cell
            vectors.append(vec)
            heads.append(i + offset)
            tails.append(j + offset)
            owner.append(torch.full((positions.shape[0],), b, dtype=torch.long, device=device))
            offset += positions.shape[0]
            if t.periodic:
                electrostatic = ewald_energy(positions, charges, t.cell, m.gamma, m.ewald_alpha, m.ewald_tol, m.k_e)
            else:
                electrostatic = coulomb_energy(positions, charges, m.gamma, m.k_e) + self_energy(
                    charges, m.gamma, m.k_e
                )
            reference = m.reference_table[t.numbers].to(dtype).sum()
            long_range.append(electrostatic + field_energy(positions, charges, t.efield) + reference)
        eps = m.short_range.edge_energies(
            torch.cat(species), torch.cat(heads), torch.cat(tails), torch.cat(vectors), -1
        )
        short = torch.zeros(len(items), dtype=eps.dtype, device=eps.device).index_add(0, torch.cat(owner), eps)
        return short + torch.stack(long_range)


def _rebuild(module):
    """A Python :class:`EMLPModel` with the weights of a scripted one (or the model itself); None if not one."""
    from .model import EMLPModel

    if isinstance(module, EMLPModel):
        return module
    if getattr(module, "original_name", None) != "EMLPModel":
        return None
    try:
        sr = module.short_range
        index = module.species_index.detach().cpu()
        species = [int(z) for z in sorted(torch.nonzero(index).reshape(-1).tolist(), key=lambda z: int(index[z]))]
        blocks = [b for _, b in sr.interactions.named_children()]
        config = {
            "species": species,
            "preset": "small",
            "schnet": {
                "features": int(sr.embedding.weight.shape[1]),
                "filters": int(blocks[0].filter_2.weight.shape[0]),
                "n_basis": int(sr.centers.shape[0]),
                "n_interactions": len(blocks),
                "norm": float(sr.norm),
                "cutoff": float(sr.cutoff),
                "cutoff_width": float(sr.cutoff_width),
            },
            "gamma": float(module.gamma),
            "ewald_alpha": float(module.ewald_alpha),
            "ewald_tol": float(module.ewald_tol),
            "seed": 0,
        }
        weight = sr.embedding.weight
        model = EMLPModel(config).to(weight.dtype)
        model.load_state_dict(module.state_dict())
        for p in model.parameters():  # a private copy for evaluation: no graph through the weights
            p.requires_grad_(False)
        return model.to(weight.device).eval()
    except Exception:  # noqa: BLE001 - not the layout of this version: use the module's forward
        return None


_BACKENDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class _Checked:
    """An :class:`EdgeEnergies` whose first evaluation is compared with the module's forward."""

    def __init__(self, module, edges: EdgeEnergies):
        self.module = module
        self.edges = edges
        self.backend: Optional[object] = None

    @property
    def kind(self) -> str:
        return self.backend.kind if self.backend is not None else "edges (unchecked)"

    def __call__(self, items: Sequence[Item]) -> torch.Tensor:
        if self.backend is None:
            t = items[0]
            with torch.no_grad():
                reference = float(self.module(t.cores, t.numbers, t.pairs, t.cell, t.pbc, t.efield))
                got = float(self.edges([t])[0])
            tol = (1e-9 if t.cores.dtype == torch.float64 else 1e-4) * max(1.0, abs(reference))
            if abs(got - reference) <= tol and np.isfinite(got):
                self.backend = self.edges
            else:
                warnings.warn(
                    f"eMLP: the batched energy ({got:.10g} eV) differs from the model's forward "
                    f"({reference:.10g} eV); relaxing through the forward (brute-force neighbour lists)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.backend = ForwardEnergies(self.module)
        return self.backend(items)


def energy_backend(module, batched: bool = True):
    """The energy function of ``module`` for :func:`~tensorml.emlp.relax.relax_pairs_batch` (cached per module).

    ``batched`` False forces :class:`ForwardEnergies` (the model's own forward and neighbour list)."""
    if not batched:
        return ForwardEnergies(module)
    try:
        cached = _BACKENDS.get(module)
    except TypeError:  # not weak-referenceable
        cached = None
    if cached is not None:
        return cached
    model = _rebuild(module)
    backend = ForwardEnergies(module) if model is None else _Checked(module, EdgeEnergies(model))
    try:
        _BACKENDS[module] = backend
    except TypeError:
        pass
    return backend
