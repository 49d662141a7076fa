"""Structure sampling for the datasets: the flexible water model, normal modes, random fields."""

import numpy as np
import pytest
from ase.build import molecule

from tensorml import units
from tensorml.data.sampling import (
    distort,
    normal_mode_sample,
    normal_modes,
    random_field,
    random_water_cluster,
    rotate_group,
    water_cluster_trajectory,
)
from tensorml.data.water_ff import R0_OH, THETA0, water_energy_forces


def test_water_ff_forces_match_finite_differences():
    rng = np.random.default_rng(3)
    atoms = random_water_cluster(3, rng)
    pos = atoms.positions + rng.normal(0, 0.05, atoms.positions.shape)
    masses = atoms.get_masses()
    e, f = water_energy_forces(pos, masses, wall_radius=1.5)  # wall active
    h = 1e-5
    fd = np.zeros_like(pos)
    for i in range(len(pos)):
        for x in range(3):
            p = pos.copy()
            p[i, x] += h
            ep = water_energy_forces(p, masses, 1.5)[0]
            p[i, x] -= 2 * h
            em = water_energy_forces(p, masses, 1.5)[0]
            fd[i, x] = -(ep - em) / (2 * h)
    np.testing.assert_allclose(f, fd, atol=1e-6)
    np.testing.assert_allclose(f.sum(axis=0), 0.0, atol=1e-9)


def test_water_ff_minimum_and_dimer_binding():
    w = molecule("H2O")
    w.set_distance(0, 1, R0_OH, fix=0)
    w.set_distance(0, 2, R0_OH, fix=0)
    w.set_angle(1, 0, 2, np.degrees(THETA0))
    e, f = water_energy_forces(w.positions)
    assert e == pytest.approx(0.0, abs=1e-10) and np.abs(f).max() < 1e-8
    # a hydrogen-bonded dimer is bound by a few tenths of an eV (TIP3P: ~0.28 eV)
    from ase.optimize import FIRE

    from tensorml.data.water_ff import FlexibleWater

    d = random_water_cluster(2, np.random.default_rng(0))
    d.calc = FlexibleWater()
    FIRE(d, logfile=None).run(fmax=0.01, steps=2000)
    assert -0.4 < d.get_potential_energy() < -0.15


def test_cluster_trajectory_is_reproducible_and_sane():
    a = water_cluster_trajectory(3, 450.0, 2, np.random.default_rng(5), equilibration_fs=100, stride_fs=50)
    b = water_cluster_trajectory(3, 450.0, 2, np.random.default_rng(5), equilibration_fs=100, stride_fs=50)
    assert len(a) == 2
    np.testing.assert_allclose(a[1].positions, b[1].positions)
    assert a[0].get_chemical_symbols() == ["O", "H", "H"] * 3
    d = a[1].get_all_distances()
    oh = [d[3 * m, 3 * m + k] for m in range(3) for k in (1, 2)]
    assert 0.85 < min(oh) and max(oh) < 1.15
    c = distort(a[1], np.random.default_rng(1), p_stretch=1.0)
    dc = c.get_all_distances()
    assert max(dc[3 * m, 3 * m + k] for m in range(3) for k in (1, 2)) > 1.04


def test_normal_modes_and_sampling_of_a_harmonic_model():
    """A Hessian built from known modes: the sampler recovers the classical variance kT/w^2."""
    import ase.units

    w = molecule("H2O")
    n = 3 * len(w)
    rng = np.random.default_rng(0)
    m = np.repeat(w.get_masses(), 3)
    # mass-weighted Hessian with 3 internal modes of known eigenvalues and 6 zero modes
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = np.zeros(n)
    eig[:3] = [30.0, 25.0, 5.0]  # eV/(A^2 amu)
    hm = q @ np.diag(eig) @ q.T
    hess = hm * np.sqrt(np.outer(m, m))
    wn, w2, disp = normal_modes(w, hess)
    np.testing.assert_allclose(np.sort(w2), [5.0, 25.0, 30.0], rtol=1e-10)
    # independent SI arithmetic: omega = sqrt(30 eV/(A^2 amu)), wavenumber = omega / (2 pi c)
    omega = np.sqrt(30 * 1.602176634e-19 / (1e-20 * 1.66053906660e-27))
    assert wn.max() == pytest.approx(omega / (2 * np.pi * 2.99792458e10), rel=1e-4)  # 2856 cm^-1
    t = 400.0
    samples = np.array(
        [(normal_mode_sample(w, hess, t, rng, min_wavenumber=0.0).positions - w.positions).ravel() for _ in range(4000)]
    )
    # projected on the softest mode's mass-weighted vector, variance kT/w^2
    v = q[:, np.argmin(np.where(eig > 0, eig, np.inf))]
    proj = (samples * np.sqrt(m)) @ v
    assert proj.var() == pytest.approx(ase.units.kB * t / 5.0, rel=0.1)


def test_rotate_group_and_random_field():
    w = molecule("CH3OH")
    out = rotate_group(w, 1, 0, [3, 4, 5], 120.0)  # rotate the methyl hydrogens about O->C
    np.testing.assert_allclose(out.get_all_distances()[0], w.get_all_distances()[0], atol=1e-10)
    rng = np.random.default_rng(2)
    f = np.array([random_field(rng, 0.01) for _ in range(500)])
    mags = np.linalg.norm(f, axis=1) / units.EFIELD_AU
    assert mags.max() <= 0.01 and mags.max() > 0.009
    assert np.abs(f.mean(axis=0)).max() < 0.05
