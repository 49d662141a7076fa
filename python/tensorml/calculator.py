"""An ASE calculator for exported tensorml models.

    from tensorml.calculator import TensorMLCalculator
    atoms.calc = TensorMLCalculator("models/water/model.pt")
    atoms.get_potential_energy(); atoms.get_forces(); atoms.get_stress()      # if the model has an energy
    atoms.get_dipole_moment()                                                  # e*angstrom
    atoms.calc.get_property("polarizability", atoms)                           # angstrom^3, 3x3
    atoms.calc.get_property("apt", atoms)                                      # e, [N,3,3], apt[i,a,b] = dM_a/dr_ib

    atoms.calc = TensorMLCalculator("models/emlp/model.pt")                   # an eMLP: pairs relaxed per call
    atoms.calc.get_property("electron_pairs", atoms)                           # angstrom, [M,3]

Everything goes through :func:`tensorml.runtime.load_model` (the same path as the i-PI driver):
a contract model is an :class:`~tensorml.runtime.ExportedModel`, an explicit-electron model an
:class:`~tensorml.emlp.engine.EMLPEngine` (``options`` go to it: charge, fmax, memory, ...), so the
numbers are those LAMMPS and i-PI see. An eMLP also gives ``electron_pairs``, ``relax_iterations``
and ``max_pair_force`` (eV/angstrom); :class:`tensorml.emlp.calculator.EMLPCalculator` adds
starting pairs from ``atoms.info`` and Python (not exported) eMLP modules.  Results are in ASE units (angstrom,
eV, e); ``efield`` is a uniform field in V/angstrom.  A cheap set of properties (energy and
forces, dipole, polarizability, charges) is computed together; APTs and the stress only when
asked for (they cost extra backward passes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.stress import full_3x3_to_voigt_6_stress
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from . import units as U
from .contract import OUTPUTS

#: ASE property -> contract output
PROPERTY_OUTPUT = {
    "energy": "energy",
    "free_energy": "energy",
    "energies": "atomic_energies",
    "forces": "forces",
    "stress": "virial",
    "dipole": "dipole",
    "polarizability": "polarizability",
    "apt": "apt",
    "charges": "charges",
    "atomic_dipoles": "atomic_dipoles",
    "transition_dipole": "transition_dipole",
}
CHEAP = ("energy", "forces", "dipole", "polarizability", "charges")


class TensorMLCalculator(Calculator):
    """ASE calculator over an exported tensorml model (a path or a loaded ExportedModel)."""

    def __init__(self, model, device: str = "cpu", efield=None, options: dict | None = None, **kwargs):
        from .runtime import load_model

        super().__init__(**kwargs)
        loaded = hasattr(model, "evaluate_one") and hasattr(model, "outputs")
        self.model = model if loaded else load_model(Path(model), device=device, **(options or {}))
        self.efield = None if efield is None else np.asarray(efield, dtype=float).reshape(3)
        outputs = set(self.model.outputs)
        #: outputs outside the contract table (an eMLP's pairs and relaxation statistics), model units
        self.extras = [o for o in self.model.outputs if o not in OUTPUTS]
        self.implemented_properties = [p for p, o in PROPERTY_OUTPUT.items() if o in outputs] + self.extras

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        from .runtime import System

        super().calculate(atoms, properties, system_changes)
        unknown = [p for p in properties if p not in self.implemented_properties]
        if unknown:
            raise PropertyNotImplementedError(
                f"the model does not provide {unknown}; it provides {self.implemented_properties}"
            )
        wanted = {PROPERTY_OUTPUT[p] for p in properties if p in PROPERTY_OUTPUT}
        wanted |= {o for o in CHEAP if o in self.model.outputs and o not in ("energy", "forces")}
        if "energy" in wanted or "forces" in wanted:
            wanted |= {o for o in ("energy", "forces") if o in self.model.outputs}
        if "virial" in wanted and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a periodic cell")
        units = self.model.units
        system = System.from_atoms(self.atoms, units, efield_V_per_A=self.efield)
        order = [o for o in OUTPUTS if o in wanted and o in self.model.outputs] + self.extras
        res = self.model.evaluate_one(system, order)
        for name in self.extras:  # converted with the dimension the model's metadata gives them
            dim = U.Dimension.from_list(self.model.metadata["outputs"][name]["dimension"])
            self.results[name] = res[name] * U.factor(dim, units, U.METAL)

        def conv(name):
            return res[name] * U.factor(OUTPUTS[name].dim, units, U.METAL)

        for prop, output in PROPERTY_OUTPUT.items():
            if output not in res:
                continue
            value = conv(output)
            if prop == "stress":
                value = full_3x3_to_voigt_6_stress(-value / self.atoms.get_volume())
            elif prop in ("energy", "free_energy"):
                value = float(value)
            self.results[prop] = value
