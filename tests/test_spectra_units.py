"""Unit conversions appended to tensorml.units for the spectra (values: ase.units, CODATA 2014)."""

import math

import pytest

from tensorml import units as U


def test_time_units():
    # atomic unit of time hbar/E_h = 2.418884326...e-17 s (CODATA 2014)
    assert U.AU_TIME_FS == pytest.approx(0.02418884326, rel=1e-9)
    assert U.time_factor("ps", "fs") == 1000.0
    assert U.time_factor("fs", "ps") == pytest.approx(1e-3)
    assert U.time_factor("au", "fs") == U.AU_TIME_FS
    assert U.time_factor("s", "ps") == pytest.approx(1e12)
    with pytest.raises(ValueError, match="unknown time unit"):
        U.time_factor("minute")


def test_lammps_time_units():
    # timestep units: metal ps, real fs, electron fs
    assert U.LAMMPS_TIME_UNIT_FS == {"metal": 1000.0, "real": 1.0, "electron": 1.0}
    # velocities: metal angstrom/ps, real angstrom/fs, electron bohr/fs (what LAMMPS integrates with,
    # x += dt v; checked against real LAMMPS output in test_spectra_lammps.py)
    assert U.LAMMPS_VELOCITY_TIME_UNIT_FS == {"metal": 1000.0, "real": 1.0, "electron": 1.0}
    assert U.LAMMPS_UNIT_SYSTEMS["electron"].length == "bohr"


def test_wavenumber_conversions():
    # 1 cm^-1 = c * 100 1/m = 29.9792458 GHz; h c = 0.12398419 meV cm
    assert U.CM1_TO_THZ == pytest.approx(0.0299792458, rel=1e-12)
    assert U.CM1_TO_MEV == pytest.approx(0.1239841974, rel=1e-8)
    assert U.frequency_factor("THz", "cm-1") == pytest.approx(33.35640952, rel=1e-9)
    assert U.frequency_factor("meV", "cm-1") == pytest.approx(8.065544, rel=1e-6)
    assert U.frequency_factor("meV", "THz") == pytest.approx(0.2417989, rel=1e-6)
    # omega = 2 pi c nu~: 1000 cm^-1 -> 0.1883652 rad/fs (period 33.356 fs)
    w = U.wavenumber_to_angular_frequency(1000.0)
    assert w == pytest.approx(0.18836515673, rel=1e-9)
    assert 2 * math.pi / w == pytest.approx(33.35640952, rel=1e-9)
    assert U.angular_frequency_to_wavenumber(w) == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="unknown frequency unit"):
        U.frequency_factor("GHz")


def test_thermal_and_mechanical():
    # k_B / (h c) = 0.6950346 cm^-1/K: k_B T at 300 K is 208.51 cm^-1
    assert U.BOLTZMANN_CM1_PER_K == pytest.approx(0.6950346, rel=1e-6)
    assert U.BOLTZMANN_EV == pytest.approx(8.6173303e-5, rel=1e-7)
    # 1 amu * (1 angstrom/fs)^2 = 1.66054e-27 kg * 1e10 m^2/s^2 = 1.66054e-17 J = 103.6427 eV
    assert U.AMU_A2_PER_FS2_IN_EV == pytest.approx(103.6427, rel=1e-6)
    assert U.SPEED_OF_LIGHT_CM_PER_FS == pytest.approx(2.99792458e-5, rel=1e-12)


def test_ir_intensity_unit_km_per_mol():
    """1 (D/angstrom)^2/amu of dipole derivative is 42.2561 km/mol: N_A/(12 eps0 c^2) |dM/dQ|^2."""
    debye = 1e-21 / U.SPEED_OF_LIGHT_SI  # C m
    value = U.AVOGADRO * (debye / 1e-10) ** 2 / U.AMU_SI / (12 * U.EPSILON0_SI * U.SPEED_OF_LIGHT_SI**2) / 1e3
    assert value == pytest.approx(42.2561, rel=2e-5)
    from tensorml.spectra.analytic import harmonic_band_intensity

    d_e_per_sqrt_amu = debye / 1e-10 / U.ELEMENTARY_CHARGE_SI  # (D/angstrom) in e
    assert harmonic_band_intensity(d_e_per_sqrt_amu) == pytest.approx(value, rel=1e-12)


def test_travis_k_km_per_mol_convention():
    """TRAVIS writes its IR spectrum in K*cm*km/mol as 3047.2310 * dt * FT[<dmu/dt(0) dmu/dt(t)>] with dmu/dt in
    Debye/fs and dt in fs: the same number as our 'K*km/mol' density for the same correlation spectrum."""
    import numpy as np

    from tensorml.spectra.ir import ir_intensity
    from tensorml.spectra.settings import SpectralSettings

    debye_in_e_angstrom = 1e-21 / U.SPEED_OF_LIGHT_SI / (U.ELEMENTARY_CHARGE_SI * 1e-10)
    # a spectral density of 1 (e*angstrom/fs)^2 fs = 1/debye_in_e_angstrom^2 (D/fs)^2 fs
    ours = ir_intensity(np.array([0.1]), np.array([1.0]), "dmdt", SpectralSettings(dt_fs=1.0), unit="K*km/mol")
    assert ours[0] == pytest.approx(3047.2310 / debye_in_e_angstrom**2, rel=1e-5)
    assert debye_in_e_angstrom == pytest.approx(0.20819434, rel=1e-7)
