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


def run_lammps(workdir: Path, script: str, nprocs: int = 1, check: bool = True, timeout: float = 300,
               variables: dict | None = None) -> subprocess.CompletedProcess:
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
        data = np.array([[float(x) for x in line.split()] for line in lines[k + 9:k + 9 + natoms]])
        frame = {"step": step, **{c: data[:, i] for i, c in enumerate(cols)}}
        order = np.argsort(frame["id"])
        frames.append({c: (v[order] if isinstance(v, np.ndarray) else v) for c, v in frame.items()})
        k += 9 + natoms
    return frames


def read_ave_time(path: Path) -> np.ndarray:
    """Rows of a fix ave/time file with scalar columns (first column: step)."""
    return np.loadtxt(path, comments="#", ndmin=2)
