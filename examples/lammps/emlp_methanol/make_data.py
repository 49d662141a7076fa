"""Write the LAMMPS input of the explicit-electron example: the shipped eMLP in the contract format
(emlp.pt) and methanol with its electron pairs at their Lewis guess (methanol.data, atom_style charge,
types C H O X, charges from the model's metadata).

    python make_data.py            # then: lmp -in in.emlp_methanol  (or mpirun -np 2 lmp -in ...)
    python make_data.py --emlp OTHER_EMLP.pt
"""

import argparse
from pathlib import Path

import numpy as np
from ase.build import molecule

from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.emlp.lewis import lewis_pairs

HERE = Path(__file__).parent
SHIPPED = HERE.parents[2] / "models" / "emlp" / "model.pt"
KINDS = [6, 1, 8, 0]  # LAMMPS types 1-4: C H O X (X = electron pair)
MASSES = {6: 12.011, 1: 1.008, 8: 15.999, 0: 1.0}  # a pair's mass is never used: it is relaxed, not integrated


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emlp", default=str(SHIPPED), help="eMLP file (tensorml-emlp format) to convert")
    args = parser.parse_args()
    meta = export_contract(load_emlp_model(args.emlp), HERE / "emlp.pt")
    charges = {int(z): q for z, q in meta["explicit_electrons"]["particle_charges"].items()}
    mol = molecule("CH3OH")
    mol.translate([15.0, 15.0, 15.0])
    pairs = lewis_pairs(mol.positions, mol.numbers)
    numbers = list(mol.numbers) + [0] * len(pairs)
    positions = np.concatenate([mol.positions, pairs])
    lines = [f"methanol and its electron pairs (tensorml examples/lammps/emlp_methanol)\n\n{len(numbers)} atoms"]
    lines += [f"{len(KINDS)} atom types\n", "0 30 xlo xhi", "0 30 ylo yhi", "0 30 zlo zhi", "\nMasses\n"]
    lines += [f"{t + 1} {MASSES[z]}" for t, z in enumerate(KINDS)]
    lines.append("\nAtoms # charge\n")
    for k, (z, x) in enumerate(zip(numbers, positions)):
        lines.append(f"{k + 1} {KINDS.index(z) + 1} {charges[z]} {x[0]:.10f} {x[1]:.10f} {x[2]:.10f}")
    (HERE / "methanol.data").write_text("\n".join(lines) + "\n")
    print(f"wrote emlp.pt and methanol.data: {len(mol)} cores, {len(pairs)} electron pairs")


if __name__ == "__main__":
    main()
