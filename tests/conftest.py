"""Shared fixtures: an exported reference model (float64), water boxes, engine runners."""

from __future__ import annotations

import pytest

from tensorml.export import export_model
from tensorml.models.reference import ReferenceDipoleModel
from tensorml.runtime import ExportedModel
from tensorml.structures import water_box


@pytest.fixture(scope="session")
def reference_model() -> ReferenceDipoleModel:
    return ReferenceDipoleModel(species=[1, 8], cutoff=4.0, seed=0)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory, reference_model):
    """The reference model exported in float64 (the file LAMMPS and i-PI load)."""
    path = tmp_path_factory.mktemp("model") / "reference.pt"
    export_model(reference_model, path, dtype="float64")
    return path


@pytest.fixture(scope="session")
def exported(model_path) -> ExportedModel:
    return ExportedModel.load(model_path)


@pytest.fixture()
def box():
    """27 water molecules in a periodic 9.3 angstrom box."""
    return water_box(3, seed=1)
