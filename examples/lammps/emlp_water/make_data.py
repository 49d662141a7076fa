"""Write the LAMMPS input of the liquid-water eMLP example: the eMLP in the contract format with its
electrostatics from kspace (emlp.pt, long range gaussian_kspace), its Ewald splitting parameter
(gewald.in, included by in.emlp_water) and a periodic box of water at 1 g/cm^3 with the electron pairs
at their Lewis guess (water.data, atom_style charge, types O H X, charges from the model's metadata).

    python make_data.py                 # 64 molecules (4^3 on a 3.1 angstrom lattice, 12.4 angstrom box)
    python make_data.py --side 8        # 512 molecules
    python make_data.py --emlp OTHER_EMLP.pt
"""

import argparse
from pathlib import Path

import numpy as np

from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.emlp.lammps_data import particle_charges, write_particles
from tensorml.emlp.lewis import lewis_pairs
from tensorml.structures import water_box

HERE = Path(__file__).parent
SHIPPED = HERE / ".." / ".." / ".." / "models" / "emlp" / "model.pt"  # the repository's shipped eMLP
KINDS = [8, 1, 0]  # LAMMPS types 1-3: O H X (X = electron pair)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emlp", default=str(SHIPPED), help="eMLP file (tensorml-emlp or format 3) to convert")
    parser.add_argument("--side", type=int, default=4, help="molecules per box edge (side^3 molecules)")
    parser.add_argument("--seed", type=int, default=0, help="orientations of the molecules")
    args = parser.parse_args()
    meta = export_contract(load_emlp_model(args.emlp), HERE / "emlp.pt", long_range="gaussian_kspace")
    gamma = meta["explicit_electrons"]["long_range"]["gaussian_gamma"]
    (HERE / "gewald.in").write_text(
        f"# the eMLP's Gaussian charge width (1/angstrom): kspace's splitting\nvariable gewald equal {gamma!r}\n"
    )
    water = water_box(args.side, spacing=3.1, seed=args.seed)
    pairs = lewis_pairs(water.positions, water.numbers)
    numbers = np.concatenate([water.numbers, np.zeros(len(pairs), int)])
    positions = np.concatenate([water.positions, pairs])
    edge = float(water.cell[0, 0])
    title = f"{len(water) // 3} water molecules and their electron pairs (tensorml examples/lammps/emlp_water)"
    write_particles(
        HERE / "water.data", numbers, positions, particle_charges(meta), [(0, edge)] * 3, KINDS, title=title
    )
    print(f"wrote emlp.pt, gewald.in and water.data: {len(water)} cores, {len(pairs)} electron pairs, box {edge} A")


if __name__ == "__main__":
    main()
