"""Block averaging: spectra of independent segments or runs, their mean and standard error.

A run (one trajectory) is cut into ``n_blocks`` contiguous blocks of equal length
(a remainder of frames at the end is dropped); independent runs each contribute
their blocks.  Every block gives its own spectrum, with the same correlation
length and frequency grid; the result is the mean over the B blocks and its
standard error sqrt(var / B) (sample variance, ddof = 1).  Blocks much longer than
the correlation time are statistically independent, which this assumes.  With
B = 1 the error is NaN (unknown), never zero.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from .correlate import MIN_FRAMES, check_max_lag, spectral_density


def block_slices(n_frames: int, n_blocks: int) -> list[slice]:
    """Contiguous equal blocks of a series of ``n_frames`` frames."""
    if n_blocks < 1:
        raise ValueError(f"number of blocks must be >= 1 (got {n_blocks})")
    size = n_frames // n_blocks
    if size < MIN_FRAMES:
        raise ValueError(
            f"series too short: {n_frames} frames cut into {n_blocks} blocks leaves {size} frames per block "
            f"(at least {MIN_FRAMES} needed)"
        )
    return [slice(b * size, (b + 1) * size) for b in range(n_blocks)]


def mean_and_error(samples) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and its standard error (NaN when there is a single sample)."""
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis=0)
    if samples.shape[0] < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])


def default_max_lag(block_frames: int, dt_fs: float, corr_length_fs: float | None) -> int:
    """Correlation length in frames: the requested one, else min(2 ps, a quarter of a block)."""
    if corr_length_fs is None:
        return max(1, min(int(round(2000.0 / dt_fs)), block_frames // 4))
    if not corr_length_fs > 0:
        raise ValueError(f"correlation length must be positive (got {corr_length_fs} fs)")
    return int(round(corr_length_fs / dt_fs))


def blockwise_spectra(
    runs: Sequence[Mapping[str, np.ndarray]],
    correlate: Callable[[Mapping[str, np.ndarray], int], Mapping[str, np.ndarray]],
    settings,
) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """Windowed spectra S (see :func:`correlate.spectral_density`) of every block of every run.

    runs: list of dicts name -> array (T, ...), all arrays of a run sharing the time axis.
    correlate(block, max_lag): dict name -> correlation function(s) (..., max_lag + 1).
    settings: a :class:`tensorml.spectra.settings.SpectralSettings`.
    Returns (omega rad/fs, {name: array (B, ..., F)}, max_lag in frames).
    """
    if not runs:
        raise ValueError("no data: give at least one run")
    lengths = []
    for r, run in enumerate(runs):
        ts = {k: np.shape(v)[0] for k, v in run.items()}
        if len(set(ts.values())) != 1:
            raise ValueError(f"run {r}: series of different lengths {ts}")
        lengths.append(next(iter(ts.values())))
    block_frames = min(n // settings.blocks for n in lengths)
    max_lag = default_max_lag(block_frames, settings.dt_fs, settings.corr_length_fs)
    check_max_lag(block_frames, max_lag)
    out: dict[str, list] = {}
    omega = None
    for run, n in zip(runs, lengths):
        for sl in block_slices(n, settings.blocks):
            corr = correlate({k: np.asarray(v)[sl] for k, v in run.items()}, max_lag)
            for name, c in corr.items():
                omega, s = spectral_density(
                    c, settings.dt_fs, settings.window, settings.window_param, settings.zero_pad
                )
                out.setdefault(name, []).append(s)
    return omega, {k: np.asarray(v) for k, v in out.items()}, max_lag
