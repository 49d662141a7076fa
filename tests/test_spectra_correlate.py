"""Correlation estimator, windows and the Fourier transform convention; white noise; bad series."""

import numpy as np
import pytest

from tensorml.spectra import blocks, correlate, windows


def brute(x, y, L):
    x = x - x.mean(0)
    y = y - y.mean(0)
    T = len(x)
    return np.array([(x[: T - n] * y[n:]).sum() / (T - n) for n in range(L + 1)])


def test_correlation_matches_direct_sum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)) + 5.0
    y = rng.normal(size=(200, 3))
    np.testing.assert_allclose(correlate.correlation(x, max_lag=40), brute(x, x, 40), atol=1e-12)
    sym = 0.5 * (brute(x, y, 40) + brute(y, x, 40))
    np.testing.assert_allclose(correlate.correlation(x, y, max_lag=40), sym, atol=1e-12)


def test_parts_sum_to_total_exactly():
    rng = np.random.default_rng(2)
    parts = rng.normal(size=(300, 5, 3))
    total = parts.sum(axis=1)
    c = correlate.cross_correlations(parts, total, 50, chunk=2)
    np.testing.assert_allclose(c.sum(axis=0), correlate.correlation(total, max_lag=50), rtol=1e-12, atol=1e-12)
    auto = correlate.auto_correlations(parts, 50)
    np.testing.assert_allclose(auto[3], brute(parts[:, 3], parts[:, 3], 50), atol=1e-12)


@pytest.mark.parametrize("window", windows.WINDOWS)
def test_spectrum_integrates_to_c0(window):
    """sum over the full (two-sided) grid of S dw/(2 pi) equals C(0) for every window and padding."""
    rng = np.random.default_rng(3)
    c = correlate.correlation(rng.normal(size=(500, 3)), max_lag=60)
    for pad in (1, 3):
        w, s = correlate.spectral_density(c, 0.5, window, zero_pad=pad)
        dw = w[1] - w[0]
        two_sided = s[0] + 2 * s[1:-1].sum() + s[-1]
        assert two_sided * dw / (2 * np.pi) == pytest.approx(c[0], rel=1e-12)
        assert len(w) == 60 * pad + 1


def test_cosine_peak_and_grid():
    dt, L = 0.5, 400
    w0 = 0.3  # rad/fs
    c = np.cos(w0 * dt * np.arange(L + 1))
    w, s = correlate.spectral_density(c, dt, "hann", zero_pad=4)
    assert w[np.argmax(s)] == pytest.approx(w0, abs=w[1] - w[0])
    np.testing.assert_allclose(np.diff(w), 2 * np.pi / (8 * L * dt))


def test_white_noise_is_flat():
    """Uncorrelated noise of variance s2 per component: C(n) = 3 s2 delta_n0, so S(w) = 3 s2 dt at every w."""
    rng = np.random.default_rng(4)
    s2, dt = 2.0, 0.5
    x = rng.normal(scale=np.sqrt(s2), size=(2**15, 3))
    c = correlate.correlation(x, max_lag=64)
    w, s = correlate.spectral_density(c, dt, "hann")
    assert s.mean() == pytest.approx(3 * s2 * dt, rel=0.02)
    assert s.std() / s.mean() < 0.1
    assert np.abs(s / (3 * s2 * dt) - 1).max() < 0.3


def test_windows():
    w = windows.lag_window("hann", 10, 1.0)
    assert w[0] == 1.0 and w[-1] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(w, 0.5 * (1 + np.cos(np.pi * np.arange(11) / 10)), atol=1e-15)
    g = windows.lag_window("gaussian", 30, 0.5)  # sigma = t_max/3 = 5 fs
    assert g[-1] == pytest.approx(np.exp(-4.5))
    g2 = windows.lag_window("gaussian", 30, 0.5, param=2.0)
    assert g2[4] == pytest.approx(np.exp(-0.5))
    assert np.all(windows.lag_window("none", 5, 1.0) == 1.0)
    assert windows.resolution_cm1("hann", 2000, 1.0) == pytest.approx(1.4382 / 4000 / 2.99792458e-5, rel=1e-9)
    with pytest.raises(ValueError, match="unknown window"):
        windows.lag_window("blackman", 5, 1.0)


def test_bad_series():
    x = np.zeros((100, 3))
    x[37, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        correlate.correlation(x, max_lag=10)
    with pytest.raises(ValueError, match="at least 8"):
        correlate.correlation(np.ones((5, 3)), max_lag=1)
    with pytest.raises(ValueError, match="too short"):
        correlate.correlation(np.random.default_rng(0).normal(size=(50, 3)), max_lag=30)
    with pytest.raises(ValueError, match="too short"):
        blocks.block_slices(40, 6)


def test_block_statistics():
    m, e = blocks.mean_and_error(np.array([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(m, [2.0, 4.0])
    np.testing.assert_allclose(e, [1.0, 2.0])
    m, e = blocks.mean_and_error(np.array([[1.0, 2.0]]))
    assert np.all(np.isnan(e))
    assert [s.stop - s.start for s in blocks.block_slices(103, 4)] == [25] * 4
