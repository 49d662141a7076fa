"""IR absorption spectra from the dipole autocorrelation or from APT-weighted velocities.

APTNN seed (aptnn-atomic-polar-tensor), with the QCF written out (:mod:`.qcf`):

* eq. 1 (dipole route)::

      n(w) alpha(w) = beta w^2 / (6 V c eps0) * F(x) * int <M(0).M(t)> exp(-i w t) dt

  (the seed's pi beta w^2/(3 V c eps0 n) (1/2 pi) int ..., multiplied by n);
  F(x) = Q(x)(1 - exp(-x))/x is 1 for the harmonic QCF, which makes this exactly eq. 1.
* eq. 2 (dipole-derivative route): the same with w^2 <M(0).M(t)>^ replaced by
  <dM/dt(0) . dM/dt(t)>^ (the transform of -d^2C/dt^2 is w^2 C^).
* eqs. 3-5: dM_a/dt = sum_i sum_b P_i[a, b] v_ib with the atomic polar tensor
  P_i[a, b] = dM_a / dr_ib (tensorml's ``apt[i, a, b]``, unit e):
  :func:`dipole_derivative`, :func:`atomic_dipole_derivatives`.

Intensity units (``unit``):

``cm-1``      n alpha(nu~) in cm^-1: Beer-Lambert (Napierian) absorption coefficient times
              refractive index of the periodic box of volume V (needs V and T).
``km/mol``    molar absorption cross section sigma(nu~) = n alpha V N_A / N_mol, as a density
              in km mol^-1 per cm^-1: its integral over a band is the band's integrated
              absorption in km/mol (the quantum-chemistry convention, 1 (D/A)^2/amu =
              42.2561 km/mol for a harmonic mode); V cancels, so molecules need no volume.
``K*km/mol``  the TRAVIS convention: T * sigma(nu~), in K km mol^-1 per cm^-1 (TRAVIS writes
              "K*cm*km*mol^-1", integral "K*km*mol^-1").  With the harmonic QCF it needs no
              temperature: it is N_A/(6 eps0 c k_B N_mol) * <dM/dt . dM/dt>^(w).
``arb``       sigma(nu~) scaled to a maximum of 1 over the output range.

For one harmonic normal mode Q (mass weighted) with dipole derivative dM/dQ, the classical
correlation at temperature T gives, with the harmonic QCF, int_band n alpha d nu~ =
|dM/dQ|^2 / (12 V eps0 c^2), i.e. int_band sigma d nu~ = N_A |dM/dQ|^2 / (12 eps0 c^2), for any T
and frequency: the textbook IR intensity (tests/test_spectra_ir.py checks both).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..units import (
    AVOGADRO,
    BOLTZMANN_SI,
    CM1_TO_RAD_PER_FS,
    ELEMENTARY_CHARGE_SI,
    EPSILON0_SI,
    SPEED_OF_LIGHT_SI,
)
from . import qcf as qcf_mod
from .blocks import blockwise_spectra, mean_and_error
from .correlate import auto_correlations, correlation, cross_correlations
from .settings import SpectralSettings
from .spectrum import Spectrum

IR_UNITS = {"cm-1": "cm^-1", "km/mol": "km/mol/cm^-1", "K*km/mol": "K*km/mol/cm^-1", "arb": "arb. units"}
ROUTES = ("dipole", "dmdt")

#: (e*angstrom/fs)^2 * fs  ->  C^2 m^2 / s
_DMDT_SPECTRUM_TO_SI = (ELEMENTARY_CHARGE_SI * 1.0e-10) ** 2 / 1.0e-15


def dipole_derivative(apt, velocities) -> np.ndarray:
    """dM/dt (eq. 4): sum_i apt[i] . v_i for apt (..., N, 3, 3) and velocities (..., N, 3) -> (..., 3).

    Units: apt in e and v in angstrom/fs give e*angstrom/fs.
    """
    return np.einsum("...iab,...ib->...a", apt, velocities)


def atomic_dipole_derivatives(apt, velocities) -> np.ndarray:
    """Per-atom terms apt[i] . v_i of eq. 4: (..., N, 3, 3), (..., N, 3) -> (..., N, 3)."""
    return np.einsum("...iab,...ib->...ia", apt, velocities)


def bec_to_apt(bec) -> np.ndarray:
    """i-PI BEC (..., 3N, 3), row 3i+a = d/dR_ia, column b = dipole component, -> apt (..., N, 3, 3).

    apt[i, b, a] = dM_b / dR_ia = BEC[3i + a, b].
    """
    bec = np.asarray(bec, dtype=float)
    if bec.shape[-1] != 3 or bec.shape[-2] % 3:
        raise ValueError(f"BEC must have shape (..., 3N, 3), got {bec.shape}")
    n = bec.shape[-2] // 3
    return np.swapaxes(bec.reshape(bec.shape[:-2] + (n, 3, 3)), -1, -2)


def ir_intensity(
    omega,
    s,
    route: str,
    settings: SpectralSettings,
    unit: str = "cm-1",
    volume: float | None = None,
    n_molecules: float = 1.0,
) -> np.ndarray:
    """Turn windowed correlation spectra into IR intensities (see the module docstring).

    omega: rad/fs.  s: spectra of <M.M> ((e A)^2 fs, route 'dipole') or of <dM/dt . dM/dt>
    ((e A/fs)^2 fs, route 'dmdt'), any leading shape.  volume: angstrom^3 (unit 'cm-1').
    """
    if route not in ROUTES:
        raise ValueError(f"unknown IR route {route!r}; known: {', '.join(ROUTES)}")
    if unit not in IR_UNITS:
        raise ValueError(f"unknown IR unit {unit!r}; known: {', '.join(IR_UNITS)}")
    omega = np.asarray(omega, dtype=float)
    y = s * omega**2 if route == "dipole" else np.asarray(s, dtype=float)
    T = settings.temperature
    needs_T = unit in ("cm-1", "km/mol") or settings.qcf != "harmonic"
    if needs_T and T is None:
        raise ValueError(f"IR intensities in {unit} with the {settings.qcf} QCF need the temperature")
    if settings.qcf == "harmonic":
        F = 1.0
    else:
        F = qcf_mod.absorption_factor(settings.qcf, qcf_mod.reduced_frequency(omega / CM1_TO_RAD_PER_FS, T))
    # J m^2 (times beta -> m^2): y / (6 c eps0) in SI
    core = F * y * _DMDT_SPECTRUM_TO_SI / (6.0 * SPEED_OF_LIGHT_SI * EPSILON0_SI)
    if unit == "cm-1":
        if not (volume and volume > 0):
            raise ValueError("IR in cm^-1 (n alpha of a periodic box) needs the box volume")
        return core / (BOLTZMANN_SI * T) / (volume * 1.0e-30) * 1.0e-2
    if not n_molecules > 0:
        raise ValueError(f"number of molecules must be positive (got {n_molecules})")
    # m^2/mol -> km mol^-1 (cm^-1)^-1: 1 m^2/mol = 0.1 km cm / mol
    sigma_over_beta = core * AVOGADRO / n_molecules * 0.1
    if unit == "K*km/mol":
        return sigma_over_beta / BOLTZMANN_SI
    if unit == "km/mol":
        return sigma_over_beta / (BOLTZMANN_SI * T)
    return sigma_over_beta  # 'arb': scaled later


def _sanitize(name) -> str:
    return str(name).strip().replace(" ", "_") or "unnamed"


def ir_spectrum(
    runs: Sequence[Mapping[str, np.ndarray]],
    settings: SpectralSettings,
    route: str = "dipole",
    unit: str = "cm-1",
    volume: float | None = None,
    n_molecules: float = 1.0,
    part_names: Sequence[str] | None = None,
    auto_cross: bool = False,
    meta: Mapping[str, str] | None = None,
) -> Spectrum:
    """IR spectrum of one or more runs.

    Each run is a dict with

    * ``"series"``: the dipole M (T, 3) in e*angstrom (route 'dipole') or dM/dt (T, 3) in
      e*angstrom/fs (route 'dmdt'); or, for a decomposition, the parts (T, G, 3) whose sum over
      G is M or dM/dt (e.g. APT.v summed per element, group or molecule, eq. 4);
    * optionally ``"molecules"``: dM/dt per molecule (T, Nmol, 3), adding the columns
      ``intra`` (sum of the molecular autocorrelations) and ``inter`` (total - intra).

    Columns: ``total``; with parts, one column per part (its correlation with the total,
    <p_g . total>, so parts sum exactly to the total) and, with ``auto_cross``, ``<g>_auto``
    (<p_g . p_g>) and ``<g>_cross`` (the rest).  Frames are ``settings.dt_fs`` apart.
    """
    if route not in ROUTES:
        raise ValueError(f"unknown IR route {route!r}; known: {', '.join(ROUTES)}")
    first = np.asarray(runs[0]["series"]) if runs else None
    has_parts = first is not None and first.ndim == 3
    if has_parts:
        G = first.shape[1]
        names = [_sanitize(n) for n in (part_names or [f"part{g}" for g in range(G)])]
        if len(names) != G:
            raise ValueError(f"{G} parts but {len(names)} part names")
        if len(set(names)) != G or "total" in names:
            raise ValueError(f"part names must be distinct and not 'total': {names}")
    for r, run in enumerate(runs):
        x = np.asarray(run["series"])
        if x.shape[-1] != 3 or x.ndim != (3 if has_parts else 2):
            raise ValueError(f"run {r}: series of shape {x.shape}; expected (T, 3) or (T, G, 3) for all runs")

    def corr(block, max_lag):
        x = block["series"]
        out = {}
        if not has_parts:
            out["total"] = correlation(x, max_lag=max_lag)
        else:
            total = x.sum(axis=1)
            out["total"] = correlation(total, max_lag=max_lag)
            out["parts"] = cross_correlations(x, total, max_lag)
            if auto_cross:
                out["auto"] = auto_correlations(x, max_lag)
        if "molecules" in block:
            out["intra"] = auto_correlations(block["molecules"], max_lag).sum(axis=0)
        return out

    omega, spectra, max_lag = blockwise_spectra(runs, corr, settings)
    n_blocks = spectra["total"].shape[0]
    samples: dict[str, np.ndarray] = {}

    def conv(s):
        return ir_intensity(omega, s, route, settings, unit, volume, n_molecules)

    samples["total"] = conv(spectra["total"])
    if has_parts:
        parts = conv(spectra["parts"])  # (B, G, F)
        for g, n in enumerate(names):
            samples[n] = parts[:, g]
        if auto_cross:
            auto = conv(spectra["auto"])
            for g, n in enumerate(names):
                samples[n + "_auto"] = auto[:, g]
                samples[n + "_cross"] = parts[:, g] - auto[:, g]
    if "intra" in spectra:
        samples["intra"] = conv(spectra["intra"])
        samples["inter"] = samples["total"] - samples["intra"]

    wn = omega / CM1_TO_RAD_PER_FS
    keep = wn <= (settings.max_wavenumber if settings.max_wavenumber is not None else np.inf)
    if unit == "arb" and np.any(keep & (wn > 0)):  # (a series too short for any point above 0 stays unscaled)
        top = np.max(np.abs(samples["total"].mean(axis=0)[keep & (wn > 0)]))
        if top > 0:
            samples = {k: v / top for k, v in samples.items()}
    columns, errors = {}, {}
    for k, v in samples.items():
        columns[k], errors[k] = mean_and_error(v[:, keep])

    header = {
        "quantity": (
            "n(w) alpha(w): Beer-Lambert absorption coefficient times refractive index"
            if unit == "cm-1"
            else "sigma(w) = n alpha V N_A / N_mol: molar absorption cross section (Napierian)"
            + ("; TRAVIS convention, times T" if unit == "K*km/mol" else "")
            + ("; arbitrary units (max = 1)" if unit == "arb" else "")
        ),
        "formula": (
            "n alpha = beta w^2/(6 V c eps0) F(x) int <M(0).M(t)> exp(-iwt) dt (APTNN seed eq. 1)"
            if route == "dipole"
            else "n alpha = beta/(6 V c eps0) F(x) int <dM/dt(0).dM/dt(t)> exp(-iwt) dt (APTNN seed eqs. 2-4)"
        ),
        "route": ("dipole autocorrelation" if route == "dipole" else "dipole-derivative autocorrelation"),
        "qcf": qcf_mod.describe(settings.qcf) + "; F(x) = Q(x)(1-exp(-x))/x",
        "temperature": f"{settings.temperature:g} K" if settings.temperature else "not given",
    }
    if unit == "cm-1":
        header["volume"] = f"{volume:.10g} angstrom^3"
    else:
        header["molecules"] = f"{n_molecules:g} (intensities per mole of these)"
    header.update(settings.header(max_lag, n_blocks))
    if has_parts:
        header["decomposition"] = "each part: symmetrised <p_g(0).total(t)>, the parts sum exactly to the total" + (
            "; _auto: <p_g(0).p_g(t)>, _cross: the rest" if auto_cross else ""
        )
    if "intra" in spectra:
        header["intra/inter"] = "intra: sum over molecules of <m(0).m(t)>; inter: total - intra"
    header.update(meta or {})
    return Spectrum(
        "ir", wn[keep], columns, errors, IR_UNITS[unit], density=unit in ("km/mol", "K*km/mol"), meta=header
    )
