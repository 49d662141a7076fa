"""Unit conventions of the reference data (charges e, dipoles e*A, polarizability A^3, APT e)."""

import numpy as np
import pytest

from tensorml import units

# CODATA 2014 values written out independently of ase.units
BOHR_A = 0.52917721067
HARTREE_EV = 27.21138602
DEBYE_EA = 0.20819434  # 1 D = 3.33564e-30 C m / (1.602177e-19 C * 1e-10 m)


def test_dipole_au_and_debye():
    assert units.factor(units.DIPOLE, units.ATOMIC, units.METAL) == pytest.approx(BOHR_A, rel=1e-9)
    assert units.DEBYE == pytest.approx(DEBYE_EA, rel=1e-6)
    # 1 e*bohr = 2.541746 D
    assert BOHR_A / units.DEBYE == pytest.approx(2.541746, rel=1e-6)


def test_polarizability_conversions():
    assert units.POLARIZABILITY_AU == pytest.approx(BOHR_A**3, rel=1e-9)
    # water, a.u. -> A^3: 9.64 bohr^3 = 1.4285 A^3 (the experimental 1.45 A^3 is 9.78 a.u.)
    assert units.polarizability_au_to_volume(9.64) == pytest.approx(1.42850, rel=1e-4)
    assert units.polarizability_volume_to_au(units.polarizability_au_to_volume(3.7)) == pytest.approx(3.7)
    # alpha in e^2 A^2/eV = volume / k_e, with k_e = 14.3996 eV*A/e^2
    ke = HARTREE_EV * BOHR_A
    assert units.COULOMB_CONSTANT == pytest.approx(14.399645, rel=1e-6)
    assert units.polarizability_volume_to_charge2length2_per_energy(1.0) == pytest.approx(1 / ke, rel=1e-9)
    assert units.polarizability_charge2length2_per_energy_to_volume(1 / ke) == pytest.approx(1.0, rel=1e-9)
    # a.u. of alpha is e^2 bohr^2 / hartree; converting that through the dimension table and
    # multiplying by k_e must give the same volume
    e2l2_per_e = units.factor(units.Dimension(length=2, energy=-1, charge=2), units.ATOMIC, units.METAL)
    assert e2l2_per_e * units.COULOMB_CONSTANT == pytest.approx(units.POLARIZABILITY_AU, rel=1e-12)


def test_field_and_apt_units():
    assert units.EFIELD_AU == pytest.approx(HARTREE_EV / BOHR_A, rel=1e-9)  # 51.422 V/A
    # APT = dF/dE: (hartree/bohr) / (hartree/(e bohr)) = e, the same in every unit system
    apt_dim = units.Dimension(
        length=units.FORCE.length - units.EFIELD.length,
        energy=units.FORCE.energy - units.EFIELD.energy,
        charge=units.FORCE.charge - units.EFIELD.charge,
    )
    assert apt_dim == units.CHARGE
    assert units.factor(apt_dim, units.ATOMIC, units.METAL) == 1.0
    # and dM/dR: (e*bohr)/bohr = e as well
    assert units.factor(units.CHARGE, units.ATOMIC, units.METAL) == 1.0


def test_labels_module_uses_the_table():
    from tensorml.data import labels

    assert labels._A == units.POLARIZABILITY_AU
    assert labels._F == pytest.approx(HARTREE_EV / BOHR_A, rel=1e-9)
    assert labels._FIELD_TO_AU * units.EFIELD_AU == pytest.approx(1.0)


def test_keys_document_units():
    from tensorml.data import keys

    assert keys.FRAME_KEYS["polarizability"] == "angstrom^3"
    assert keys.FRAME_KEYS["dipole"] == "e*angstrom"
    assert keys.ATOM_KEYS["apt"] == "e"
    assert keys.FRAME_KEYS["efield"] == "V/angstrom"
    assert np.isclose(units.factor(units.POLARIZABILITY, units.METAL, units.METAL), 1.0)
