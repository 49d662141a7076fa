"""Every unit tensorml knows, and every conversion between them, in one table.

A quantity's unit is fixed by its *dimension*: exponents of the three base
units length, energy and charge.  A unit system names one unit for each base:

=========  ================  =========================================
system     (length, energy, charge)
=========  ================  =========================================
metal      angstrom, eV, e   the default of tensorml models and LAMMPS ``units metal``
real       angstrom, kcal/mol, e   LAMMPS ``units real``
atomic     bohr, hartree, e  i-PI's internal units, LAMMPS ``units electron``
=========  ================  =========================================

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

BASES = ("length", "energy", "charge")
_TABLES = {"length": LENGTH_UNITS, "energy": ENERGY_UNITS, "charge": CHARGE_UNITS}

#: Coulomb constant 1/(4 pi eps0) in eV*angstrom/e^2 (= hartree * bohr).
COULOMB_CONSTANT = ase.units.Hartree * ase.units.Bohr


@dataclass(frozen=True)
class Dimension:
    """Exponents of (length, energy, charge) of a physical quantity."""

    length: int = 0
    energy: int = 0
    charge: int = 0

    def as_list(self) -> list[int]:
        return [self.length, self.energy, self.charge]

    @classmethod
    def from_list(cls, exps) -> "Dimension":
        length, energy, charge = (int(e) for e in exps)
        return cls(length, energy, charge)


# Dimensions of the quantities of the model contract.
DIMENSIONLESS = Dimension()
LENGTH = Dimension(length=1)
ENERGY = Dimension(energy=1)
CHARGE = Dimension(charge=1)
FORCE = Dimension(length=-1, energy=1)
DIPOLE = Dimension(length=1, charge=1)
POLARIZABILITY = Dimension(length=3)
EFIELD = Dimension(length=-1, energy=1, charge=-1)


@dataclass(frozen=True)
class UnitSystem:
    """One named unit for each base dimension."""

    length: str = "angstrom"
    energy: str = "eV"
    charge: str = "e"

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
        missing = [b for b in BASES if b not in names]
        if missing:
            raise ValueError(f"unit system lacks the base unit(s) {missing}")
        return cls(**{b: names[b] for b in BASES})

    def unit_name(self, dim: Dimension) -> str:
        """Human-readable unit of a dimension, e.g. 'eV/angstrom', 'e*angstrom', 'eV/(e*angstrom)'."""
        num, den = [], []
        for base in ("charge", "energy", "length"):
            exp = getattr(dim, base)
            name = getattr(self, base)
            if exp:
                part = name if abs(exp) == 1 else f"{name}^{abs(exp)}"
                (num if exp > 0 else den).append(part)
        text = "*".join(num) if num else "1"
        if den:
            text += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
        return text


METAL = UnitSystem("angstrom", "eV", "e")
REAL = UnitSystem("angstrom", "kcal/mol", "e")
ATOMIC = UnitSystem("bohr", "hartree", "e")


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
