"""IR spectra of analytic systems: harmonic oscillators, dipole vs APT routes, decompositions, rotors.

Closed form used throughout (see tensorml.spectra.analytic): a harmonic mode of mass-weighted
coordinate Q, frequency w0 and dipole derivative dM/dQ, sampled classically at temperature T, has
C(t) = |dM/dQ|^2 k_B T / w0^2 cos(w0 t).  With the harmonic QCF (APTNN seed eq. 1),
n alpha(w) = beta w^2 / (6 V c eps0) C^(w), so the band integrates (d nu~ = d w / (2 pi c)) to

    int_band n alpha d nu~ = |dM/dQ|^2 / (12 V eps0 c^2)           (cm^-2)
    int_band sigma   d nu~ = N_A |dM/dQ|^2 / (12 eps0 c^2)          (km/mol; 42.2561 km/mol per (D/A)^2/amu)

independent of T and w0.  For a Cartesian oscillator of atom i with charge q_i, dM/dQ = q_i / sqrt(m_i).
"""

import numpy as np
import pytest

from tensorml.spectra import analytic, windows
from tensorml.spectra.ir import atomic_dipole_derivatives, bec_to_apt, dipole_derivative, ir_spectrum
from tensorml.spectra.settings import SpectralSettings

FREQS = np.array([[400.0, 700.0, 1000.0], [1300.0, 1600.0, 1900.0], [2500.0, 3000.0, 3600.0]])  # (atom, xyz)
MASSES = np.array([16.0, 1.0, 2.0])
CHARGES = np.array([-0.8, 0.5, 0.3])
DT, NFRAMES, TCORR = 0.5, 16000, 1000.0
VOLUME = 500.0


def oscillators(T=300.0, seed=0):
    u, v = analytic.harmonic_trajectory(FREQS.ravel(), np.repeat(MASSES, 3), T, DT, NFRAMES, seed)
    return u.reshape(-1, 3, 3), v.reshape(-1, 3, 3)  # (T, atom, xyz)


def settings(T=300.0, **kw):
    return SpectralSettings(dt_fs=DT, corr_length_fs=TCORR, temperature=T, **kw)


@pytest.mark.parametrize("route", ["dipole", "dmdt"])
def test_harmonic_peaks_and_intensities(route):
    u, v = oscillators()
    apt = np.broadcast_to(CHARGES[:, None, None] * np.eye(3), (len(u), 3, 3, 3))
    series = (CHARGES[None, :, None] * u).sum(axis=1) if route == "dipole" else dipole_derivative(apt, v)
    mol = ir_spectrum([{"series": series}], settings(), route=route, unit="km/mol")
    box = ir_spectrum([{"series": series}], settings(), route=route, unit="cm-1", volume=VOLUME)
    travis = ir_spectrum([{"series": series}], settings(), route=route, unit="K*km/mol")
    fwhm = windows.resolution_cm1("hann", int(TCORR / DT), DT)
    for i in range(3):
        for a in range(3):
            nu = FREQS[i, a]
            lo, hi = nu - 120, nu + 120
            # within a tenth of the line width (the w^2 factor of eq. 1 shifts a broadened line by ~ width^2/w0)
            assert mol.peak(lo, hi) == pytest.approx(nu, abs=0.1 * fwhm)
            d = CHARGES[i] / np.sqrt(MASSES[i])
            assert mol.integrate(lo, hi) == pytest.approx(analytic.harmonic_band_intensity(d), rel=0.01)
            assert box.integrate(lo, hi) == pytest.approx(analytic.harmonic_band_intensity(d, VOLUME), rel=0.01)
            assert travis.integrate(lo, hi) == pytest.approx(300.0 * mol.integrate(lo, hi), rel=1e-10)
    assert mol.unit == "km/mol/cm^-1" and box.unit == "cm^-1" and mol.density and not box.density
    assert "harmonic" in mol.meta["qcf"] and "eq. 1" in mol.meta["formula"] if route == "dipole" else True


def test_intensity_independent_of_temperature_and_qcf_factor():
    """Harmonic QCF: the band integral does not depend on T; other QCFs multiply it by F(x0)."""
    from tensorml.spectra import qcf

    nu, d = FREQS[1, 1], CHARGES[1] / np.sqrt(MASSES[1])
    ref = analytic.harmonic_band_intensity(d)
    for T in (100.0, 1000.0):
        u, _ = oscillators(T)
        M = (CHARGES[None, :, None] * u).sum(axis=1)
        assert ir_spectrum([{"series": M}], settings(T), unit="km/mol").integrate(nu - 120, nu + 120) == pytest.approx(
            ref, rel=0.01
        )
        s = ir_spectrum([{"series": M}], settings(T, qcf="standard"), unit="km/mol")
        x0 = qcf.reduced_frequency(nu, T)
        assert s.integrate(nu - 120, nu + 120) == pytest.approx(ref * qcf.absorption_factor("standard", x0), rel=0.01)
    # TRAVIS units with the harmonic QCF need no temperature
    assert ir_spectrum([{"series": M}], settings(None), unit="K*km/mol").integrate(nu - 120, nu + 120) == pytest.approx(
        1000.0 * ref, rel=0.01
    )
    with pytest.raises(ValueError, match="temperature"):
        ir_spectrum([{"series": M}], settings(None), unit="km/mol")
    with pytest.raises(ValueError, match="volume"):
        ir_spectrum([{"series": M}], settings(), unit="cm-1")


def nonlinear_system(kappa=20.0, lam=8.0):
    """M = sum_i q_i u_i + kappa u_0z u_1x e_y + lam u_2z^2 e_x, and its exact APTs apt[i, a, b] = dM_a/du_ib.

    The bilinear term gives combination bands at 1300 +- 1000 cm^-1, the quadratic one an overtone at 7200.
    """
    u, v = oscillators()
    M = (CHARGES[None, :, None] * u).sum(axis=1)
    M[:, 1] += kappa * u[:, 0, 2] * u[:, 1, 0]
    M[:, 0] += lam * u[:, 2, 2] ** 2
    apt = np.zeros(u.shape[:2] + (3, 3))
    apt[:] = CHARGES[None, :, None, None] * np.eye(3)
    apt[:, 0, 1, 2] += kappa * u[:, 1, 0]
    apt[:, 1, 1, 0] += kappa * u[:, 0, 2]
    apt[:, 2, 0, 2] += 2 * lam * u[:, 2, 2]
    return M, apt, v


def test_dipole_and_apt_routes_agree():
    """Seed eq. 1 (dipole ACF) and eqs. 2-4 (APT-weighted velocities) on the same trajectory."""
    M, apt, v = nonlinear_system()
    mdot = dipole_derivative(apt, v)
    # the chain rule is exact: dM/dt from the APTs matches the (5-point) finite difference of M
    fd = (-M[4:] + 8 * M[3:-1] - 8 * M[1:-3] + M[:-4]) / (12 * DT)
    np.testing.assert_allclose(mdot[2:-2], fd, atol=2e-3 * np.abs(mdot).max())
    s1 = ir_spectrum([{"series": M}], settings(), route="dipole", unit="cm-1", volume=VOLUME)
    s2 = ir_spectrum([{"series": mdot}], settings(), route="dmdt", unit="cm-1", volume=VOLUME)
    np.testing.assert_allclose(s1.wavenumber, s2.wavenumber)
    top = s1.total.max()
    assert np.abs(s1.total - s2.total).max() < 0.02 * top
    bands = [(250, 550), (850, 1150), (1450, 1750), (2200, 2400), (2850, 3150), (3450, 3750), (7100, 7300)]
    for lo, hi in bands:
        assert s1.integrate(lo, hi) == pytest.approx(s2.integrate(lo, hi), rel=0.006)
    # the nonlinear terms: a combination band at 1000 + 1300 and an overtone at 2 x 3600
    for nu in (2300.0, 7200.0):
        assert s1.peak(nu - 100, nu + 100) == pytest.approx(nu, abs=1.0)
        assert s2.peak(nu - 100, nu + 100) == pytest.approx(nu, abs=1.0)
        assert s1.integrate(nu - 100, nu + 100) > 0.01 * s1.integrate(2850, 3150)


def test_decomposition_sums_exactly():
    M, apt, v = nonlinear_system()
    per_atom = atomic_dipole_derivatives(apt, v)  # (T, 3 atoms, 3)
    np.testing.assert_allclose(per_atom.sum(axis=1), dipole_derivative(apt, v), atol=1e-14)
    # parts: by element (atom 0 = O, atoms 1, 2 = H); molecules: atom 0 + 1 and atom 2
    parts = np.stack([per_atom[:, 0], per_atom[:, 1] + per_atom[:, 2]], axis=1)
    mols = np.stack([per_atom[:, 0] + per_atom[:, 1], per_atom[:, 2]], axis=1)
    s = ir_spectrum(
        [{"series": parts, "molecules": mols}],
        settings(blocks=2),
        route="dmdt",
        unit="cm-1",
        volume=VOLUME,
        part_names=["O", "H"],
        auto_cross=True,
    )
    assert list(s.columns) == ["total", "O", "H", "O_auto", "O_cross", "H_auto", "H_cross", "intra", "inter"]
    scale = np.abs(s.total).max()
    np.testing.assert_allclose(s.columns["O"] + s.columns["H"], s.total, atol=1e-10 * scale)
    for g in ("O", "H"):
        np.testing.assert_allclose(s.columns[g + "_auto"] + s.columns[g + "_cross"], s.columns[g], atol=1e-10 * scale)
    np.testing.assert_allclose(s.columns["intra"] + s.columns["inter"], s.total, atol=1e-10 * scale)
    # the total equals the undecomposed spectrum of sum_i P_i v_i
    plain = ir_spectrum(
        [{"series": per_atom.sum(axis=1)}], settings(blocks=2), route="dmdt", unit="cm-1", volume=VOLUME
    )
    np.testing.assert_allclose(s.total, plain.total, atol=1e-10 * scale)
    # H atoms (1, 2) carry the 1300-3600 bands, O the 400-1000 ones
    assert s.integrate(1450, 1750, "H") == pytest.approx(s.integrate(1450, 1750), rel=0.02)
    assert abs(s.integrate(1450, 1750, "O")) < 0.02 * s.integrate(1450, 1750)
    # block errors exist with 2 blocks
    assert np.all(np.isfinite(s.errors["total"]))


def test_rigid_rotor_envelope():
    """Free linear rotors: IR envelope ~ w^3 exp(-I w^2/(2 kT)); intensity = 2 rotational DOF x mu^2/I."""
    n, inertia, T, dt = 300, 1.5, 300.0, 2.0
    dip, _ = analytic.rigid_rotors(n, inertia, T, dt, 6000, mu=0.4)
    s = ir_spectrum(
        [{"series": dip.sum(axis=1), "molecules": dip}],
        SpectralSettings(dt_fs=dt, corr_length_fs=4000.0, temperature=T, max_wavenumber=1200.0),
        unit="km/mol",
    )
    intra = s.columns["intra"]
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (intra[1:] + intra[:-1]) * np.diff(s.wavenumber))])
    total = cum[-1]
    assert total == pytest.approx(n * 2 * analytic.harmonic_band_intensity(0.4 / np.sqrt(inertia)), rel=0.02)
    for nu in (40.0, 80.0, 120.0, 160.0, 240.0):
        k = np.searchsorted(s.wavenumber, nu)
        assert cum[k] / total == pytest.approx(analytic.rotor_envelope_cdf(s.wavenumber[k], inertia, T), abs=0.02)


def test_bec_layout():
    """i-PI BEC[3i+a, b] = dM_b/dR_ia -> apt[i, b, a]."""
    bec = np.arange(2 * 9, dtype=float).reshape(6, 3)
    apt = bec_to_apt(bec)
    for i in range(2):
        for a in range(3):
            for b in range(3):
                assert apt[i, b, a] == bec[3 * i + a, b]
    with pytest.raises(ValueError, match="3N, 3"):
        bec_to_apt(np.zeros((4, 3)))


def test_diatomic_stretch_peak_and_intensity():
    """A vibrating, translating HCl-like diatomic (charges +-q, spring k): peak at sqrt(k/mu) and band
    intensity N_A q^2/mu / (12 eps0 c^2) from the dipole, from APT . v and from differenced positions."""
    from tensorml.spectra import finite_difference as fd
    from tensorml.units import CM1_TO_RAD_PER_FS

    m1, m2, q, k_ev = 1.008, 35.45, 0.25, 30.0  # amu, amu, e, eV/angstrom^2
    mu = m1 * m2 / (m1 + m2)
    nu = np.sqrt(k_ev / mu / 103.6427) / CM1_TO_RAD_PER_FS  # 1 eV/(angstrom^2 amu) = 1/103.6427 fs^-2
    (u,), (du,) = (x.T for x in analytic.harmonic_trajectory([nu], mu, 300.0, DT, NFRAMES, seed=4))
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    drift = np.array([0.003, -0.001, 0.002])  # centre-of-mass velocity, angstrom/fs: no IR
    com = np.arange(NFRAMES)[:, None] * DT * drift
    bond = (1.27 + u)[:, None] * axis
    r1, r2 = com - m2 / (m1 + m2) * bond, com + m1 / (m1 + m2) * bond
    v1, v2 = drift - m2 / (m1 + m2) * du[:, None] * axis, drift + m1 / (m1 + m2) * du[:, None] * axis
    dipole = q * (r2 - r1)
    apt = np.broadcast_to(np.array([-q, q])[:, None, None] * np.eye(3), (NFRAMES, 2, 3, 3))
    vel = np.stack([v1, v2], axis=1)
    mdot_fd = dipole_derivative(apt[1:-1], fd.central_difference(np.stack([r1, r2], axis=1), DT))
    expected = analytic.harmonic_band_intensity(q / np.sqrt(mu))
    band = (nu - 150, nu + 150)
    for series, route, scale in [
        (dipole, "dipole", 1.0),
        (dipole_derivative(apt, vel), "dmdt", 1.0),
        (mdot_fd, "dmdt", fd.attenuation(nu, DT) ** 2),
    ]:
        s = ir_spectrum([{"series": series}], settings(), route=route, unit="km/mol")
        assert s.peak(*band) == pytest.approx(nu, abs=1.0)
        assert s.integrate(*band) == pytest.approx(expected * scale, rel=0.01)
