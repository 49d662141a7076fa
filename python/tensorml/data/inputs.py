"""Read the structures to label: any file ASE reads, plus i-PI xyz trajectories and LAMMPS dumps.

* extxyz / xyz / anything else: :func:`ase.io.read`.
* LAMMPS text dumps (``format='lammps-dump-text'`` or a ``.lammpstrj``/``.dump`` name): the
  atom types are mapped to elements with ``types`` (type 1 -> types[0], ...) unless the dump
  has an ``element`` column.
* i-PI xyz trajectories (a comment line with ``CELL(abcABC):``): read here, honouring the
  units i-PI writes in the comment (``positions{atomic_unit}`` is i-PI's default and is
  converted from bohr to angstrom with :mod:`tensorml.units`).

Structures come back in angstrom.  ``X`` atoms (electron pairs / Wannier centres of a
labelled file) are dropped, so a labelled dataset can be labelled again.  The labeller treats every frame as an isolated
molecule or cluster (PySCF molecular code): a cell is kept for reference but ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ase import Atoms

from .. import units

_IPI_CELL = re.compile(r"CELL[\(\{]abcABC[\)\}]:\s*([-\d.eE+\s]+)")
_IPI_UNIT = re.compile(r"(positions|cell)\{([^}]*)\}")
_IPI_LENGTH = {
    "atomic_unit": units.factor(units.LENGTH, units.ATOMIC, units.METAL),
    "bohr": units.factor(units.LENGTH, units.ATOMIC, units.METAL),
    "angstrom": 1.0,
    "nanometer": units.LENGTH_UNITS["nm"],
}


def is_ipi_xyz(path: str | Path) -> bool:
    """True if the second line of ``path`` is an i-PI trajectory comment."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            fh.readline()
            return "CELL(abcABC)" in fh.readline() or False
    except (OSError, UnicodeDecodeError):
        return False


def _cell_from_abc(a, b, c, alpha, beta, gamma):
    from ase.geometry import cellpar_to_cell

    return cellpar_to_cell([a, b, c, alpha, beta, gamma])


def read_ipi_xyz(path) -> list[Atoms]:
    """All frames of an i-PI xyz trajectory (a path or an open text file), in angstrom."""
    if hasattr(path, "readline"):
        return _read_ipi(path)
    with open(path, encoding="utf-8") as fh:
        return _read_ipi(fh)


def _read_ipi(fh) -> list[Atoms]:
    frames = []
    while True:
        head = fh.readline()
        if not head.strip():
            if not head:
                break
            continue
        n = int(head.split()[0])
        comment = fh.readline()
        rows = [fh.readline().split() for _ in range(n)]
        unit_of = {"positions": "atomic_unit", "cell": "atomic_unit"}
        unit_of.update({k: v.strip() for k, v in _IPI_UNIT.findall(comment)})
        for k, v in unit_of.items():
            if v not in _IPI_LENGTH:
                raise ValueError(f"unknown i-PI length unit {v!r} for {k}")
        pos = np.array([[float(x) for x in r[1:4]] for r in rows]) * _IPI_LENGTH[unit_of["positions"]]
        atoms = Atoms([r[0] for r in rows], positions=pos)
        m = _IPI_CELL.search(comment)
        if m:
            par = [float(x) for x in m.group(1).split()[:6]]
            scale = _IPI_LENGTH[unit_of["cell"]]
            atoms.cell = _cell_from_abc(*(np.array(par[:3]) * scale), *par[3:])
        step = re.search(r"Step:\s*(\d+)", comment)
        if step:
            atoms.info["step"] = int(step.group(1))
        frames.append(atoms)
    return frames


def read_structures(path: str | Path, index: str = ":", format: str | None = None, types=None) -> list[Atoms]:
    """Frames to label from any structure file (see module docstring); ``index`` as in ASE."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such structure file: {path}")
    if format in (None, "ipi") and is_ipi_xyz(path):
        frames = read_ipi_xyz(path)
        return _select(frames, index)
    lammps_dump = format == "lammps-dump-text" or (format is None and path.suffix in (".lammpstrj", ".dump"))
    if lammps_dump:
        kwargs = {"specorder": list(types)} if types else {}
        frames = read(path, index=index, format="lammps-dump-text", **kwargs)
    else:
        frames = read(path, index=index, format=format)
    if isinstance(frames, Atoms):
        frames = [frames]
    return [_strip_pairs(a) for a in frames]


def _strip_pairs(atoms: Atoms) -> Atoms:
    """Drop electron pairs / Wannier centres (``X`` atoms, atomic number 0): they are labels."""
    if not (atoms.numbers == 0).any():
        return atoms
    return atoms[atoms.numbers != 0]


def _select(frames: list, index: str) -> list:
    from ase.io.formats import string2index

    sel = string2index(index) if isinstance(index, str) else index
    out = frames[sel]
    return out if isinstance(out, list) else [out]
