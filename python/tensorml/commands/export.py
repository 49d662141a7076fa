"""tensorml export: write a model in the contract format (TorchScript + metadata)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to the TorchScript contract",
        description="Export MODEL, either 'reference' (the built-in plumbing model) or a checkpoint "
        "file written by tensorml, to a TorchScript file that LAMMPS, i-PI and Python load. Given a model "
        "file exported by an older tensorml, write it again with a payload checksum.",
    )
    p.add_argument("model", help="'reference', a checkpoint file, or an older model file to stamp with a checksum")
    p.add_argument("-o", "--output", required=True, help="model file to write (e.g. model.pt)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--species", nargs="+", default=["H", "O"], help="elements (reference model only)")
    p.add_argument("--cutoff", type=float, default=4.0, help="cutoff in angstrom (reference model only)")
    p.add_argument("--seed", type=int, default=0, help="weights seed (reference model only)")
    p.add_argument(
        "--long-range",
        choices=["point_charges", "gaussian_kspace"],
        default="point_charges",
        help="eMLP files only: what the engine adds. point_charges: coul/long + kspace or coul/cut (molecules "
        "and cells; cutoff 10.3 angstrom); gaussian_kspace: periodic cells, kspace with gewald = gamma and no "
        "Coulomb pair style (cutoff: SchNet's)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ase.data import atomic_numbers

    from .. import archive
    from ..export import export_model
    from ..runtime import has_explicit_electrons
    from ..models import build_model, load_checkpoint

    if args.model != "reference" and archive.is_model_file(args.model):
        source = archive.read_metadata(args.model)
        if has_explicit_electrons(source):
            from ..emlp.export import convert_to_contract

            meta = convert_to_contract(args.model, args.output, long_range=args.long_range)
            print(
                f"wrote {args.output}: the eMLP {args.model} as a contract model with explicit electrons "
                f"(format version {meta['format_version']}; pairs are species X, cutoff {meta['cutoff']:.2f} "
                f"{meta['units']['length']}, halo {meta['halo']:.2f})"
            )
            return 0
        meta = archive.restamp(args.model, args.output)
        print(f"wrote {args.output}: {args.model} with payload checksum {meta[archive.DIGEST_KEY][:16]}...")
        return 0
    if args.model == "reference":
        unknown = [s for s in args.species if s not in atomic_numbers]
        if unknown:
            raise ValueError(f"unknown element symbol(s) {unknown}")
        species = sorted(atomic_numbers[s] for s in args.species)
        model = build_model("reference", {"species": species, "cutoff": args.cutoff, "seed": args.seed})
    else:
        model = load_checkpoint(args.model)
    meta = export_model(model, args.output, dtype=args.dtype)
    outputs = ", ".join(meta["outputs"])
    print(
        f"wrote {args.output}: {meta['model_type']} model, species {' '.join(meta['species_symbols'])}, "
        f"cutoff {meta['cutoff']} {meta['units']['length']}, {meta['dtype']}; outputs: {outputs}"
    )
    return 0
