"""Atom partitions for decomposing spectra through APTs (or velocities).

With the APT, dM/dt = sum_i P_i v_i (APTNN seed eq. 4) is a sum of per-atom terms
p_i = P_i v_i, so any partition of the atoms into parts g gives dM/dt = sum_g p_g with
p_g = sum_{i in g} p_i.  :func:`tensorml.spectra.ir.ir_spectrum` turns parts into columns
<p_g . dM/dt> that add up exactly to the total, and optionally splits each into an auto
term <p_g . p_g> and a cross term; with molecules as parts, the sum of the auto terms is the
intramolecular spectrum and the rest the intermolecular one.

Partitions (each returns (names, index) with index[i] the part of atom i):

* :func:`by_label`: by any per-atom label, e.g. element symbols or LAMMPS types;
* :func:`by_molecule`: by molecule id (LAMMPS ``mol`` column) or consecutive blocks of atoms;
* :func:`parse_groups`: user groups ``"water:1-300;ion:301,302"`` (1-based atom ids or
  indices), the atoms not named form the part ``rest``.
"""

from __future__ import annotations

import numpy as np


def by_label(labels) -> tuple[list[str], np.ndarray]:
    """Parts by per-atom labels, in order of first appearance."""
    labels = [str(x) for x in labels]
    names: list[str] = []
    lookup: dict[str, int] = {}
    index = np.empty(len(labels), dtype=int)
    for i, lab in enumerate(labels):
        if lab not in lookup:
            lookup[lab] = len(names)
            names.append(lab)
        index[i] = lookup[lab]
    return names, index


def by_molecule(mol_ids=None, n_atoms: int | None = None, size: int | None = None) -> tuple[list[str], np.ndarray]:
    """Parts = molecules, from molecule ids (N,) or consecutive blocks of ``size`` atoms."""
    if mol_ids is None:
        if not size or not n_atoms or n_atoms % size:
            raise ValueError(f"cannot cut {n_atoms} atoms into molecules of {size} atoms")
        mol_ids = np.arange(n_atoms) // size + 1
    names, index = by_label([int(m) for m in mol_ids])
    return [f"mol{n}" for n in names], index


def _parse_ids(text: str) -> list[int]:
    ids: list[int] = []
    for tok in text.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if "-" in tok:
            lo, hi = tok.split("-", 1)
            ids.extend(range(int(lo), int(hi) + 1))
        else:
            ids.append(int(tok))
    return ids


def parse_groups(spec: str, atom_ids) -> tuple[list[str], np.ndarray]:
    """Parts from ``"name:1-10,15;name2:11-14"``: atom ids as in ``atom_ids`` (N,); others -> 'rest'."""
    atom_ids = [int(a) for a in atom_ids]
    where = {a: i for i, a in enumerate(atom_ids)}
    index = np.full(len(atom_ids), -1, dtype=int)
    names: list[str] = []
    for chunk in spec.split(";"):
        if not chunk.strip():
            continue
        if ":" not in chunk:
            raise ValueError(f"group {chunk!r} is not 'name:ids' (e.g. 'water:1-300')")
        name, ids = chunk.split(":", 1)
        name = name.strip()
        if not name or name in names or name == "rest":
            raise ValueError(f"group names must be distinct, non-empty and not 'rest' (got {name!r})")
        g = len(names)
        names.append(name)
        for a in _parse_ids(ids):
            if a not in where:
                raise ValueError(f"group {name!r}: atom {a} is not in the trajectory")
            if index[where[a]] >= 0:
                raise ValueError(f"atom {a} is in groups {names[index[where[a]]]!r} and {name!r}")
            index[where[a]] = g
    if (index < 0).any():
        index[index < 0] = len(names)
        names.append("rest")
    return names, index


def part_sums(per_atom, index, n_parts: int | None = None) -> np.ndarray:
    """Sum per-atom vectors (..., N, 3) over parts: (..., G, 3)."""
    per_atom = np.asarray(per_atom, dtype=float)
    index = np.asarray(index, dtype=int)
    G = int(index.max()) + 1 if n_parts is None else n_parts
    onehot = np.zeros((index.size, G))
    onehot[np.arange(index.size), index] = 1.0
    return np.einsum("...na,ng->...ga", per_atom, onehot)
