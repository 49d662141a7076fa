"""Every unit conversion of tensorml.units, checked against independent sources."""

import ase.units
import numpy as np
import pytest
from ipi.utils import units as ipi_units

from tensorml import units as U


def test_base_factors_against_ase():
    assert U.factor(U.LENGTH, U.ATOMIC, U.METAL) == pytest.approx(ase.units.Bohr, rel=1e-15)
    assert U.factor(U.ENERGY, U.ATOMIC, U.METAL) == pytest.approx(ase.units.Hartree, rel=1e-15)
    assert U.factor(U.ENERGY, U.METAL, U.REAL) == pytest.approx(1 / (ase.units.kcal / ase.units.mol), rel=1e-15)


@pytest.mark.parametrize(
    "dim, metal_to_atomic",
    [
        (U.FORCE, ase.units.Bohr / ase.units.Hartree),
        (U.DIPOLE, 1 / ase.units.Bohr),
        (U.POLARIZABILITY, 1 / ase.units.Bohr**3),  # 1 angstrom^3 = 6.748 bohr^3
        (U.CHARGE, 1.0),
        (U.EFIELD, ase.units.Bohr / ase.units.Hartree),  # V/angstrom -> hartree/(e*bohr)
    ],
)
def test_derived_factors(dim, metal_to_atomic):
    assert U.factor(dim, U.METAL, U.ATOMIC) == pytest.approx(metal_to_atomic, rel=1e-14)
    # round trip
    assert U.factor(dim, U.METAL, U.ATOMIC) * U.factor(dim, U.ATOMIC, U.METAL) == pytest.approx(1.0, rel=1e-15)


def test_polarizability_volume_values():
    assert U.factor(U.POLARIZABILITY, U.METAL, U.ATOMIC) == pytest.approx(6.748334, rel=1e-6)
    # alpha (SI-like, e^2 angstrom^2 / eV) = alpha_volume / k_e, k_e = 14.3996 eV angstrom / e^2
    assert U.COULOMB_CONSTANT == pytest.approx(14.399645, rel=1e-7)
    assert U.polarizability_volume_to_charge2length2_per_energy(14.399645) == pytest.approx(1.0, rel=1e-7)


def test_coulomb_constant_from_si():
    k_si = 1 / (4 * np.pi * ase.units._eps0)  # N m^2 / C^2
    k = k_si * ase.units._e / 1e-10  # eV * angstrom / e^2
    assert U.COULOMB_CONSTANT == pytest.approx(k, rel=1e-9)


def test_ipi_constants_agree_to_its_precision():
    """i-PI truncates its constants (1 angstrom = 1.8897261 bohr): agreement to ~1e-8 only."""
    assert U.factor(U.LENGTH, U.METAL, U.ATOMIC) == pytest.approx(
        ipi_units.unit_to_internal("length", "angstrom", 1.0), rel=1e-7
    )
    assert U.factor(U.ENERGY, U.METAL, U.ATOMIC) == pytest.approx(
        ipi_units.unit_to_internal("energy", "electronvolt", 1.0), rel=1e-7
    )
    assert U.factor(U.EFIELD, U.METAL, U.ATOMIC) == pytest.approx(
        ipi_units.unit_to_internal("electric-field", "v/ang", 1.0), rel=1e-7
    )


def test_lammps_metal_boltz_matches():
    """The pair style takes 1 eV = force->boltz / 8.617343e-5; that is CODATA to 1e-6."""
    assert 8.617343e-5 == pytest.approx(ase.units.kB, rel=2e-6)


def test_unit_names():
    assert U.METAL.unit_name(U.FORCE) == "eV/angstrom"
    assert U.METAL.unit_name(U.DIPOLE) == "e*angstrom"
    assert U.METAL.unit_name(U.EFIELD) == "eV/(e*angstrom)"
    assert U.ATOMIC.unit_name(U.POLARIZABILITY) == "bohr^3"
    assert U.REAL.unit_name(U.ENERGY) == "kcal/mol"
    assert U.METAL.unit_name(U.DIMENSIONLESS) == "1"


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unknown length unit 'furlong'"):
        U.UnitSystem("furlong", "eV", "e")
    with pytest.raises(ValueError, match="lacks the base unit"):
        U.UnitSystem.from_dict({"length": "angstrom", "energy": "eV"})


#: The unit each contract output has in METAL model units, from its physics (not from tensorml.units).
OUTPUT_UNITS_METAL = {
    "energy": "eV",
    "forces": "eV/angstrom",
    "virial": "eV",
    "dipole": "e*angstrom",
    "polarizability": "angstrom^3",
    "dmdt": "e*angstrom/fs",  # sum_i APT_i v_i: e times angstrom/fs
    "apt": "e",
    "apt_velocity": "e*angstrom/fs",
    "charges": "e",
    "atomic_dipoles": "e*angstrom",
    "atomic_energies": "eV",
    "transition_dipole": "e*angstrom",
}


def test_every_contract_output_has_the_unit_of_its_physics():
    from tensorml import contract

    assert set(contract.OUTPUTS) == set(OUTPUT_UNITS_METAL), "a new output needs its unit here"
    for name, spec in contract.OUTPUTS.items():
        assert U.METAL.unit_name(spec.dim) == OUTPUT_UNITS_METAL[name], name
    assert U.METAL.unit_name(contract.INPUTS["velocities"].dim) == "angstrom/fs"
    assert U.ATOMIC.unit_name(contract.OUTPUTS["dmdt"].dim) == "e*bohr/au"


def test_time_conversions_of_lammps_and_ipi():
    # LAMMPS: metal time is ps, real and electron fs (LAMMPS 'units' documentation)
    assert U.factor(U.DIPOLE_RATE, U.METAL, U.LAMMPS_UNIT_SYSTEMS["metal"]) == pytest.approx(1000.0, rel=1e-15)
    assert U.factor(U.DIPOLE_RATE, U.METAL, U.LAMMPS_UNIT_SYSTEMS["real"]) == pytest.approx(1.0, rel=1e-15)
    assert U.factor(U.VELOCITY, U.METAL, U.LAMMPS_UNIT_SYSTEMS["electron"]) == pytest.approx(
        1 / ase.units.Bohr, rel=1e-15
    )
    # i-PI: atomic time unit hbar/E_h (1 fs = 41.34 au) and atomic velocities
    assert U.factor(U.TIME, U.METAL, U.ATOMIC) == pytest.approx(
        ipi_units.unit_to_internal("time", "femtosecond", 1.0), rel=1e-7
    )
    assert U.factor(U.VELOCITY, U.ATOMIC, U.METAL) == pytest.approx(ase.units.Bohr / U.AU_TIME_FS, rel=1e-12)


def test_dimension_lists_of_format_1_have_no_time():
    assert U.Dimension.from_list([1, 0, 1]) == U.DIPOLE
    assert U.Dimension.from_list([1, 0, 1, -1]) == U.DIPOLE_RATE
    with pytest.raises(ValueError, match="4 exponents"):
        U.Dimension.from_list([1, 0])
    assert U.UnitSystem.from_dict({"length": "angstrom", "energy": "eV", "charge": "e"}).time == "fs"
