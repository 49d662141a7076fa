"""Lag windows applied to a correlation function before its Fourier transform.

A correlation function C(t) is only known up to the correlation length
t_max = L dt, and noisier at large lags.  It is multiplied by a window w(t)
with w(0) = 1, which sets the line shape (resolution) of the spectrum:

``hann``      w(n) = cos^2(pi n / (2 L)) = (1 + cos(pi n / L)) / 2, n = 0..L
              (one half of a Hann window of total width 2 L; the TRAVIS choice).
``gaussian``  w(n) = exp(-(n dt)^2 / (2 sigma^2)), sigma = ``param`` fs (default
              t_max / 3, so w(L) = exp(-4.5) = 0.011): Gaussian lines of
              standard deviation 1/sigma in omega.
``none``      w(n) = 1 (a box: sinc line shape with side lobes).

Because w(0) = 1 the window never changes the integral of a spectrum over all
frequencies, int S(omega) d omega / (2 pi) = C(0): band intensities are
insensitive to the window, only line shapes change.
"""

from __future__ import annotations

import numpy as np

from ..units import SPEED_OF_LIGHT_CM_PER_FS

WINDOWS = ("hann", "gaussian", "none")


def lag_window(name: str, n_lags: int, dt_fs: float, param: float | None = None) -> np.ndarray:
    """Window values w(n) for lags n = 0..n_lags (inclusive) of spacing ``dt_fs``.

    ``param``: Gaussian standard deviation in fs (default: n_lags * dt_fs / 3); unused otherwise.
    """
    if n_lags < 1:
        raise ValueError(f"the correlation length must be at least one step (got {n_lags})")
    n = np.arange(n_lags + 1, dtype=float)
    if name == "hann":
        return np.cos(0.5 * np.pi * n / n_lags) ** 2
    if name == "gaussian":
        sigma = param if param is not None else n_lags * dt_fs / 3.0
        if not sigma > 0:
            raise ValueError(f"the Gaussian window width must be positive (got {sigma} fs)")
        return np.exp(-0.5 * (n * dt_fs / sigma) ** 2)
    if name == "none":
        return np.ones_like(n)
    raise ValueError(f"unknown window {name!r}; known: {', '.join(WINDOWS)}")


def resolution_cm1(name: str, n_lags: int, dt_fs: float, param: float | None = None) -> float:
    """Approximate full width at half maximum (cm^-1) of the line a window gives a pure cosine.

    hann: the transform of a Hann window of total width 2 t_max has FWHM 1.4382 / (2 t_max) in
    ordinary frequency; gaussian: 2 sqrt(2 ln 2) / sigma in omega; none: 1.2067 / (2 t_max).
    """
    t_max = n_lags * dt_fs
    if name == "hann":
        fwhm_per_fs = 1.4382 / (2.0 * t_max)
    elif name == "gaussian":
        sigma = param if param is not None else t_max / 3.0
        fwhm_per_fs = 2.0 * np.sqrt(2.0 * np.log(2.0)) / sigma / (2.0 * np.pi)
    elif name == "none":
        fwhm_per_fs = 1.2067 / (2.0 * t_max)
    else:
        raise ValueError(f"unknown window {name!r}; known: {', '.join(WINDOWS)}")
    return fwhm_per_fs / SPEED_OF_LIGHT_CM_PER_FS


def describe(name: str, n_lags: int, dt_fs: float, param: float | None = None) -> str:
    """One line for a spectrum header."""
    t_max = n_lags * dt_fs
    if name == "gaussian":
        sigma = param if param is not None else t_max / 3.0
        text = f"gaussian exp(-t^2/(2 sigma^2)), sigma {sigma:g} fs"
    elif name == "hann":
        text = "hann cos^2(pi t / (2 t_max))"
    else:
        text = "none (box)"
    return f"{text}; t_max {t_max:g} fs; resolution ~{resolution_cm1(name, n_lags, dt_fs, param):.3g} cm^-1 FWHM"
