"""What every tensorml physics model provides to the contract wrapper.

A physics model maps a graph of atoms to per-atom quantities (and, for heads
that need the whole system, per-system quantities); the
:class:`tensorml.contract_module.ContractModule` turns them into the contract's
outputs (sums over local atoms, autograd derivatives).  A model subclasses
:class:`PerAtomModel`, sets ``model_type``, and implements

    forward(graph: Dict[str, Tensor], requested: List[str]) -> Dict[str, Tensor]

``graph`` holds (model units, model dtype):

* ``species`` [N] int64: index into ``self.species`` of every atom,
* ``positions`` [N,3]: local atoms first, then ghosts (LAMMPS) or none,
* ``edge_index`` [2,E], ``edge_vectors`` [E,3] = r_j - r_i (use these for
  everything but absolute-position terms like q_i r_i, so the model is
  translation invariant and works on one MPI domain),
* ``efield`` [N,3]: the external field at every atom,
* ``batch`` [N] int64, ``n_local`` [] int64, ``n_systems`` [] int64.

``requested`` lists the model quantities the caller needs (a model may skip the
others).  The model returns, by name (all in the model's units):

* per-atom contributions to global sums, [N, ...]: ``energy`` [N],
  ``dipole`` [N,3] (q_i r_i + mu_i + ...), ``polarizability`` [N,3,3];
* per-atom values, [N, ...]: ``charges``, ``atomic_dipoles``, ``apt`` (an APT
  predicted directly, APTNN-style, instead of the autograd dM/dr);
* per-system values, [B, ...], for the names in ``system_outputs()``: heads
  that are not sums of atomic contributions (EANN eqs. 7-8, 9-12).  They are
  defined for whole systems only (Python, i-PI), not on MPI domains.
"""

from __future__ import annotations

from typing import Any

import torch

#: Contract outputs that follow from each per-atom quantity of a model.
OUTPUTS_OF = {
    "energy": ["energy", "forces", "virial", "atomic_energies"],
    "dipole": ["dipole", "apt", "dmdt", "apt_velocity"],
    "polarizability": ["polarizability"],
    "charges": ["charges"],
    "atomic_dipoles": ["atomic_dipoles"],
    "apt": ["apt", "dmdt", "apt_velocity"],
}

#: Derivative outputs of the contract per system output (autograd still applies).
SYSTEM_DERIVED = {"energy": ["forces", "virial"], "dipole": ["apt", "dmdt", "apt_velocity"]}


class PerAtomModel(torch.nn.Module):
    """Base class of physics models (see the module docstring for the protocol)."""

    model_type: str = "base"

    def __init__(self, species: list[int], cutoff: float, message_passing_layers: int = 1):
        super().__init__()
        self.species = [int(z) for z in species]
        self.cutoff = float(cutoff)
        self.message_passing_layers = int(message_passing_layers)
        #: closest approach (angstrom) engines accept; None = the contract's default
        self.min_distance: float | None = None

    def provides(self) -> list[str]:
        """Per-atom quantities (keys of :data:`OUTPUTS_OF`) that ``forward`` returns."""
        raise NotImplementedError

    def system_outputs(self) -> list[str]:
        """Global outputs this model forms itself for each whole system ([B, ...])."""
        return []

    def contract_outputs(self) -> list[str]:
        out: list[str] = []
        for name in self.provides():
            out += [o for o in OUTPUTS_OF[name] if o not in out]
        for name in self.system_outputs():
            out += [o for o in [name] + SYSTEM_DERIVED.get(name, []) if o not in out]
        return out

    def metadata_extra(self) -> dict[str, Any]:
        """Further metadata keys of this kind of model (e.g. ``explicit_electrons``)."""
        return {}

    def output_overrides(self) -> dict[str, dict[str, str]]:
        """Metadata ``ghost``/``reduction`` values that differ from the contract's defaults."""
        overrides: dict[str, dict[str, str]] = {}
        if "apt" in self.provides():
            # predicted per atom, not a derivative: ghost entries are discarded, dM/dt comes from it
            overrides["apt"] = {"ghost": "local", "source": None}
            overrides["apt_velocity"] = {"ghost": "local", "source": "apt"}
            overrides["dmdt"] = {"source": "apt"}
        for name in self.system_outputs():
            if name in ("dipole", "polarizability"):
                overrides[name] = {"reduction": "system"}
        return overrides

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this model (stored in checkpoints)."""
        raise NotImplementedError
