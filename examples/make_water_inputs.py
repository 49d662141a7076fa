"""Write the water inputs of the examples (run from anywhere; outputs are committed).

    python examples/make_water_inputs.py

lammps/water.data: 27 H2O in a 9.3 angstrom periodic box (atom_style full, O=1 H=2,
SPC/Fw charges for the classical force field of in.water_spcfw), from
tensorml.structures.water_box(3, seed=0); ipi/init.extxyz: the same structure for i-PI
(<file mode="ase">) and for the tensorml driver's --template.
"""

from pathlib import Path

from ase.io import write

from tensorml.structures import water_box, write_lammps_water

here = Path(__file__).resolve().parent
atoms = water_box(3, seed=0)
write_lammps_water(atoms, here / "lammps" / "water.data", charges={"O": -0.82, "H": 0.41})
write(here / "ipi" / "init.extxyz", atoms, format="extxyz")
print(f"wrote {here / 'lammps' / 'water.data'} and {here / 'ipi' / 'init.extxyz'} ({len(atoms)} atoms)")
