"""Particles of the eMLP and their charges (seed Sec. 2.1.1, Table 1).

Two kinds of particles carry fixed charges (unit: e):

* an *atomic core*: the nucleus together with its core electrons.  Its charge is the number
  of valence electrons: +1 for H, Z - 2 for C, N, O (Table 1) and, by the same valence-pair
  rule, Z minus the electrons of the preceding noble-gas shell (plus the filled d shell for
  the p-block of periods 4 and 5) for other main-group elements;
* a valence *electron pair* of charge -2 (Boys or Wannier centre, seed Sec. 2.2).

The number of pairs of a system of total charge Q is (sum of core charges - Q) / 2; an odd
number of valence electrons has no eMLP description (seed Sec. 2.1.1: closed shells only).

The dipole of cores and pairs, sum_i q_i R_i - 2 sum_k r_k (e*angstrom), is exact for
molecules; under periodic boundary conditions it is defined by the *unwrapped* pair
positions (pairs followed continuously from their starting guess, seed Sec. 1).
"""

from __future__ import annotations

import numpy as np
import torch

#: Charge of one electron pair, e (Table 1).
PAIR_CHARGE = -2.0

# Number of core electrons (noble-gas shell, plus the filled d10 shell for Ga-Kr and In-Xe)
# of the main-group elements, as (first Z, last Z, core electrons).
_CORE_SHELLS = (
    (1, 2, 0),
    (3, 10, 2),
    (11, 18, 10),
    (19, 20, 18),
    (31, 36, 28),
    (37, 38, 36),
    (49, 54, 46),
)

#: Largest atomic number in the charge table.
MAX_Z = 118


def core_charge(z: int) -> int:
    """Charge (e) of the atomic core of element ``z``: its number of valence electrons.

    Raises ``ValueError`` for transition metals, lanthanides and heavier elements, which the
    valence-pair rule of Table 1 does not cover.
    """
    z = int(z)
    for first, last, core in _CORE_SHELLS:
        if first <= z <= last:
            return z - core
    raise ValueError(
        f"element Z={z} has no eMLP core charge: the valence-pair rule (seed Table 1) covers "
        "main-group elements H-Xe only (no transition metals)"
    )


def core_charge_table() -> torch.Tensor:
    """Core charge of every Z in 0..MAX_Z as a float64 tensor; NaN where undefined."""
    table = torch.full((MAX_Z + 1,), float("nan"), dtype=torch.float64)
    for first, last, core in _CORE_SHELLS:
        for z in range(first, last + 1):
            table[z] = float(z - core)
    return table


def core_charges(numbers) -> np.ndarray:
    """Core charges (e) of atomic numbers ``numbers``."""
    return np.array([core_charge(z) for z in np.asarray(numbers).reshape(-1)], dtype=float)


def n_electron_pairs(numbers, total_charge: int = 0) -> int:
    """Number of valence electron pairs of a system with these cores and total charge (e)."""
    electrons = int(round(core_charges(numbers).sum())) - int(total_charge)
    if electrons < 0:
        raise ValueError(f"total charge {total_charge} e exceeds the core charge {electrons + total_charge} e")
    if electrons % 2:
        raise ValueError(
            f"{electrons} valence electrons: the eMLP describes closed shells only (an even number, seed Sec. 2.1.1)"
        )
    return electrons // 2


def dipole(core_positions, numbers, pair_positions) -> np.ndarray:
    """Dipole sum_i q_i R_i - 2 sum_k r_k in e*angstrom (positions in angstrom, pairs unwrapped)."""
    cores = np.asarray(core_positions, dtype=float).reshape(-1, 3)
    pairs = np.asarray(pair_positions, dtype=float).reshape(-1, 3)
    return core_charges(numbers) @ cores + PAIR_CHARGE * pairs.sum(axis=0)
