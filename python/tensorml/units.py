"""Every unit tensorml knows, and every conversion between them, in one table.

A quantity's unit is fixed by its *dimension*: exponents of the four base
units length, energy, charge and time.  A unit system names one unit for each base:

=========  ============================  ==============================================
system     (length, energy, charge, time)
=========  ============================  ==============================================
METAL      angstrom, eV, e, fs           the default of tensorml models (LAMMPS ``units
                                         metal`` has the same length, energy, charge but ps)
REAL       angstrom, kcal/mol, e, fs     LAMMPS ``units real``
ATOMIC     bohr, hartree, e, au          i-PI's internal units (au of time: hbar/E_h)
=========  ============================  ==============================================

:data:`LAMMPS_UNIT_SYSTEMS` holds the unit systems of the LAMMPS unit styles
(metal: ps; electron: bohr, hartree, e, fs).  Time enters only through
velocities and the outputs made from them (dM/dt: e*angstrom/fs in METAL).

Derived units follow from the dimension:

* force: energy / length (eV/angstrom)
* dipole: charge * length (e*angstrom)
* APT (atomic polar tensor, Born charge): charge (e)
* electric field: energy / (charge * length) (V/angstrom in metal units)
* polarizability: length^3, the "polarizability volume" alpha / (4 pi eps0)
  (angstrom^3, bohr^3 in atomic units).  The SI-like form alpha itself, in
  e^2*angstrom^2/eV, is ``alpha_volume / COULOMB_CONSTANT`` (see
  :func:`polarizability_volume_to_charge2length2_per_energy`).

Numerical values come from :mod:`ase.units` (CODATA 2014), the one source of
physical constants in tensorml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import ase.units

#: Size of one named length unit, in angstrom.
LENGTH_UNITS: dict[str, float] = {
    "angstrom": 1.0,
    "bohr": ase.units.Bohr,
    "nm": 10.0,
}
#: Size of one named energy unit, in eV.
ENERGY_UNITS: dict[str, float] = {
    "eV": 1.0,
    "hartree": ase.units.Hartree,
    "kcal/mol": ase.units.kcal / ase.units.mol,
    "kJ/mol": ase.units.kJ / ase.units.mol,
}
#: Size of one named charge unit, in elementary charges.
CHARGE_UNITS: dict[str, float] = {"e": 1.0}
#: Size of one named time unit, in femtoseconds ("au": hbar/E_h, the atomic unit of time).
TIME_UNITS: dict[str, float] = {
    "fs": 1.0,
    "ps": 1.0e3,
    "ns": 1.0e6,
    "s": 1.0e15,
    "au": ase.units._aut * 1.0e15,
}

BASES = ("length", "energy", "charge", "time")
_TABLES = {"length": LENGTH_UNITS, "energy": ENERGY_UNITS, "charge": CHARGE_UNITS, "time": TIME_UNITS}
#: The time unit of model files written before time was a base dimension (format version 1).
LEGACY_TIME_UNIT = "fs"

#: Coulomb constant 1/(4 pi eps0) in eV*angstrom/e^2 (= hartree * bohr).
COULOMB_CONSTANT = ase.units.Hartree * ase.units.Bohr


@dataclass(frozen=True)
class Dimension:
    """Exponents of (length, energy, charge, time) of a physical quantity."""

    length: int = 0
    energy: int = 0
    charge: int = 0
    time: int = 0

    def as_list(self) -> list[int]:
        return [self.length, self.energy, self.charge, self.time]

    @classmethod
    def from_list(cls, exps) -> "Dimension":
        """From 4 exponents, or 3 (length, energy, charge: files of format version 1, no time)."""
        exps = [int(e) for e in exps]
        if len(exps) not in (3, 4):
            raise ValueError(f"a dimension has 4 exponents (length, energy, charge, time), got {exps}")
        return cls(*exps)

    def __truediv__(self, other: "Dimension") -> "Dimension":
        return Dimension(*(a - b for a, b in zip(self.as_list(), other.as_list())))


# Dimensions of the quantities of the model contract.
DIMENSIONLESS = Dimension()
LENGTH = Dimension(length=1)
ENERGY = Dimension(energy=1)
CHARGE = Dimension(charge=1)
FORCE = Dimension(length=-1, energy=1)
DIPOLE = Dimension(length=1, charge=1)
POLARIZABILITY = Dimension(length=3)
EFIELD = Dimension(length=-1, energy=1, charge=-1)
TIME = Dimension(time=1)
VELOCITY = LENGTH / TIME
DIPOLE_RATE = DIPOLE / TIME  # dM/dt


@dataclass(frozen=True)
class UnitSystem:
    """One named unit for each base dimension."""

    length: str = "angstrom"
    energy: str = "eV"
    charge: str = "e"
    time: str = "fs"

    def __post_init__(self):
        for base in BASES:
            name = getattr(self, base)
            if name not in _TABLES[base]:
                known = ", ".join(_TABLES[base])
                raise ValueError(f"unknown {base} unit {name!r}; known: {known}")

    def base_factors(self) -> dict[str, float]:
        """Size of each base unit of this system in (angstrom, eV, e)."""
        return {base: _TABLES[base][getattr(self, base)] for base in BASES}

    def as_dict(self) -> dict[str, str]:
        return {base: getattr(self, base) for base in BASES}

    @classmethod
    def from_dict(cls, names: Mapping[str, str]) -> "UnitSystem":
        """From the ``units`` table of a model file; one without ``time`` (format 1) has fs."""
        names = {"time": LEGACY_TIME_UNIT, **names}
        missing = [b for b in BASES if b not in names]
        if missing:
            raise ValueError(f"unit system lacks the base unit(s) {missing}")
        return cls(**{b: names[b] for b in BASES})

    def unit_name(self, dim: Dimension) -> str:
        """Human-readable unit of a dimension, e.g. 'eV/angstrom', 'e*angstrom/fs', 'eV/(e*angstrom)'."""
        num, den = [], []
        for base in ("charge", "energy", "length", "time"):
            exp = getattr(dim, base)
            name = getattr(self, base)
            if exp:
                part = name if abs(exp) == 1 else f"{name}^{abs(exp)}"
                (num if exp > 0 else den).append(part)
        text = "*".join(num) if num else "1"
        if den:
            text += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
        return text


METAL = UnitSystem("angstrom", "eV", "e", "fs")
REAL = UnitSystem("angstrom", "kcal/mol", "e", "fs")
ATOMIC = UnitSystem("bohr", "hartree", "e", "au")


def factor(dim: Dimension, source: UnitSystem, target: UnitSystem) -> float:
    """Multiply a value of dimension ``dim`` in ``source`` units by this to get ``target`` units."""
    src, dst = source.base_factors(), target.base_factors()
    out = 1.0
    for base, exp in zip(BASES, dim.as_list()):
        out *= (src[base] / dst[base]) ** exp
    return out


def polarizability_volume_to_charge2length2_per_energy(alpha_volume_A3: float) -> float:
    """alpha/(4 pi eps0) in angstrom^3  ->  alpha in e^2*angstrom^2/eV (divide by k_e)."""
    return alpha_volume_A3 / COULOMB_CONSTANT


# =============================================================================
# Time, frequency and thermal constants (appended for tensorml.spectra).
#
# Internal units of tensorml.spectra: time fs, length angstrom, charge e,
# wavenumber cm^-1, temperature K.  SI constants keep ase's names without the
# underscore; every value below derives from ase.units (CODATA 2014).
# =============================================================================

#: SI constants (from ase.units, CODATA 2014).
SPEED_OF_LIGHT_SI = ase.units._c  # m/s
HBAR_SI = ase.units._hbar  # J*s
PLANCK_SI = ase.units._hplanck  # J*s
BOLTZMANN_SI = ase.units._k  # J/K
EPSILON0_SI = ase.units._eps0  # F/m = C^2/(J*m)
ELEMENTARY_CHARGE_SI = ase.units._e  # C
AVOGADRO = ase.units._Nav  # 1/mol
AMU_SI = ase.units._amu  # kg

#: Boltzmann constant in eV/K.
BOLTZMANN_EV = ase.units.kB

#: The atomic unit of time hbar/E_h in fs (i-PI's internal time unit).
AU_TIME_FS = TIME_UNITS["au"]

#: Speed of light in cm/fs.
SPEED_OF_LIGHT_CM_PER_FS = SPEED_OF_LIGHT_SI * 1.0e2 * 1.0e-15
#: Angular frequency (rad/fs) of 1 cm^-1: omega = 2 pi c nu~.
CM1_TO_RAD_PER_FS = 2.0 * 3.141592653589793 * SPEED_OF_LIGHT_CM_PER_FS
#: Frequency (THz) of 1 cm^-1: nu = c nu~.
CM1_TO_THZ = SPEED_OF_LIGHT_SI * 1.0e2 * 1.0e-12
#: Photon energy (meV) of 1 cm^-1: E = h c nu~.
CM1_TO_MEV = PLANCK_SI * SPEED_OF_LIGHT_SI * 1.0e2 / ELEMENTARY_CHARGE_SI * 1.0e3
#: k_B / (h c) in cm^-1/K: the wavenumber of k_B T at T = 1 K.
BOLTZMANN_CM1_PER_K = BOLTZMANN_SI / (PLANCK_SI * SPEED_OF_LIGHT_SI * 1.0e2)

#: Size of one named frequency-axis unit, in cm^-1.
FREQUENCY_UNITS: dict[str, float] = {
    "cm-1": 1.0,
    "THz": 1.0 / CM1_TO_THZ,
    "meV": 1.0 / CM1_TO_MEV,
}

#: Kinetic energy of 1 amu moving at 1 angstrom/fs, m v^2, in eV.
AMU_A2_PER_FS2_IN_EV = AMU_SI * (1.0e-10 / 1.0e-15) ** 2 / ELEMENTARY_CHARGE_SI

#: LAMMPS unit styles tensorml.spectra reads: length/energy/charge system,
#: the unit of time of ``timestep`` and of the time in velocities, in fs.
#: Velocities are length per timestep unit in all three styles: ``units electron``
#: integrates x += dt v with dt in fs, so velocities are bohr/fs (its documentation
#: names bohr per 1.03275 fs = sqrt(amu bohr^2/hartree); the positions written by
#: LAMMPS 2025 show bohr/fs, tests/test_spectra_lammps.py checks it).
LAMMPS_UNIT_SYSTEMS = {
    "metal": UnitSystem("angstrom", "eV", "e", "ps"),
    "real": REAL,
    "electron": UnitSystem("bohr", "hartree", "e", "fs"),
}
LAMMPS_TIME_UNIT_FS: dict[str, float] = {"metal": 1.0e3, "real": 1.0, "electron": 1.0}
LAMMPS_VELOCITY_TIME_UNIT_FS: dict[str, float] = {"metal": 1.0e3, "real": 1.0, "electron": 1.0}


def time_factor(source: str, target: str = "fs") -> float:
    """Multiply a time in ``source`` units (a key of :data:`TIME_UNITS`) by this to get ``target`` units."""
    for name in (source, target):
        if name not in TIME_UNITS:
            raise ValueError(f"unknown time unit {name!r}; known: {', '.join(TIME_UNITS)}")
    return TIME_UNITS[source] / TIME_UNITS[target]


def wavenumber_to_angular_frequency(wavenumber_cm1):
    """nu~ in cm^-1  ->  omega = 2 pi c nu~ in rad/fs."""
    return wavenumber_cm1 * CM1_TO_RAD_PER_FS


def angular_frequency_to_wavenumber(omega_rad_per_fs):
    """omega in rad/fs  ->  nu~ = omega / (2 pi c) in cm^-1."""
    return omega_rad_per_fs / CM1_TO_RAD_PER_FS


def frequency_factor(source: str, target: str = "cm-1") -> float:
    """Multiply a frequency in ``source`` units (cm-1, THz, meV) by this to get ``target`` units."""
    for name in (source, target):
        if name not in FREQUENCY_UNITS:
            raise ValueError(f"unknown frequency unit {name!r}; known: {', '.join(FREQUENCY_UNITS)}")
    return FREQUENCY_UNITS[source] / FREQUENCY_UNITS[target]


# ---------------------------------------------------------------------------
# Reference-data conversions (issue 3: labelling, readers of users' labels).
# Appended section: names above are unchanged.
# ---------------------------------------------------------------------------

#: One debye in e*angstrom (dipoles of Gaussian/ORCA outputs).
DEBYE = ase.units.Debye

#: One atomic unit of polarizability (bohr^3 as a polarizability volume alpha/(4 pi eps0))
#: in angstrom^3.  Atomic units have 4 pi eps0 = 1, so alpha in a.u. *is* the volume in bohr^3.
POLARIZABILITY_AU = factor(POLARIZABILITY, ATOMIC, METAL)

#: One atomic unit of electric field (hartree/(e*bohr)) in V/angstrom.
EFIELD_AU = factor(EFIELD, ATOMIC, METAL)


def polarizability_au_to_volume(alpha_au):
    """Polarizability in atomic units (e^2 bohr^2/hartree) -> polarizability volume in angstrom^3."""
    return alpha_au * POLARIZABILITY_AU


def polarizability_volume_to_au(alpha_volume_A3):
    """Polarizability volume in angstrom^3 -> atomic units (e^2 bohr^2/hartree = bohr^3)."""
    return alpha_volume_A3 / POLARIZABILITY_AU


def polarizability_charge2length2_per_energy_to_volume(alpha_e2A2_per_eV):
    """alpha in e^2*angstrom^2/eV -> polarizability volume alpha/(4 pi eps0) in angstrom^3."""
    return alpha_e2A2_per_eV * COULOMB_CONSTANT
