"""Quantum correction factors (QCF) for classical (or Kubo-transformed) correlation spectra.

With x = beta hbar omega = h c nu~ / (k_B T), a quantum correlation spectrum is estimated
from a classical one as  C_q(omega) = Q(x) C_cl(omega)  with

============  =========================  ===============================================
name          Q(x)                       remark
============  =========================  ===============================================
none          1                          classical spectrum used as the quantum one
harmonic      x / (1 - exp(-x))          exact for a harmonic system with a linear
                                         observable; exact in general between a Kubo-
                                         transformed correlation (what RPMD/TRPMD/CMD
                                         approximate) and the quantum one; the default
standard      2 / (1 + exp(-x))          the "standard" (symmetrised-correlation) factor
schofield     exp(x / 2)                 Schofield's factor
============  =========================  ===============================================

Every factor tends to 1 as omega -> 0, and every one makes Q(x) C_cl(omega) obey
detailed balance, C_q(-omega) = exp(-x) C_q(omega), because C_cl is even and
Q(-x) = exp(-x) Q(x) for all three non-trivial factors.  The harmonic factor is
singled out because it is the *exact* relation for Kubo-transformed correlations
(C_q(omega) = x/(1 - exp(-x)) C_Kubo(omega), a theorem), which is why it alone recovers
the exact quantum spectrum of a harmonic oscillator from its classical correlation.

Absorption (IR): n alpha(omega) = omega (1 - exp(-x)) / (6 hbar V c eps0) C_q(omega)
= beta omega^2 / (6 V c eps0) * F(x) * C_cl(omega), with F(x) = Q(x) (1 - exp(-x)) / x
(:func:`absorption_factor`); F = 1 for the harmonic factor, i.e. APTNN seed eq. 1.
"""

from __future__ import annotations

import numpy as np

from ..units import BOLTZMANN_CM1_PER_K

QCFS = ("none", "harmonic", "standard", "schofield")

FORMULAS = {
    "none": "Q(x) = 1",
    "harmonic": "Q(x) = x/(1-exp(-x))",
    "standard": "Q(x) = 2/(1+exp(-x))",
    "schofield": "Q(x) = exp(x/2)",
}


def _check(name: str) -> None:
    if name not in QCFS:
        raise ValueError(f"unknown quantum correction factor {name!r}; known: {', '.join(QCFS)}")


def reduced_frequency(wavenumber_cm1, temperature_K: float):
    """x = beta hbar omega = h c nu~ / (k_B T) (dimensionless)."""
    if not temperature_K > 0:
        raise ValueError(f"temperature must be positive (got {temperature_K} K)")
    return np.asarray(wavenumber_cm1, dtype=float) / (BOLTZMANN_CM1_PER_K * temperature_K)


def _one_minus_exp_over_x(x):
    """(1 - exp(-x)) / x, -> 1 at x = 0."""
    x = np.asarray(x, dtype=float)
    out = np.ones_like(x)
    nz = x != 0
    out[nz] = -np.expm1(-x[nz]) / x[nz]
    return out


def factor(name: str, x):
    """Q(x) of the named correction (see the module table)."""
    _check(name)
    x = np.asarray(x, dtype=float)
    if name == "none":
        return np.ones_like(x)
    if name == "harmonic":
        return 1.0 / _one_minus_exp_over_x(x)
    if name == "standard":
        return 2.0 / (1.0 + np.exp(-x))
    return np.exp(0.5 * x)


def absorption_factor(name: str, x):
    """F(x) = Q(x) (1 - exp(-x)) / x: what multiplies the classical IR expression beta w^2/(6 V c eps0) C_cl.

    none: (1 - e^-x)/x; harmonic: 1; standard: 2 tanh(x/2)/x; schofield: 2 sinh(x/2)/x.
    """
    _check(name)
    x = np.asarray(x, dtype=float)
    if name == "harmonic":
        return np.ones_like(x)
    return factor(name, x) * _one_minus_exp_over_x(x)


def describe(name: str) -> str:
    _check(name)
    return f"{name}: {FORMULAS[name]}, x = h c nu / (k_B T)"
