"""Numerical settings shared by every spectrum (time step, window, correlation length, blocks)."""

from __future__ import annotations

from dataclasses import dataclass

from . import windows
from .qcf import QCFS


@dataclass
class SpectralSettings:
    """How correlation functions become spectra.

    dt_fs: time between consecutive frames of the series, fs.
    corr_length_fs: correlation length t_max (largest lag), fs; default min(2 ps, block / 4).
    window, window_param: lag window (:mod:`tensorml.spectra.windows`); param = Gaussian sigma in fs.
    zero_pad: the transform length is zero_pad * 2 t_max / dt (finer grid, same resolution).
    blocks: independent blocks each run is cut into, for error bars (:mod:`tensorml.spectra.blocks`).
    max_wavenumber: highest wavenumber kept in the output, cm^-1 (default: Nyquist, 1 / (2 c dt)).
    qcf: quantum correction factor (:mod:`tensorml.spectra.qcf`).
    temperature: K (needed by absolute IR units, QCFs and Raman Bose factors).
    """

    dt_fs: float
    corr_length_fs: float | None = None
    window: str = "hann"
    window_param: float | None = None
    zero_pad: int = 2
    blocks: int = 1
    max_wavenumber: float | None = None
    qcf: str = "harmonic"
    temperature: float | None = None

    def __post_init__(self):
        if not (self.dt_fs and self.dt_fs > 0):
            raise ValueError(f"time step must be positive (got {self.dt_fs} fs)")
        if self.window not in windows.WINDOWS:
            raise ValueError(f"unknown window {self.window!r}; known: {', '.join(windows.WINDOWS)}")
        if self.qcf not in QCFS:
            raise ValueError(f"unknown quantum correction factor {self.qcf!r}; known: {', '.join(QCFS)}")
        if int(self.zero_pad) < 1:
            raise ValueError(f"zero padding factor must be >= 1 (got {self.zero_pad})")
        if int(self.blocks) < 1:
            raise ValueError(f"number of blocks must be >= 1 (got {self.blocks})")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be positive (got {self.temperature} K)")
        self.zero_pad = int(self.zero_pad)
        self.blocks = int(self.blocks)

    def header(self, max_lag: int, n_blocks_total: int) -> dict[str, str]:
        """Header entries describing these settings for a spectrum computed with ``max_lag`` frames."""
        from ..units import SPEED_OF_LIGHT_CM_PER_FS

        nyquist = 1.0 / (2.0 * SPEED_OF_LIGHT_CM_PER_FS * self.dt_fs)
        return {
            "time step": f"{self.dt_fs:g} fs between frames (Nyquist {nyquist:.6g} cm^-1)",
            "correlation length": f"{max_lag} frames = {max_lag * self.dt_fs:g} fs",
            "window": windows.describe(self.window, max_lag, self.dt_fs, self.window_param),
            "zero padding": f"x{self.zero_pad} (transform length {2 * max_lag * self.zero_pad})",
            "blocks": (
                f"{n_blocks_total} (mean over blocks; error = standard error of the mean)"
                if n_blocks_total > 1
                else "1 (no error estimate: error columns are NaN)"
            ),
            "mean removed": "yes (fluctuation correlations; unbiased estimator 1/(T-n))",
        }
