"""From files to global series: read, convert to internal units, check time steps, average beads.

Shared by all inputs: :class:`Context` (what the user said, the LAMMPS log and i-PI input, the time
step and temperature all sources agree on, notes for the output header).  Per-atom data (APTs,
velocities, positions) are read by :mod:`.peratom`.

Internal units: time fs, dipole e*angstrom, dM/dt e*angstrom/fs, polarizability angstrom^3,
velocities angstrom/fs, APT e, volume angstrom^3.

Time.  Step numbers come from the files (LAMMPS, i-PI, ``step`` columns); the MD time step
(fs per step) from ``--timestep``, the LAMMPS log (``timestep`` in the run's time unit), a
dump's ``ITEM: TIME``, the i-PI input (``<timestep units=...>``) or an array's time column.
Every source that states it must agree (relative 1e-6), or it is an error; the time between
frames is stride * time step, the stride read from the step numbers, which must be evenly
spaced (gaps, repeats and uneven spacing are errors).  All series of one run must have the
same steps, and all runs the same time between frames.

Atom types.  The elements of LAMMPS atom types come from ``--type-map``, else from the log's
``pair_coeff * * O H`` line of pair_style tensorml (also ``pair_coeff * * tensorml O H`` under
pair_style hybrid/overlay); :meth:`Context.type_map` notes which, and warns when an explicit map
disagrees with the log (the explicit one is used).

Temperature (K).  ``--temperature``, else the i-PI input's ensemble temperature (a contradicting
``--temperature`` is an error), else the mean thermo ``Temp`` of the LAMMPS log's MD run over the
analysed steps (:meth:`Context.temperature`).

Files may be gzip-compressed (:mod:`.readers.files`).

Beads.  A file name with ``{bead}`` stands for one file per bead (LAMMPS partitions, i-PI
``_<bead>`` files); i-PI raw extras hold all beads in every file.  Bead data are reduced by
the path-integral estimator of :mod:`.pimd`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..units import (
    AU_TIME_FS,
    LAMMPS_TIME_UNIT_FS,
    LAMMPS_UNIT_SYSTEMS,
    LAMMPS_VELOCITY_TIME_UNIT_FS,
    LENGTH_UNITS,
)
from . import pimd
from .readers import check_finite, check_steps, expand_beads
from .readers.files import open_text, strip_gz
from .readers import arrays as arrays_reader
from .readers import ipi as ipi_reader
from .readers import lammps as lammps_reader

#: Unit systems of array files: (length in angstrom, time of velocities in fs).
ARRAY_SYSTEMS = {
    "internal": (1.0, 1.0),
    "metal": (1.0, LAMMPS_VELOCITY_TIME_UNIT_FS["metal"]),
    "real": (1.0, LAMMPS_VELOCITY_TIME_UNIT_FS["real"]),
    "electron": (LENGTH_UNITS["bohr"], LAMMPS_VELOCITY_TIME_UNIT_FS["electron"]),
    "atomic": (LENGTH_UNITS["bohr"], AU_TIME_FS),
}
#: quantity -> (power of length, power of (velocity) time) of its unit
DIMENSIONS = {"dipole": (1, 0), "dmdt": (1, -1), "polarizability": (3, 0), "velocities": (1, -1), "apt": (0, 0)}
#: per-frame shape of each quantity (N = atoms)
SHAPES = {"dipole": (3,), "dmdt": (3,), "polarizability": (3, 3)}


def _factor(quantity: str, length: float, vtime: float) -> float:
    pl, pt = DIMENSIONS[quantity]
    return length**pl * vtime**pt


def _rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


@dataclass
class InputOptions:
    """What the user said about the inputs (CLI flags)."""

    fmt: str = "auto"  # auto | lammps | ipi | array
    columns: dict[str, str] = field(default_factory=dict)
    lammps_log: str | None = None
    lammps_units: str | None = None
    ipi_input: str | None = None
    timestep_fs: float | None = None
    array_units: str = "internal"
    estimator: str = "trpmd"
    type_map: dict[str, str] = field(default_factory=dict)
    masses: dict[str, float] = field(default_factory=dict)
    volume: float | None = None
    box_from: str | None = None
    compute_id: str | None = None


class Context:
    """Shared state while loading: parsed log / i-PI input, LAMMPS units, time-step candidates, notes."""

    def __init__(self, opts: InputOptions):
        self.opts = opts
        pimd.check(opts.estimator)
        if opts.array_units not in ARRAY_SYSTEMS:
            raise ValueError(f"unknown array units {opts.array_units!r}; known: {', '.join(ARRAY_SYSTEMS)}")
        self.log = lammps_reader.read_log(opts.lammps_log) if opts.lammps_log else None
        self.ipi = ipi_reader.read_input(opts.ipi_input) if opts.ipi_input else None
        self._units: list[tuple[str, str]] = []
        if opts.lammps_units:
            self._units.append((opts.lammps_units, "--lammps-units"))
        if self.log and self.log.units:
            self._units.append((self.log.units, self.log.path))
        self.md_dt: list[tuple[float, str]] = []
        if opts.timestep_fs is not None:
            if not opts.timestep_fs > 0:
                raise ValueError(f"--timestep must be positive (got {opts.timestep_fs})")
            self.md_dt.append((opts.timestep_fs, "--timestep"))
        if self.ipi and self.ipi.timestep_fs:
            self.md_dt.append((self.ipi.timestep_fs, f"{self.ipi.path} <timestep>"))
        self.frame_dt: list[tuple[float, str]] = []
        self.volumes: list[tuple[float, str]] = []
        self.notes: dict[str, str] = {}
        self._type_map: tuple[dict[str, str], str] | None = None
        if self._units:  # the log's timestep counts (and is checked) whatever the inputs are
            self.lammps_units()

    # -- units
    def lammps_units(self, found: str | None = None, source: str = "") -> str:
        if found:
            self._units.append((found, source))
        names = {u for u, _ in self._units}
        if len(names) > 1:
            raise ValueError("conflicting LAMMPS units: " + ", ".join(f"{u} ({s})" for u, s in self._units))
        if not names:
            raise ValueError("LAMMPS units unknown: give --lammps-units (metal, real, electron) or --lammps-log")
        units = names.pop()
        if units not in LAMMPS_UNIT_SYSTEMS:
            raise ValueError(f"LAMMPS units {units!r} not supported (metal, real, electron)")
        if self.log and self.log.timestep and not any(s.startswith(self.log.path) for _, s in self.md_dt):
            self.md_dt.append((self.log.timestep * LAMMPS_TIME_UNIT_FS[units], f"{self.log.path} (timestep)"))
        return units

    def lammps_factor(self, quantity: str, units: str) -> float:
        length = LENGTH_UNITS[LAMMPS_UNIT_SYSTEMS[units].length]
        return _factor(quantity, length, LAMMPS_VELOCITY_TIME_UNIT_FS[units])

    # -- atom types
    def type_map(self) -> tuple[dict[str, str], str]:
        """(LAMMPS type -> element, where it comes from): --type-map, else the log's tensorml pair_coeff line.

        Empty without either.  The first call records the source in the notes (the output says it), and a
        warning when --type-map contradicts the log.
        """
        if self._type_map is not None:
            return self._type_map
        from .readers.lammps import format_type_map

        given = dict(self.opts.type_map)
        logged, log_source, log_error = None, None, None
        if self.log is not None:
            try:
                logged, log_source = self.log.type_map, self.log.type_map_source
            except ValueError as err:  # several maps in the log: fatal only when nothing else gives one
                log_error = err
        if given:
            source = "--type-map"
            if logged:
                differ = sorted((t for t in given if t in logged and logged[t] != given[t]), key=str)
                if differ:
                    self.notes["warning: type map"] = (
                        f"--type-map {format_type_map(given)} disagrees with {log_source} "
                        f"(= {format_type_map(logged)}) for type(s) {', '.join(differ)}; the --type-map is used"
                    )
            type_map = given
        elif log_error is not None:
            raise log_error
        elif logged:
            type_map, source = logged, log_source
        else:
            self._type_map = ({}, "none")
            return self._type_map
        self.notes["type map"] = f"{format_type_map(type_map)} (from {source})"
        self._type_map = (type_map, source)
        return self._type_map

    def no_type_map_hint(self) -> str:
        """How to give the elements of the atom types (for error messages)."""
        text = (
            "give --type-map (e.g. 1=O,2=H), or the --lammps-log of the run, whose 'pair_coeff * * O H' line "
            "of pair_style tensorml ('pair_coeff * * tensorml O H' under pair_style hybrid/overlay) names them"
        )
        if self.log is not None:
            text += f" ({self.log.path} has no such line)"
        return text

    # -- temperature
    def temperature(self, given: float | None, steps=None) -> tuple[float | None, str]:
        """(T in K or None, source): --temperature, else the i-PI input, else the LAMMPS log's mean Temp.

        An i-PI ensemble temperature that contradicts --temperature is an error; a LAMMPS log whose mean
        kinetic temperature (over the analysed steps, ``steps``) differs from --temperature by more
        than 10 % gives a warning (the instantaneous temperature fluctuates).
        """
        ipi_T = self.ipi.temperature if self.ipi is not None else None
        if ipi_T and given is not None and abs(given - ipi_T) > 1e-6 * given:
            raise ValueError(f"mismatched temperatures: --temperature {given:g} K but {self.ipi.path} says {ipi_T:g} K")
        if ipi_T:
            return ipi_T, f"{self.ipi.path} <ensemble><temperature>" + (" = --temperature" if given else "")
        log_T = None
        if self.log is not None and any("Temp" in b.names for b in self.log.thermo):
            rng = (int(steps[0]), int(steps[-1])) if steps is not None and len(steps) else (None, None)
            log_T = self.log.temperature(*rng)
        if given is not None:
            if log_T and abs(log_T[0] - given) > 0.1 * given:
                self.notes["warning: temperature"] = (
                    f"--temperature {given:g} K, but the log says {log_T[0]:.4g} K ({log_T[1]})"
                )
            return given, "--temperature"
        if log_T:
            return log_T[0], log_T[1]
        return None, "not given"

    # -- time
    def timestep(self) -> tuple[float, str]:
        """The MD time step (fs per step number) all sources agree on."""
        if not self.md_dt:
            raise ValueError("the time step is unknown: give --timestep (fs), or --lammps-log / --ipi-input")
        v0, s0 = self.md_dt[0]
        for v, s in self.md_dt[1:]:
            if _rel_diff(v, v0) > 1e-6:
                raise ValueError(f"mismatched time steps: {v0:g} fs ({s0}) but {v:g} fs ({s})")
        return v0, " = ".join(sorted({s for _, s in self.md_dt}))

    def frame_time(self, stride: int, source: str) -> float:
        """Register a series of the given stride; returns the time between its frames (fs)."""
        dt, _ = self.timestep()
        fdt = stride * dt
        for v, s in self.frame_dt:
            if _rel_diff(v, fdt) > 1e-6:
                raise ValueError(
                    f"mismatched time steps: frames every {v:g} fs in {s} but every {fdt:g} fs in {source}"
                )
        self.frame_dt.append((fdt, source))
        return fdt

    def volume(self) -> float | None:
        """Box volume (angstrom^3): --volume, else the mean of the volumes read (dumps, i-PI cells, --box-from, log)."""
        if self.opts.volume is not None:
            if not self.opts.volume > 0:
                raise ValueError(f"--volume must be positive (got {self.opts.volume})")
            self.notes["volume source"] = "--volume"
            return self.opts.volume
        if not self.volumes and self.opts.box_from:
            self.volumes.append((self.box_volume(self.opts.box_from), self.opts.box_from))
        if not self.volumes and self.log and self.log.volume:
            self.volumes.append((self.log.volume * self._lammps_length3(), self.log.path + " (initial box)"))
        vals = [v for v, _ in self.volumes if np.isfinite(v) and v > 0]
        if not vals:
            return None
        self.notes["volume source"] = ", ".join(sorted({s for _, s in self.volumes}))
        if max(vals) - min(vals) > 1e-6 * max(vals):
            self.notes["volume source"] += f" (varies {min(vals):.6g}..{max(vals):.6g}: mean used)"
        return float(np.mean(vals))

    def _lammps_length3(self, found: str | None = None, source: str = "") -> float:
        units = self.lammps_units(found, source)
        return LENGTH_UNITS[LAMMPS_UNIT_SYSTEMS[units].length] ** 3

    def box_volume(self, path: str) -> float:
        """Mean box volume (angstrom^3) of an i-PI xyz trajectory, a LAMMPS dump or a LAMMPS log."""
        kind = detect_format(path)
        if kind == "ipi-xyz":
            return float(ipi_reader.read_xyz(path).volumes().mean())
        if kind == "lammps-dump":
            frames = list(lammps_reader.iter_dump(path))
            units = frames[0].units
            return float(np.mean([f.volume for f in frames])) * self._lammps_length3(
                units, f"{path} (ITEM: UNITS)" if units else ""
            )
        if kind == "lammps-log":
            log = lammps_reader.read_log(path)
            if log.volume is None:
                raise ValueError(f"{path}: no box in the log")
            return log.volume * self._lammps_length3(log.units, path if log.units else "")
        raise ValueError(f"{path}: cannot read a box volume from this file (i-PI xyz, LAMMPS dump or log)")


def detect_format(path: str) -> str:
    """'array-npy', 'array-npz', 'lammps-ave', 'lammps-dump', 'lammps-log', 'ipi-extras', 'ipi-xyz' or 'array-text'.

    Gzip-compressed files are recognised by their content (:mod:`.readers.files`).
    """
    p = str(path)
    name = strip_gz(p)
    if name.endswith(".npy"):
        return "array-npy"
    if name.endswith(".npz"):
        return "array-npz"
    with open_text(p, errors="replace") as fh:
        head = [fh.readline() for _ in range(3)]
    text = "".join(head)
    if "#EXTRAS" in text:
        return "ipi-extras"
    if head[0].startswith("ITEM:"):
        return "lammps-dump"
    if "Time-averaged data" in text or "# TimeStep" in text:
        return "lammps-ave"
    if head[0].startswith("LAMMPS ("):
        return "lammps-log"
    if head[0].strip().isdigit() and ("CELL(abcABC)" in head[1] or "Step:" in head[1]):
        return "ipi-xyz"
    return "array-text"


@dataclass
class Series:
    """A global quantity of one run: steps (T,), values (T, ...) in internal units, frame spacing (fs)."""

    steps: np.ndarray
    values: np.ndarray
    dt_fs: float
    source: str


def resolve_kind(path: str, opts: InputOptions) -> str:
    """The detected kind of a file (:func:`detect_format`), checked against ``--format``.

    ``--format array`` reads any text file as a plain table; for lammps/ipi the file must look like one.
    """
    kind = detect_format(path)
    want = opts.fmt
    if want == "auto" or kind.startswith(want):
        return kind
    if want == "array":
        return "array-text"
    raise ValueError(f"{path}: looks like {kind}, but --format {want} was given")


def _stack_beads(parts: list[tuple[np.ndarray, np.ndarray]], what: str) -> tuple[np.ndarray, np.ndarray]:
    steps0 = parts[0][0]
    for k, (s, _) in enumerate(parts[1:], start=1):
        if s.shape != steps0.shape or np.any(s != steps0):
            raise ValueError(f"{what}: bead {k} has different step numbers than bead 0")
    return steps0, np.stack([v for _, v in parts], axis=1)


def load_global(spec: str, quantity: str, ctx: Context) -> Series:
    """Dipole, dM/dt or polarizability of one run (a file or a {bead} pattern), bead-reduced."""
    files = expand_beads(spec)
    per_bead = []
    all_beads = None
    for path in files:
        kind = resolve_kind(path, ctx.opts)
        if kind == "lammps-ave":
            ave = lammps_reader.read_ave_time(path)
            cols = lammps_reader.resolve_columns(
                ave.names, quantity, "global", ctx.opts.columns.get(quantity), ctx.log, ctx.opts.compute_id
            )
            units = ctx.lammps_units()
            vals = ave.columns(cols) * ctx.lammps_factor(quantity, units)
            steps = ave.steps
            if ave.dropped:
                ctx.notes[f"{path}"] = f"{ave.dropped} repeated step(s) (restart overlap) dropped"
        elif kind == "ipi-extras":
            key = {"dipole": "dipole", "polarizability": "polarizability"}.get(quantity)
            if key is None:
                raise ValueError(f"i-PI extras carry no {quantity}; use the APT route (--apt with --velocities)")
            ex = ipi_reader.read_extras(path, key)
            vals = ex.values * _factor(quantity, LENGTH_UNITS["bohr"], AU_TIME_FS)
            steps = ex.steps
            if ex.all_beads:  # raw extras: every file holds all beads
                all_beads = (steps, vals)
                break
        elif kind.startswith("array"):
            arr = arrays_reader.read_array(path, quantity)
            length, vtime = ARRAY_SYSTEMS[ctx.opts.array_units]
            vals = np.asarray(arr.values, dtype=float) * _factor(quantity, length, vtime)
            steps = arr.steps if arr.steps is not None else np.arange(len(vals))
            if arr.dt_fs is not None:
                stride = check_steps(steps, path)
                ctx.md_dt.append((arr.dt_fs / stride, f"{path} (time column)"))
            if arr.unit is not None and arr.unit != ctx.opts.array_units:
                raise ValueError(
                    f"{path} says its units are {arr.unit!r}, but --array-units is {ctx.opts.array_units!r}"
                )
        else:
            raise ValueError(f"{path}: a {kind} file does not hold a {quantity} series")
        vals = np.asarray(vals, dtype=float)
        if quantity == "polarizability" and vals.ndim == 2 and vals.shape[1] == 9:
            vals = vals.reshape(-1, 3, 3)
        per_bead.append((steps, vals))
    if all_beads is not None:
        steps, vals = all_beads
        nb = vals.shape[1]
        if len(files) > 1 and nb != len(files):
            raise ValueError(f"{spec}: {len(files)} bead files but the extras hold {nb} beads")
    elif len(per_bead) > 1:
        steps, vals = _stack_beads(per_bead, spec)
    else:
        steps, vals = per_bead[0]
    shape = SHAPES[quantity]
    beads = vals.ndim == 2 + len(shape)
    if vals.shape[-len(shape) :] != shape or vals.ndim not in (1 + len(shape), 2 + len(shape)):
        raise ValueError(f"{spec}: {quantity} of shape {vals.shape[1:]} per frame, expected {shape}")
    check_finite(vals, spec, steps)
    if beads:
        ctx.notes["beads"] = f"{vals.shape[1]}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
        vals = pimd.bead_average(vals, axis=1)
    stride = check_steps(steps, spec)
    return Series(steps, vals, ctx.frame_time(stride, spec), spec)
