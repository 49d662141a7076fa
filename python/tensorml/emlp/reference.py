"""Reference energies per composition from reference hydrides (seed eq. 32).

Eq. 32 writes the reference energy of a neutral closed-shell molecule with n_H, n_C, n_N, n_O
atoms as n_C E_CH4 + n_N E_NH3 + n_O E_H2O + (n_H - 2 n_O - 3 n_N - 4 n_C)/2 E_H2: a combination
of hydrides with the same cores and electron pairs as the molecule.  Generalised, the hydride of
element X is XH_v with v its valence (e valence electrons: v = e for e <= 4, else 8 - e), and

  E_ref = sum_X n_X E_{XH_v} + (n_H - sum_X v_X n_X)/2 E_H2 = sum_Z n_Z e_Z,
  e_H = E_H2 / 2,   e_X = E_{XH_v} - v_X E_H2 / 2,

so it is a sum of per-element energies (eV).  ``hydride_energies`` maps Z -> energy of that
element's hydride (Z = 1: H2).  The functions work on floats and on torch tensors (training
uses the model's own hydride energies, seed Sec. 2.5).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .particles import core_charge


def valence(z: int) -> int:
    """Number of bonds to hydrogen of element ``z`` in its reference hydride."""
    e = core_charge(z)
    return e if e <= 4 else 8 - e


def hydride_composition(z: int) -> tuple[int, int]:
    """(Z, number of H) of the reference hydride of element z (H2 for z = 1)."""
    return (1, 2) if int(z) == 1 else (int(z), valence(z))


def element_reference_energies(hydride_energies: dict) -> dict:
    """Per-element reference energies e_Z (eV) from hydride energies (eq. 32)."""
    if 1 not in hydride_energies:
        raise ValueError("eq. 32 needs the energy of H2 (key 1)")
    e_h2 = hydride_energies[1]
    out = {1: 0.5 * e_h2}
    for z, e in hydride_energies.items():
        if int(z) != 1:
            out[int(z)] = e - 0.5 * valence(int(z)) * e_h2
    return out


def hydride_coefficients(numbers) -> dict:
    """Coefficient of each hydride (Z -> c) in the reference of a composition (eq. 32)."""
    counts = Counter(int(z) for z in np.asarray(numbers).reshape(-1))
    coeffs = {z: float(n) for z, n in counts.items() if z != 1}
    coeffs[1] = 0.5 * (counts.get(1, 0) - sum(valence(z) * n for z, n in counts.items() if z != 1))
    return coeffs


def reference_energy(numbers, hydride_energies: dict):
    """E_ref of eq. 32 for the composition of ``numbers`` (eV)."""
    per_element = element_reference_energies(hydride_energies)
    missing = sorted({int(z) for z in np.asarray(numbers).reshape(-1)} - set(per_element))
    if missing:
        raise ValueError(f"no reference hydride for element(s) Z={missing}")
    total = 0.0
    for z in np.asarray(numbers).reshape(-1):
        total = total + per_element[int(z)]
    return total
