"""Raman spectra from the polarizability autocorrelation (isotropic, anisotropic, polarised).

The polarizability (volume) tensor alpha(t) (angstrom^3; i.e. alpha/(4 pi eps0)) is split into

* isotropic  a(t) = tr alpha / 3,
* anisotropic beta(t) = alpha_sym - a 1 (the traceless symmetric, "2e", part),

with correlations C_iso(t) = <a(0) a(t)> and C_aniso(t) = (3/2) <beta(0) : beta(t)> (so that
C_aniso(0) is the mean squared anisotropy gamma^2).  For an isotropic sample the
orientationally averaged scattering (laser polarised, 90 degree geometry) is

    parallel      I_par  = iso + 4/45 aniso
    perpendicular I_perp = aniso / 15
    unpolarised   I_unp  = iso + 7/45 aniso  (= I_par + I_perp)
    depolarisation ratio  rho = I_perp / I_par.

The antisymmetric part of alpha (zero for a symmetric model) is dropped; its largest size
relative to |alpha| is written in the header.

Intensities (``scale``), with x = h c nu~/(k_B T), Q the QCF and S the windowed spectrum of a
correlation (:mod:`.correlate`, S(w) = int C(t) w(t) exp(-iwt) dt):

``lineshape``      I(nu~) = c Q(x) S(w), angstrom^6 per cm^-1: the quantum-corrected spectral
                   density of the polarizability fluctuations (int over all nu~ of c S = C(0)).
``reduced``        R(nu~) = nu~ (1 - exp(-x)) I(nu~), angstrom^6: the Bose-factor-free
                   ("reduced") spectrum.
``cross-section``  d^2 sigma / (d Omega d nu~) = (2 pi (nu_L - nu~))^4 I(nu~), in cm^2 sr^-1 per
                   cm^-1, per box (or per molecule with ``n_molecules``); nu_L the laser
                   wavenumber.  This is Placzek's k_s^4 <|e_s.alpha.e_i|^2> with the Stokes
                   quantum correlation.  With the harmonic QCF it equals
                   (2 pi)^4 (h c / k_B T) (nu_L - nu~)^4 / [nu~ (1 - exp(-h c nu~/k_B T))] * nu~^2 c S(w),
                   i.e. the (nu_L - nu)^4 / [nu (1 - exp(-h c nu/kT))] prefactor applied to the
                   spectrum of d alpha/dt (nu~^2 S).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..units import CM1_TO_RAD_PER_FS, SPEED_OF_LIGHT_CM_PER_FS
from . import qcf as qcf_mod
from .blocks import blockwise_spectra, mean_and_error
from .correlate import correlation
from .settings import SpectralSettings
from .spectrum import Spectrum

SCALES = {"lineshape": "angstrom^6/cm^-1", "reduced": "angstrom^6", "cross-section": "cm^2/sr/cm^-1"}
#: (cm^-1)^4 * angstrom^6 / cm^-1  ->  cm^2 / cm^-1
_CROSS_SECTION_FACTOR = 1.0e-48


def as_tensor(alpha) -> np.ndarray:
    """Polarizability series as (T, 3, 3) from (T, 3, 3) or row-major (T, 9)."""
    alpha = np.asarray(alpha, dtype=float)
    if alpha.ndim == 2 and alpha.shape[1] == 9:
        alpha = alpha.reshape(-1, 3, 3)
    if alpha.ndim != 3 or alpha.shape[1:] != (3, 3):
        raise ValueError(f"polarizability must have shape (T, 3, 3) or (T, 9), got {alpha.shape}")
    return alpha


def isotropic_anisotropic(alpha) -> tuple[np.ndarray, np.ndarray]:
    """(a (T,), beta (T, 3, 3)): trace/3 and the traceless symmetric part of alpha."""
    alpha = as_tensor(alpha)
    sym = 0.5 * (alpha + np.swapaxes(alpha, 1, 2))
    a = np.trace(sym, axis1=1, axis2=2) / 3.0
    beta = sym - a[:, None, None] * np.eye(3)
    return a, beta


def asymmetry(alpha) -> float:
    """max_t |alpha - alpha^T| / |alpha| (Frobenius norms)."""
    alpha = as_tensor(alpha)
    anti = np.linalg.norm(alpha - np.swapaxes(alpha, 1, 2), axis=(1, 2))
    norm = np.linalg.norm(alpha, axis=(1, 2))
    return float(np.max(anti / np.where(norm > 0, norm, 1.0)))


def combine(iso, aniso) -> dict[str, np.ndarray]:
    """Polarised combinations of isotropic and anisotropic spectra (module docstring)."""
    par = iso + 4.0 / 45.0 * aniso
    perp = aniso / 15.0
    return {
        "unpolarized": iso + 7.0 / 45.0 * aniso,
        "parallel": par,
        "perpendicular": perp,
        "isotropic": iso,
        "anisotropic": aniso,
    }


def raman_intensity(
    wavenumber,
    s,
    settings: SpectralSettings,
    scale: str = "lineshape",
    laser_cm1: float | None = None,
    n_molecules: float = 1.0,
) -> np.ndarray:
    """Intensities from windowed spectra s (angstrom^6 fs) on ``wavenumber`` (cm^-1); see the docstring."""
    if scale not in SCALES:
        raise ValueError(f"unknown Raman scale {scale!r}; known: {', '.join(SCALES)}")
    wn = np.asarray(wavenumber, dtype=float)
    T = settings.temperature
    if (settings.qcf != "none" or scale == "reduced") and T is None:
        raise ValueError(f"Raman spectra with the {settings.qcf} QCF or the reduced scale need the temperature")
    Q = qcf_mod.factor(settings.qcf, qcf_mod.reduced_frequency(wn, T)) if settings.qcf != "none" else 1.0
    line = SPEED_OF_LIGHT_CM_PER_FS * Q * np.asarray(s, dtype=float) / n_molecules
    if scale == "lineshape":
        return line
    if scale == "reduced":
        return wn * -np.expm1(-qcf_mod.reduced_frequency(wn, T)) * line
    if laser_cm1 is None or not laser_cm1 > 0:
        raise ValueError("the Raman cross section needs the laser wavenumber (cm^-1)")
    return (2.0 * np.pi * (laser_cm1 - wn)) ** 4 * line * _CROSS_SECTION_FACTOR


def raman_spectrum(
    runs: Sequence[Mapping[str, np.ndarray]],
    settings: SpectralSettings,
    scale: str = "lineshape",
    laser_cm1: float | None = None,
    n_molecules: float = 1.0,
    meta: Mapping[str, str] | None = None,
) -> Spectrum:
    """Raman spectra of runs with ``"polarizability"`` (T, 3, 3) or (T, 9) in angstrom^3.

    Columns: unpolarized (first: the total), parallel, perpendicular, isotropic, anisotropic and
    depolarization_ratio (perpendicular / parallel of the block means; error propagated from blocks).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown Raman scale {scale!r}; known: {', '.join(SCALES)}")
    runs = [{"polarizability": as_tensor(r["polarizability"])} for r in runs]
    asym = max(asymmetry(r["polarizability"]) for r in runs)

    def corr(block, max_lag):
        a, beta = isotropic_anisotropic(block["polarizability"])
        return {
            "iso": correlation(a, max_lag=max_lag),
            "aniso": 1.5 * correlation(beta.reshape(len(beta), 9), max_lag=max_lag),
        }

    omega, spectra, max_lag = blockwise_spectra(runs, corr, settings)
    wn = omega / CM1_TO_RAD_PER_FS
    keep = wn <= (settings.max_wavenumber if settings.max_wavenumber is not None else np.inf)
    conv = {k: raman_intensity(wn, v, settings, scale, laser_cm1, n_molecules)[:, keep] for k, v in spectra.items()}
    samples = combine(conv["iso"], conv["aniso"])
    columns, errors = {}, {}
    for k, v in samples.items():
        columns[k], errors[k] = mean_and_error(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = columns["perpendicular"] / columns["parallel"]
        if samples["parallel"].shape[0] > 1:
            rel = np.hypot(errors["perpendicular"] / columns["perpendicular"], errors["parallel"] / columns["parallel"])
            ratio_err = np.abs(ratio) * rel
        else:
            ratio_err = np.full_like(ratio, np.nan)
    columns["depolarization_ratio"], errors["depolarization_ratio"] = ratio, ratio_err

    header = {
        "quantity": {
            "lineshape": "quantum-corrected polarizability spectral density c Q(x) S(w)",
            "reduced": "reduced Raman spectrum nu (1-exp(-x)) c Q(x) S(w)",
            "cross-section": "differential Raman cross section (2 pi (nu_L - nu))^4 c Q(x) S(w)",
        }[scale],
        "components": "iso = <a(0)a(t)>, a = tr(alpha)/3; aniso = 3/2 <beta(0):beta(t)>, beta traceless symmetric; "
        "parallel = iso + 4/45 aniso; perpendicular = aniso/15; unpolarized = iso + 7/45 aniso; "
        "depolarization_ratio = perpendicular/parallel",
        "qcf": qcf_mod.describe(settings.qcf),
        "temperature": f"{settings.temperature:g} K" if settings.temperature else "not given",
        "laser": f"{laser_cm1:g} cm^-1" if laser_cm1 else "not given",
        "molecules": f"{n_molecules:g} (intensities divided by this)",
        "polarizability asymmetry": f"max |alpha - alpha^T|/|alpha| = {asym:.3g} (antisymmetric part dropped)",
    }
    header.update(settings.header(max_lag, spectra["iso"].shape[0]))
    header.update(meta or {})
    return Spectrum(
        "raman",
        wn[keep],
        columns,
        errors,
        SCALES[scale],
        density=scale != "reduced",
        meta=header,
        ratios=("depolarization_ratio",),
    )
