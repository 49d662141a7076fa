"""ASE calculator for eMLP models: the electron pairs are relaxed at every call (seed eq. 4).

``EMLPCalculator(model)`` takes an eMLP file (:mod:`tensorml.emlp.export`) or a module with the
eMLP forward signature.  Each ``calculate``:

1. starting pairs: ``atoms.info['electron_pairs']`` if given, else the stored configuration
   whose cores are closest (:class:`~tensorml.emlp.warmstart.PairMemory`, the warm start), else a
   Lewis guess (:func:`~tensorml.emlp.lewis.lewis_pairs`);
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
from ase.calculators.calculator import Calculator, all_changes

from .lewis import lewis_pairs
from .relax import relax_pairs
from .warmstart import PairMemory


class EMLPCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress", "dipole"]

    def __init__(self, model, efield=None, charge: int = 0, fmax: float = 1e-3, min_bound: float = 0.1,
                 max_bound: float = 2.0, memory: int = 64, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, (str, Path)):
            from .export import load_emlp

            model, _ = load_emlp(model)
        self.model = model
        self.efield = np.zeros(3) if efield is None else np.asarray(efield, dtype=float).reshape(3)
        self.charge = int(charge)
        self.fmax = float(fmax)
        self.min_bound = float(min_bound)
        self.max_bound = float(max_bound)
        self.memory = PairMemory(memory)

    def _start(self, atoms):
        if "electron_pairs" in atoms.info:
            return np.asarray(atoms.info["electron_pairs"], dtype=float).reshape(-1, 3), self.max_bound / 2
        found = self.memory.closest(atoms.positions, atoms.numbers)
        if found is not None:
            pairs, moved = found
            return pairs, min(max(3.0 * moved, self.min_bound), self.max_bound)
        return lewis_pairs(atoms.positions, atoms.numbers, self.charge), self.max_bound / 2

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pairs, bound = self._start(atoms)
        periodic = bool(atoms.pbc.all())
        result = relax_pairs(self.model, atoms.positions, atoms.numbers, pairs,
                             cell=np.asarray(atoms.cell[:]) if atoms.pbc.any() else None,
                             pbc=atoms.pbc, efield=self.efield, fmax=self.fmax,
                             max_displacement=bound, max_bound=self.max_bound, stress=periodic)
        self.memory.store(atoms.positions, atoms.numbers, result.pairs)
        self.results["energy"] = result.energy
        self.results["free_energy"] = result.energy
        self.results["forces"] = result.core_forces
        self.results["dipole"] = result.dipole
        self.results["electron_pairs"] = result.pairs
        self.results["relax_iterations"] = result.iterations
        self.results["max_pair_force"] = result.max_pair_force
        if periodic:
            s = result.stress
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
