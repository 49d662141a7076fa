"""tensorml info: what a model file contains (species, cutoff, outputs and their units)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a model file", description="Print the metadata of a model file.")
    p.add_argument("model", help="model file (TorchScript contract)")
    p.add_argument("--json", action="store_true", help="print the raw metadata JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..runtime import ExportedModel

    model = ExportedModel.load(args.model)
    meta = model.metadata
    if args.json:
        print(json.dumps(meta, indent=1))
        return 0
    version = f"format version {meta['format_version']}"
    if "read_from_format_version" in meta:
        version = f"format version {meta['read_from_format_version']}, read as {meta['format_version']}"
    print(f"{args.model}: tensorml {meta['model_type']} model ({version})")
    print(f"  species: {' '.join(meta['species_symbols'])}")
    print(f"  cutoff {meta['cutoff']}, halo {meta['halo']} {meta['units']['length']}; dtype {meta['dtype']}")
    print(f"  units: {meta['units']['length']}, {meta['units']['energy']}, {meta['units']['charge']}")
    for name, spec in meta["outputs"].items():
        kind = "per-atom" if spec["per_atom"] else "global"
        shape = "x".join(str(s) for s in spec["shape"]) or "scalar"
        print(f"  {name:16s} {kind:8s} {shape:6s} [{spec['unit']}]")
    electrons = meta.get("explicit_electrons")
    if electrons:
        from ase.data import chemical_symbols

        charges = ", ".join(f"{chemical_symbols[int(z)]} {q:+g}" for z, q in electrons["particle_charges"].items())
        relax = ", ".join(f"{k} {v:g}" for k, v in electrons["relaxation"].items())
        print(f"  explicit electrons: relaxed species {' '.join(chemical_symbols[z] for z in electrons['species'])}")
        print(f"    particle charges ({meta['units']['charge']}): {charges}")
        print(f"    relaxation defaults: {relax}")
        print(f"    long range: {electrons['long_range']['kind']} (the engine's; LAMMPS: coul/long + kspace)")
    return 0
