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
from tensorml.emlp.lammps_data import particle_charges, write_particles
from tensorml.emlp.lewis import lewis_pairs

HERE = Path(__file__).parent
SHIPPED = HERE / ".." / ".." / ".." / "models" / "emlp" / "model.pt"  # the repository's shipped eMLP
KINDS = [6, 1, 8, 0]  # LAMMPS types 1-4: C H O X (X = electron pair)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emlp", default=str(SHIPPED), help="eMLP file (tensorml-emlp format) to convert")
    args = parser.parse_args()
    meta = export_contract(load_emlp_model(args.emlp), HERE / "emlp.pt")
    mol = molecule("CH3OH")
    mol.translate([15.0, 15.0, 15.0])
    pairs = lewis_pairs(mol.positions, mol.numbers)
    numbers = list(mol.numbers) + [0] * len(pairs)
    positions = np.concatenate([mol.positions, pairs])
    title = "methanol and its electron pairs (tensorml examples/lammps/emlp_methanol)"
    write_particles(
        HERE / "methanol.data", numbers, positions, particle_charges(meta), [(0, 30)] * 3, KINDS, title=title
    )
    print(f"wrote emlp.pt and methanol.data: {len(mol)} cores, {len(pairs)} electron pairs")


if __name__ == "__main__":
    main()
