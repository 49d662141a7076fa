"""eMLP models in the i-PI driver: relaxation per structure, per-bead warm starts, electron-pair extras.

The model is an untrained eMLP (small SchNet preset) on methane, whose four bond pairs stay
apart under relaxation (see test_emlp_toymodel.py for why water's lone pairs need a trained model).
Energies and forces of the driver must equal a cold relaxation of the same structure in Python
(same minimum, reached from a Lewis guess), converted to atomic units.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import write

from test_ipi_runs import BOHR, Run, read_extras, read_frames, simulation_xml
from tensorml import units as U
from tensorml.emlp.engine import EMLPEngine
from tensorml.emlp.export import export_emlp
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.relax import relax_pairs
from tensorml.runtime import load_model
from tensorml_ipi.pes import DriverError, TensorMLDriver

pytestmark = pytest.mark.ipi

E_AU = U.factor(U.ENERGY, U.METAL, U.ATOMIC)
F_AU = U.factor(U.FORCE, U.METAL, U.ATOMIC)


@pytest.fixture(scope="module", params=["tensorml-emlp", "contract"])
def emlp_file(tmp_path_factory, request):
    """The same eMLP in both formats: the driver must serve the LAMMPS file (format 3) as it does the old one."""
    from tensorml.emlp.export import export_contract

    path = tmp_path_factory.mktemp("emlp_ipi") / "emlp.pt"
    model = EMLPModel(build_config([1, 6, 7, 8], preset="small"))
    if request.param == "contract":
        export_contract(model, path)
    else:
        export_emlp(model, path, dtype="float64")
    return path


@pytest.fixture()
def methane(tmp_path):
    atoms = molecule("CH4")
    write(tmp_path / "init.extxyz", atoms)
    return atoms


def cold(model_file, positions, numbers):
    """A relaxation from the Lewis guess, as a user would do it in Python (angstrom, eV)."""
    module = load_model(model_file).module
    return relax_pairs(module, positions, numbers, lewis_pairs(positions, numbers), fmax=1e-6)


def beads(atoms, n, seed, scale=0.03):
    rng = np.random.default_rng(seed)
    return [atoms.positions + scale * rng.normal(size=atoms.positions.shape) for _ in range(n)]


def test_load_model_picks_the_emlp_engine(emlp_file, model_path):
    engine = load_model(emlp_file)
    assert isinstance(engine, EMLPEngine)
    assert {"energy", "forces", "dipole", "electron_pairs", "relax_iterations"} <= set(engine.outputs)
    # eMLP models relax on any torch device now; one that is not there is refused by name
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            load_model(emlp_file, device="cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load_model(emlp_file, device="tpu")
    with pytest.raises(ValueError, match="eMLP models only"):
        load_model(model_path, charge=0)


def test_driver_relaxes_every_bead_and_sends_pairs_in_atomic_units(tmp_path, emlp_file, methane):
    driver = TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(emlp_file), device="cpu")
    driver.model.fmax = 1e-6
    assert driver.extras_keys == ["dipole", "electron_pairs", "relax_iterations", "max_pair_force"]
    # both file formats get the driver's eMLP options: one warm start per bead for up to 256 beads
    assert driver.model.memory._items.maxlen == 256
    positions = beads(methane, 3, seed=1)
    cell = [np.zeros((3, 3))] * 3
    replies = driver.compute(cell, [p / BOHR for p in positions])
    for pos, (energy, forces, virial, extras) in zip(positions, replies):
        ref = cold(emlp_file, pos, methane.numbers)
        extras = json.loads(extras)
        assert energy == pytest.approx(ref.energy * E_AU, abs=1e-9)
        np.testing.assert_allclose(forces, ref.core_forces * F_AU, atol=1e-6)
        np.testing.assert_allclose(virial, 0.0)
        np.testing.assert_allclose(np.array(extras["electron_pairs"]) * BOHR, ref.pairs, atol=1e-4)
        np.testing.assert_allclose(np.array(extras["dipole"]) * BOHR, ref.dipole, atol=1e-4)
        assert extras["max_pair_force"] < 1e-6 * F_AU and extras["relax_iterations"] > 0


def test_each_bead_is_warm_started_from_its_own_configuration(tmp_path, emlp_file, methane):
    """Two beads far apart in configuration space (one rotated by 90 degrees about z, which swaps the
    tetrahedron for its mirror image): at the next step each starts from its own relaxed pairs, moved
    with its cores, inside a bound of 3x its core displacement."""
    driver = TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(emlp_file), device="cpu")
    rotated = methane.copy()
    rotated.rotate(90, "z")
    step0 = [methane.positions, rotated.positions]
    first = [json.loads(r[3]) for r in driver.compute([np.zeros((3, 3))] * 2, [p / BOHR for p in step0])]
    relaxed0 = [np.array(f["electron_pairs"]) * BOHR for f in first]
    assert np.abs(relaxed0[0] - relaxed0[1]).max() > 0.3  # the two beads' pairs differ
    rng = np.random.default_rng(3)
    step1 = [p + 0.005 * rng.normal(size=p.shape) for p in step0]
    for bead in range(2):
        start, bound = driver.model.start(step1[bead], methane.numbers)
        moved = np.linalg.norm(step1[bead] - step0[bead], axis=1).max()
        assert np.abs(start - relaxed0[bead]).max() <= moved + 1e-12
        assert bound == pytest.approx(max(3 * moved, driver.model.min_bound))
    second = [json.loads(r[3]) for r in driver.compute([np.zeros((3, 3))] * 2, [p / BOHR for p in step1])]
    for a, b in zip(relaxed0, second):
        assert np.abs(np.array(b["electron_pairs"]) * BOHR - a).max() < 0.05


def test_failed_relaxation_is_reported_not_answered(tmp_path, emlp_file):
    """Water's lone pairs collapse in an untrained model: the driver names the failure."""
    atoms = molecule("H2O")
    write(tmp_path / "init.extxyz", atoms)
    driver = TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(emlp_file), device="cpu")
    with pytest.raises(DriverError, match="collapsed onto each other"):
        driver.compute([np.zeros((3, 3))], [atoms.positions / BOHR])


def test_pimd_run_through_ffdirect_writes_relaxed_pairs_per_bead(tmp_path, emlp_file, methane):
    """4 beads, 3 steps in-process: the electron-pair extras of every bead and step are the relaxed
    pairs of that bead's positions, and the dipole is cores + pairs."""
    work = tmp_path / "run"
    work.mkdir()
    boxed = methane.copy()
    boxed.cell = [20.0, 20.0, 20.0]  # i-PI needs a cell; pbc stays false (an isolated molecule)
    write(work / "init.extxyz", boxed)
    xml = simulation_xml(direct_model=emlp_file, nbeads=4, steps=3, batch=4)
    xml = xml.replace(
        '<trajectory filename="BEC" stride="1" extra_type="BEC"> extras </trajectory>',
        '<trajectory filename="pairs" stride="1" extra_type="electron_pairs"> extras </trajectory>',
    )
    xml = xml.replace('<trajectory filename="pol" stride="1" extra_type="polarizability"> extras </trajectory>', "")
    out, _ = Run(work, xml, None).start().finish()
    assert "I-PI reports success" in out, out[-3000:]
    charges = np.array([4.0, 1, 1, 1, 1])
    for bead in range(4):
        pairs = read_extras(work / f"sim.pairs_{bead}")
        dipoles = read_extras(work / f"sim.dipole_{bead}")
        positions = read_frames(work / f"sim.pos_{bead}.bin")
        assert len(pairs) == len(dipoles) == 4
        for step in (0, 3):
            ref = cold(emlp_file, positions[step] * BOHR, methane.numbers)
            got = pairs[step].reshape(-1, 3) * BOHR
            # same pairs up to order: match each to the nearest reference pair
            d = np.linalg.norm(got[:, None] - ref.pairs[None], axis=-1)
            assert sorted(d.argmin(1).tolist()) == [0, 1, 2, 3] and d.min(1).max() < 1e-2
            expected = charges @ (positions[step] * BOHR) - 2 * got.sum(0)
            np.testing.assert_allclose(dipoles[step].ravel() * BOHR, expected, atol=1e-8)
