"""Real tensors in seconds: the shipped water model through the ASE calculator.

    python examples/training/use_water_model.py [models/water/model.pt]

Prints the dipole (e*angstrom), the polarizability (angstrom^3) and the APTs (e) of a water
molecule, a dimer and a periodic box of 27 molecules, and checks two exact properties of the
model: the acoustic sum rule sum_i APT_i = 0 and dM/dr = APT (finite differences).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase.build import molecule

from tensorml.calculator import TensorMLCalculator
from tensorml.structures import water_box

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "water" / "model.pt"
    calc = TensorMLCalculator(path)
    np.set_printoptions(precision=4, suppress=True)
    dimer = molecule("H2O") + molecule("H2O")
    dimer.positions[3:] += [2.9, 0.0, 0.3]
    for name, atoms in [("water", molecule("H2O")), ("dimer", dimer), ("box of 27", water_box(3, seed=0))]:
        atoms.calc = calc
        dipole = atoms.get_dipole_moment()
        alpha = calc.get_property("polarizability", atoms)
        apt = calc.get_property("apt", atoms)
        print(f"--- {name} ({len(atoms)} atoms)")
        print("dipole (e*angstrom):", dipole, " |M| =", f"{np.linalg.norm(dipole):.4f}")
        print("polarizability (angstrom^3):\n", alpha)
        print("APT of atom 0 (e):\n", apt[0])
        print("sum rule |sum_i APT_i|max =", f"{np.abs(apt.sum(0)).max():.2e}")
    water = molecule("H2O")
    water.calc = calc
    apt = calc.get_property("apt", water)
    h = 1e-4
    fd = np.zeros((3, 3))
    for b in range(3):
        plus, minus = water.copy(), water.copy()
        plus.positions[1, b] += h
        minus.positions[1, b] -= h
        plus.calc = minus.calc = calc
        fd[:, b] = (plus.get_dipole_moment() - minus.get_dipole_moment()) / (2 * h)
    print("APT of H vs finite differences of M: max deviation", f"{np.abs(fd - apt[1]).max():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
