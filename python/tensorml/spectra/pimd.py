"""Path-integral (PIMD, TRPMD, CMD-like) estimators from per-bead data.

Correlation functions from ring-polymer dynamics approximate Kubo-transformed quantum
correlations, to which the harmonic QCF (:mod:`.qcf`) is the exact bridge.  From P beads
(per-bead dipoles M^b, polarizabilities alpha^b, APTs P_i^b and velocities v_i^b):

``trpmd``     the observable is the bead average, A(t) = (1/P) sum_b A(q^b(t)); for the APT
              route dM/dt = (1/P) sum_b sum_i P_i^b v_i^b, the exact time derivative of the
              bead-averaged dipole (standard RPMD/TRPMD/PA-CMD estimator).
``centroid``  CMD-like: the APT is bead-averaged and contracted with the centroid velocity,
              dM/dt = sum_i [(1/P) sum_b P_i^b] v_i^c, v^c = (1/P) sum_b v^b (or i-PI's v_centroid).
              For the dipole and polarizability routes only bead values are available, so the
              centroid estimator is their bead average too (equal to the value at the centroid
              to first order in the bead spread, exactly for linear properties).

Both are linear in per-atom terms, so decompositions keep adding up exactly.
"""

from __future__ import annotations

import numpy as np

ESTIMATORS = ("trpmd", "centroid")

DESCRIPTIONS = {
    "trpmd": "trpmd: bead average of the observable, (1/P) sum_b A(q_b); APT route (1/P) sum_b sum_i P_i^b v_i^b",
    "centroid": "centroid (CMD-like): bead-averaged APT times centroid velocity; dipole/polarizability bead-averaged",
}


def check(estimator: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown path-integral estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")


def bead_average(values, axis: int = 0) -> np.ndarray:
    """(1/P) sum_b over the bead axis."""
    return np.asarray(values, dtype=float).mean(axis=axis)


def atomic_dmdt(apt, velocities, estimator: str = "trpmd", centroid_velocities=None) -> np.ndarray:
    """Per-atom dM/dt terms (..., N, 3) from per-bead apt (..., P, N, 3, 3) and velocities (..., P, N, 3).

    Leading axes (e.g. time) are carried through; a single frame may omit the bead axis of
    both (apt (N, 3, 3), velocities (N, 3)).  centroid_velocities (..., N, 3), e.g. from i-PI,
    replaces the bead average of the velocities for the centroid estimator (velocities may then
    be None).
    """
    check(estimator)
    apt = np.asarray(apt, dtype=float)
    if apt.ndim == 3:
        apt = apt[None]
    if estimator == "trpmd":
        v = np.asarray(velocities, dtype=float)
        if v.ndim == 2:
            v = v[None]
        if v.shape[-3] != apt.shape[-4]:
            raise ValueError(f"{apt.shape[-4]} beads of APTs but {v.shape[-3]} of velocities")
        return np.einsum("...biac,...bic->...ia", apt, v) / apt.shape[-4]
    vc = centroid_velocities
    if vc is None:
        v = np.asarray(velocities, dtype=float)
        vc = v.mean(axis=-3) if v.ndim >= 3 else v
    return np.einsum("...iac,...ic->...ia", apt.mean(axis=-4), np.asarray(vc, dtype=float))
