"""Small, reproducible structures for examples, tests and benchmarks (built with ASE).

Lengths in angstrom.  Water geometry: O-H 0.9572 angstrom, H-O-H 104.52 deg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation


def water_box(n_side: int = 3, spacing: float = 3.1, seed: int = 0, jitter: float = 0.1) -> Atoms:
    """Periodic box of n_side^3 water molecules on a cubic lattice, randomly oriented.

    ``spacing`` 3.1 angstrom gives about 1.0 g/cm^3.  Atoms are ordered O H H per
    molecule; ``atoms.arrays['mol-id']`` holds 1-based molecule ids.
    """
    rng = np.random.default_rng(seed)
    h2o = molecule("H2O")
    h2o.positions -= h2o.positions[0]  # O at the origin
    order = [0, 1, 2]  # ASE's H2O is O H H
    positions, symbols, mol = [], [], []
    grid = np.arange(n_side) * spacing
    k = 0
    for x in grid:
        for y in grid:
            for z in grid:
                k += 1
                rot = Rotation.random(random_state=rng.integers(2**31))
                centre = np.array([x, y, z]) + rng.normal(0.0, jitter, 3)
                positions.extend(rot.apply(h2o.positions[order]) + centre)
                symbols.extend(h2o.get_chemical_symbols()[i] for i in order)
                mol.extend([k] * 3)
    length = n_side * spacing
    atoms = Atoms(symbols, positions=positions, cell=[length] * 3, pbc=True)
    atoms.arrays["mol-id"] = np.array(mol)
    return atoms


def write_lammps_water(atoms: Atoms, path: str | Path, charges=None) -> None:
    """LAMMPS data file (atom_style full, types O=1 H=2, O-H bonds and H-O-H angles).

    ``atoms`` must be ordered O H H per molecule as :func:`water_box` makes it.
    ``charges`` (e): per-type charges {"O": qO, "H": qH}, zero if not given.
    The cell must be orthorhombic.
    """
    charges = charges or {"O": 0.0, "H": 0.0}
    cell = atoms.cell.array
    if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-12:
        raise ValueError("write_lammps_water needs an orthorhombic cell")
    symbols = atoms.get_chemical_symbols()
    n = len(atoms)
    if n % 3 or any(symbols[i : i + 3] != ["O", "H", "H"] for i in range(0, n, 3)):
        raise ValueError("atoms must be ordered O H H per molecule")
    nmol = n // 3
    lines = [
        "water box written by tensorml.structures.write_lammps_water (units: angstrom, e)",
        "",
        f"{n} atoms",
        f"{2 * nmol} bonds",
        f"{nmol} angles",
        "2 atom types",
        "1 bond types",
        "1 angle types",
        "",
        f"0.0 {cell[0, 0]:.10f} xlo xhi",
        f"0.0 {cell[1, 1]:.10f} ylo yhi",
        f"0.0 {cell[2, 2]:.10f} zlo zhi",
        "",
        "Masses",
        "",
        "1 15.9994",
        "2 1.008",
        "",
        "Atoms # full",
        "",
    ]
    for i, (s, p) in enumerate(zip(symbols, atoms.positions)):
        t = 1 if s == "O" else 2
        lines.append(f"{i + 1} {i // 3 + 1} {t} {charges[s]:.6f} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}")
    lines += ["", "Bonds", ""]
    for m in range(nmol):
        o = 3 * m + 1
        lines.append(f"{2 * m + 1} 1 {o} {o + 1}")
        lines.append(f"{2 * m + 2} 1 {o} {o + 2}")
    lines += ["", "Angles", ""]
    for m in range(nmol):
        o = 3 * m + 1
        lines.append(f"{m + 1} 1 {o + 1} {o} {o + 2}")
    Path(path).write_text("\n".join(lines) + "\n")
