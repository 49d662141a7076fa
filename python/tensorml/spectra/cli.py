"""What ``tensorml spectrum ir|raman|vdos`` does with its parsed arguments (kept out of the argparse module)."""

from __future__ import annotations

import numpy as np

from ..units import SPEED_OF_LIGHT_CM_PER_FS
from .assemble import Context, load_global
from .peratom import load_atoms
from .reducers import apt_reducer_factory, velocity_reducer_factory
from .settings import SpectralSettings


def _needs_temperature(args, qcf: str) -> str | None:
    """Why this spectrum needs the temperature (None if it does not)."""
    if args.kind == "ir":
        if qcf != "harmonic":
            return f"the {qcf} QCF"
        if args.unit in ("cm-1", "km/mol"):
            return f"IR intensities in {args.unit}"
    elif args.kind == "raman":
        if qcf != "none":
            return f"the {qcf} QCF"
        if args.scale == "reduced":
            return "the reduced Raman scale"
    return None


#: Fewest lags (correlation length in frames) a spectrum is resolved with at all; below, a warning.
MIN_LAGS = 8


def _frames(runs) -> int:
    """Frames of the shortest run (each run: a dict of arrays sharing the time axis, or a series)."""
    return min(len(next(iter(r.values()))) if isinstance(r, dict) else len(r) for r in runs)


def check_length(args, ctx: Context, n_frames: int, dt_fs: float, n_runs: int = 1) -> None:
    """Error when the series cannot give a spectrum; a warning (in ``ctx.notes``) when it resolves nothing.

    Too short to resolve anything: fewer than :data:`MIN_LAGS` lags, fewer than 2 frequency points up to the
    highest wavenumber written, or a line width (window resolution, FWHM) wider than that whole range.
    """
    from .blocks import default_max_lag
    from .correlate import MIN_FRAMES
    from .windows import resolution_cm1

    which = " (shortest run)" if n_runs > 1 else ""
    if getattr(args, "positions", None):
        which += " of velocities (central differences of the positions drop the first and last frame)"
    span = f"{n_frames} frame(s){which} every {dt_fs:g} fs"
    if n_frames < 2:
        raise ValueError(f"{span}: a spectrum needs a time series (at least {MIN_FRAMES} frames)")
    blocks = int(args.blocks or 1)
    block = n_frames // blocks
    cut = f" cut into {blocks} blocks of {block}" if blocks > 1 else ""
    if block < MIN_FRAMES:
        raise ValueError(
            f"{span}{cut}: too short for a spectrum (at least {MIN_FRAMES} frames per block are needed; "
            "a resolved spectrum needs tens of ps)"
        )
    lags = default_max_lag(block, dt_fs, args.corr_length)
    if lags < 1 or lags > block // 2:
        return  # the correlation length is the user's and wrong: blocks/correlate say so
    nyquist = 1.0 / (2.0 * SPEED_OF_LIGHT_CM_PER_FS * dt_fs)
    top = min(args.max_freq, nyquist) if args.max_freq else nyquist
    spacing = 1.0 / (2 * lags * int(args.zero_pad) * dt_fs * SPEED_OF_LIGHT_CM_PER_FS)
    points = int(np.floor(top / spacing * (1 + 1e-12))) + 1
    fwhm = resolution_cm1(args.window, lags, dt_fs, args.window_param)
    if lags >= MIN_LAGS and points >= 2 and fwhm <= top:
        return
    want = int(np.ceil(2000.0 / dt_fs)) * 4 * blocks
    ctx.notes["warning: trajectory too short"] = (
        f"{n_frames} frames{which} every {dt_fs:g} fs ({n_frames * dt_fs:g} fs){cut} give a correlation length "
        f"of {lags} lags ({lags * dt_fs:g} fs), a resolution of ~{fwhm:.3g} cm^-1 (FWHM) and {points} "
        f"frequency point(s) up to {top:.6g} cm^-1: the spectrum resolves nothing. A spectrum needs tens of ps "
        f"(2 ps correlation length, ~{resolution_cm1(args.window, int(round(2000.0 / dt_fs)), dt_fs):.2g} cm^-1: "
        f"{want} frames at this spacing)"
    )


def _settings(args, ctx: Context, dt_fs: float, default_qcf: str, steps=None, runs=None) -> SpectralSettings:
    if runs is not None:
        check_length(args, ctx, _frames(runs), dt_fs, len(runs))
    qcf = args.qcf or default_qcf
    T, source = ctx.temperature(args.temperature, steps)
    why = _needs_temperature(args, qcf)
    if T is None and why:
        raise ValueError(
            f"the temperature is unknown, and {why} need(s) it: give --temperature (K), or a "
            "--lammps-log with a Temp thermo column, or the --ipi-input"
        )
    if T is not None:
        ctx.notes["temperature source"] = source
    nyquist = 1.0 / (2.0 * SPEED_OF_LIGHT_CM_PER_FS * dt_fs)
    if args.max_freq and nyquist < args.max_freq:
        ctx.notes["warning: sampling"] = (
            f"frames every {dt_fs:g} fs resolve up to {nyquist:.0f} cm^-1 (Nyquist), "
            f"below --max-freq {args.max_freq:g}; faster modes alias"
        )
    return SpectralSettings(
        dt_fs=dt_fs,
        corr_length_fs=args.corr_length,
        window=args.window,
        window_param=args.window_param,
        zero_pad=args.zero_pad,
        blocks=args.blocks,
        max_wavenumber=min(args.max_freq, nyquist) if args.max_freq else None,
        qcf=qcf,
        temperature=T,
    )


def _meta(ctx: Context, sources, extra=None) -> dict[str, str]:
    dt, dt_src = ctx.timestep()
    meta = {"sources": " ".join(sources), "MD time step": f"{dt:g} fs ({dt_src})"}
    if ctx.opts.lammps_log or ctx.opts.lammps_units:
        try:
            meta["LAMMPS units"] = ctx.lammps_units()
        except ValueError:
            pass
    meta.update(extra or {})
    meta.update({k: v for k, v in ctx.notes.items() if not k.startswith("warning")})
    return meta


def compute(args, ctx: Context):
    if args.kind == "ir":
        return _ir(args, ctx)
    if args.kind == "raman":
        return _raman(args, ctx)
    return _vdos(args, ctx)


def _ir(args, ctx: Context):
    from .ir import ir_spectrum

    names: dict = {}
    if args.dipole or args.dmdt:
        if args.decompose or args.intra_inter or args.auto_cross:
            raise ValueError("decompositions go through APTs: use --apt (with velocities)")
        if args.velocities or args.positions:
            raise ValueError("--velocities and --positions belong to the APT route (--apt)")
        route = "dipole" if args.dipole else "dmdt"
        specs = args.dipole or args.dmdt
        series = [load_global(s, route, ctx) for s in specs]
        runs = [{"series": s.values} for s in series]
        dt, steps = series[0].dt_fs, series[0].steps
        kind = "dipole autocorrelation (eq. 1)" if route == "dipole" else "dM/dt from the files (eq. 2)"
    else:
        route = "dmdt"
        specs = args.apt
        motion = args.positions or args.velocities
        flag = "--positions" if args.positions else "--velocities"
        vels = motion or [None] * len(specs)
        if len(vels) != len(specs):
            raise ValueError(f"{len(specs)} --apt runs but {len(vels)} {flag}")
        make = apt_reducer_factory(ctx, args.decompose, args.groups, args.intra_inter, args.molecule_size, names)
        atom_runs = [load_atoms(a, v, ctx, make, from_positions=bool(args.positions)) for a, v in zip(specs, vels)]
        runs = [r.data for r in atom_runs]
        dt, steps = atom_runs[0].dt_fs, atom_runs[0].steps
        kind = "dM/dt = sum_i APT_i v_i (eqs. 2-4)"
        specs = [s + (f" + {v}" if v else "") for s, v in zip(specs, vels)]
    settings = _settings(args, ctx, dt, "harmonic", steps, runs)
    volume = ctx.volume()
    unit = args.unit
    if unit == "auto":
        unit = "cm-1" if volume else "km/mol"
    meta = _meta(ctx, specs, {"input": kind})
    return ir_spectrum(
        runs,
        settings,
        route=route,
        unit=unit,
        volume=volume,
        n_molecules=args.molecules,
        part_names=names.get("parts"),
        auto_cross=args.auto_cross,
        meta=meta,
    )


def _raman(args, ctx: Context):
    from .raman import raman_spectrum

    series = [load_global(s, "polarizability", ctx) for s in args.polarizability]
    settings = _settings(args, ctx, series[0].dt_fs, "harmonic", series[0].steps, [s.values for s in series])
    scale = args.scale or ("cross-section" if args.laser else "lineshape")
    meta = _meta(ctx, args.polarizability)
    return raman_spectrum(
        [{"polarizability": s.values} for s in series],
        settings,
        scale=scale,
        laser_cm1=args.laser,
        n_molecules=args.molecules,
        meta=meta,
    )


def _vdos(args, ctx: Context):
    from .reducers import partition
    from .vdos import vdos_spectrum

    holder: dict = {}
    make = velocity_reducer_factory(ctx, holder)
    specs = args.positions or args.velocities
    runs = [load_atoms(None, v, ctx, make, from_positions=bool(args.positions)) for v in specs]
    atoms = holder["atoms"]
    if atoms.masses is None:
        if atoms.types is None:
            raise ValueError(f"no masses for the atoms of {specs[0]}: store 'symbols' or 'masses' in the file")
        raise ValueError(
            f"no masses for the atoms of {specs[0]}: {ctx.no_type_map_hint()}; "
            "or give --masses, or dump a 'mass'/'element' column"
        )
    part = partition(atoms, args.decompose, args.groups) if args.decompose else None
    if (args.qcf or "none") != "none":
        raise ValueError("the VDOS is classical: --qcf does not apply")
    settings = _settings(args, ctx, runs[0].dt_fs, "none", runs[0].steps, [r.data["velocities"] for r in runs])
    meta = _meta(ctx, specs)
    return vdos_spectrum(
        [{"velocities": r.data["velocities"]} for r in runs],
        atoms.masses,
        settings,
        part_index=None if part is None else part[1],
        part_names=None if part is None else part[0],
        meta=meta,
    )
