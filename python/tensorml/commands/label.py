"""tensorml label: reference labels (energy, forces, dipole, polarizability, APT, Boys centres) with PySCF."""

from __future__ import annotations

PROPERTIES = ("energy", "forces", "dipole", "polarizability", "apt", "electron_pairs")


def register(sub) -> None:
    p = sub.add_parser(
        "label",
        help="label structures with PySCF (energy, forces, dipole, polarizability, APT, Boys centres)",
        description="Label every frame of INPUT (any structure file ASE reads, i-PI xyz trajectories, LAMMPS "
        "dumps) with PySCF and write extxyz with the labels and the level of theory in each header. "
        "Frames are treated as isolated molecules/clusters. Polarizability and APT come from finite fields "
        "(+/-h along x, y, z: 7 SCFs per frame). The run is parallel over frames and resumable: rerun the "
        "same command to continue; frames whose SCF fails are reported in OUTPUT.failed.jsonl and skipped. "
        "Units: eV, eV/angstrom, e*angstrom, angstrom^3, e, angstrom, V/angstrom.",
    )
    p.add_argument("input", help="structure file")
    p.add_argument("-o", "--output", required=True, help="extxyz file to write (appended to when resuming)")
    p.add_argument("--index", default=":", help="frames to label, ASE syntax (default ':' = all)")
    p.add_argument("--format", default=None, help="input format for ASE (default: guessed; 'ipi' for i-PI xyz)")
    p.add_argument(
        "--types",
        nargs="+",
        default=None,
        metavar="EL",
        help="elements of LAMMPS atom types 1, 2, ... (LAMMPS dumps without an element column)",
    )
    p.add_argument("--method", default="B3LYP", help="'HF' or a DFT functional (default B3LYP)")
    p.add_argument(
        "--basis",
        default="aug-cc-pVDZ",
        help="basis set (default aug-cc-pVDZ: diffuse functions, for polarizabilities)",
    )
    p.add_argument("--no-density-fit", action="store_true", help="exact Coulomb/exchange instead of density fitting")
    p.add_argument("--auxbasis", default=None, help="density-fitting basis (default: PySCF's choice for --basis)")
    p.add_argument("--grid-level", type=int, default=2, help="PySCF DFT grid level (default 2)")
    p.add_argument(
        "--field-grid-level",
        type=int,
        default=1,
        help="DFT grid level of the six finite-field SCFs (default 1: grid errors cancel)",
    )
    p.add_argument("--charge", type=int, default=0, help="total charge when a frame has no 'charge' key (default 0)")
    p.add_argument(
        "--properties",
        default=",".join(PROPERTIES),
        help=f"comma-separated subset of {','.join(PROPERTIES)} (default: all)",
    )
    p.add_argument("--field-step", type=float, default=1e-3, help="finite-field step in a.u. (default 1e-3)")
    p.add_argument(
        "--field-frames",
        default=None,
        metavar="FILE",
        help="also write the six +/-h field frames of each frame to FILE (eMLP data)",
    )
    p.add_argument("--conv-tol", type=float, default=1e-9, help="SCF energy tolerance, hartree (default 1e-9)")
    p.add_argument("--conv-tol-grad", type=float, default=1e-6, help="SCF orbital-gradient tolerance (default 1e-6)")
    p.add_argument("--max-cycle", type=int, default=100, help="SCF iterations before a frame is skipped (default 100)")
    p.add_argument("-j", "--workers", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--retry-failed", action="store_true", help="retry frames listed as failed by an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from ..data.inputs import read_structures
    from ..data.labels import LabelRequest
    from ..data.runner import failed_log_path, label_structures
    from ..data.theory import LevelOfTheory

    props = tuple(p.strip() for p in args.properties.split(",") if p.strip())
    unknown = sorted(set(props) - set(PROPERTIES))
    if unknown:
        raise ValueError(f"unknown properties {unknown}; known: {', '.join(PROPERTIES)}")
    frames = read_structures(args.input, index=args.index, format=args.format, types=args.types)
    if not frames:
        raise ValueError(f"{args.input}: no frames selected")
    if any(f.pbc.any() for f in frames):
        print(
            "tensorml label: note: periodic cell ignored, every frame is labelled as an isolated cluster "
            "(molecules must not be split across the cell boundary)",
            file=sys.stderr,
        )
    level = LevelOfTheory(
        method=args.method,
        basis=args.basis,
        density_fit=not args.no_density_fit,
        auxbasis=args.auxbasis,
        grid_level=args.grid_level,
        field_grid_level=args.field_grid_level,
        conv_tol=args.conv_tol,
        conv_tol_grad=args.conv_tol_grad,
        max_cycle=args.max_cycle,
        charge=args.charge,
    )
    request = LabelRequest(properties=props, field_step_au=args.field_step, field_frames=bool(args.field_frames))
    summary = label_structures(
        frames,
        args.output,
        level,
        request,
        workers=args.workers,
        field_output=args.field_frames,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    msg = (
        f"{args.output}: {summary.labelled} frame(s) labelled, {summary.skipped_done} already done or known "
        f"failures, {len(summary.failed)} failed now ({summary.seconds:.0f} s; {level.method}/{level.basis})"
    )
    print(msg)
    if summary.failed:
        print(f"failed frames are listed in {failed_log_path(args.output)}", file=sys.stderr)
    if summary.labelled == 0 and summary.failed:
        print(f"tensorml label: error: no frame was labelled ({len(summary.failed)} failed)", file=sys.stderr)
        return 1
    return 0
