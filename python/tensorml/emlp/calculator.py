"""ASE calculator for eMLP models: the electron pairs are relaxed at every call (seed eq. 4).

``EMLPCalculator(model)`` takes an eMLP file (:mod:`tensorml.emlp.export`) or a module with the
eMLP forward signature.  Each ``calculate``:

1. starting pairs: ``atoms.info['electron_pairs']`` if given, else (:class:`~tensorml.emlp.engine.EMLPEngine`)
   the stored configuration whose cores are closest (the warm start), else a Lewis guess;
2. relaxation with a displacement bound of 3x the largest core displacement since the stored
   configuration (seed Sec. 3.1.4), at least ``min_bound``;
3. results: ``energy`` (eV), ``forces`` on the cores (eq. 5, eV/angstrom), ``stress``
   (periodic, eV/angstrom^3), ``dipole`` (e*angstrom, cores + unwrapped pairs), and
   ``electron_pairs`` (angstrom), ``relax_iterations``, ``max_pair_force`` (eV/angstrom).

A failed relaxation raises :class:`~tensorml.emlp.relax.RelaxationError` (never a silent result).
The uniform field ``efield`` is in V/angstrom.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.stress import full_3x3_to_voigt_6_stress
from ase.calculators.calculator import Calculator, all_changes

from .engine import EMLPEngine


class EMLPCalculator(Calculator):
    implemented_properties = [
        "energy",
        "free_energy",
        "forces",
        "stress",
        "dipole",
        "electron_pairs",
        "relax_iterations",
        "max_pair_force",
    ]

    def __init__(
        self,
        model,
        efield=None,
        charge: int = 0,
        fmax: float = 1e-3,
        min_bound: float = 0.1,
        max_bound: float = 2.0,
        memory: int = 64,
        **kwargs,
    ):
        super().__init__(**kwargs)
        options = dict(charge=charge, fmax=fmax, min_bound=min_bound, max_bound=max_bound, memory=memory)
        if isinstance(model, (str, Path)):
            self.engine = EMLPEngine.load(model, **options)
        else:
            # a Python model: its species if it knows them (else the model itself checks elements)
            species = getattr(model, "config", {}).get("species")
            self.engine = EMLPEngine(model, {"species": species}, **options)
        self.efield = np.zeros(3) if efield is None else np.asarray(efield, dtype=float).reshape(3)

    @property
    def model(self):
        return self.engine.module

    @property
    def memory(self):
        return self.engine.memory

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        periodic = bool(atoms.pbc.all())
        result = self.engine.relax(
            atoms.positions,
            atoms.numbers,
            np.asarray(atoms.cell[:]),
            atoms.pbc,
            self.efield,
            pairs=atoms.info.get("electron_pairs"),
            stress=periodic,
        )
        self.results["energy"] = result.energy
        self.results["free_energy"] = result.energy
        self.results["forces"] = result.core_forces
        self.results["dipole"] = result.dipole
        self.results["electron_pairs"] = result.pairs
        self.results["relax_iterations"] = result.iterations
        self.results["max_pair_force"] = result.max_pair_force
        if periodic:
            self.results["stress"] = full_3x3_to_voigt_6_stress(result.stress)
