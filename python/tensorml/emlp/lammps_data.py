"""LAMMPS data files of cores and electron pairs for ``fix tensorml/relax`` (atom_style charge).

One atom type per entry of ``kinds`` (atomic numbers, 0 = electron pair X), in that order, so the
input's ``pair_coeff * * ...`` lists the same elements; every charge is the model's (metadata
``explicit_electrons.particle_charges``, e). Lengths in angstrom (LAMMPS ``units metal``/``real``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .contract_model import PAIR_Z

#: masses (g/mol) by atomic number; a pair's is never used (it is relaxed, not integrated)
MASSES = {PAIR_Z: 1.0, 1: 1.008, 6: 12.011, 7: 14.007, 8: 15.999}
#: element symbols for pair_coeff, by atomic number
SYMBOLS = {PAIR_Z: "X", 1: "H", 6: "C", 7: "N", 8: "O"}


def particle_charges(metadata: dict) -> dict:
    """Charge (e) of every particle species by atomic number, from a format-3 model's metadata."""
    return {int(z): float(q) for z, q in metadata["explicit_electrons"]["particle_charges"].items()}


def write_particles(path, numbers, positions, charges, box, kinds, tilt=None, title="cores and electron pairs"):
    """Write the data file. ``box``: (lo, hi) per axis; ``tilt`` (xy, xz, yz) makes it triclinic."""
    numbers = np.asarray(numbers)
    lines = [f"{title}\n\n{len(numbers)} atoms\n{len(kinds)} atom types\n"]
    lines += [f"{lo} {hi} {axis}lo {axis}hi" for (lo, hi), axis in zip(box, "xyz")]
    if tilt is not None:
        lines.append(f"{tilt[0]} {tilt[1]} {tilt[2]} xy xz yz")
    lines += ["\nMasses\n"] + [f"{t + 1} {MASSES[z]}" for t, z in enumerate(kinds)] + ["\nAtoms # charge\n"]
    lines += [
        f"{k + 1} {kinds.index(int(z)) + 1} {charges[int(z)]} {x[0]:.12f} {x[1]:.12f} {x[2]:.12f}"
        for k, (z, x) in enumerate(zip(numbers, positions))
    ]
    Path(path).write_text("\n".join(lines) + "\n")


def pair_coeff_elements(kinds) -> str:
    """The element list of ``pair_coeff * * ...`` for these types."""
    return " ".join(SYMBOLS[int(z)] for z in kinds)
