"""Plain arrays: ``.npy``, ``.npz`` and text/CSV tables.

* ``.npy``: one array, time along axis 0 (e.g. dipole (T, 3), polarizability (T, 3, 3) or
  (T, 9), velocities (T, N, 3), apt (T, N, 3, 3)).
* ``.npz``: named arrays; the quantity's name is the key (``dipole``, ``dmdt``,
  ``polarizability``, ``velocities`` (or unwrapped ``positions``), ``apt``, ``masses``, ``symbols``), and optional
  scalars
  ``dt_fs`` (time between rows, fs), ``steps`` (step numbers of the rows) and
  ``units`` (a string naming the unit of the arrays, checked against the user's).
* text (``.csv``, ``.txt``, ``.dat``; comma or whitespace separated; ``#`` comments): rows =
  frames.  An optional header comment names the columns, e.g. ``# time_fs mu_x mu_y mu_z``; a
  first column named ``step`` gives step numbers, one named ``time_fs``/``time_ps`` gives times
  (the row spacing is then checked against the user's time step); all other columns are the data.
* any of these gzip-compressed (``.npz.gz``, ``.csv.gz``, ...; :mod:`.files`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...units import TIME_UNITS
from .files import open_binary, open_text, strip_gz


@dataclass
class ArrayData:
    """values (T, ...); steps (T,) or None; dt_fs between rows if the file says; unit text or None."""

    path: str
    values: np.ndarray
    steps: np.ndarray | None = None
    dt_fs: float | None = None
    unit: str | None = None
    extras: dict | None = None


_TIME_COLS = {
    "time_fs": TIME_UNITS["fs"],
    "time[fs]": TIME_UNITS["fs"],
    "time_ps": TIME_UNITS["ps"],
    "time[ps]": TIME_UNITS["ps"],
    "time_au": TIME_UNITS["au"],
}


def _uniform_dt(times, path) -> float:
    d = np.diff(times)
    if d.size == 0 or not np.all(d > 0):
        raise ValueError(f"{path}: times must increase")
    if np.max(np.abs(d - d[0])) > 1e-6 * abs(d[0]) + 1e-9:
        i = int(np.argmax(np.abs(d - d[0]) > 1e-6 * abs(d[0]) + 1e-9))
        raise ValueError(f"{path}: gap or uneven time spacing at row {i + 1} ({times[i]} -> {times[i + 1]})")
    return float(d[0])


def read_array(path, key: str | None = None) -> ArrayData:
    """Read one quantity (``key`` for .npz) from an array file (module docstring)."""
    path = str(path)
    name = strip_gz(path)
    if name.endswith(".npy"):
        with open_binary(path) as fh:
            return ArrayData(path, np.load(fh, allow_pickle=False))
    if name.endswith(".npz"):
        with open_binary(path) as fh, np.load(fh, allow_pickle=False) as z:
            if key not in z:
                raise ValueError(f"{path}: no array {key!r} (arrays: {', '.join(z.files)})")
            steps = z["steps"] if "steps" in z else None
            dt = float(z["dt_fs"]) if "dt_fs" in z else None
            unit = str(z["units"]) if "units" in z else None
            extras = {k: z[k] for k in z.files if k in ("masses", "symbols", "volume", "molecules", "ids")}
            return ArrayData(path, z[key], steps, dt, unit, extras)
    names = None
    with open_text(path) as fh:
        for line in fh:
            if line.startswith("#"):
                toks = line[1:].replace(",", " ").split()
                if toks:
                    names = toks
            elif line.strip():
                delim = "," if "," in line else None
                break
        else:
            raise ValueError(f"{path}: no data rows")
    with open_text(path) as fh:
        data = np.loadtxt(fh, delimiter=delim, comments="#", ndmin=2)
    if names is not None and len(names) != data.shape[1]:
        names = None  # a free-text comment, not a column header
    steps = dt = None
    if names:
        first = names[0].lower()
        if first == "step":
            steps, data = data[:, 0].astype(np.int64), data[:, 1:]
        elif first in _TIME_COLS:
            dt = _uniform_dt(data[:, 0], path) * _TIME_COLS[first]
            data = data[:, 1:]
    return ArrayData(path, data, steps, dt)
