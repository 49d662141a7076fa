"""An ASE calculator on the PySCF engine of :mod:`tensorml.data.finite_field` (energy, forces).

Used by the dataset scripts to optimise reference geometries and to get Hessians for
normal-mode sampling.  Energy eV, forces eV/angstrom; ``atoms.info['efield']`` (V/angstrom)
is applied if present.  The previous density is reused as the next SCF guess.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .. import units
from .finite_field import build_molecule, gradient_au, make_scf, run_scf
from .theory import LevelOfTheory


class PySCFCalculator(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, level: LevelOfTheory = LevelOfTheory(), **kwargs):
        super().__init__(**kwargs)
        self.level = level
        self._dm = None

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        from .labels import frame_charge, frame_field_au

        a = self.atoms
        mol = build_molecule(a.get_chemical_symbols(), a.positions, self.level, charge=frame_charge(a, self.level))
        dm0 = self._dm if self._dm is not None and self._dm.shape[-1] == mol.nao else None
        mf = run_scf(make_scf(mol, self.level, frame_field_au(a)), dm0=dm0)
        self._dm = mf.make_rdm1()
        self.results = {
            "energy": float(mf.e_tot) * units.factor(units.ENERGY, units.ATOMIC, units.METAL),
            "forces": -np.asarray(gradient_au(mf)) * units.factor(units.FORCE, units.ATOMIC, units.METAL),
        }
