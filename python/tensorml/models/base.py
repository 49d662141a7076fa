"""What every tensorml physics model provides to the contract wrapper.

A physics model maps one graph of atoms to *per-atom* quantities; the
:class:`tensorml.contract_module.ContractModule` turns them into the contract's
outputs (sums over local atoms, autograd derivatives).  A model subclasses
:class:`PerAtomModel`, sets the class attributes and implements ``forward``:

    forward(species [N] int64 (index into ``species``), positions [N,3],
            edge_index [2,E], edge_vectors [E,3] (r_j - r_i), efield [N,3],
            requested: List[str]) -> Dict[str, Tensor]

returning any of (all per atom, in the model's units):

* ``energy`` [N]: atomic energies; their sum over local atoms is the energy,
* ``dipole`` [N,3]: contributions to the total dipole (q_i r_i + mu_i + ...),
* ``polarizability`` [N,3,3]: contributions to the total polarizability,
* ``charges`` [N], ``atomic_dipoles`` [N,3]: per-atom values reported as such.

Positions are only used where a model needs absolute positions (the q_i r_i
term of a dipole); everything else should depend on ``edge_vectors`` so that
the model is translation invariant and works on one MPI domain.
"""

from __future__ import annotations

from typing import Any

import torch

#: Contract outputs that follow from each per-atom quantity of a model.
OUTPUTS_OF = {
    "energy": ["energy", "forces", "virial", "atomic_energies"],
    "dipole": ["dipole", "apt"],
    "polarizability": ["polarizability"],
    "charges": ["charges"],
    "atomic_dipoles": ["atomic_dipoles"],
}


class PerAtomModel(torch.nn.Module):
    """Base class of physics models (see the module docstring for the protocol)."""

    model_type: str = "base"

    def __init__(self, species: list[int], cutoff: float, message_passing_layers: int = 1):
        super().__init__()
        self.species = [int(z) for z in species]
        self.cutoff = float(cutoff)
        self.message_passing_layers = int(message_passing_layers)

    def provides(self) -> list[str]:
        """Per-atom quantities (keys of :data:`OUTPUTS_OF`) that ``forward`` returns."""
        raise NotImplementedError

    def contract_outputs(self) -> list[str]:
        return [o for p in self.provides() for o in OUTPUTS_OF[p]]

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this model (stored in checkpoints)."""
        raise NotImplementedError
