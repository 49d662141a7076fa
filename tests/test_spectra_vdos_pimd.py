"""VDOS of harmonic oscillators; path-integral estimators from per-bead data."""

import numpy as np
import pytest

from tensorml.spectra import analytic, pimd
from tensorml.spectra.ir import dipole_derivative
from tensorml.spectra.settings import SpectralSettings
from tensorml.spectra.vdos import vdos_spectrum

DT = 0.5
FREQS = np.array([[500.0, 900.0, 1300.0], [1800.0, 2400.0, 3100.0]])
MASSES = np.array([12.0, 1.0])


def test_vdos_harmonic():
    u, v = analytic.harmonic_trajectory(FREQS.ravel(), np.repeat(MASSES, 3), 300.0, DT, 12000)
    v = v.reshape(-1, 2, 3)
    s = vdos_spectrum(
        [{"velocities": v}],
        MASSES,
        SpectralSettings(dt_fs=DT, corr_length_fs=1000.0),
        part_index=[0, 1],
        part_names=["C", "H"],
    )
    # kinetic normalisation: int_0^inf g = 3N exactly (trapezoid up to Nyquist = the discrete Parseval sum)
    assert s.integrate(0, np.inf) == pytest.approx(6.0, rel=1e-10)
    for nu in FREQS.ravel():
        assert s.integrate(nu - 150, nu + 150) == pytest.approx(1.0, rel=0.01)  # one DOF per band
        assert s.peak(nu - 150, nu + 150) == pytest.approx(nu, abs=1.0)
    np.testing.assert_allclose(s.columns["C"] + s.columns["H"], s.total, atol=1e-12 * s.total.max())
    assert s.integrate(1650, 1950, "H") == pytest.approx(1.0, rel=0.01)
    # a given temperature: the integral is 3N T_kin / T (here T_kin = 300 K)
    s2 = vdos_spectrum(
        [{"velocities": v}], MASSES, SpectralSettings(dt_fs=DT, corr_length_fs=1000.0, temperature=600.0)
    )
    assert s2.integrate(0, np.inf) == pytest.approx(3.0, rel=2e-3)


def beads_system(P=4, N=3, T=1200, kappa=0.7, seed=3):
    """Per-bead positions u (T, P, N, 3), velocities, dipole M(u) = sum_i q_i u_i + kappa |u_0|^2 e_z and exact APTs."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(800, 3000, size=P * N * 3)
    u, v = analytic.harmonic_trajectory(freqs, 1.0, 300.0, DT, T, seed)
    u, v = u.reshape(T, P, N, 3), v.reshape(T, P, N, 3)
    q = np.array([-0.6, 0.3, 0.3])
    M = np.einsum("i,tbia->tba", q, u)
    M[..., 2] += kappa * (u[:, :, 0] ** 2).sum(-1)
    apt = np.zeros((T, P, N, 3, 3))
    apt[:] = q[:, None, None] * np.eye(3)
    apt[:, :, 0, 2, :] += 2 * kappa * u[:, :, 0, :]
    return u, v, M, apt


def test_trpmd_estimator_is_derivative_of_bead_average():
    u, v, M, apt = beads_system()
    per_frame = np.array([pimd.atomic_dmdt(apt[t], v[t], "trpmd").sum(axis=0) for t in range(len(v))])
    mbar = pimd.bead_average(M, axis=1)
    fd = (-mbar[4:] + 8 * mbar[3:-1] - 8 * mbar[1:-3] + mbar[:-4]) / (12 * DT)
    np.testing.assert_allclose(per_frame[2:-2], fd, atol=3e-3 * np.abs(per_frame).max())
    np.testing.assert_allclose(per_frame, dipole_derivative(apt, v).mean(axis=1), atol=1e-14)


def test_centroid_estimator():
    u, v, M, apt = beads_system()
    t = 10
    vc = v[t].mean(axis=0)
    p = pimd.atomic_dmdt(apt[t], v[t], "centroid")
    np.testing.assert_allclose(p, np.einsum("iab,ib->ia", apt[t].mean(axis=0), vc))
    np.testing.assert_allclose(pimd.atomic_dmdt(apt[t], None, "centroid", centroid_velocities=vc), p)
    # with a linear dipole (constant APT) both estimators coincide
    lin = np.broadcast_to(apt[t, 0, 1], apt[t].shape)
    np.testing.assert_allclose(
        pimd.atomic_dmdt(lin, v[t], "centroid"), pimd.atomic_dmdt(lin, v[t], "trpmd"), atol=1e-14
    )
    # ... but not with a nonlinear one
    assert not np.allclose(p, pimd.atomic_dmdt(apt[t], v[t], "trpmd"))
    with pytest.raises(ValueError, match="estimator"):
        pimd.atomic_dmdt(apt[t], v[t], "rpmd")
