"""Cost per MD step of pair_style tensorml on periodic water, by what is requested.

    python benchmarks/lammps/bench_water.py [--sizes 3 4 6] [--ranks 1 2] [--steps 50] [--device cpu]

For each box (n^3 molecules), MPI rank count and model dtype it runs the reference model with
(a) energy and forces only, (b) + the global dipole and polarizability every step (thermo), and
(c) + per-atom APTs every step (dump), and prints a markdown table of milliseconds per step
(LAMMPS "Loop time" / steps; setup excluded). Uses the installed lmp and mpirun.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ase.io import write

from tensorml.export import export_model
from tensorml.models.reference import ReferenceDipoleModel
from tensorml.structures import water_box

BIN = Path(sys.executable).parent
SCRIPT = """
units metal
atom_style atomic
read_data data.lmp
pair_style tensorml {model} device {device}
pair_coeff * * O H
velocity all create 300 1
fix 1 all nve
timestep 0.0005
{extra}
thermo {thermo}
run 5
run {steps}
"""
MODES = {
    "forces": ("", 1000000),
    "+dipole": ("compute p all tensorml/props\nthermo_style custom step pe c_p[1] c_p[2] c_p[3]", 1),
    "+APT": ("compute p all tensorml/props\nthermo_style custom step pe c_p[1]\n"
             "dump d all custom 1 apt.dump id c_p[1] c_p[5] c_p[9]", 1),
}


def ms_per_step(workdir: Path, script: str, ranks: int, steps: int) -> float:
    (workdir / "in.bench").write_text(script)
    cmd = [str(BIN / "lmp"), "-in", "in.bench", "-log", "none"]
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-np", str(ranks)] + cmd
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
    loop = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    return 1000.0 * float(loop[0]) / int(loop[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[3, 4, 6])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    print("| atoms | ranks | dtype | " + " | ".join(f"{m} (ms/step)" for m in MODES) + " |")
    print("|---|---|---|" + "---|" * len(MODES))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for dtype in args.dtypes:
            export_model(ReferenceDipoleModel(), work / f"{dtype}.pt", dtype=dtype)
        for n in args.sizes:
            atoms = water_box(n, seed=0)
            write(work / "data.lmp", atoms, format="lammps-data", specorder=["O", "H"], atom_style="atomic",
                  masses=True)
            for ranks in args.ranks:
                for dtype in args.dtypes:
                    times = [ms_per_step(work, SCRIPT.format(model=work / f"{dtype}.pt", device=args.device,
                                                             extra=extra, thermo=thermo, steps=args.steps),
                                         ranks, args.steps)
                             for extra, thermo in MODES.values()]
                    print(f"| {len(atoms)} | {ranks} | {dtype} | " + " | ".join(f"{t:.2f}" for t in times) + " |",
                          flush=True)


if __name__ == "__main__":
    main()
