"""Vibrational density of states from mass-weighted velocity autocorrelations.

    g(nu~) = 2 c / (k_B T) * sum_i m_i S_i(w),   S_i(w) = int <v_i(0).v_i(t)> w(t) exp(-iwt) dt,

a one-sided density per cm^-1 (nu~ >= 0) normalised so that int_0^inf g d nu~ = 3N classically
(sum_i m_i <v_i^2> = 3 N k_B T).  k_B T is the given temperature, or, when none is given, the
kinetic temperature of each block, sum_i m_i C_i(0) / (3N), which makes the integral exactly 3N
(the header says which).  Parts (elements, types, groups) sum exactly to the total.
For path-integral data use centroid (bead-averaged) velocities: the bead average of a velocity
is the centroid velocity, so the TRPMD and centroid estimators coincide here.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..units import AMU_A2_PER_FS2_IN_EV, BOLTZMANN_EV, CM1_TO_RAD_PER_FS, SPEED_OF_LIGHT_CM_PER_FS
from .blocks import blockwise_spectra, mean_and_error
from .correlate import auto_correlations
from .settings import SpectralSettings
from .spectrum import Spectrum


def vdos_spectrum(
    runs: Sequence[Mapping[str, np.ndarray]],
    masses,
    settings: SpectralSettings,
    part_index=None,
    part_names: Sequence[str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> Spectrum:
    """VDOS of runs with ``"velocities"`` (T, N, 3) in angstrom/fs; masses (N,) in amu.

    part_index (N,) ints in 0..G-1 with part_names (G): extra columns, one per part.
    """
    masses = np.asarray(masses, dtype=float)
    if masses.ndim != 1 or np.any(masses <= 0):
        raise ValueError("masses must be a positive 1D array (amu)")
    for r, run in enumerate(runs):
        v = np.asarray(run["velocities"])
        if v.ndim != 3 or v.shape[1:] != (masses.size, 3):
            raise ValueError(f"run {r}: velocities of shape {v.shape}, expected (T, {masses.size}, 3)")
    if part_index is not None:
        part_index = np.asarray(part_index, dtype=int)
        G = int(part_index.max()) + 1
        names = list(part_names or [f"part{g}" for g in range(G)])
        if part_index.shape != masses.shape or len(names) != G:
            raise ValueError("part_index must give a part for every atom, and part_names one name per part")
    n_dof = 3 * masses.size
    T = settings.temperature

    def corr(block, max_lag):
        c = auto_correlations(block["velocities"], max_lag) * masses[:, None]  # amu A^2/fs^2
        kT = BOLTZMANN_EV * T if T else c[:, 0].sum() * AMU_A2_PER_FS2_IN_EV / n_dof
        c = c * (AMU_A2_PER_FS2_IN_EV / kT)  # 1/fs^0: dimensionless per DOF
        out = {"total": c.sum(axis=0)}
        if part_index is not None:
            out["parts"] = np.stack([c[part_index == g].sum(axis=0) for g in range(G)])
        return out

    omega, spectra, max_lag = blockwise_spectra(runs, corr, settings)
    wn = omega / CM1_TO_RAD_PER_FS
    keep = wn <= (settings.max_wavenumber if settings.max_wavenumber is not None else np.inf)
    scale = 2.0 * SPEED_OF_LIGHT_CM_PER_FS
    samples = {"total": scale * spectra["total"][:, keep]}
    if part_index is not None:
        for g, n in enumerate(names):
            samples[str(n).replace(" ", "_")] = scale * spectra["parts"][:, g, keep]
    columns, errors = {}, {}
    for k, v in samples.items():
        columns[k], errors[k] = mean_and_error(v)
    header = {
        "quantity": "vibrational density of states g = 2 c/(k_B T) sum_i m_i int <v_i(0).v_i(t)> exp(-iwt) dt; "
        "int_0^inf g d nu = 3N",
        "temperature": (f"{T:g} K (given)" if T else "kinetic temperature of each block, sum m <v^2>/(3 N k_B)"),
        "atoms": str(masses.size),
    }
    header.update(settings.header(max_lag, spectra["total"].shape[0]))
    header.update(meta or {})
    return Spectrum("vdos", wn[keep], columns, errors, "1/cm^-1", density=True, meta=header)
