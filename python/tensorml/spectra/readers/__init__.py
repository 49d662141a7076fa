"""Readers for what LAMMPS, i-PI and plain arrays write, and checks shared by them.

* :mod:`.lammps`: ``fix ave/time`` files, ``dump custom`` text files, ``log.lammps``
  (units, timestep, box, the column layout printed by ``compute tensorml/props``, the elements
  of the atom types from the ``pair_coeff * * [tensorml] O H`` line of pair_style tensorml, and
  the thermo output, whose ``Temp`` column gives the temperature).
* :mod:`.ipi`: i-PI extras trajectories (``extras``, ``extras_component_raw``), xyz
  trajectories (positions/velocities per bead or centroid) and the input XML (timestep,
  temperature, beads).
* :mod:`.arrays`: ``.npy``, ``.npz`` and text/CSV arrays.
* :mod:`.files`: every file may be gzip-compressed (recognised by its content).

Readers return values in the units the file says (or the engine's documented units) together
with those units; :mod:`tensorml.spectra.assemble` converts to the spectra's internal units
(fs, angstrom, e).  Per-bead files are named by a pattern with ``{bead}`` (e.g.
``props.dat.{bead}``, ``water.extras_{bead}``), which :func:`expand_beads` turns into the
list of files, ordered by bead index.
"""

from __future__ import annotations

import glob
import re

import numpy as np


def expand_beads(pattern: str) -> list[str]:
    """Files of a per-bead pattern with ``{bead}`` (digits), ordered by bead; [pattern] without one."""
    if "{bead}" not in pattern:
        return [pattern]
    head, tail = pattern.split("{bead}", 1)
    rx = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")
    found = []
    for path in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        m = rx.match(path)
        if m:
            found.append((int(m.group(1)), path))
    if not found:
        raise FileNotFoundError(f"no files match the bead pattern {pattern!r}")
    found.sort()
    beads = [b for b, _ in found]
    if beads != list(range(beads[0], beads[0] + len(beads))):
        raise ValueError(f"bead pattern {pattern!r}: bead numbers {beads} are not contiguous")
    return [p for _, p in found]


def check_steps(steps, what: str) -> int:
    """Stride between the step numbers of a series; errors on gaps, repeats and uneven spacing."""
    steps = np.asarray(steps, dtype=np.int64)
    if steps.size < 2:
        raise ValueError(f"{what}: only {steps.size} frame(s); a spectrum needs a time series")
    d = np.diff(steps)
    bad = np.nonzero(d <= 0)[0]
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"{what}: step numbers do not increase at frame {i + 1} ({steps[i]} -> {steps[i + 1]}); "
            "a restart that rewrote steps? cut the file or give the segments as separate runs"
        )
    stride = int(np.bincount(d).argmax()) if d.max() < 10**7 else int(np.median(d))
    bad = np.nonzero(d != stride)[0]
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"{what}: gap or uneven spacing: steps {steps[i]} -> {steps[i + 1]} (elsewhere every "
            f"{stride}); {bad.size} irregular interval(s). Give the pieces as separate runs"
        )
    return stride


def drop_repeated_steps(steps, *arrays):
    """Drop frames whose step equals the previous frame's and whose data are identical (restart overlap).

    Returns (steps, arrays..., n_dropped); a repeated step with different data is an error.
    """
    steps = np.asarray(steps)
    if steps.size < 2:
        return (steps, *arrays, 0)
    rep = np.nonzero(np.diff(steps) == 0)[0] + 1
    for i in rep:
        for a in arrays:
            if not np.array_equal(a[i], a[i - 1], equal_nan=True):
                raise ValueError(f"step {steps[i]} appears twice with different data (frames {i - 1} and {i})")
    keep = np.ones(steps.size, dtype=bool)
    keep[rep] = False
    return (steps[keep], *[a[keep] for a in arrays], int(rep.size))


def check_finite(values, what: str, steps=None) -> None:
    """Error naming the first frame (and step) with NaN/inf values."""
    v = np.asarray(values, dtype=float)
    bad = ~np.isfinite(v.reshape(v.shape[0], -1)).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        where = f" (step {int(steps[i])})" if steps is not None else ""
        raise ValueError(f"{what}: NaN or infinite values in frame {i}{where}; {int(bad.sum())} bad frame(s)")
