"""Explicit electrons in a periodic LAMMPS cell: MD across periodic and subdomain boundaries on 1, 2 and 4
ranks (newton on and off), restart continuation, a triclinic cell, each against the Python engine.

The cell (three waters, 6.2 x 6.0 x 6.4 angstrom) is far smaller than the model's 12 angstrom message-
passing halo: every atom has tens of periodic images in the ghost shell, and the system builder folds
them into one node each. Long range: gaussian_kspace (ewald at gewald = gamma), the form for
condensed phases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines import THREE_WATERS_CELL, read_dump, run_lammps
from lammps_emlp_helpers import relax_in_python, split_energy, thermo_rows, water_cell
from tensorml.emlp.lammps_data import particle_charges, write_particles
from tensorml.emlp.contract_model import PAIR_Z
from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.runtime import ExportedModel, System

pytestmark = pytest.mark.lammps

SHIPPED = Path(__file__).parents[1] / "models" / "emlp" / "model.pt"
FMAX = 1e-5  # eV/angstrom

SCRIPT = """
units           metal
atom_style      charge
newton          {newton}
{processors}
{read}
pair_style      tensorml {model}
pair_coeff      * * O H X
kspace_style    ewald 1e-10
kspace_modify   gewald {gamma}
# wrap and migrate at every step (LAMMPS moves atoms across faces only when it re-neighbors)
neigh_modify    every 1 delay 0 check no
group           pairs type 3
group           cores subtract all pairs
fix             relax pairs tensorml/relax fmax {fmax}
{velocities}
timestep        0.0005
fix             nve cores nve
compute         props all tensorml/props dipole
thermo_style    custom step pe etotal f_relax[1] f_relax[2] f_relax[3] c_props[1] c_props[2] c_props[3] f_relax[4]
thermo_modify   format float %.12g
thermo          1
dump            d all custom 5 out.dump id type x y z ix iy iz fx fy fz
dump_modify     d format float %.15g sort id
run             {steps}
{after}
"""
#: cores drift by (-0.02, -0.015, 0.0125) angstrom/fs on top of 300 K: atoms near the faces cross them
VELOCITIES = "velocity cores create 300 4 dist gaussian\nvelocity cores set -20 -15 12.5 sum yes"
PROCESSORS = {1: "", 2: "processors 2 1 1", 4: "processors 2 2 1"}


@pytest.fixture(scope="module")
def kspace_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("emlp") / "emlp_kspace.pt"
    export_contract(load_emlp_model(SHIPPED), path, long_range="gaussian_kspace")
    return path, ExportedModel.load(path)


def setup_cell(work, model, tilt=None):
    """Data file of the three-water cell, pairs relaxed in Python first (NVE starts at the minimum)."""
    numbers, positions = water_cell()
    cell = np.diag(THREE_WATERS_CELL).astype(float)
    if tilt is not None:
        cell[1, 0], cell[2, 0], cell[2, 1] = tilt
    relaxed, _, _ = relax_in_python(model, numbers, positions, cell, np.ones(3, bool))
    # a rigid translation puts the first oxygen 0.12 angstrom inside the x and y faces, so that the
    # drift of VELOCITIES carries it and some of its electron pairs across them during the run
    relaxed = relaxed + np.array([0.12, 0.12, 0.0]) - relaxed[0] * np.array([1.0, 1.0, 0.0])
    charges = particle_charges(model.metadata)
    write_particles(work / "data.lmp", numbers, relaxed, charges, [(0, L) for L in THREE_WATERS_CELL], [8, 1, 0], tilt)
    return numbers, cell


def run(work, path, model, nprocs=1, newton="on", steps=20, read="read_data data.lmp", velocities=VELOCITIES, after=""):
    gamma = model.metadata["explicit_electrons"]["long_range"]["gaussian_gamma"]
    script = SCRIPT.format(
        newton=newton,
        processors=PROCESSORS[nprocs],
        read=read,
        model=path,
        gamma=gamma,
        fmax=FMAX,
        velocities=velocities,
        steps=steps,
        after=after,
    )
    rows = thermo_rows(run_lammps(work, script, nprocs=nprocs, timeout=600).stdout)
    return rows, read_dump(work / "out.dump")


def frame_arrays(frame):
    x = np.stack([frame["x"], frame["y"], frame["z"]], 1)
    f = np.stack([frame["fx"], frame["fy"], frame["fz"]], 1)
    image = np.stack([frame["ix"], frame["iy"], frame["iz"]], 1)
    return x, f, image


def check_against_python(model, numbers, cell, row, frame):
    """The Python engine at LAMMPS' positions: same energy, core forces and dipole; pairs at its minimum."""
    x, f, image = frame_arrays(frame)
    unwrapped = x + image @ cell
    energy, forces = split_energy(model, numbers, unwrapped, cell, np.ones(3, bool))
    pairs = numbers == PAIR_Z
    assert row[1] == pytest.approx(energy, rel=2e-7)  # LAMMPS' converged Ewald vs the Python sum, their constants
    np.testing.assert_allclose(f[~pairs], forces[~pairs], rtol=0, atol=2e-5)
    assert np.linalg.norm(forces[pairs], axis=1).max() < 3 * FMAX
    dipole = model.evaluate_one(System(numbers, unwrapped, cell, np.ones(3, bool)), ["dipole"])["dipole"]
    np.testing.assert_allclose(row[6:9], np.asarray(dipole).ravel(), rtol=0, atol=1e-8)


@pytest.mark.mpi
def test_md_crosses_boundaries_the_same_on_1_2_4_ranks(tmp_path, kspace_model):
    path, model = kspace_model
    runs = {}
    for nprocs, newton in [(1, "on"), (2, "off"), (4, "on")]:
        work = tmp_path / f"np{nprocs}"
        work.mkdir()
        numbers, cell = setup_cell(work, model)
        runs[nprocs] = run(work, path, model, nprocs, newton)
    rows, frames = runs[1]
    # the drift carries cores and electron pairs across the periodic faces (the x face is also the face
    # between the two halves of the 2- and 4-rank grids) while the pairs stay relaxed
    first, last = frame_arrays(frames[0])[2], frame_arrays(frames[-1])[2]
    crossed = np.any(first != last, axis=1)
    pairs = numbers == PAIR_Z
    assert crossed[pairs].any() and crossed[~pairs].any()
    assert np.any(first[:, 0] != last[:, 0])
    # NVE: the total energy oscillates (Verlet at 0.5 fs with the fast O-H stretch) but does not drift
    assert np.abs(rows[:, 2] - rows[0, 2]).max() < 1e-2 and abs(rows[-1, 2] - rows[0, 2]) < 2e-3
    assert (rows[:, 5] < FMAX).all()
    for nprocs in (2, 4):
        other_rows, other_frames = runs[nprocs]
        np.testing.assert_allclose(other_rows[:, [1, 2, 6, 7, 8]], rows[:, [1, 2, 6, 7, 8]], rtol=1e-8, atol=1e-8)
        xa, fa, _ = frame_arrays(frames[-1])
        xb, fb, _ = frame_arrays(other_frames[-1])
        np.testing.assert_allclose(xb, xa, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fb, fa, rtol=0, atol=1e-5)
    check_against_python(model, numbers, cell, rows[-1], frames[-1])


def test_restart_continues_the_run(tmp_path, kspace_model):
    """20 steps in one go == 10 steps, write_restart, read_restart, 10 steps (the pair history restarts too)."""
    path, model = kspace_model
    whole, split = tmp_path / "whole", tmp_path / "split"
    for work in (whole, split):
        work.mkdir()
        numbers, cell = setup_cell(work, model)
    rows, frames = run(whole, path, model, steps=20)
    run(split, path, model, steps=10, after="write_restart state.restart")
    again, again_frames = run(split, path, model, steps=10, read="read_restart state.restart", velocities="")
    np.testing.assert_allclose(again[-1, [1, 2, 6, 7, 8]], rows[-1, [1, 2, 6, 7, 8]], rtol=1e-7, atol=1e-7)
    xa, _, ia = frame_arrays(frames[-1])
    xb, _, ib = frame_arrays(again_frames[-1])
    np.testing.assert_allclose(xb + ib @ cell, xa + ia @ cell, rtol=0, atol=1e-6)
    # the extrapolation history came back: the first continued step starts as close as an uninterrupted one
    assert again[0, 3] == 0, "the restored pairs are the relaxed ones of step 10: no iteration at the setup"
    assert again[1, 4] <= rows[11, 4] + 1


def test_triclinic_cell(tmp_path, kspace_model):
    path, model = kspace_model
    numbers, cell = setup_cell(tmp_path, model, tilt=(0.9, -0.6, 0.7))
    rows, frames = run(tmp_path, path, model, steps=10)
    assert (rows[:, 5] < FMAX).all()
    check_against_python(model, numbers, cell, rows[-1], frames[-1])
