"""Velocities from positions by central differences, for runs that wrote positions but no velocities.

The APT route of the IR spectrum (APTNN seed eq. 4, dM/dt = sum_i P_i v_i) and the VDOS need
atomic velocities.  When a run wrote only positions (LAMMPS ``dump custom ... xu yu zu``, i-PI
``positions`` / ``x_centroid`` trajectories, an .npz with ``positions``), the velocity of frame k
is the central difference of the *unwrapped* positions of its neighbours,

    v(t_k) = [r(t_{k+1}) - r(t_{k-1})] / (2 dt),      dt = time between frames,

and the first and last frames, which have no two neighbours, are dropped.  For a vibration
r = A cos(w t) this gives -A w sin(w t) * sin(w dt)/(w dt): amplitudes are attenuated by
sinc = sin(w dt)/(w dt) and velocity spectra by sinc^2 (:func:`attenuation`), which is 1 at
w -> 0 and 0 at the Nyquist frequency; the output header states the wavenumber where the
amplitude loss reaches 10 % (:func:`describe`).  Write positions often (dt of a few fs or less
for O-H stretches) or, better, velocities.

Wrapped positions jump by a box length when an atom crosses the boundary, which would be a huge
spurious velocity: a displacement of more than half the smallest cell width between two frames is
an error (:func:`check_unwrapped`).  Units: positions in angstrom, times in fs, velocities in
angstrom/fs (or angstrom per MD step when ``dt`` is one step, as the streaming LAMMPS reader uses).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..units import CM1_TO_RAD_PER_FS


def central_difference(positions, dt: float = 1.0) -> np.ndarray:
    """Velocities (T-2, ...) of the interior frames of positions (T, ...) spaced dt apart (see the docstring)."""
    r = np.asarray(positions, dtype=float)
    if r.shape[0] < 3:
        raise ValueError(f"{r.shape[0]} frame(s) of positions: central differences need at least 3")
    if not dt > 0:
        raise ValueError(f"time between frames must be positive (got {dt})")
    return (r[2:] - r[:-2]) / (2.0 * dt)


def attenuation(wavenumber_cm1, dt_fs: float) -> np.ndarray:
    """Amplitude factor sin(w dt)/(w dt) of central differences at wavenumbers (cm^-1), frames dt_fs apart."""
    x = np.asarray(wavenumber_cm1, dtype=float) * CM1_TO_RAD_PER_FS * dt_fs
    return np.sinc(x / np.pi)  # numpy's sinc is sin(pi y)/(pi y)


def wavenumber_at(level: float, dt_fs: float) -> float:
    """Wavenumber (cm^-1) where the amplitude factor sin(w dt)/(w dt) falls to ``level`` (0 < level < 1)."""
    from scipy.optimize import brentq

    if not 0.0 < level < 1.0:
        raise ValueError(f"attenuation level must be between 0 and 1 (got {level})")
    x = brentq(lambda y: np.sinc(y / np.pi) - level, 1e-12, np.pi)
    return float(x / (CM1_TO_RAD_PER_FS * dt_fs))


def describe(dt_fs: float, source: str) -> str:
    """Header text: how velocities were obtained and how much the central difference attenuates."""
    nu10 = wavenumber_at(0.9, dt_fs)
    return (
        f"central differences of unwrapped positions ({source}), v(t) = [r(t+dt) - r(t-dt)]/(2 dt) with "
        f"dt = {dt_fs:g} fs between frames; first and last frames dropped; amplitudes scaled by "
        f"sin(w dt)/(w dt) (spectra by its square): -10% at {nu10:.0f} cm^-1"
    )


def cell_widths(cellpar) -> np.ndarray:
    """Perpendicular widths (angstrom) of cells given as (..., 6) a b c alpha beta gamma (angstrom, degrees)."""
    from ase.geometry import cellpar_to_cell

    cellpar = np.atleast_2d(np.asarray(cellpar, dtype=float))
    out = []
    for par in cellpar:
        h = cellpar_to_cell(par)
        vol = abs(np.linalg.det(h))
        out.append([vol / np.linalg.norm(np.cross(h[(k + 1) % 3], h[(k + 2) % 3])) for k in range(3)])
    return np.array(out)


def check_unwrapped(positions, min_width: float | None, what: str, steps=None) -> None:
    """Error if an atom moves by more than half of ``min_width`` (angstrom) between consecutive frames.

    positions (T, ..., 3) in angstrom; min_width None or not finite: nothing to compare with.
    """
    if min_width is None or not np.isfinite(min_width):
        return
    r = np.asarray(positions, dtype=float)
    if r.shape[0] < 2:
        return
    jump = np.linalg.norm(np.diff(r, axis=0), axis=-1).reshape(r.shape[0] - 1, -1).max(axis=1)
    bad = np.nonzero(jump > 0.5 * min_width)[0]
    if bad.size:
        k = int(bad[0])
        where = f"steps {int(steps[k])} -> {int(steps[k + 1])}" if steps is not None else f"frames {k} -> {k + 1}"
        raise ValueError(
            f"{what}: an atom moves {jump[k]:.3g} angstrom between {where}, more than half the cell "
            f"width {min_width:.3g}: wrapped positions? velocities need unwrapped ones (LAMMPS: dump "
            "xu yu zu; i-PI writes unwrapped positions) or dumped velocities"
        )


class StreamingDifferences:
    """Central differences over a stream of frames, keeping only the last two.

    ``push(step, r, payload)`` with r (..., 3) in angstrom returns None for the first two frames and
    then (step, v, payload) of the *previous* frame, v = [r(next) - r(prev)] / (step(next) - step(prev))
    in angstrom per MD step (multiply by 1/timestep for angstrom/fs).  Jumps of more than half of
    ``min_width`` between consecutive frames are errors (:func:`check_unwrapped`).
    """

    def __init__(self, what: str):
        self.what = what
        self._frames: deque = deque(maxlen=2)
        self.steps: list[int] = []  # every step pushed (for the spacing check of all frames)

    def push(self, step: int, r, payload=None, min_width: float | None = None):
        r = np.asarray(r, dtype=float)
        if self._frames:
            s_prev, r_prev, _ = self._frames[-1]
            check_unwrapped(np.stack([r_prev, r]), min_width, self.what, [s_prev, step])
        out = None
        if len(self._frames) == 2:
            (s0, r0, _), (s1, _, p1) = self._frames
            if step <= s0:
                raise ValueError(f"{self.what}: step numbers do not increase ({s0} -> {s1} -> {step})")
            out = (s1, (r - r0) / float(step - s0), p1)
        self._frames.append((step, r, payload))
        self.steps.append(int(step))
        return out
