"""Time correlation functions and their Fourier transforms (FFT based, O(T log T)).

Conventions (used by every spectrum in :mod:`tensorml.spectra`):

* A series is an array whose axis 0 is time, sampled every ``dt`` fs; trailing
  axes are components, and correlations sum over them (a dot product), e.g.
  C(t) = <M(0) . M(t)> for a dipole series of shape (T, 3).
* Means are removed over the series (block) first: C is the correlation of the
  fluctuations, so a static dipole or polarizability gives no delta at omega = 0.
* Estimator: unbiased, C(n) = 1/(T - n) sum_{t=0}^{T-n-1} x_t . y_{t+n}, n = 0..L.
  It is bilinear, so correlations of sums are sums of correlations exactly
  (what makes decompositions add up to the total).
* Cross-correlations are symmetrised, (<x(0) y(t)> + <y(0) x(t)>)/2: the part
  that enters a real spectrum.
* Spectrum of a correlation: S(omega) = int_{-inf}^{inf} C(t) w(t) exp(-i omega t) dt
  with C even, evaluated as dt [w_0 C_0 + 2 sum_{n=1}^{L} w_n C_n cos(omega n dt)]
  on the grid omega_k = 2 pi k / (N dt), N = zero_pad * 2 L (zero padding only
  interpolates the grid; resolution is set by L and the window).  With this
  normalisation int S(omega) d omega / (2 pi) = C(0), i.e. per wavenumber
  int S c d nu~ = C(0) over -inf..inf.
"""

from __future__ import annotations

import numpy as np

from .windows import lag_window

#: Fewest frames a series (block) may have.
MIN_FRAMES = 8


def _as_series(x, name="series") -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a time axis")
    if x.shape[0] < MIN_FRAMES:
        raise ValueError(f"{name} has {x.shape[0]} frames; at least {MIN_FRAMES} are needed for a spectrum")
    if not np.all(np.isfinite(x)):
        bad = np.unique(np.nonzero(~np.isfinite(x.reshape(x.shape[0], -1)))[0])
        raise ValueError(f"{name} contains NaN or infinite values (first bad frame {bad[0]}, {bad.size} frames)")
    return x


def check_max_lag(n_frames: int, max_lag: int) -> int:
    """Validate a correlation length (in frames) for a series of ``n_frames``."""
    max_lag = int(max_lag)
    if max_lag < 1:
        raise ValueError(f"correlation length must be at least 1 frame (got {max_lag})")
    if max_lag > n_frames // 2:
        raise ValueError(
            f"series too short: {n_frames} frames cannot support a correlation length of {max_lag} frames "
            f"(at most half the series, {n_frames // 2}); use a shorter correlation length or fewer blocks"
        )
    return max_lag


def _nfft(n: int) -> int:
    """A fast FFT length >= 2 n (no circular wrap-around of lags < n)."""
    from scipy.fft import next_fast_len

    return next_fast_len(2 * n)


def correlation(x, y=None, max_lag: int | None = None, subtract_mean: bool = True) -> np.ndarray:
    """C(n) = <x(0) . x(n)> (or the symmetrised <x(0) . y(n)>) for n = 0..max_lag.

    x, y: arrays (T, ...) of the same shape; the result sums over the trailing axes.
    """
    from scipy.fft import irfft, rfft

    x = _as_series(x, "x")
    T = x.shape[0]
    max_lag = check_max_lag(T, max_lag if max_lag is not None else T // 2)
    x = x.reshape(T, -1)
    if subtract_mean:
        x = x - x.mean(axis=0)
    n = _nfft(T)
    fx = rfft(x, n=n, axis=0)
    if y is None:
        prod = (fx.real**2 + fx.imag**2).sum(axis=1)
    else:
        y = _as_series(y, "y").reshape(T, -1)
        if y.shape != x.shape:
            raise ValueError(f"cannot correlate series of shapes {x.shape} and {y.shape}")
        if subtract_mean:
            y = y - y.mean(axis=0)
        fy = rfft(y, n=n, axis=0)
        prod = (fx.conj() * fy).real.sum(axis=1)
    c = irfft(prod, n=n)[: max_lag + 1]
    return c / (T - np.arange(max_lag + 1))


def cross_correlations(parts, total, max_lag: int, subtract_mean: bool = True, chunk: int = 32) -> np.ndarray:
    """Symmetrised <p_g(0) . s(n)> for every part g: shape (G, max_lag + 1).

    parts: (T, G, ...) (G parts), total: (T, ...) with the parts' trailing shape.  When
    ``total`` is the sum of the parts, the rows sum exactly to ``correlation(total)``.
    """
    from scipy.fft import irfft, rfft

    parts = _as_series(parts, "parts")
    total = _as_series(total, "total")
    T, G = parts.shape[:2]
    if total.shape[0] != T or total.shape[1:] != parts.shape[2:]:
        raise ValueError(f"parts {parts.shape} and total {total.shape} do not match")
    max_lag = check_max_lag(T, max_lag)
    parts = parts.reshape(T, G, -1)
    total = total.reshape(T, -1)
    if subtract_mean:
        parts = parts - parts.mean(axis=0)
        total = total - total.mean(axis=0)
    n = _nfft(T)
    ft = rfft(total, n=n, axis=0)
    norm = T - np.arange(max_lag + 1)
    out = np.empty((G, max_lag + 1))
    for g0 in range(0, G, chunk):
        fp = rfft(parts[:, g0 : g0 + chunk], n=n, axis=0)
        prod = (fp.conj() * ft[:, None, :]).real.sum(axis=2)
        out[g0 : g0 + chunk] = (irfft(prod, n=n, axis=0)[: max_lag + 1] / norm[:, None]).T
    return out


def auto_correlations(parts, max_lag: int, subtract_mean: bool = True, chunk: int = 32) -> np.ndarray:
    """<p_g(0) . p_g(n)> for every part g of parts (T, G, ...): shape (G, max_lag + 1)."""
    from scipy.fft import irfft, rfft

    parts = _as_series(parts, "parts")
    T, G = parts.shape[:2]
    max_lag = check_max_lag(T, max_lag)
    parts = parts.reshape(T, G, -1)
    if subtract_mean:
        parts = parts - parts.mean(axis=0)
    n = _nfft(T)
    norm = T - np.arange(max_lag + 1)
    out = np.empty((G, max_lag + 1))
    for g0 in range(0, G, chunk):
        fp = rfft(parts[:, g0 : g0 + chunk], n=n, axis=0)
        prod = (fp.real**2 + fp.imag**2).sum(axis=2)
        out[g0 : g0 + chunk] = (irfft(prod, n=n, axis=0)[: max_lag + 1] / norm[:, None]).T
    return out


def frequency_grid(max_lag: int, dt_fs: float, zero_pad: int = 2) -> np.ndarray:
    """Angular frequencies omega_k = 2 pi k / (N dt), k = 0..N/2, N = zero_pad * 2 max_lag (rad/fs)."""
    if zero_pad < 1:
        raise ValueError(f"zero padding factor must be >= 1 (got {zero_pad})")
    n = 2 * max_lag * int(zero_pad)
    return 2.0 * np.pi * np.arange(n // 2 + 1) / (n * dt_fs)


def spectral_density(c, dt_fs: float, window: str = "hann", window_param: float | None = None, zero_pad: int = 2):
    """Windowed Fourier transform of even correlation functions c (..., L + 1).

    Returns (omega in rad/fs, S) with S(omega) = int C(t) w(t) exp(-i omega t) dt (units of C times fs);
    see the module docstring.
    """
    from scipy.fft import rfft

    c = np.asarray(c, dtype=float)
    L = c.shape[-1] - 1
    w = lag_window(window, L, dt_fs, window_param)
    cw = c * w
    n = 2 * L * int(zero_pad)
    buf = np.zeros(c.shape[:-1] + (n,))
    buf[..., : L + 1] = cw
    r = rfft(buf, axis=-1).real
    s = dt_fs * (2.0 * r - cw[..., :1])
    return frequency_grid(L, dt_fs, zero_pad), s
