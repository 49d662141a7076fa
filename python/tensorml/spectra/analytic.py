"""Model systems with spectra known in closed form (for tests, examples and sanity checks).

* :func:`harmonic_trajectory`: independent 1D harmonic oscillators (e.g. each Cartesian
  coordinate of each atom), each with energy exactly k_B T, u(t) = A cos(w t + phi) with
  A^2 = 2 k_B T / (m w^2): its time-averaged correlation is the canonical classical one,
  <u(0) u(t)> = k_B T/(m w^2) cos(w t).
* :func:`harmonic_band_intensity`: the IR intensity of a harmonic mode with dipole derivative
  dM/dQ (Q mass weighted): int_band sigma d nu~ = N_A |dM/dQ|^2 / (12 eps0 c^2) (km/mol) and
  int_band n alpha d nu~ = |dM/dQ|^2 / (12 V eps0 c^2) (cm^-2), independent of T and omega.
  (Derivation: C(t) = |dM/dQ|^2 k_B T/w0^2 cos(w0 t), whose transform is
  |dM/dQ|^2 k_B T/w0^2 pi [delta(w - w0) + delta(w + w0)]; with n alpha = beta w^2/(6 V c eps0) C^(w)
  and d nu~ = d w / (2 pi c), the positive-frequency band integrates to |dM/dQ|^2/(12 V eps0 c^2).)
* :func:`rigid_rotors`: free linear rotors (dipole mu along the axis) at temperature T, with angular
  speeds at the quantiles of the 2D Maxwell distribution P(w) = (I w/k_B T) exp(-I w^2/(2 k_B T)); the
  classical dipole spectrum is then mu^2 pi P(|w|) per rotor, and the IR envelope n alpha ~ w^3
  exp(-I w^2/(2 k_B T)) (:func:`rotor_envelope_cdf`).

Units: frequencies cm^-1, masses amu, time fs, lengths angstrom, charges e, T in K.
"""

from __future__ import annotations

import numpy as np

from ..units import (
    AMU_A2_PER_FS2_IN_EV,
    AMU_SI,
    AVOGADRO,
    BOLTZMANN_EV,
    CM1_TO_RAD_PER_FS,
    ELEMENTARY_CHARGE_SI,
    EPSILON0_SI,
    SPEED_OF_LIGHT_SI,
)


def kT_amu_A2_fs2(temperature: float) -> float:
    """k_B T in amu angstrom^2 / fs^2."""
    return BOLTZMANN_EV * temperature / AMU_A2_PER_FS2_IN_EV


def harmonic_trajectory(wavenumbers, masses, temperature: float, dt_fs: float, n_frames: int, seed: int = 0):
    """Displacements u (T, K) and velocities (T, K) of K oscillators (angstrom, angstrom/fs), energy k_B T each."""
    w = np.asarray(wavenumbers, dtype=float) * CM1_TO_RAD_PER_FS
    m = np.broadcast_to(np.asarray(masses, dtype=float), w.shape)
    amp = np.sqrt(2.0 * kT_amu_A2_fs2(temperature) / m) / w
    phase = np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, w.shape)
    t = np.arange(n_frames)[:, None] * dt_fs
    arg = w * t + phase
    return amp * np.cos(arg), -amp * w * np.sin(arg)


def harmonic_band_intensity(dMdQ_e_per_sqrt_amu, volume_A3: float | None = None) -> float:
    """Band integral of a harmonic mode: km/mol (volume None) or cm^-2 (n alpha of a box of volume_A3)."""
    d2 = (np.asarray(dMdQ_e_per_sqrt_amu, dtype=float) ** 2).sum() * ELEMENTARY_CHARGE_SI**2 / AMU_SI  # C^2/kg
    base = d2 / (12.0 * EPSILON0_SI * SPEED_OF_LIGHT_SI**2)  # m (x N_A / mol) or m^-2 after / V
    if volume_A3 is None:
        return base * AVOGADRO * 1.0e-3
    return base / (volume_A3 * 1.0e-30) * 1.0e-4


def rigid_rotors(
    n_rotors: int,
    inertia_amu_A2: float,
    temperature: float,
    dt_fs: float,
    n_frames: int,
    mu: float = 1.0,
    seed: int = 0,
):
    """Unit dipoles times mu of n free linear rotors: array (T, n, 3) (e*angstrom), and their speeds (rad/fs)."""
    kT = kT_amu_A2_fs2(temperature)
    q = (np.arange(n_rotors) + 0.5) / n_rotors
    speeds = np.sqrt(-2.0 * kT / inertia_amu_A2 * np.log1p(-q))  # inverse CDF of the 2D Maxwell law
    rng = np.random.default_rng(seed)
    e1 = rng.normal(size=(n_rotors, 3))
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(e1, rng.normal(size=(n_rotors, 3)))
    e2 /= np.linalg.norm(e2, axis=1, keepdims=True)
    phase = rng.uniform(0.0, 2.0 * np.pi, n_rotors)
    t = np.arange(n_frames)[:, None] * dt_fs
    arg = (speeds * t + phase)[..., None]
    return mu * (np.cos(arg) * e1 + np.sin(arg) * e2), speeds


def rotor_envelope_cdf(wavenumber, inertia_amu_A2: float, temperature: float):
    """Cumulative fraction of the classical rigid-rotor IR band (n alpha ~ w^3 exp(-a w^2)) below nu~.

    With a = I/(2 k_B T) and s = a w^2: int_0^w w'^3 exp(-a w'^2) dw' / (1/(2 a^2)) = 1 - (1 + s) exp(-s).
    """
    a = inertia_amu_A2 / (2.0 * kT_amu_A2_fs2(temperature))
    s = a * (np.asarray(wavenumber, dtype=float) * CM1_TO_RAD_PER_FS) ** 2
    return 1.0 - (1.0 + s) * np.exp(-s)
