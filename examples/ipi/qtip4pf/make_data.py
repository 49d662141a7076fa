"""Write water.data: the 27 molecules of ../init.extxyz for LAMMPS with q-TIP4P/F charges.

    python make_data.py

Atom i of the data file is atom i of ../init.extxyz (fix ipi maps i-PI's atoms to LAMMPS atom IDs
in order); types O=1 H=2; charges of q-TIP4P/F (Habershon, Markland, Manolopoulos, J. Chem. Phys.
131, 024501 (2009)): q_H = +0.5564 e, and -1.1128 e on O, which pair lj/cut/tip4p/long moves to
the M site.
"""

from pathlib import Path

from ase.io import read

from tensorml.structures import write_lammps_water

here = Path(__file__).resolve().parent
atoms = read(here.parent / "init.extxyz")
write_lammps_water(atoms, here / "water.data", charges={"O": -1.1128, "H": 0.5564})
print(f"wrote {here / 'water.data'} ({len(atoms)} atoms)")
