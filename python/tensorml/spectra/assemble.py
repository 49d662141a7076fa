"""From files to runs: read, convert to internal units, check time steps, average beads, partition atoms.

Internal units: time fs, dipole e*angstrom, dM/dt e*angstrom/fs, polarizability angstrom^3,
velocities angstrom/fs, APT e, volume angstrom^3.

Time.  Step numbers come from the files (LAMMPS, i-PI, ``step`` columns); the MD time step
(fs per step) from ``--timestep``, the LAMMPS log (``timestep`` in the run's time unit), a
dump's ``ITEM: TIME``, the i-PI input (``<timestep units=...>``) or an array's time column.
Every source that states it must agree (relative 1e-6), or it is an error; the time between
frames is stride * time step, the stride read from the step numbers, which must be evenly
spaced (gaps, repeats and uneven spacing are errors).  All series of one run must have the
same steps, and all runs the same time between frames.

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
from .decompose import by_label, by_molecule, parse_groups, part_sums
from .readers import check_finite, check_steps, expand_beads
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
                raise ValueError(f"mismatched time steps: frames every {v:g} fs in {s} but every {fdt:g} fs in "
                                 f"{source}")
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
                units, f"{path} (ITEM: UNITS)" if units else "")
        if kind == "lammps-log":
            log = lammps_reader.read_log(path)
            if log.volume is None:
                raise ValueError(f"{path}: no box in the log")
            return log.volume * self._lammps_length3(log.units, path if log.units else "")
        raise ValueError(f"{path}: cannot read a box volume from this file (i-PI xyz, LAMMPS dump or log)")


def detect_format(path: str) -> str:
    """'array-npy', 'array-npz', 'lammps-ave', 'lammps-dump', 'lammps-log', 'ipi-extras', 'ipi-xyz' or 'array-text'."""
    p = str(path)
    if p.endswith(".npy"):
        return "array-npy"
    if p.endswith(".npz"):
        return "array-npz"
    with open(p, errors="replace") as fh:
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
            cols = lammps_reader.resolve_columns(ave.names, quantity, "global", ctx.opts.columns.get(quantity),
                                                 ctx.log, ctx.opts.compute_id)
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
                raise ValueError(f"{path} says its units are {arr.unit!r}, "
                                 f"but --array-units is {ctx.opts.array_units!r}")
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
    if vals.shape[-len(shape):] != shape or vals.ndim not in (1 + len(shape), 2 + len(shape)):
        raise ValueError(f"{spec}: {quantity} of shape {vals.shape[1:]} per frame, expected {shape}")
    check_finite(vals, spec, steps)
    if beads:
        ctx.notes["beads"] = f"{vals.shape[1]}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
        vals = pimd.bead_average(vals, axis=1)
    stride = check_steps(steps, spec)
    return Series(steps, vals, ctx.frame_time(stride, spec), spec)


# ----------------------------------------------------------------------------- per-atom data
@dataclass
class Atoms:
    """Static per-atom information of a run."""

    ids: np.ndarray
    types: list[str] | None = None
    elements: list[str] | None = None
    molecules: np.ndarray | None = None
    masses: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.ids)


def _elements_and_masses(atoms: Atoms, opts: InputOptions) -> Atoms:
    from ase.data import atomic_masses, atomic_numbers

    if atoms.elements is None and atoms.types is not None and opts.type_map:
        missing = sorted({t for t in atoms.types if t not in opts.type_map})
        if missing:
            raise ValueError(f"--type-map does not name type(s) {missing}")
        atoms.elements = [opts.type_map[t] for t in atoms.types]
    if atoms.masses is None:
        keys = atoms.types if atoms.types is not None else atoms.elements
        if opts.masses and keys is not None and all(k in opts.masses for k in keys):
            atoms.masses = np.array([opts.masses[k] for k in keys])
        elif opts.masses and atoms.elements is not None and all(e in opts.masses for e in atoms.elements):
            atoms.masses = np.array([opts.masses[e] for e in atoms.elements])
        elif atoms.elements is not None:
            bad = sorted({e for e in atoms.elements if e not in atomic_numbers})
            if bad:
                raise ValueError(f"unknown element symbol(s) {bad}")
            atoms.masses = np.array([atomic_masses[atomic_numbers[e]] for e in atoms.elements])
    return atoms


@dataclass
class AtomRun:
    """Per-atom data of one run reduced per frame: steps, reduced arrays, atoms, frame spacing."""

    steps: np.ndarray
    data: dict[str, np.ndarray]
    atoms: Atoms
    dt_fs: float
    source: str


def _dump_atoms(frame, opts) -> Atoms:
    names = frame.names
    col = lambda n: frame.data[:, names.index(n)]  # noqa: E731
    ids = col("id").astype(int) if "id" in names else np.arange(1, len(frame.data) + 1)
    atoms = Atoms(ids)
    if "type" in names:
        atoms.types = [str(int(t)) for t in col("type")]
    if "element" in frame.strings:
        atoms.elements = list(frame.strings["element"])
    if "mol" in names:
        atoms.molecules = col("mol").astype(int)
    if "mass" in names:
        atoms.masses = col("mass")
    return _elements_and_masses(atoms, opts)


def _try_columns(names, quantity: str, ctx: Context) -> list[str] | None:
    try:
        return lammps_reader.resolve_columns(names, quantity, "peratom", ctx.opts.columns.get(quantity), ctx.log,
                                             ctx.opts.compute_id)
    except ValueError:
        return None


def load_atoms_lammps(spec: str, ctx: Context, need_apt: bool, make_reducer) -> AtomRun:
    """Read LAMMPS dump(s) (one per bead with {bead}); reduce every frame.

    make_reducer(atoms) returns reduce(apt, v, pv=None) -> dict of per-frame arrays (stacked over frames),
    called with apt (P, N, 3, 3) in e (None unless need_apt), v (P, N, 3) in angstrom/fs and, when the dump
    has the per-atom ``apt_velocity`` (APT_i v_i) columns of compute tensorml/props (named by the log or
    --columns apt_velocity=...), pv (P, N, 3) in e*angstrom/fs instead of apt and v (unless --columns apt is
    given or the centroid estimator needs APTs and velocities separately).
    """
    files = expand_beads(spec)
    iters = [lammps_reader.iter_dump(f) for f in files]
    steps, out, atoms = [], {}, None
    apt_cols = vel_cols = pv_cols = None
    units = vfac = pvfac = None
    times = []
    for frames in zip(*iters):
        f0 = frames[0]
        if any(f.step != f0.step for f in frames):
            raise ValueError(f"{spec}: beads out of step at step {f0.step}")
        if atoms is None:
            units = ctx.lammps_units(f0.units, files[0] + " (ITEM: UNITS)") if f0.units else ctx.lammps_units()
            vfac = ctx.lammps_factor("velocities", units)
            pvfac = ctx.lammps_factor("dmdt", units)
            if need_apt and "apt" not in ctx.opts.columns and ctx.opts.estimator == "trpmd":
                pv_cols = _try_columns(f0.names, "apt_velocity", ctx)
            if need_apt and pv_cols is None:
                apt_cols = lammps_reader.resolve_columns(f0.names, "apt", "peratom", ctx.opts.columns.get("apt"),
                                                         ctx.log, ctx.opts.compute_id)
            if pv_cols is None:
                vel_cols = (lammps_reader.parse_column_spec(ctx.opts.columns["velocities"], f0.names)
                            if "velocities" in ctx.opts.columns else ["vx", "vy", "vz"])
            else:
                ctx.notes["per-atom dM/dt"] = "apt_velocity columns " + " ".join(pv_cols) + " (APT_i v_i of the run)"
            atoms = _dump_atoms(f0, ctx.opts)
            reducer = make_reducer(atoms)
        ids = f0.data[:, f0.names.index("id")].astype(int) if "id" in f0.names else atoms.ids
        if ids.shape != atoms.ids.shape or np.any(ids != atoms.ids):
            raise ValueError(f"{spec}: the atoms change at step {f0.step} (dump of a dynamic group?)")
        if pv_cols is not None:
            pv = np.stack([f.columns(pv_cols) for f in frames]) * pvfac
            check_finite(pv[None], f"{spec} apt_velocity", [f0.step])
            result = reducer(None, None, pv)
        else:
            v = np.stack([f.columns(vel_cols) for f in frames]) * vfac
            apt = np.stack([f.columns(apt_cols).reshape(-1, 3, 3) for f in frames]) if need_apt else None
            check_finite(v[None], f"{spec} velocities", [f0.step])
            if apt is not None:
                check_finite(apt[None], f"{spec} APT", [f0.step])
            result = reducer(apt, v)
        for k, val in result.items():
            out.setdefault(k, []).append(val)
        steps.append(f0.step)
        if f0.time is not None:
            times.append(f0.time)
        if np.isfinite(f0.volume):
            ctx.volumes.append((f0.volume * LENGTH_UNITS[LAMMPS_UNIT_SYSTEMS[units].length] ** 3, spec))
    if atoms is None:
        raise ValueError(f"{spec}: no frames")
    steps = np.array(steps, dtype=np.int64)
    stride = check_steps(steps, spec)
    if len(times) == len(steps) and len(steps) > 1:
        times = np.array(times)
        per_step = (times[1] - times[0]) / stride
        if np.max(np.abs(times - times[0] - (steps - steps[0]) * per_step)) > 1e-6 * abs(times[-1] - times[0]):
            raise ValueError(f"{files[0]}: ITEM: TIME is not proportional to the step (the timestep changed?)")
        ctx.md_dt.append((per_step * LAMMPS_TIME_UNIT_FS[units], f"{files[0]} (ITEM: TIME)"))
    if len(files) > 1:
        ctx.notes["beads"] = f"{len(files)}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
    return AtomRun(steps, {k: np.array(v) for k, v in out.items()}, atoms, ctx.frame_time(stride, spec), spec)


def _read_ipi_velocities(spec: str):
    files = expand_beads(spec)
    trajs = [ipi_reader.read_xyz(f) for f in files]
    steps, v = _stack_beads([(t.steps, t.converted()) for t in trajs], spec)
    return trajs[0], steps, v  # v (T, P, N, 3)


def load_atoms_ipi(apt_spec: str | None, vel_spec: str, ctx: Context, make_reducer) -> AtomRun:
    """i-PI BEC extras (per bead) and xyz velocities (per bead, or a v_centroid file)."""
    traj0, vsteps, v = _read_ipi_velocities(vel_spec)
    centroid = traj0.what.startswith("v_centroid")
    vols = traj0.volumes()
    if np.all(np.isfinite(vols)):
        ctx.volumes.append((float(vols.mean()), vel_spec))
    apt = None
    steps = vsteps
    if apt_spec is not None:
        files = expand_beads(apt_spec)
        parts, all_beads = [], None
        for f in files:
            ex = ipi_reader.read_extras(f, "BEC")
            if ex.all_beads:
                all_beads = (ex.steps, ex.values)
                break
            parts.append((ex.steps, ex.values))
        bsteps, bec = all_beads if all_beads is not None else (
            _stack_beads(parts, apt_spec) if len(parts) > 1 else (parts[0][0], parts[0][1][:, None]))
        from .ir import bec_to_apt

        apt = bec_to_apt(bec)  # (T, P, N, 3, 3)
        check_finite(apt, apt_spec, bsteps)
        if bsteps.shape != vsteps.shape or np.any(bsteps != vsteps):
            raise ValueError(f"mismatched steps: {apt_spec} has steps {bsteps[:3]}... (every "
                             f"{check_steps(bsteps, apt_spec)}), {vel_spec} has {vsteps[:3]}... (every "
                             f"{check_steps(vsteps, vel_spec)})")
        if apt.shape[2] != v.shape[2]:
            raise ValueError(f"{apt_spec}: BEC of {apt.shape[2]} atoms, velocities of {v.shape[2]}")
        if not centroid and apt.shape[1] != v.shape[1]:
            raise ValueError(f"{apt.shape[1]} beads of BEC but {v.shape[1]} of velocities")
        if apt.shape[1] > 1 or v.shape[1] > 1:
            ctx.notes["beads"] = f"{apt.shape[1]}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
    check_finite(v, vel_spec, vsteps)
    atoms = _elements_and_masses(Atoms(np.arange(1, v.shape[2] + 1), elements=list(traj0.names)), ctx.opts)
    reducer = make_reducer(atoms)
    if centroid and ctx.opts.estimator == "trpmd" and apt is not None and apt.shape[1] > 1:
        raise ValueError("the trpmd estimator needs per-bead velocities, not v_centroid; use --estimator centroid")
    out = reducer(apt, v)  # all frames at once
    stride = check_steps(steps, vel_spec)
    return AtomRun(steps, out, atoms, ctx.frame_time(stride, vel_spec), vel_spec)


def load_atoms_array(spec: str, ctx: Context, need_apt: bool, make_reducer) -> AtomRun:
    """A .npz with 'velocities' (T, [P,] N, 3) and, for APTs, 'apt' (T, [P,] N, 3, 3); optional symbols, masses."""
    varr = arrays_reader.read_array(spec, "velocities")
    length, vtime = ARRAY_SYSTEMS[ctx.opts.array_units]
    v = np.asarray(varr.values, dtype=float) * _factor("velocities", length, vtime)
    if v.ndim == 3:
        v = v[:, None]
    apt = None
    if need_apt:
        apt = np.asarray(arrays_reader.read_array(spec, "apt").values, dtype=float)
        if apt.ndim == 4:
            apt = apt[:, None]
        if apt.shape[:3] != v.shape[:3] or apt.shape[3:] != (3, 3):
            raise ValueError(f"{spec}: apt {apt.shape} and velocities {v.shape} do not match")
        check_finite(apt, spec)
    check_finite(v, spec)
    ex = varr.extras or {}
    atoms = Atoms(np.arange(1, v.shape[2] + 1),
                  elements=[str(s) for s in ex["symbols"]] if "symbols" in ex else None,
                  molecules=np.asarray(ex["molecules"], dtype=int) if "molecules" in ex else None,
                  masses=np.asarray(ex["masses"], dtype=float) if "masses" in ex else None)
    atoms = _elements_and_masses(atoms, ctx.opts)
    if "volume" in ex:
        ctx.volumes.append((float(ex["volume"]), spec))
    reducer = make_reducer(atoms)
    steps = varr.steps if varr.steps is not None else np.arange(len(v))
    stride = check_steps(steps, spec)
    if varr.dt_fs is not None:
        ctx.md_dt.append((varr.dt_fs / stride, f"{spec} (dt_fs)"))
    return AtomRun(steps, reducer(apt, v), atoms, ctx.frame_time(stride, spec), spec)


def load_atoms(apt_spec: str | None, vel_spec: str | None, ctx: Context, make_reducer) -> AtomRun:
    """Per-atom data from LAMMPS dumps, i-PI BEC + velocities, or an .npz (see the load_atoms_* functions)."""
    probe = expand_beads(apt_spec or vel_spec)[0]
    kind = resolve_kind(probe, ctx.opts)
    if kind == "lammps-dump":
        if vel_spec and apt_spec and vel_spec != apt_spec:
            raise ValueError("with LAMMPS dumps the velocities are read from the APT dump itself")
        return load_atoms_lammps(apt_spec or vel_spec, ctx, apt_spec is not None, make_reducer)
    if kind in ("ipi-extras", "ipi-xyz"):
        if vel_spec is None:
            raise ValueError("i-PI BEC extras need --velocities (the i-PI velocities xyz trajectory, per bead)")
        return load_atoms_ipi(apt_spec, vel_spec, ctx, make_reducer)
    if kind == "array-npz":
        return load_atoms_array(apt_spec or vel_spec, ctx, apt_spec is not None, make_reducer)
    raise ValueError(f"{probe}: per-atom data must be a LAMMPS dump, i-PI extras/xyz or an .npz")


# ----------------------------------------------------------------------------- partitions
def partition(atoms: Atoms, mode: str | None, groups: str | None = None, molecule_size: int | None = None):
    """(names, index) for a decomposition mode: element, type, molecule, group (or None)."""
    if mode is None:
        return None
    if mode == "element":
        if atoms.elements is None:
            raise ValueError("no element information: give --type-map (e.g. 1=O,2=H) or an element column")
        return by_label(atoms.elements)
    if mode == "type":
        labels = atoms.types if atoms.types is not None else atoms.elements
        if labels is None:
            raise ValueError("no atom types in the data")
        return by_label([f"type{t}" if atoms.types is not None else t for t in labels])
    if mode == "molecule":
        return molecules(atoms, molecule_size)
    if mode == "group":
        if not groups:
            raise ValueError("--decompose group needs --groups 'name:ids;name2:ids'")
        return parse_groups(groups, atoms.ids)
    raise ValueError(f"unknown decomposition {mode!r}; known: element, type, molecule, group")


def molecules(atoms: Atoms, molecule_size: int | None = None):
    if atoms.molecules is not None and not molecule_size:
        return by_molecule(atoms.molecules)
    if molecule_size:
        return by_molecule(None, atoms.n, molecule_size)
    raise ValueError("no molecule information: dump the 'mol' column or give --molecule-size")


def apt_reducer_factory(ctx: Context, decompose: str | None = None, groups: str | None = None,
                        intra_inter: bool = False, molecule_size: int | None = None, names_out: dict | None = None):
    """make_reducer for the APT route: per frame dM/dt = sum_i P_i v_i (estimator applied), summed per part.

    decompose: None or a :func:`partition` mode; intra_inter: also sum per molecule.
    The part names are stored in ``names_out["parts"]`` once the atoms are known.
    """
    est = ctx.opts.estimator

    def make(atoms: Atoms):
        part = partition(atoms, decompose, groups, molecule_size)
        mol = molecules(atoms, molecule_size) if intra_inter else None
        if names_out is not None:
            prev = names_out.get("parts")
            new = part[0] if part else None
            if prev is not None and prev != new:
                raise ValueError(f"runs have different parts: {prev} vs {new}")
            names_out["parts"] = new

        def reduce(apt, v, pv=None):
            """apt (..., P, N, 3, 3), v (..., P, N, 3) (P = 1 for a centroid velocity file), or pv = APT_i v_i."""
            if pv is not None:  # trpmd: bead average of the per-bead APT_i v_i
                p = pimd.bead_average(pv, axis=-3)
            else:
                single = v.shape[-3] == 1
                p = pimd.atomic_dmdt(apt, None if (est == "centroid" and single) else v, est,
                                     centroid_velocities=v[..., 0, :, :] if (est == "centroid" and single) else None)
            out = {"series": part_sums(p, part[1], len(part[0])) if part else p.sum(axis=-2)}
            if mol is not None:
                out["molecules"] = part_sums(p, mol[1], len(mol[0]))
            return out

        return reduce

    return make


def velocity_reducer_factory(ctx: Context, atoms_out: dict):
    """make_reducer for the VDOS: bead-averaged (centroid) velocities per frame; stores the atoms."""

    def make(atoms: Atoms):
        atoms_out["atoms"] = atoms

        def reduce(apt, v, pv=None):
            return {"velocities": v.mean(axis=-3)}

        return reduce

    return make
