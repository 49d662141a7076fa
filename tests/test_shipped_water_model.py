"""The shipped water model (models/water/) loads, is physical, and reproduces its training report
on the test frames of the shipped dataset it was trained on."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from tensorml.data import read_dataset
from tensorml.runtime import ExportedModel, System
from tensorml.train.report import evaluate_frames

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "water" / "model.pt"


@pytest.fixture(scope="module")
def model():
    return ExportedModel.load(MODEL)


def test_metadata(model):
    assert model.metadata["species_symbols"] == ["H", "O"]
    assert {"dipole", "polarizability", "apt", "dmdt"} <= set(model.outputs)
    assert model.metadata["dtype"] == "float64"


def test_test_set_errors_match_the_report(model):
    report = json.loads((ROOT / "models" / "water" / "report.json").read_text())
    frames = [a for a in read_dataset(ROOT / "data" / "water_clusters.extxyz.xz") if a.info["split"] == "test"]
    assert len(frames) == report["data"]["test"]
    got = evaluate_frames(model, frames)
    for target in ("dipole", "polarizability", "apt"):
        np.testing.assert_allclose(got[target]["rmse"], report["metrics"]["test"][target]["rmse"], rtol=1e-4)
    # and they are useful: well below the spread of the labels
    assert got["dipole"]["rmse"] < 0.05 * got["dipole"]["ref_std"]
    assert got["apt"]["rmse"] < 0.1 * got["apt"]["ref_std"]


def test_monomer_is_physical(model):
    """Gas-phase water monomer: B3LYP/aug-cc-pVDZ gives |M| ~ 1.86 D = 0.387 e*angstrom and an isotropic
    polarizability ~ 1.4 angstrom^3; APTs obey the acoustic sum rule and are rotation-equivariant."""
    atoms = molecule("H2O")
    out = model.evaluate_one(System.from_atoms(atoms, model.units), ["dipole", "polarizability", "apt"])
    mu, alpha, apt = (np.asarray(out[k]) for k in ("dipole", "polarizability", "apt"))
    assert 0.33 < np.linalg.norm(mu) < 0.44
    assert 1.2 < np.trace(alpha) / 3 < 1.7
    np.testing.assert_allclose(apt.sum(axis=0), 0.0, atol=1e-10)
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = atoms.copy()
    rotated.positions = atoms.positions @ q.T
    out_r = model.evaluate_one(System.from_atoms(rotated, model.units), ["dipole", "polarizability", "apt"])
    np.testing.assert_allclose(np.asarray(out_r["dipole"]), q @ mu, atol=1e-10)
    np.testing.assert_allclose(np.asarray(out_r["polarizability"]), q @ alpha @ q.T, atol=1e-10)
    np.testing.assert_allclose(np.asarray(out_r["apt"]), q @ apt @ q.T, atol=1e-10)
