"""Cost of explicit electrons in LAMMPS: fix tensorml/relax with the shipped eMLP, per MD step.

Systems: one methanol molecule (coul/cut, non-periodic) and periodic water boxes of N molecules at
1 g/cm^3 (both long-range forms: point charges with coul/long + ewald, and gaussian_kspace with
ewald at gewald = gamma). NVE of the cores at 300 K, time step 0.5 fs, the model's fmax (1e-3
eV/angstrom). Reported: wall time per step, model evaluations per step (relaxation iterations + the
step's force call, mean over the steps after the first), wall time per evaluation and the part of it
one kspace call takes (measured alone on the same particles), the drift of the total energy and the
largest total-energy jump between printed steps.

    .venv/bin/python benchmarks/lammps/bench_emlp.py --waters 64 --ranks 1 2 --steps 20 --kinds gaussian_kspace
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import molecule

from tensorml.emlp.contract_model import PAIR_Z
from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.emlp.lammps_data import pair_coeff_elements, particle_charges, write_particles
from tensorml.emlp.lewis import lewis_pairs
from tensorml.structures import water_box

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

SCRIPT = """
units           metal
atom_style      charge
boundary        {boundary}
read_data       data.lmp
{coulomb}
group           pairs type {pair_type}
group           cores subtract all pairs
fix             relax pairs tensorml/relax
velocity        cores create 300.0 4928 dist gaussian
timestep        0.0005
fix             nve cores nve
thermo_style    custom step etotal f_relax[2] f_relax[5]
thermo_modify   format float %.10g
thermo          1
run             {steps}
"""


KSPACE_ONLY = """
units           metal
atom_style      charge
boundary        p p p
read_data       data.lmp
pair_style      coul/long 4.0
pair_coeff      * *
{kspace}
run             {calls}
"""


def kspace_ms(work, kspace, ranks, calls=20):
    """Wall time (ms) of one kspace force call on the same particles: the kspace part of a model evaluation."""
    (work / "in.kspace").write_text(KSPACE_ONLY.format(kspace=kspace, calls=calls))
    cmd = ([str(BIN / "mpirun"), "-np", str(ranks)] if ranks > 1 else []) + [str(BIN / "lmp"), "-in", "in.kspace"]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("Kspace"))
    return 1e3 * float(line.split("|")[2]) / calls  # the average over ranks


def water_cores(n):
    """n = k^3 water molecules on a 3.1 angstrom lattice (1 g/cm^3), randomly oriented: cores, numbers, edge."""
    side = round(n ** (1 / 3))
    if side**3 != n:
        raise SystemExit(f"--waters takes cubes (64, 512, 4096), not {n}")
    water = water_box(side, spacing=3.1, seed=1)
    return water.positions, water.numbers, float(water.cell[0, 0])


def run(work, system, kind, ranks, steps, models):
    if system == "methanol":
        mol = molecule("CH3OH")
        mol.translate([15.0, 15.0, 15.0])
        cores, numbers, box, kinds, boundary = mol.positions, mol.numbers, [30.0] * 3, [6, 1, 8, 0], "f f f"
    else:
        cores, numbers, edge = water_cores(int(system.split()[0]))
        box, kinds, boundary = [edge] * 3, [8, 1, 0], "p p p"
    pairs = lewis_pairs(cores, numbers)
    meta = models[kind]
    write_particles(
        work / "data.lmp",
        np.concatenate([numbers, np.full(len(pairs), PAIR_Z)]),
        np.concatenate([cores, pairs]),
        particle_charges(meta),
        [(0, b) for b in box],
        kinds,
    )
    elements = pair_coeff_elements(kinds)
    model = work / f"{kind}.pt"
    kspace = "kspace_style ewald 1e-6"
    if kind == "gaussian_kspace":
        gamma = meta["explicit_electrons"]["long_range"]["gaussian_gamma"]
        kspace += f"\nkspace_modify gewald {gamma}"
        coulomb = f"pair_style tensorml {model}\npair_coeff * * {elements}\n{kspace}"
    elif boundary == "f f f":
        coulomb = (
            f"pair_style hybrid/overlay tensorml {model} coul/cut 29.0\n"
            f"pair_coeff * * tensorml {elements}\npair_coeff * * coul/cut"
        )
    else:
        coulomb = (
            f"pair_style hybrid/overlay tensorml {model} coul/long 9.0\npair_coeff * * tensorml {elements}\n"
            "pair_coeff * * coul/long\nkspace_style ewald 1e-6"
        )
    (work / "in.bench").write_text(SCRIPT.format(boundary=boundary, coulomb=coulomb, pair_type=len(kinds), steps=steps))
    cmd = ([str(BIN / "mpirun"), "-np", str(ranks)] if ranks > 1 else []) + [str(BIN / "lmp"), "-in", "in.bench"]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    lines = out.splitlines()
    first = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "TotEng"])
    rows = np.array([[float(v) for v in line.split()] for line in lines[first + 1 : first + 2 + steps]])
    loop = float(next(line for line in lines if line.startswith("Loop time")).split()[3])
    atoms = len(numbers) + len(pairs)
    return {
        "system": system,
        "particles": atoms,
        "kind": kind,
        "ranks": ranks,
        "ms_per_step": 1e3 * loop / steps,
        "kspace_ms": kspace_ms(work, kspace, ranks) if boundary == "p p p" else 0.0,
        "evaluations": rows[1:, 2].mean(),
        "first_step_evaluations": rows[0, 2],
        "drift_meV": 1e3 * (rows[-1, 1] - rows[0, 1]),
        "max_jump_meV": 1e3 * np.abs(np.diff(rows[:, 1])).max(),
        "wall_s": wall,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waters", type=int, nargs="*", default=[64], help="water box sizes (molecules, cubes)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--no-methanol", action="store_true")
    parser.add_argument("--kinds", nargs="+", default=["point_charges", "gaussian_kspace"], help="long-range forms")
    args = parser.parse_args(argv)
    emlp = load_emlp_model(ROOT / "models" / "emlp" / "model.pt")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = {
            kind: export_contract(emlp, work / f"{kind}.pt", long_range=kind)
            for kind in ("point_charges", "gaussian_kspace")
        }
        cases = [] if args.no_methanol else [("methanol", "point_charges")]
        cases += [(f"{n} waters", kind) for n in args.waters for kind in args.kinds]
        print(
            "| system | particles | long range | ranks | ms/step | model evaluations/step | ms/evaluation "
            "| of which kspace | first step | drift (meV) | max jump (meV) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for system, kind in cases:
            for ranks in args.ranks:
                r = run(work, system, kind, ranks, args.steps, models)
                print(
                    f"| {r['system']} | {r['particles']} | {r['kind']} | {r['ranks']} | {r['ms_per_step']:.1f} | "
                    f"{r['evaluations']:.2f} | {r['ms_per_step'] / (r['evaluations'] + 1e-300):.0f} | "
                    f"{r['kspace_ms']:.1f} | {r['first_step_evaluations']:.0f} | {r['drift_meV']:.2f} | "
                    f"{r['max_jump_meV']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
