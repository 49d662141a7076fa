"""The shipped eMLP (models/emlp/) loads through the engine-neutral loader, reproduces the static test
errors of its report on the shipped dataset, and behaves like an explicit-electron model: relaxed
pairs of an equilibrium molecule sit on bonds and lone pairs and its dipole is that of cores + pairs."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from tensorml.data import read_dataset
from tensorml.emlp.engine import EMLPEngine
from tensorml.emlp.errors import static_errors
from tensorml.emlp.frames import frames_from_atoms
from tensorml.runtime import System, load_model

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "emlp" / "model.pt"


@pytest.fixture(scope="module")
def engine():
    return load_model(MODEL)


def test_metadata(engine):
    assert isinstance(engine, EMLPEngine)
    assert engine.metadata["species_symbols"] == ["H", "C", "N", "O"]
    assert engine.metadata["dtype"] == "float64"


def test_static_test_errors_match_the_report(engine):
    report = json.loads((ROOT / "models" / "emlp" / "report.json").read_text())
    atoms = [a for a in read_dataset(ROOT / "data" / "emlp_molecules.extxyz.xz") if a.info["split"] == "test"]
    assert len(atoms) == report["frames"]["test"]
    got = static_errors(engine.module, frames_from_atoms(atoms))
    for key in ("energy_meV_per_atom", "forces_meV_per_A", "pair_forces_meV_per_A"):
        assert got[key]["mae"] == pytest.approx(report["errors"]["static"][key]["mae"], rel=1e-6)
    # better than the constant model on the unseen molecules
    assert got["forces_meV_per_A"]["mae"] < report["errors"]["intrinsic"]["forces_meV_per_A"]


def test_methanol_pairs_sit_on_bonds_and_lone_pairs(engine):
    """Methanol: 5 bond pairs (C-H x3, C-O, O-H) and 2 lone pairs on O; dipole = cores + pairs."""
    atoms = molecule("CH3OH")
    out = engine.evaluate_one(System(atoms.numbers, atoms.positions), ["dipole", "electron_pairs", "max_pair_force"])
    pairs = out["electron_pairs"]
    assert pairs.shape == (7, 3) and out["max_pair_force"] < 1e-3
    d = np.linalg.norm(pairs[:, None] - atoms.positions[None], axis=-1)
    assert d.min(1).max() < 1.0  # no pair far from every nucleus
    q = np.array([4, 6, 1, 1, 1, 1])
    np.testing.assert_allclose(out["dipole"], q @ atoms.positions - 2 * pairs.sum(0), atol=1e-10)
