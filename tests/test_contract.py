"""The model contract: metadata validation, export/load round trips, clear refusals."""

import copy
import json

import numpy as np
import pytest
import torch

from tensorml import contract
from tensorml.export import contract_module, model_metadata
from tensorml.runtime import ExportedModel, System


def test_metadata_is_valid_and_complete(exported):
    meta = exported.metadata
    assert meta["format"] == "tensorml-model" and meta["format_version"] == 2  # 3 only with explicit electrons
    assert meta["species_symbols"] == ["H", "O"] and meta["halo"] == meta["cutoff"] == 4.0
    assert meta["units"] == {"length": "angstrom", "energy": "eV", "charge": "e", "time": "fs"}
    assert meta["outputs"]["apt"] == {
        "per_atom": True,
        "shape": [3, 3],
        "dimension": [0, 0, 1, 0],
        "unit": "e",
        "ghost": "sum",
        "source": "dipole",
    }
    assert meta["outputs"]["dmdt"]["needs"] == ["velocities"]
    assert meta["outputs"]["dmdt"]["per_atom_form"] == "apt_velocity"
    assert meta["outputs"]["polarizability"]["reduction"] == "sum"
    assert meta["outputs"]["dipole"]["unit"] == "e*angstrom"
    assert meta["outputs"]["dmdt"]["unit"] == "e*angstrom/fs" and meta["outputs"]["dmdt"]["dimension"] == [1, 0, 1, -1]
    assert meta["inputs"]["velocities"]["unit"] == "angstrom/fs"
    assert meta["outputs"]["polarizability"]["unit"] == "angstrom^3"
    for name in contract.INPUTS:
        assert name in meta["inputs"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format="other"), "not a tensorml model"),
        (lambda m: m.update(format_version=99), "format version 99 is not supported"),
        (lambda m: m.pop("cutoff"), "lacks the key 'cutoff'"),
        (lambda m: m.update(dtype="float16"), "neither float32 nor float64"),
        (lambda m: m.update(halo=1.0), "cutoff <= halo"),
        (lambda m: m["unit_factors"].update(length=2.0), "unit factor of length"),
        (lambda m: m["outputs"]["apt"].update(ghost="none"), "output 'apt' has ghost"),
        (lambda m: m["outputs"]["dipole"].update(reduction="mean"), "output 'dipole' has reduction"),
        (lambda m: m["outputs"]["energy"].update(reduction="system"), "output 'energy' has reduction"),
        (lambda m: m["outputs"].pop("dipole"), "needs 'dipole', which the model lacks"),
    ],
)
def test_bad_metadata_is_refused(exported, change, message):
    meta = copy.deepcopy(exported.metadata)
    change(meta)
    with pytest.raises(contract.MetadataError, match=message):
        contract.validate_metadata(meta)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ExportedModel.load(tmp_path / "nope.pt")


def test_not_an_archive(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("hello")
    with pytest.raises(contract.MetadataError, match="not a readable TorchScript archive"):
        ExportedModel.load(bad)


def test_torchscript_without_metadata(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(contract.MetadataError, match="no metadata.json"):
        ExportedModel.load(path)


def test_newer_format_version_is_refused(tmp_path, model_path):
    extra = {contract.METADATA_FILE: ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = json.loads(extra[contract.METADATA_FILE])
    meta["format_version"] = contract.FORMAT_VERSION + 1
    path = tmp_path / "future.pt"
    torch.jit.save(module, str(path), _extra_files={contract.METADATA_FILE: json.dumps(meta)})
    with pytest.raises(contract.MetadataError, match="not supported"):
        ExportedModel.load(path)


def test_unknown_element_is_named(exported):
    system = System(np.array([8, 6]), np.array([[0.0, 0, 0], [1.2, 0, 0]]))
    with pytest.raises(ValueError, match="unknown element.*C: the model knows H, O"):
        exported.evaluate_one(system, ["energy"])


def test_unknown_output_is_named(exported, box):
    system = System.from_atoms(box, exported.units)
    with pytest.raises(contract.MetadataError, match=r"does not provide \['quadrupole'\]"):
        exported.evaluate_one(system, ["quadrupole"])


def test_scripted_equals_eager(exported, reference_model, box):
    eager = ExportedModel(contract_module(reference_model), model_metadata(reference_model, "float64"))
    system = System.from_atoms(box, exported.units)
    system.velocities = np.random.default_rng(1).normal(size=system.positions.shape)
    names = list(exported.outputs)
    a = exported.evaluate_one(system, names)
    b = eager.evaluate_one(system, names)
    for name in names:  # not bitwise: TorchScript's profiling executor may fuse kernels after warm-up
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-13, err_msg=name)


def test_direct_apt_and_system_outputs(tmp_path):
    """A model may predict APTs per atom (ghost rule 'local') and form whole-system outputs."""
    from tensorml.export import export_model
    from toy_models import DirectAptModel

    model = DirectAptModel()
    meta = export_model(model, tmp_path / "direct.pt")
    assert meta["outputs"]["apt"]["ghost"] == "local" and "source" not in meta["outputs"]["apt"]
    assert meta["outputs"]["dmdt"]["source"] == "apt"
    assert meta["outputs"]["polarizability"]["reduction"] == "system"
    assert "dipole" not in meta["outputs"]
    loaded = ExportedModel.load(tmp_path / "direct.pt")
    from tensorml.structures import water_box

    systems = [System.from_atoms(water_box(2, seed=s), loaded.units) for s in (0, 1)]
    out = loaded.evaluate(systems, ["apt", "polarizability", "forces"])
    for s, o in zip(systems, out):
        alone = loaded.evaluate_one(s, ["apt", "polarizability"])
        np.testing.assert_allclose(o["polarizability"], alone["polarizability"], rtol=1e-12)
        np.testing.assert_allclose(o["apt"], alone["apt"], rtol=1e-12)
    # direct APTs obey whatever the head makes them obey: here trace = 3 q per atom
    charges = loaded.evaluate_one(systems[0], ["charges"])["charges"]
    np.testing.assert_allclose(np.trace(out[0]["apt"], axis1=1, axis2=2), 3 * charges, atol=1e-12)


def test_direct_apt_dmdt(tmp_path):
    from tensorml.export import export_model
    from tensorml.structures import water_box
    from toy_models import DirectAptModel

    export_model(DirectAptModel(), tmp_path / "direct.pt")
    model = ExportedModel.load(tmp_path / "direct.pt")
    assert model.metadata["outputs"]["apt_velocity"]["ghost"] == "local"
    system = System.from_atoms(water_box(2), model.units)
    system.velocities = np.random.default_rng(0).normal(size=system.positions.shape)
    out = model.evaluate_one(system, ["apt", "dmdt", "apt_velocity"])
    np.testing.assert_allclose(out["dmdt"], np.einsum("nab,nb->a", out["apt"], system.velocities), atol=1e-12)


def test_atoms_closer_than_the_minimum_distance_are_refused(exported):
    assert exported.metadata["min_distance"] == pytest.approx(0.01)  # the reference model's own floor
    system = System(np.array([8, 1, 1]), np.array([[0.0, 0, 0], [0.96, 0, 0], [0.96, 0.005, 0]]))
    with pytest.raises(ValueError, match=r"atoms 2 and 3 \(1-based\) of system 1 are 0.005 angstrom apart"):
        exported.evaluate_one(system, ["dipole"])


def test_trained_models_get_the_default_minimum_distance(tmp_path):
    from tensorml.export import export_model
    from tensorml.models import build_model

    model = build_model("tensorial", {"species": [1, 8], "cutoff": 3.0})
    meta = export_model(model, tmp_path / "m.pt")
    assert meta["min_distance"] == contract.DEFAULT_MIN_DISTANCE_ANGSTROM == 0.1
