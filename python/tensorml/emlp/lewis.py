"""A Lewis-like first guess of the electron pairs of a new structure (before relaxation, eq. 4).

The Foster-Boys centres the eMLP is trained on follow Lewis structures (seed Sec. 2.2): one
pair per single bond, two ("banana") pairs for a double bond, three around a triple bond, and
lone pairs on the atoms.  The guess:

1. bonds: atoms closer than ``bond_scale`` x the sum of their covalent radii (ASE table);
2. valence of an atom with e valence electrons (its core charge, Table 1): e for e <= 4,
   8 - e otherwise (H 1, C 4, N 3, O 2, F 1);
3. bond orders: all bonds single, then raised between atoms that still have free valence,
   atoms with the fewest candidate partners first (this finds Kekule structures);
4. lone pairs: (e - sum of bond orders) // 2 per atom;
5. positions (angstrom): single-bond pairs at bond midpoints, double-bond pairs at
   +-``multiple_offset`` perpendicular to the bond (normal to the local plane), triple-bond pairs
   on a circle of that radius, lone pairs ``lone_pair_distance`` from their atom, pointing away
   from its bonds in tetrahedral-like directions.

The total number of pairs must match (sum of core charges - total charge) / 2; otherwise a
``ValueError`` says so (pass explicit pairs for such structures).  The guess only needs to be
inside the basin of the right minimum: :func:`tensorml.emlp.relax.relax_pairs` does the rest.
"""

from __future__ import annotations

import numpy as np
from ase.data import covalent_radii

from .particles import core_charges, n_electron_pairs


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-12 else v


def _perpendicular(axis: np.ndarray, hint: np.ndarray | None = None) -> np.ndarray:
    """A unit vector perpendicular to ``axis``, in the direction of ``hint`` where possible."""
    axis = _unit(axis)
    for trial in ([hint] if hint is not None else []) + [np.array([1.0, 0, 0]), np.array([0, 1.0, 0])]:
        p = trial - trial.dot(axis) * axis
        if np.linalg.norm(p) > 1e-3:
            return _unit(p)
    return _unit(np.cross(axis, [0, 0, 1.0]))


def find_bonds(positions, numbers, bond_scale: float = 1.25) -> list[tuple[int, int]]:
    """Pairs (i < j) closer than bond_scale x (r_cov,i + r_cov,j)."""
    pos = np.asarray(positions, dtype=float)
    radii = covalent_radii[np.asarray(numbers)]
    bonds = []
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            if np.linalg.norm(pos[j] - pos[i]) < bond_scale * (radii[i] + radii[j]):
                bonds.append((i, j))
    return bonds


def bond_orders(numbers, bonds) -> dict[tuple[int, int], int]:
    """Bond orders (1-3) from valences, raised greedily (most constrained atoms first)."""
    electrons = core_charges(numbers).astype(int)
    valence = np.where(electrons <= 4, electrons, 8 - electrons)
    order = {b: 1 for b in bonds}
    free = valence.copy()
    for i, j in bonds:
        free[i] -= 1
        free[j] -= 1
    while True:
        candidates = [b for b in bonds if free[b[0]] > 0 and free[b[1]] > 0 and order[b] < 3]
        if not candidates:
            return order
        options = {}
        for i, j in candidates:
            options[i] = options.get(i, 0) + 1
            options[j] = options.get(j, 0) + 1
        i, j = min(candidates, key=lambda b: (min(options[b[0]], options[b[1]]), max(options[b[0]], options[b[1]])))
        order[(i, j)] += 1
        free[i] -= 1
        free[j] -= 1


def _lone_pair_directions(n: int, bond_dirs: list[np.ndarray]) -> list[np.ndarray]:
    """n unit vectors pointing away from the bonds (tetrahedral-like)."""
    if n == 0:
        return []
    tetra = np.arccos(-1.0 / 3.0)
    if not bond_dirs:
        base = [np.array(v, dtype=float) / np.sqrt(3) for v in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))]
        if n == 1:
            return [np.array([0, 0, 1.0])]
        if n == 2:
            return [np.array([0, 0, 1.0]), np.array([0, 0, -1.0])]
        if n == 3:
            return [np.array([np.cos(a), np.sin(a), 0.0]) for a in 2 * np.pi * np.arange(3) / 3]
        return base[:n] if n <= 4 else base + [np.zeros(3)] * (n - 4)
    total = np.sum(bond_dirs, axis=0)
    if np.linalg.norm(total) > 1e-3:
        s = -_unit(total)
    else:  # symmetric bonds (linear, planar): point out of their span
        s = _perpendicular(bond_dirs[0], np.cross(bond_dirs[0], bond_dirs[-1]) if len(bond_dirs) > 1 else None)
    if n == 1:
        return [s]
    if len(bond_dirs) >= 2 and np.linalg.norm(np.cross(bond_dirs[0], bond_dirs[1])) > 1e-3:
        p = _unit(np.cross(bond_dirs[0], bond_dirs[1]))
    else:
        p = _perpendicular(s)
    if n == 2:
        half = tetra / 2.0
        return [np.cos(half) * s + np.sin(half) * p, np.cos(half) * s - np.sin(half) * p]
    q = np.cross(s, p)
    polar = np.pi - tetra  # angle from s of three tetrahedral directions around it
    dirs = [np.cos(polar) * s + np.sin(polar) * (np.cos(a) * p + np.sin(a) * q) for a in 2 * np.pi * np.arange(3) / 3]
    return dirs if n == 3 else dirs + [-s] * (n - 3)


def lewis_pairs(
    positions,
    numbers,
    total_charge: int = 0,
    bond_scale: float = 1.25,
    multiple_offset: float = 0.3,
    lone_pair_distance: float = 0.35,
) -> np.ndarray:
    """Electron-pair guess (M, 3) in angstrom for cores at ``positions`` (angstrom)."""
    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    numbers = np.asarray(numbers, dtype=int).reshape(-1)
    needed = n_electron_pairs(numbers, total_charge)
    bonds = find_bonds(pos, numbers, bond_scale)
    order = bond_orders(numbers, bonds)
    electrons = core_charges(numbers).astype(int)
    used = np.zeros(len(pos), dtype=int)
    neighbours: list[list[int]] = [[] for _ in pos]
    for (i, j), bo in order.items():
        used[i] += bo
        used[j] += bo
        neighbours[i].append(j)
        neighbours[j].append(i)
    lone = np.maximum(electrons - used, 0) // 2
    found = sum(order.values()) + int(lone.sum())
    if found != needed:
        raise ValueError(
            f"Lewis guess: bonds and lone pairs give {found} electron pairs but the structure has {needed} "
            f"(total charge {total_charge} e); pass the electron pairs explicitly"
        )
    pairs = []
    for (i, j), bo in order.items():
        mid = 0.5 * (pos[i] + pos[j])
        axis = pos[j] - pos[i]
        if bo == 1:
            pairs.append(mid)
            continue
        others = [pos[k] - mid for k in neighbours[i] + neighbours[j] if k not in (i, j)]
        hint = None
        for o in others:
            n = np.cross(axis, o)
            if np.linalg.norm(n) > 1e-3:
                hint = n
                break
        p = _perpendicular(axis, hint)
        q = np.cross(_unit(axis), p)
        angles = np.array([0.0, np.pi]) if bo == 2 else 2 * np.pi * np.arange(3) / 3
        for a in angles:
            pairs.append(mid + multiple_offset * (np.cos(a) * p + np.sin(a) * q))
    for a in range(len(pos)):
        dirs = [_unit(pos[b] - pos[a]) for b in neighbours[a]]
        for d in _lone_pair_directions(int(lone[a]), dirs):
            pairs.append(pos[a] + lone_pair_distance * d)
    return np.array(pairs, dtype=float).reshape(-1, 3)
