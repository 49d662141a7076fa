"""tensorml spectrum: IR, Raman and vibrational density of states from LAMMPS / i-PI / array outputs."""

from __future__ import annotations

import argparse

_EPILOG_IR = """\
examples:
  # LAMMPS: dipole from 'fix ave/time 1 1 1 c_p[*] file props.dat' (units/timestep/box from the log)
  tensorml spectrum ir --dipole props.dat --lammps-log log.lammps --temperature 300 -o ir.dat --plot ir.png
  # LAMMPS: APTs and velocities from 'dump custom ... id type mol vx vy vz c_p[1] ... c_p[9]', by element
  tensorml spectrum ir --apt apt.dump --lammps-log log.lammps --temperature 300 --type-map 1=O,2=H \\
      --decompose element --intra-inter --blocks 4 -o ir_apt.dat --plot ir_apt.png
  # i-PI PIMD: BEC extras and velocities per bead, TRPMD estimator, molar units of 27 molecules
  tensorml spectrum ir --apt 'water.BEC_{bead}' --velocities 'water.vel_{bead}.xyz' --ipi-input input.xml \\
      --unit km/mol --molecules 27 -o ir.dat
  # a dump with positions only (xu yu zu, no vx vy vz): velocities by central differences, said in the header
  tensorml spectrum ir --apt apt_xu.dump --lammps-log log.lammps --type-map 1=O,2=H -o ir_apt.dat
files may be gzip-compressed (dump.gz, props.dat.gz, water.vel_0.xyz.gz, ...).
column names: LAMMPS columns are picked by header names; default layout of compute tensorml/props:
  global [1-3] dipole, [4-12] polarizability (row-major), [13-15] dM/dt; per-atom [1-9] APT [a][b] = dM_a/dr_b.
  Override with --columns dipole=c_p[1:3] (or names, or compute indices 1:3), or give --lammps-log (its
  'compute tensorml/props ... columns:' lines name every column). A dump with the per-atom apt_velocity
  (APT_i v_i) columns named by the log or --columns apt_velocity=... needs no APT or velocity columns.
"""


def _kv(text: str) -> dict[str, str]:
    out = {}
    for tok in [t for t in text.split(",") if t.strip()]:
        if "=" not in tok:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE pairs, got {tok!r}")
        k, v = tok.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _column(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected QUANTITY=COLUMNS, got {text!r}")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def _common(p) -> None:
    g = p.add_argument_group("time, units and inputs")
    g.add_argument(
        "--timestep",
        type=float,
        help="MD time step in fs (time between consecutive step numbers; "
        "for arrays without steps, between rows); checked against the log / i-PI input / files",
    )
    g.add_argument(
        "--temperature",
        type=float,
        help="temperature in K (QCF, absolute units, Bose factors); "
        "default: the i-PI input's ensemble temperature, else the mean thermo Temp of --lammps-log "
        "over the analysed steps",
    )
    g.add_argument(
        "--format",
        choices=["auto", "lammps", "ipi", "array"],
        default="auto",
        help="input format (default: detected from each file)",
    )
    g.add_argument(
        "--columns",
        type=_column,
        action="append",
        default=[],
        metavar="QUANTITY=COLUMNS",
        help="header columns of a quantity (dipole, dmdt, polarizability, apt, apt_velocity, "
        "velocities, positions), e.g. "
        "dipole=c_p[1:3] or dipole=v_mx,v_my,v_mz or apt=1:9 (compute indices); repeatable",
    )
    g.add_argument("--compute-id", help="ID of the tensorml/props compute when several computes are in a file")
    g.add_argument(
        "--lammps-log",
        help="log.lammps: units style, timestep, box, the compute's column names and "
        "the thermo Temp column (temperature when --temperature is not given)",
    )
    g.add_argument("--lammps-units", choices=["metal", "real", "electron"], help="LAMMPS units style")
    g.add_argument("--ipi-input", help="i-PI input XML: timestep, temperature")
    g.add_argument(
        "--array-units",
        default="internal",
        choices=["internal", "metal", "real", "electron", "atomic"],
        help="units of array files: internal = e*angstrom, angstrom^3, angstrom/fs, e*angstrom/fs; "
        "metal/real/electron = LAMMPS; atomic = i-PI (bohr, atomic time)",
    )
    g.add_argument(
        "--estimator",
        choices=["trpmd", "centroid"],
        default="trpmd",
        help="path-integral estimator for per-bead data ({bead} patterns): trpmd = bead average of "
        "the observable; centroid = bead-averaged APT times centroid velocity (default trpmd)",
    )
    g.add_argument(
        "--type-map",
        type=_kv,
        default={},
        metavar="1=O,2=H",
        help="elements of LAMMPS atom types (default: the 'pair_coeff * * O H' line of pair_style tensorml "
        "in --lammps-log, also 'pair_coeff * * tensorml O H' under hybrid/overlay; a --type-map that "
        "disagrees with it is used, with a warning)",
    )
    g.add_argument(
        "--masses",
        type=_kv,
        default={},
        metavar="1=15.999,2=1.008",
        help="masses (amu) per type or element (default: from the elements)",
    )
    s = p.add_argument_group("spectrum")
    s.add_argument(
        "--qcf",
        choices=["none", "harmonic", "standard", "schofield"],
        default=None,
        help="quantum correction factor, x = h c nu/(k_B T) (default: harmonic for ir/raman, none for vdos)",
    )
    s.add_argument("--window", choices=["hann", "gaussian", "none"], default="hann", help="lag window (default hann)")
    s.add_argument("--window-param", type=float, help="Gaussian window sigma in fs (default t_max/3)")
    s.add_argument("--corr-length", type=float, help="correlation length t_max in fs (default min(2 ps, block/4))")
    s.add_argument("--zero-pad", type=int, default=2, help="zero padding factor of the transform (default 2)")
    s.add_argument(
        "--blocks", type=int, default=1, help="cut each run into this many blocks for error bars (runs are blocks too)"
    )
    s.add_argument("--max-freq", type=float, default=4500.0, help="highest wavenumber written, cm^-1 (default 4500)")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", help="data file to write (default spectrum_<kind>.dat)")
    o.add_argument("--freq-unit", choices=["cm-1", "THz", "meV"], default="cm-1", help="frequency axis unit")
    o.add_argument("--plot", metavar="PNG", help="also write a labelled plot")
    o.add_argument("--compare", metavar="CSV", help="overlay a reference spectrum (columns: frequency, intensity)")
    o.add_argument(
        "--compare-unit",
        choices=["cm-1", "THz", "meV"],
        default="cm-1",
        help="frequency unit of --compare (default cm-1)",
    )
    o.add_argument("--xlim", type=float, nargs=2, metavar=("LO", "HI"), help="plot range (in --freq-unit)")


def register(sub) -> None:
    p = sub.add_parser(
        "spectrum",
        help="IR / Raman / VDOS spectra from LAMMPS, i-PI or array outputs",
        description="Turn per-step dipoles, APTs and velocities, or polarizabilities, written by the tensorml "
        "pair style / compute or the tensorml-ipi driver into spectra: a data file (frequency, intensity, error, "
        "components) whose header states units, QCF and window, and optionally a PNG.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    ir = kinds.add_parser(
        "ir",
        help="IR absorption (dipole autocorrelation or APT-weighted velocities)",
        epilog=_EPILOG_IR,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="IR spectrum from the dipole autocorrelation (APTNN seed eq. 1) or from "
        "dM/dt = sum_i APT_i v_i (eqs. 2-4). Each file (or {bead} pattern) is one run.",
    )
    src = ir.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--dipole",
        nargs="+",
        metavar="FILE",
        help="dipole series: fix ave/time file, i-PI "
        "dipole extras, .npy/.npz/.csv; one run per file, '{bead}' for one file per bead",
    )
    src.add_argument("--dmdt", nargs="+", metavar="FILE", help="dM/dt series (fix ave/time columns or arrays)")
    src.add_argument(
        "--apt",
        nargs="+",
        metavar="FILE",
        help="APTs: LAMMPS dump with APT and velocity columns, "
        "i-PI BEC extras (with --velocities), or .npz with 'apt' and 'velocities'",
    )
    motion = ir.add_mutually_exclusive_group()
    motion.add_argument(
        "--velocities",
        nargs="+",
        metavar="FILE",
        help="i-PI velocity trajectories (per bead '{bead}', or a v_centroid file), one per --apt run",
    )
    motion.add_argument(
        "--positions",
        nargs="+",
        metavar="FILE",
        help="no velocities written: velocities are central differences of these unwrapped positions "
        "(i-PI positions per bead '{bead}' or x_centroid; for a LAMMPS dump or .npz, the --apt file "
        "itself, whose xu yu zu / 'positions' are used by default when it has no velocities)",
    )
    ir.add_argument(
        "--unit",
        choices=["auto", "cm-1", "km/mol", "K*km/mol", "arb"],
        default="auto",
        help="cm-1: n*alpha of the box (needs the volume); km/mol: molar absorption per cm^-1; "
        "K*km/mol: TRAVIS convention (T times km/mol); arb: max 1 (default: cm-1 with a volume, "
        "else km/mol)",
    )
    ir.add_argument("--volume", type=float, help="box volume in angstrom^3 (default: from dumps/cells/log)")
    ir.add_argument("--box-from", help="read the box volume from this i-PI xyz trajectory or LAMMPS log")
    ir.add_argument("--molecules", type=float, default=1.0, help="molecules per run, for molar units (default 1)")
    ir.add_argument(
        "--decompose",
        choices=["element", "type", "molecule", "group"],
        help="split the APT route by element, atom type, molecule or --groups",
    )
    ir.add_argument("--groups", help="groups for --decompose group: 'name:1-10,15;name2:11-14' (atom ids)")
    ir.add_argument("--molecule-size", type=int, help="atoms per molecule when there is no 'mol' column")
    ir.add_argument("--auto-cross", action="store_true", help="split each part into auto and cross terms")
    ir.add_argument("--intra-inter", action="store_true", help="add intra- and intermolecular columns")
    _common(ir)
    ir.set_defaults(func=run)

    ra = kinds.add_parser(
        "raman",
        help="Raman (isotropic, anisotropic, polarised, depolarisation ratio)",
        description="Raman spectra from the polarizability autocorrelation: iso, aniso, "
        "parallel = iso + 4/45 aniso, perpendicular = aniso/15, unpolarized = iso + 7/45 aniso. "
        "No decomposition: LAMMPS and i-PI write only the total polarizability (no per-atom "
        "polarizabilities or Raman tensors), so Raman spectra cannot be split by atom.",
    )
    ra.add_argument(
        "--polarizability",
        nargs="+",
        required=True,
        metavar="FILE",
        help="polarizability series: fix ave/time, i-PI polarizability extras, arrays (T,3,3)/(T,9)",
    )
    ra.add_argument("--laser", type=float, help="laser wavenumber nu_L in cm^-1 (cross section ~ (nu_L - nu)^4)")
    ra.add_argument(
        "--scale",
        choices=["lineshape", "reduced", "cross-section"],
        help="lineshape (A^6/cm^-1), reduced (Bose factor removed) or cross-section (needs --laser; "
        "the default with --laser)",
    )
    ra.add_argument("--molecules", type=float, default=1.0, help="divide intensities by this (per molecule)")
    _common(ra)
    ra.set_defaults(func=run)

    vd = kinds.add_parser("vdos", help="vibrational density of states (mass-weighted velocity autocorrelation)")
    vmotion = vd.add_mutually_exclusive_group(required=True)
    vmotion.add_argument(
        "--velocities",
        nargs="+",
        metavar="FILE",
        help="LAMMPS dump (vx vy vz, else xu yu zu differentiated), i-PI velocity xyz ('{bead}' "
        "per bead), or .npz 'velocities' (else 'positions')",
    )
    vmotion.add_argument(
        "--positions",
        nargs="+",
        metavar="FILE",
        help="velocities by central differences of unwrapped positions: LAMMPS dump (xu yu zu), "
        "i-PI positions / x_centroid xyz, or .npz 'positions'",
    )
    vd.add_argument("--decompose", choices=["element", "type", "group"], help="split by element, type or --groups")
    vd.add_argument("--groups", help="groups for --decompose group: 'name:1-10;name2:11-14'")
    _common(vd)
    vd.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args) -> int:
    import sys

    from ..spectra.assemble import Context, InputOptions
    from ..spectra.cli import compute

    opts = InputOptions(
        fmt=args.format,
        columns=dict(args.columns),
        lammps_log=args.lammps_log,
        lammps_units=args.lammps_units,
        ipi_input=args.ipi_input,
        timestep_fs=args.timestep,
        array_units=args.array_units,
        estimator=args.estimator,
        type_map=args.type_map,
        masses={k: float(v) for k, v in args.masses.items()},
        volume=getattr(args, "volume", None),
        box_from=getattr(args, "box_from", None),
        compute_id=args.compute_id,
    )
    ctx = Context(opts)
    spectrum = compute(args, ctx)
    out = args.output or f"spectrum_{args.kind}.dat"
    spectrum.write(out, args.freq_unit)
    lines = [
        f"wrote {out}: {args.kind} spectrum, {len(spectrum.wavenumber)} points, 0..{spectrum.wavenumber[-1]:.6g} "
        f"cm^-1, intensity in {spectrum.unit_in(args.freq_unit)}; columns {', '.join(spectrum.columns)}"
    ]
    if "type map" in ctx.notes:
        lines.append(f"type map: {ctx.notes['type map']}")
    if args.plot:
        from ..spectra.plot import plot_spectrum

        plot_spectrum(
            spectrum, args.plot, args.freq_unit, compare=args.compare, compare_unit=args.compare_unit, xlim=args.xlim
        )
        lines.append(f"wrote {args.plot}")
    print("\n".join(lines))
    for k, v in ctx.notes.items():
        if k.startswith("warning"):
            print(f"tensorml spectrum: {k}: {v}", file=sys.stderr)
    return 0
