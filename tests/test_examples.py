"""The examples run as written (with fewer steps) after the README setup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines import BIN, read_ave_time, read_dump, tool

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_example(name, tmp_path, model_path):
    work = tmp_path / name
    shutil.copytree(EXAMPLES / name, work)
    shutil.copy(model_path, work / "model.pt")
    return work


def run(cmd, cwd, timeout=300):
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.lammps
@pytest.mark.parametrize("nprocs", [1, 2])
def test_lammps_water_example(tmp_path, model_path, nprocs):
    work = copy_example("lammps", tmp_path, model_path)
    cmd = [tool("lmp"), "-in", "in.water", "-var", "nsteps", "10"]
    run(([tool("mpirun"), "-np", str(nprocs)] if nprocs > 1 else []) + cmd, work)
    tensors = read_ave_time(work / "dipole.dat")
    assert tensors.shape == (11, 16)  # step, dipole (3), polarizability (9), dM/dt (3), every step
    frames = read_dump(work / "apt.dump")
    assert [f["step"] for f in frames] == [0, 10]
    apt = np.stack([frames[0][f"c_props[{k}]"] for k in range(1, 10)], 1).reshape(-1, 3, 3)
    np.testing.assert_allclose(apt.sum(0), 0.0, atol=1e-8)  # neutral water: acoustic sum rule


@pytest.mark.lammps
def test_lammps_spcfw_hybrid_example(tmp_path, model_path):
    work = copy_example("lammps", tmp_path, model_path)
    water_model = EXAMPLES.parent / "models" / "water" / "model.pt"  # the example's default
    run([tool("lmp"), "-in", "in.water_spcfw", "-var", "nsteps", "10", "-var", "model", str(water_model)], work)
    tensors = read_ave_time(work / "dipole_spcfw.dat")
    assert tensors.shape == (11, 16)
    # 27 molecules of the trained model: ~1.4-1.8 angstrom^3 each (isotropic), dipole of a few e*angstrom
    alpha = tensors[:, 4:13].reshape(-1, 3, 3)
    assert np.all(
        (np.trace(alpha, axis1=1, axis2=2) / 3 > 27 * 1.2) & (np.trace(alpha, axis1=1, axis2=2) / 3 < 27 * 2.0)
    )
    frames = read_dump(work / "apt_spcfw.dump")
    apt = np.stack([frames[-1][f"c_props[{k}]"] for k in range(1, 10)], 1).reshape(-1, 3, 3)
    np.testing.assert_allclose(apt.sum(0), 0.0, atol=1e-8)


@pytest.mark.ipi
def test_ipi_example(tmp_path, model_path):
    work = copy_example("ipi", tmp_path, model_path)
    xml = (work / "input.xml").read_text().replace("<total_steps>20</total_steps>", "<total_steps>3</total_steps>")
    (work / "input.xml").write_text(xml)
    run(["bash", "run.sh"], work)
    for bead in range(4):
        text = (work / f"water.dipole_{bead}").read_text()
        assert text.count("#EXTRAS(dipole)#") == 4
        assert (work / f"water.BEC_{bead}").exists() and (work / f"water.polarizability_{bead}").exists()


@pytest.mark.lammps
@pytest.mark.mpi
@pytest.mark.parametrize("nprocs", [2, 4])
def test_lammps_spcfw_hybrid_example_under_mpi(tmp_path, model_path, nprocs):
    """hybrid/overlay + properties_only + per-atom APT dump on 2 and 4 ranks ends cleanly and equals 1 rank.

    pair_style hybrid sizes the reverse-communication buffers from its substyles' comm_reverse after
    their settings(); the pair once set it only in init_style(), so APT reverse communication overran
    the buffers (heap corruption at exit, 'free(): invalid pointer').
    """
    work = copy_example("lammps", tmp_path, model_path)
    script = (work / "in.water_spcfw").read_text()
    assert "\nminimize" in script
    (work / "in.nomin").write_text(script.replace("\nminimize", "\n# minimize"))
    water_model = EXAMPLES.parent / "models" / "water" / "model.pt"
    cmd = [tool("lmp"), "-in", "in.nomin", "-var", "nsteps", "6", "-var", "model", str(water_model)]
    serial = run(cmd, work)
    reference = read_ave_time(work / "dipole_spcfw.dat")
    proc = run([tool("mpirun"), "-np", str(nprocs)] + cmd, work)
    assert "Total wall time" in proc.stdout and "Total wall time" in serial.stdout
    np.testing.assert_allclose(read_ave_time(work / "dipole_spcfw.dat"), reference, rtol=1e-9, atol=1e-9)
    frames = read_dump(work / "apt_spcfw.dump")
    apt = np.stack([frames[-1][f"c_props[{k}]"] for k in range(1, 10)], 1).reshape(-1, 3, 3)
    np.testing.assert_allclose(apt.sum(0), 0.0, atol=1e-8)


def run_emlp_example(tmp_path, name, nprocs, make_args, variables):
    """An explicit-electron example as its README says: make_data.py, then lmp on nprocs ranks; the dipole file."""
    work = tmp_path / name
    shutil.copytree(EXAMPLES / "lammps" / name, work)
    run(
        [sys.executable, "make_data.py", *make_args, "--emlp", str(EXAMPLES.parent / "models" / "emlp" / "model.pt")],
        work,
    )
    cmd = [tool("lmp"), "-in", f"in.{name}"] + [a for k, v in variables.items() for a in ("-var", k, str(v))]
    proc = run(([tool("mpirun"), "-np", str(nprocs)] if nprocs > 1 else []) + cmd, work, timeout=600)
    assert "f_relax[1]" in proc.stdout and "Total wall time" in proc.stdout
    return work, read_ave_time(work / "dipole.dat")


def ir_from_dipole(work):
    """tensorml spectrum ir on the example's dipole file and log, as the README says."""
    cmd = ["spectrum", "ir", "--dipole", "dipole.dat", "--lammps-log", "log.lammps", "--temperature", "300"]
    run([tool("tensorml"), *cmd, "-o", "ir.dat"], work)
    assert (work / "ir.dat").is_file()


@pytest.mark.lammps
@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_lammps_emlp_methanol_example(tmp_path, nprocs):
    """The explicit-electron example as its README says: make the data, run, turn the dipole into an IR file."""
    work, dipole = run_emlp_example(tmp_path, "emlp_methanol", nprocs, [], {"nsteps": 20})
    assert dipole.shape == (21, 4)
    # methanol: 1.43 D from this eMLP (models/emlp/report.md), 1.7 D measured; 1 D = 0.2082 e*angstrom
    assert np.all((np.linalg.norm(dipole[:, 1:], axis=1) > 0.2) & (np.linalg.norm(dipole[:, 1:], axis=1) < 0.45))
    ir_from_dipole(work)


@pytest.mark.lammps
@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_lammps_emlp_water_example(tmp_path, nprocs):
    """The liquid-water eMLP example as its README says, on a 2^3-molecule box so that it takes seconds."""
    work, dipole = run_emlp_example(tmp_path, "emlp_water", nprocs, ["--side", "2"], {"nequil": 5, "nsteps": 10})
    assert dipole.shape == (11, 4)
    # 8 molecules of ~2.5 D (0.52 e*angstrom) each, oriented at random: a cell dipole of a few e*angstrom,
    # changing smoothly from step to step
    assert np.all(np.linalg.norm(dipole[:, 1:], axis=1) < 8 * 0.6)
    assert np.abs(np.diff(dipole[:, 1:], axis=0)).max() < 0.05
    ir_from_dipole(work)
