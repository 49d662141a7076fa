"""Per-atom data of one run (APTs, velocities or positions) from LAMMPS dumps, i-PI trajectories or .npz.

Every frame is handed to a reducer (:mod:`.reducers`) as soon as it is read, so long dumps never
sit in memory.  Units on output: APT e, velocities angstrom/fs (see :mod:`.assemble` for how the
time step and units are found and checked).

Velocities.  Dumped velocities (``vx vy vz``), i-PI ``velocities``/``v_centroid`` trajectories or
an .npz ``velocities`` array are used as they are.  When a run wrote positions only (a dump with
``xu yu zu`` and no ``vx vy vz``, i-PI ``positions``/``x_centroid`` trajectories given with
``--positions``, an .npz with ``positions`` and no ``velocities``), velocities are central
differences of the unwrapped positions (:mod:`.finite_difference`): the first and last frames are
dropped, the APT of frame k multiplies the velocity of frame k, and the header says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..units import LAMMPS_TIME_UNIT_FS, LAMMPS_UNIT_SYSTEMS, LENGTH_UNITS
from . import finite_difference as fd
from . import pimd
from .assemble import ARRAY_SYSTEMS, Context, _factor, _stack_beads, resolve_kind
from .readers import arrays as arrays_reader
from .readers import check_finite, check_steps, expand_beads
from .readers import ipi as ipi_reader
from .readers import lammps as lammps_reader

#: columns a dump's positions are read from when it has no velocities (unwrapped coordinates)
UNWRAPPED = ["xu", "yu", "zu"]


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


def _elements_and_masses(atoms: Atoms, ctx: Context) -> Atoms:
    """Elements of typed atoms (the type map, :meth:`Context.type_map`) and masses (--masses, else the elements)."""
    from ase.data import atomic_masses, atomic_numbers

    opts = ctx.opts
    if atoms.elements is None and atoms.types is not None:
        type_map, source = ctx.type_map()
        if type_map:
            missing = sorted({t for t in atoms.types if t not in type_map}, key=lambda t: (len(t), t))
            if missing:
                raise ValueError(f"the type map ({source}) does not name type(s) {missing}")
            atoms.elements = [type_map[t] for t in atoms.types]
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


def _dump_atoms(frame, ctx: Context) -> Atoms:
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
    return _elements_and_masses(atoms, ctx)


def _try_columns(names, quantity: str, ctx: Context) -> list[str] | None:
    try:
        return lammps_reader.resolve_columns(
            names, quantity, "peratom", ctx.opts.columns.get(quantity), ctx.log, ctx.opts.compute_id
        )
    except ValueError:
        return None


def _dump_motion_columns(names, ctx: Context, spec: str, from_positions: bool) -> tuple[list[str], bool]:
    """(columns, are_positions): velocities vx vy vz, or unwrapped positions xu yu zu when asked or when the
    dump has no velocities (``--columns velocities=...`` / ``positions=...`` override)."""
    cols = ctx.opts.columns
    if from_positions or ("velocities" not in cols and not all(c in names for c in ("vx", "vy", "vz"))):
        if "positions" in cols:
            return lammps_reader.parse_column_spec(cols["positions"], names), True
        if all(c in names for c in UNWRAPPED):
            return list(UNWRAPPED), True
        wrapped = " (x y z are wrapped: they jump at the box boundary)" if "x" in names else ""
        raise ValueError(
            f"{spec}: no velocities (vx vy vz) and no unwrapped positions (xu yu zu) among the "
            f"columns {' '.join(names)}{wrapped}; dump vx vy vz or xu yu zu"
        )
    if "velocities" in cols:
        return lammps_reader.parse_column_spec(cols["velocities"], names), False
    return ["vx", "vy", "vz"], False


def load_atoms_lammps(spec: str, ctx: Context, need_apt: bool, make_reducer, from_positions: bool = False) -> AtomRun:
    """Read LAMMPS dump(s) (one per bead with {bead}); reduce every frame.

    make_reducer(atoms) returns reduce(apt, v, pv=None) -> dict of per-frame arrays (stacked over frames),
    called with apt (P, N, 3, 3) in e (None unless need_apt), v (P, N, 3) in angstrom/fs and, when the dump
    has the per-atom ``apt_velocity`` (APT_i v_i) columns of compute tensorml/props (named by the log or
    --columns apt_velocity=...), pv (P, N, 3) in e*angstrom/fs instead of apt and v (unless --columns apt is
    given or the centroid estimator needs APTs and velocities separately).  Without velocity columns (or with
    from_positions) the velocities are central differences of xu yu zu (module docstring).
    """
    files = expand_beads(spec)
    iters = [lammps_reader.iter_dump(f) for f in files]
    steps, out, atoms = [], {}, None
    apt_cols = motion_cols = pv_cols = None
    positions = False
    units = length = vfac = pvfac = None
    stream = fd.StreamingDifferences(spec)
    times = []

    def reduce_frame(step, apt, v):
        check_finite(v[None], f"{spec} velocities", [step])
        if apt is not None:
            check_finite(apt[None], f"{spec} APT", [step])
        for k, val in reducer(apt, v).items():
            out.setdefault(k, []).append(val)
        steps.append(step)

    for frames in zip(*iters):
        f0 = frames[0]
        if any(f.step != f0.step for f in frames):
            raise ValueError(f"{spec}: beads out of step at step {f0.step}")
        if atoms is None:
            units = ctx.lammps_units(f0.units, files[0] + " (ITEM: UNITS)") if f0.units else ctx.lammps_units()
            length = LENGTH_UNITS[LAMMPS_UNIT_SYSTEMS[units].length]
            vfac = ctx.lammps_factor("velocities", units)
            pvfac = ctx.lammps_factor("dmdt", units)
            if need_apt and "apt" not in ctx.opts.columns and ctx.opts.estimator == "trpmd" and not from_positions:
                pv_cols = _try_columns(f0.names, "apt_velocity", ctx)
            if need_apt and pv_cols is None:
                apt_cols = lammps_reader.resolve_columns(
                    f0.names, "apt", "peratom", ctx.opts.columns.get("apt"), ctx.log, ctx.opts.compute_id
                )
            if pv_cols is None:
                motion_cols, positions = _dump_motion_columns(f0.names, ctx, spec, from_positions)
            else:
                ctx.notes["per-atom dM/dt"] = "apt_velocity columns " + " ".join(pv_cols) + " (APT_i v_i of the run)"
            atoms = _dump_atoms(f0, ctx)
            reducer = make_reducer(atoms)
        ids = f0.data[:, f0.names.index("id")].astype(int) if "id" in f0.names else atoms.ids
        if ids.shape != atoms.ids.shape or np.any(ids != atoms.ids):
            raise ValueError(f"{spec}: the atoms change at step {f0.step} (dump of a dynamic group?)")
        if pv_cols is not None:
            pv = np.stack([f.columns(pv_cols) for f in frames]) * pvfac
            check_finite(pv[None], f"{spec} apt_velocity", [f0.step])
            for k, val in reducer(None, None, pv).items():
                out.setdefault(k, []).append(val)
            steps.append(f0.step)
        else:
            apt = np.stack([f.columns(apt_cols).reshape(-1, 3, 3) for f in frames]) if need_apt else None
            motion = np.stack([f.columns(motion_cols) for f in frames])
            if positions:  # angstrom; velocities per MD step of the frame in the middle, rescaled below
                r = motion * length
                check_finite(r[None], f"{spec} positions", [f0.step])
                done = stream.push(f0.step, r, apt, min_width=f0.min_width * length)
                if done is not None:
                    reduce_frame(done[0], done[2], done[1])
            else:
                reduce_frame(f0.step, apt, motion * vfac)
        if f0.time is not None:
            times.append(f0.time)
        if np.isfinite(f0.volume):
            ctx.volumes.append((f0.volume * length**3, spec))
    if atoms is None:
        raise ValueError(f"{spec}: no frames")
    all_steps = np.array(stream.steps if positions else steps, dtype=np.int64)
    stride = check_steps(all_steps, spec)
    if len(times) == len(all_steps) and len(all_steps) > 1:
        times = np.array(times)
        per_step = (times[1] - times[0]) / stride
        if np.max(np.abs(times - times[0] - (all_steps - all_steps[0]) * per_step)) > 1e-6 * abs(times[-1] - times[0]):
            raise ValueError(f"{files[0]}: ITEM: TIME is not proportional to the step (the timestep changed?)")
        ctx.md_dt.append((per_step * LAMMPS_TIME_UNIT_FS[units], f"{files[0]} (ITEM: TIME)"))
    if len(files) > 1:
        ctx.notes["beads"] = f"{len(files)}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
    data = {k: np.array(v) for k, v in out.items()}
    if positions:
        if not steps:
            raise ValueError(f"{spec}: {len(all_steps)} frame(s) of positions: central differences need at least 3")
        dt_step, _ = ctx.timestep()
        data = {k: v / dt_step for k, v in data.items()}  # reducers are linear in v (see .reducers)
        ctx.notes["velocities"] = fd.describe(stride * dt_step, " ".join(motion_cols) + f" of {spec}")
    return AtomRun(np.array(steps, dtype=np.int64), data, atoms, ctx.frame_time(stride, spec), spec)


def _read_ipi_motion(spec: str, ctx: Context, positions: bool):
    """(first trajectory, steps, velocities (T, P, N, 3) in angstrom/fs) from i-PI velocity or position files."""
    files = expand_beads(spec)
    trajs = [ipi_reader.read_xyz(f) for f in files]
    kinds = {t.what.split("(")[0] for t in trajs}
    want = ("positions", "x_centroid") if positions else ("velocities", "v_centroid")
    if not kinds <= set(want):
        flag = "--velocities" if kinds <= {"velocities", "v_centroid"} else "--positions"
        raise ValueError(f"{spec} holds {', '.join(sorted(kinds))}, not {' or '.join(want)}: give it to {flag}")
    steps, x = _stack_beads([(t.steps, t.converted()) for t in trajs], spec)
    if not positions:
        return trajs[0], steps, x
    widths = (
        fd.cell_widths(
            np.column_stack(
                [
                    trajs[0].cell_abc[:, :3] * ipi_reader.unit_factor("length", trajs[0].cell_unit),
                    trajs[0].cell_abc[:, 3:],
                ]
            )
        )
        if np.all(np.isfinite(trajs[0].cell_abc))
        else None
    )
    check_finite(x, spec, steps)
    fd.check_unwrapped(x, None if widths is None else float(widths.min()), spec, steps)
    stride = check_steps(steps, spec)
    frame_dt = ctx.frame_time(stride, spec)
    ctx.notes["velocities"] = fd.describe(frame_dt, spec)
    return trajs[0], steps[1:-1], fd.central_difference(x, frame_dt)


def load_atoms_ipi(
    apt_spec: str | None, vel_spec: str, ctx: Context, make_reducer, from_positions: bool = False
) -> AtomRun:
    """i-PI BEC extras (per bead) and xyz velocities (per bead, or a v_centroid file) or positions."""
    traj0, vsteps, v = _read_ipi_motion(vel_spec, ctx, from_positions)
    centroid = traj0.what.split("(")[0] in ("v_centroid", "x_centroid")
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
        bsteps, bec = (
            all_beads
            if all_beads is not None
            else (_stack_beads(parts, apt_spec) if len(parts) > 1 else (parts[0][0], parts[0][1][:, None]))
        )
        from .ir import bec_to_apt

        apt = bec_to_apt(bec)  # (T, P, N, 3, 3)
        check_finite(apt, apt_spec, bsteps)
        if from_positions:  # velocities exist for the interior frames only: keep the APTs of those
            keep = np.isin(bsteps, vsteps)
            if keep.sum() == vsteps.size:
                bsteps, apt = bsteps[keep], apt[keep]
        if bsteps.shape != vsteps.shape or np.any(bsteps != vsteps):
            raise ValueError(
                f"mismatched steps: {apt_spec} has steps {bsteps[:3]}... (every "
                f"{check_steps(bsteps, apt_spec)}), {vel_spec} has {vsteps[:3]}... (every "
                f"{check_steps(vsteps, vel_spec)})"
            )
        if apt.shape[2] != v.shape[2]:
            raise ValueError(f"{apt_spec}: BEC of {apt.shape[2]} atoms, velocities of {v.shape[2]}")
        if not centroid and apt.shape[1] != v.shape[1]:
            raise ValueError(f"{apt.shape[1]} beads of BEC but {v.shape[1]} of velocities")
        if apt.shape[1] > 1 or v.shape[1] > 1:
            ctx.notes["beads"] = f"{apt.shape[1]}; estimator {pimd.DESCRIPTIONS[ctx.opts.estimator]}"
    check_finite(v, vel_spec, vsteps)
    atoms = _elements_and_masses(Atoms(np.arange(1, v.shape[2] + 1), elements=list(traj0.names)), ctx)
    reducer = make_reducer(atoms)
    if centroid and ctx.opts.estimator == "trpmd" and apt is not None and apt.shape[1] > 1:
        raise ValueError("the trpmd estimator needs per-bead velocities, not centroid ones; use --estimator centroid")
    out = reducer(apt, v)  # all frames at once
    stride = check_steps(steps, vel_spec)
    return AtomRun(steps, out, atoms, ctx.frame_time(stride, vel_spec), vel_spec)


def load_atoms_array(spec: str, ctx: Context, need_apt: bool, make_reducer, from_positions: bool = False) -> AtomRun:
    """A .npz with 'velocities' (or unwrapped 'positions') (T, [P,] N, 3) and, for APTs, 'apt' (T, [P,] N, 3, 3);
    optional symbols, masses, molecules, volume, steps, dt_fs."""
    length, vtime = ARRAY_SYSTEMS[ctx.opts.array_units]
    if not from_positions:
        try:
            varr = arrays_reader.read_array(spec, "velocities")
        except ValueError as err:
            if "no array 'velocities'" not in str(err):
                raise
            from_positions = True  # no velocities: differentiate positions (or say that neither is there)
    if from_positions:
        try:
            varr = arrays_reader.read_array(spec, "positions")
        except ValueError as err:
            raise ValueError(f"{err}; per-atom runs need 'velocities' or unwrapped 'positions'") from None
        x = np.asarray(varr.values, dtype=float) * length
    else:
        x = np.asarray(varr.values, dtype=float) * _factor("velocities", length, vtime)
    if x.ndim == 3:
        x = x[:, None]
    steps = varr.steps if varr.steps is not None else np.arange(len(x))
    stride = check_steps(steps, spec)
    if varr.dt_fs is not None:
        ctx.md_dt.append((varr.dt_fs / stride, f"{spec} (dt_fs)"))
    apt = None
    if need_apt:
        apt = np.asarray(arrays_reader.read_array(spec, "apt").values, dtype=float)
        if apt.ndim == 4:
            apt = apt[:, None]
        if apt.shape[:3] != x.shape[:3] or apt.shape[3:] != (3, 3):
            raise ValueError(f"{spec}: apt {apt.shape} and velocities/positions {x.shape} do not match")
        check_finite(apt, spec)
    check_finite(x, spec)
    if from_positions:
        frame_dt = ctx.frame_time(stride, spec)
        fd.check_unwrapped(x, None, spec, steps)
        v = fd.central_difference(x, frame_dt)
        steps = steps[1:-1]
        apt = None if apt is None else apt[1:-1]
        ctx.notes["velocities"] = fd.describe(frame_dt, f"'positions' of {spec}")
    else:
        v = x
    ex = varr.extras or {}
    atoms = Atoms(
        np.arange(1, v.shape[2] + 1),
        elements=[str(s) for s in ex["symbols"]] if "symbols" in ex else None,
        molecules=np.asarray(ex["molecules"], dtype=int) if "molecules" in ex else None,
        masses=np.asarray(ex["masses"], dtype=float) if "masses" in ex else None,
    )
    atoms = _elements_and_masses(atoms, ctx)
    if "volume" in ex:
        ctx.volumes.append((float(ex["volume"]), spec))
    reducer = make_reducer(atoms)
    return AtomRun(steps, reducer(apt, v), atoms, ctx.frame_time(stride, spec), spec)


def load_atoms(
    apt_spec: str | None, vel_spec: str | None, ctx: Context, make_reducer, from_positions: bool = False
) -> AtomRun:
    """Per-atom data from LAMMPS dumps, i-PI BEC + velocities/positions, or an .npz (see the load_atoms_* functions).

    vel_spec holds velocities, or positions with from_positions (LAMMPS dumps and .npz files without
    velocities fall back to positions by themselves).
    """
    probe = expand_beads(apt_spec or vel_spec)[0]
    kind = resolve_kind(probe, ctx.opts)
    if kind == "lammps-dump":
        if vel_spec and apt_spec and vel_spec != apt_spec:
            raise ValueError("with LAMMPS dumps the velocities (or positions) are read from the APT dump itself")
        return load_atoms_lammps(apt_spec or vel_spec, ctx, apt_spec is not None, make_reducer, from_positions)
    if kind in ("ipi-extras", "ipi-xyz"):
        if vel_spec is None:
            raise ValueError(
                "i-PI BEC extras need --velocities (the i-PI velocities xyz trajectory, per bead) or "
                "--positions (positions trajectories, differentiated)"
            )
        return load_atoms_ipi(apt_spec, vel_spec, ctx, make_reducer, from_positions)
    if kind == "array-npz":
        if vel_spec and apt_spec and vel_spec != apt_spec:
            raise ValueError("with an .npz the velocities (or positions) are read from the APT file itself")
        return load_atoms_array(apt_spec or vel_spec, ctx, apt_spec is not None, make_reducer, from_positions)
    raise ValueError(f"{probe}: per-atom data must be a LAMMPS dump, i-PI extras/xyz or an .npz")
