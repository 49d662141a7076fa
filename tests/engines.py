"""Run the installed engines (lmp, mpirun, i-pi, tensorml-ipi) from tests, with clear failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of an executable of this environment (the venv's bin first)."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found in {BIN} or on PATH")
    return found


def run_lammps(
    workdir: Path, script: str, nprocs: int = 1, check: bool = True, timeout: float = 300, variables: dict | None = None
) -> subprocess.CompletedProcess:
    """Write ``script`` to workdir/in.test and run it with ``nprocs`` MPI ranks."""
    workdir = Path(workdir)
    (workdir / "in.test").write_text(script)
    cmd = [tool("lmp"), "-in", "in.test", "-log", "log.lammps"]
    for k, v in (variables or {}).items():
        cmd += ["-var", k, str(v)]
    if nprocs > 1:
        cmd = [tool("mpirun"), "-np", str(nprocs)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"LAMMPS failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def read_dump(path: Path) -> list[dict[str, np.ndarray]]:
    """Frames of a LAMMPS text dump: {'step': int, column name: array}, sorted by atom id."""
    frames = []
    lines = Path(path).read_text().splitlines()
    k = 0
    while k < len(lines):
        assert lines[k].startswith("ITEM: TIMESTEP")
        step = int(lines[k + 1])
        natoms = int(lines[k + 3])
        cols = lines[k + 8].split()[2:]
        data = np.array([[float(x) for x in line.split()] for line in lines[k + 9 : k + 9 + natoms]])
        frame = {"step": step, **{c: data[:, i] for i, c in enumerate(cols)}}
        order = np.argsort(frame["id"])
        frames.append({c: (v[order] if isinstance(v, np.ndarray) else v) for c, v in frame.items()})
        k += 9 + natoms
    return frames


def read_ave_time(path: Path) -> np.ndarray:
    """Rows of a fix ave/time file with scalar columns (first column: step)."""
    return np.loadtxt(path, comments="#", ndmin=2)


# ---- LAMMPS data and comparisons shared by the LAMMPS tests
TYPE_Z = {1: 8, 2: 1}  # LAMMPS type -> atomic number in the test data files (O, H)
APT_COLS = [f"c_p[{k}]" for k in range(1, 10)]  # per-atom columns 1-9 of tensorml/props: APT [a][b]
APTV_COLS = [f"c_p[{k}]" for k in range(10, 13)]  # per-atom columns 10-12: APT_i v_i


def write_data(atoms, path, units="metal"):
    """LAMMPS data file (atom_style atomic, O = type 1, H = type 2) written by ASE."""
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=["O", "H"], atom_style="atomic", units=units, masses=True)


SINGLE_POINT = """
units           {units}
atom_style      atomic
boundary        p p p
read_data       data.lmp
pair_style      tensorml {model}
pair_coeff      * * O H
compute         p all tensorml/props
variable        pe equal pe
fix             g all ave/time 1 1 1 v_pe c_p[*] file globals.dat format " %.17g"
dump            d all custom 1 atoms.dump id fx fy fz {apt}
dump_modify     d format float %.17g sort id
run             0
"""


def lammps_single_point(work: Path, atoms, model_path, units: str = "metal", nprocs: int = 1) -> dict:
    """`run 0` of a model with energy, dipole, polarizability and APT outputs on one frame (O/H atoms in
    ASE order = LAMMPS ids): pe, forces [N,3], dipole [3], polarizability [9], apt [N,3,3] in LAMMPS `units`."""
    work.mkdir(parents=True, exist_ok=True)
    write_data(atoms, work / "data.lmp", units=units)
    run_lammps(work, SINGLE_POINT.format(units=units, model=model_path, apt=" ".join(APT_COLS)), nprocs=nprocs)
    frame = read_dump(work / "atoms.dump")[0]
    row = read_ave_time(work / "globals.dat")[0]
    return {
        "pe": row[1],
        "forces": np.stack([frame["fx"], frame["fy"], frame["fz"]], 1),
        "dipole": row[2:5],
        "polarizability": row[5:14],
        "apt": np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3),
    }


def lammps_per_ps(value):
    """A dM/dt or APT.v of a model in METAL units (e*angstrom/fs) in LAMMPS metal units (e*angstrom/ps)."""
    from tensorml import units as U

    return np.asarray(value) * U.factor(U.DIPOLE_RATE, U.METAL, U.LAMMPS_UNIT_SYSTEMS["metal"])


def frame_system(frame, cell, velocities=True):
    """A tensorml System (METAL model units) from a LAMMPS metal dump frame with xu yu zu (and vx vy vz)
    columns: velocities from angstrom/ps to the model's angstrom/fs."""
    from tensorml import units as U
    from tensorml.runtime import System

    numbers = np.array([TYPE_Z[int(t)] for t in frame["type"]])
    positions = np.stack([frame["xu"], frame["yu"], frame["zu"]], axis=1)
    to_model = U.factor(U.VELOCITY, U.LAMMPS_UNIT_SYSTEMS["metal"], U.METAL)
    v = np.stack([frame["vx"], frame["vy"], frame["vz"]], axis=1) * to_model if velocities else None
    return System(numbers, positions, np.asarray(cell, float), np.array([True, True, True]), velocities=v)


def assert_close(a, b, what, rtol=1e-8):
    """|a - b| <= rtol * max|b|: agreement relative to the scale of the quantity."""
    scale = max(np.abs(b).max(), 1e-12)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=what)


def assert_field_response(evaluate, base, apt_atol, alpha_atol, h=1e-4):
    """Central differences in a uniform field E (V/angstrom, steps h) of forces and dipole from
    `evaluate(field) -> {'forces', 'dipole'}` equal the model's own response tensors in `base`:
    dF_ib/dE_a = apt[i, a, b] (Born charges both ways) and dM_a/dE_b = polarizability[a, b] / k_e
    (angstrom^3 -> e*angstrom per V/angstrom)."""
    from tensorml import units as U

    n = len(base["apt"])
    dfde, dmde = np.zeros((n, 3, 3)), np.zeros((3, 3))
    for a in range(3):
        field = np.zeros(3)
        field[a] = h
        plus, minus = evaluate(field), evaluate(-field)
        dfde[:, a, :] = (plus["forces"] - minus["forces"]) / (2 * h)
        dmde[:, a] = (plus["dipole"] - minus["dipole"]) / (2 * h)
    np.testing.assert_allclose(dfde, base["apt"], atol=apt_atol)
    np.testing.assert_allclose(dmde, base["polarizability"] / U.COULOMB_CONSTANT, atol=alpha_atol)


def format_1_copy(model_path, path):
    """The model file as tensorml wrote it before time was a dimension (format 1: three exponents, no
    time unit, velocities "per engine time unit")."""
    import json

    import torch

    from tensorml import archive, contract

    extra = {contract.METADATA_FILE: ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = json.loads(extra[contract.METADATA_FILE])
    meta["format_version"] = 1
    meta["units"].pop("time", None)
    meta["unit_factors"].pop("time", None)
    for table in (meta["inputs"], meta["outputs"]):
        for spec in table.values():
            spec["dimension"] = spec["dimension"][:3]
    for name in ("dmdt", "apt_velocity"):
        if name in meta["outputs"]:
            meta["outputs"][name]["unit"] = "e*angstrom"
    meta["inputs"]["velocities"]["unit"] = "angstrom"
    return archive.save_scripted(module, path, meta)


# ---- explicit electrons
#: orthorhombic cell (angstrom) of :func:`three_waters`
THREE_WATERS_CELL = (6.2, 6.0, 6.4)


def three_waters():
    """Three rotated water molecules for a THREE_WATERS_CELL box: (cores [9,3] angstrom, atomic numbers,
    electron pairs [12,3] at the Lewis guess)."""
    from ase.build import molecule

    from tensorml.emlp.lewis import lewis_pairs

    rng = np.random.default_rng(7)
    cores, numbers = [], []
    for shift in [(0.5, 0.6, 0.4), (3.6, 3.2, 3.9), (1.2, 3.8, 2.6)]:
        w = molecule("H2O")
        w.rotate(rng.uniform(0, 360), rng.normal(size=3))
        w.translate(shift)
        cores.append(w.positions)
        numbers.append(w.numbers)
    cores, numbers = np.concatenate(cores), np.concatenate(numbers)
    return cores, numbers, lewis_pairs(cores, numbers)
