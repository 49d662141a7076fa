"""The ASE calculator over exported models: the same numbers as ExportedModel, ASE units and conventions."""

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError

from tensorml import units as U
from tensorml.calculator import TensorMLCalculator
from tensorml.export import export_model
from tensorml.models.tensorial import TensorialModel
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box
from tensorml.train import data as D


@pytest.fixture(autouse=True)
def _plain_interpreter():
    """TorchScript without its profiling/optimizing passes: these tests call each model a few times only."""
    with torch.jit.optimized_execution(False):
        yield


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = TensorialModel(
        species=[1, 8],
        cutoff=3.0,
        backbone={"type": "eann", "n_radial": 4, "max_l": 2},
        heads={
            "dipole": {"fixed_charges": {"H": 0.4, "O": -0.8}, "hidden": [8]},
            "polarizability": {"type": "atomic", "hidden": [8]},
            "energy": {"hidden": [8]},
        },
        seed=5,
    )
    batch = D.collate(D.make_samples([water_box(2, seed=3)], 3.0), torch.float32)
    model.backbone.fit_statistics(D.model_graph(batch["inputs"], model.species))
    with torch.no_grad():
        for p in model.energy_head.parameters():
            p.add_(0.3 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("calc") / "model.pt"
    export_model(model, path, dtype="float64")
    return path


def test_properties_match_the_exported_model(model_file):
    atoms = water_box(2, seed=3)
    calc = TensorMLCalculator(model_file)
    atoms.calc = calc
    em = ExportedModel.load(model_file)
    ref = em.evaluate_one(
        System.from_atoms(atoms, U.METAL), ["energy", "forces", "dipole", "polarizability", "apt", "charges", "virial"]
    )
    assert atoms.get_potential_energy() == pytest.approx(float(ref["energy"]), abs=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), ref["forces"], atol=1e-12)
    np.testing.assert_allclose(atoms.get_dipole_moment(), ref["dipole"], atol=1e-12)
    np.testing.assert_allclose(calc.get_property("polarizability", atoms), ref["polarizability"], atol=1e-12)
    np.testing.assert_allclose(calc.get_property("apt", atoms), ref["apt"], atol=1e-12)
    np.testing.assert_allclose(atoms.get_charges(), ref["charges"], atol=1e-12)
    stress = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(stress, -ref["virial"] / atoms.get_volume(), atol=1e-12)
    assert {"apt", "polarizability", "stress"} <= set(calc.implemented_properties)


def test_stress_against_numerical_stress(model_file):
    atoms = water_box(2, seed=3)
    atoms.calc = TensorMLCalculator(model_file)
    from ase.calculators.fd import calculate_numerical_stress

    numerical = calculate_numerical_stress(atoms, eps=1e-5, force_consistent=False)
    np.testing.assert_allclose(atoms.get_stress(), numerical, atol=1e-6)


def test_molecule_field_and_errors(model_file):
    water = molecule("H2O")
    water.calc = TensorMLCalculator(model_file)
    m0 = water.get_dipole_moment()
    alpha = water.calc.get_property("polarizability", water)
    with pytest.raises(PropertyNotImplementedError):
        water.get_stress()
    field = np.array([0.0, 0.0, 0.01])  # V/angstrom
    water.calc = TensorMLCalculator(model_file, efield=field)
    np.testing.assert_allclose(water.get_dipole_moment() - m0, alpha @ field / U.COULOMB_CONSTANT, atol=1e-12)
    assert "transition_dipole" not in water.calc.implemented_properties
    with pytest.raises(PropertyNotImplementedError):
        water.calc.get_property("transition_dipole", water)
