"""Raman: isotropic/anisotropic split, polarised combinations (orientational averages), prefactors."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tensorml.spectra import raman
from tensorml.spectra.settings import SpectralSettings
from tensorml.units import BOLTZMANN_CM1_PER_K, CM1_TO_RAD_PER_FS

DT, N, TCORR = 1.0, 12000, 1500.0
NU_ISO, NU_ANI = 1000.0, 1600.0
A1 = 0.8  # amplitude of the isotropic oscillation (angstrom^3)
B = np.array([[0.5, 0.3, 0.0], [0.3, -0.2, 0.1], [0.0, 0.1, -0.3]])  # traceless symmetric amplitude


def trajectory():
    t = np.arange(N) * DT
    alpha = np.empty((N, 3, 3))
    alpha[:] = 10.0 * np.eye(3) + np.diag([0.5, 0.0, -0.5])  # static anisotropic part: no spectrum
    alpha += A1 * np.cos(NU_ISO * CM1_TO_RAD_PER_FS * t + 0.2)[:, None, None] * np.eye(3)
    alpha += np.cos(NU_ANI * CM1_TO_RAD_PER_FS * t + 1.1)[:, None, None] * B
    return alpha


def settings(qcf="none", T=None):
    return SpectralSettings(dt_fs=DT, corr_length_fs=TCORR, qcf=qcf, temperature=T)


def test_isotropic_anisotropic_split():
    alpha = trajectory()
    a, beta = raman.isotropic_anisotropic(alpha)
    np.testing.assert_allclose(a, np.trace(alpha, axis1=1, axis2=2) / 3)
    np.testing.assert_allclose(np.trace(beta, axis1=1, axis2=2), 0.0, atol=1e-13)
    np.testing.assert_allclose(beta, np.swapaxes(beta, 1, 2))
    # row-major (T, 9) input is the same tensor
    a9, b9 = raman.isotropic_anisotropic(alpha.reshape(N, 9))
    np.testing.assert_allclose(b9, beta)


def test_band_intensities_and_depolarization():
    """<a(0)a(t)> = A1^2/2 cos(w1 t): the positive band of c S holds A1^2/4 (no QCF); aniso 3/2 B:B/4."""
    s = raman.raman_spectrum([{"polarizability": trajectory()}], settings())
    iso_band = s.integrate(NU_ISO - 150, NU_ISO + 150, "isotropic")
    ani_band = s.integrate(NU_ANI - 150, NU_ANI + 150, "anisotropic")
    assert iso_band == pytest.approx(A1**2 / 4, rel=0.01)
    assert ani_band == pytest.approx(1.5 * np.sum(B * B) / 4, rel=0.01)
    assert abs(s.integrate(NU_ISO - 150, NU_ISO + 150, "anisotropic")) < 1e-3 * ani_band
    assert abs(s.integrate(NU_ANI - 150, NU_ANI + 150, "isotropic")) < 1e-3 * iso_band
    assert s.peak(NU_ISO - 150, NU_ISO + 150, "unpolarized") == pytest.approx(NU_ISO, abs=1.0)
    c = s.columns
    np.testing.assert_allclose(c["parallel"], c["isotropic"] + 4 / 45 * c["anisotropic"])
    np.testing.assert_allclose(c["perpendicular"], c["anisotropic"] / 15)
    np.testing.assert_allclose(c["unpolarized"], c["parallel"] + c["perpendicular"], rtol=1e-12)
    k_iso, k_ani = np.argmin(abs(s.wavenumber - NU_ISO)), np.argmin(abs(s.wavenumber - NU_ANI))
    assert c["depolarization_ratio"][k_iso] == pytest.approx(0.0, abs=1e-3)  # totally symmetric band
    assert c["depolarization_ratio"][k_ani] == pytest.approx(0.75, abs=1e-3)  # depolarised band
    assert s.unit == "angstrom^6/cm^-1"


def test_orientational_average_coefficients():
    """For a randomly oriented tensor: <zz^2> = a^2 + 4/45 g^2, <zx^2> = g^2/15 with g^2 = 3/2 beta:beta.

    Averaged exactly over the 60 rotations of the icosahedral group (a rotational 5-design).
    """
    rng = np.random.default_rng(7)
    m = rng.normal(size=(3, 3))
    alpha = m + m.T
    a, beta = raman.isotropic_anisotropic(alpha[None])
    g2 = 1.5 * np.sum(beta[0] ** 2)
    R = Rotation.create_group("I").as_matrix()
    lab = np.einsum("kia,ab,kjb->kij", R, alpha, R)
    expected = raman.combine(np.array(a[0] ** 2), np.array(g2))
    assert np.mean(lab[:, 2, 2] ** 2) == pytest.approx(expected["parallel"], rel=1e-12)
    assert np.mean(lab[:, 2, 0] ** 2) == pytest.approx(expected["perpendicular"], rel=1e-12)


def test_qcf_and_cross_section_prefactor():
    """Harmonic QCF + laser: (2 pi (nu_L - nu))^4 c Q S = the (nu_L - nu)^4 / [nu (1 - exp(-hc nu/kT))] form."""
    T, laser = 300.0, 18797.0  # 532 nm
    alpha = trajectory()
    plain = raman.raman_spectrum([{"polarizability": alpha}], settings())
    cs = raman.raman_spectrum(
        [{"polarizability": alpha}], settings("harmonic", T), scale="cross-section", laser_cm1=laser, n_molecules=2.0
    )
    nu = plain.wavenumber[1:]
    x = nu / (BOLTZMANN_CM1_PER_K * T)
    hc_over_kT = 1.0 / (BOLTZMANN_CM1_PER_K * T)  # cm
    expected = (
        (2 * np.pi) ** 4
        * hc_over_kT
        * (laser - nu) ** 4
        / (nu * -np.expm1(-x))
        * nu**2
        * plain.columns["unpolarized"][1:]
        * 1e-48
        / 2.0
    )
    np.testing.assert_allclose(cs.columns["unpolarized"][1:], expected, rtol=1e-10, atol=1e-12 * expected.max())
    assert cs.unit == "cm^2/sr/cm^-1"
    red = raman.raman_spectrum([{"polarizability": alpha}], settings("harmonic", T), scale="reduced")
    q = raman.raman_spectrum([{"polarizability": alpha}], settings("harmonic", T))
    np.testing.assert_allclose(red.columns["isotropic"][1:], nu * -np.expm1(-x) * q.columns["isotropic"][1:])
    with pytest.raises(ValueError, match="laser"):
        raman.raman_spectrum([{"polarizability": alpha}], settings("harmonic", T), scale="cross-section")
    with pytest.raises(ValueError, match="temperature"):
        raman.raman_spectrum([{"polarizability": alpha}], settings("harmonic", None))


def test_bad_polarizability_shape():
    with pytest.raises(ValueError, match="polarizability must have shape"):
        raman.raman_spectrum([{"polarizability": np.zeros((100, 6))}], settings())
