"""Training frames of the eMLP: cores, Boys/Wannier pair centres and their labels.

One :class:`EMLPFrame` holds a structure (core positions and atomic numbers, electron-pair
positions, cell, pbc, field) and its labels: energy (eV, including the field term), forces on
the cores (eV/angstrom), forces on the pairs (eV/angstrom; zero for Boys/Wannier centres, seed
Sec. 2.2) and optionally the stress (eV/angstrom^3, ASE sign).  :func:`frames_from_atoms`
reads the tensorml dataset layout (:mod:`tensorml.data.keys`): ``info['electron_pairs']``
or ``X`` atoms after the nuclei, ``info['efield']`` in V/angstrom, ``info['energy']``,
``arrays['forces']``, and ``info['stress']`` or ASE's calculator stress.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..data.keys import ELECTRON_PAIR_SYMBOL


@dataclass
class EMLPFrame:
    cores: np.ndarray  # (N, 3) angstrom
    numbers: np.ndarray  # (N,)
    pairs: np.ndarray  # (M, 3) angstrom
    energy: float  # eV
    forces: np.ndarray  # (N, 3) eV/angstrom on the cores
    pair_forces: Optional[np.ndarray] = None  # (M, 3) eV/angstrom; None = zero
    cell: Optional[np.ndarray] = None  # (3, 3) rows, angstrom
    pbc: Optional[np.ndarray] = None  # (3,) bool
    efield: Optional[np.ndarray] = None  # (3,) V/angstrom
    stress: Optional[np.ndarray] = None  # (3, 3) eV/angstrom^3

    def __post_init__(self):
        self.cores = np.asarray(self.cores, dtype=float).reshape(-1, 3)
        self.numbers = np.asarray(self.numbers, dtype=int).reshape(-1)
        self.pairs = np.asarray(self.pairs, dtype=float).reshape(-1, 3)
        self.forces = np.asarray(self.forces, dtype=float).reshape(-1, 3)
        if self.pair_forces is None:
            self.pair_forces = np.zeros_like(self.pairs)
        self.pair_forces = np.asarray(self.pair_forces, dtype=float).reshape(-1, 3)
        if len(self.numbers) != len(self.cores) or len(self.forces) != len(self.cores):
            raise ValueError(
                f"frame has {len(self.cores)} cores, {len(self.numbers)} numbers, {len(self.forces)} force rows"
            )
        if len(self.pair_forces) != len(self.pairs):
            raise ValueError(f"frame has {len(self.pairs)} pairs but {len(self.pair_forces)} pair-force rows")

    @property
    def periodic(self) -> bool:
        return self.pbc is not None and bool(np.all(self.pbc))

    def copy(self, **changes) -> "EMLPFrame":
        return replace(self, **changes)


def frames_from_atoms(frames) -> list[EMLPFrame]:
    """EMLPFrames from ASE Atoms in the tensorml dataset layout (see module docstring)."""
    out = []
    for k, atoms in enumerate(frames):
        symbols = np.array(atoms.get_chemical_symbols())
        is_pair = symbols == ELECTRON_PAIR_SYMBOL
        positions = atoms.get_positions()
        if "electron_pairs" in atoms.info:
            pairs = np.asarray(atoms.info["electron_pairs"], dtype=float).reshape(-1, 3)
        else:
            pairs = positions[is_pair]
        if "energy" in atoms.info:
            energy = float(atoms.info["energy"])
        elif atoms.calc is not None and "energy" in atoms.calc.results:
            energy = float(atoms.calc.results["energy"])
        else:
            raise ValueError(f"frame {k} has no energy label")
        if "forces" in atoms.arrays:
            forces = np.asarray(atoms.arrays["forces"], dtype=float)
        elif atoms.calc is not None and "forces" in atoms.calc.results:
            forces = np.asarray(atoms.calc.results["forces"], dtype=float)
        else:
            raise ValueError(f"frame {k} has no forces label")
        pair_forces = forces[is_pair] if is_pair.any() else None
        stress = atoms.info.get("stress")
        if stress is None and atoms.calc is not None and "stress" in atoms.calc.results:
            stress = atoms.calc.results["stress"]
        if stress is not None:
            stress = np.asarray(stress, dtype=float)
            if stress.shape == (6,):
                xx, yy, zz, yz, xz, xy = stress
                stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        out.append(
            EMLPFrame(
                cores=positions[~is_pair],
                numbers=atoms.numbers[~is_pair],
                pairs=pairs,
                energy=energy,
                forces=forces[~is_pair],
                pair_forces=pair_forces,
                cell=np.asarray(atoms.cell[:]) if atoms.pbc.any() else None,
                pbc=atoms.pbc.copy() if atoms.pbc.any() else None,
                efield=np.asarray(atoms.info.get("efield", np.zeros(3)), dtype=float).reshape(3),
                stress=stress.reshape(3, 3) if stress is not None else None,
            )
        )
    return out
