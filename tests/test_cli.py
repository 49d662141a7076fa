"""The tensorml command: export (reference model and checkpoints) and info."""

import subprocess

import numpy as np

from engines import tool
from tensorml.models import load_checkpoint, save_checkpoint
from tensorml.models.reference import ReferenceDipoleModel
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box


def tensorml(*args, cwd):
    return subprocess.run([tool("tensorml"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_export_reference_and_info(tmp_path):
    proc = tensorml(
        "export",
        "reference",
        "-o",
        "m.pt",
        "--species",
        "O",
        "H",
        "C",
        "--cutoff",
        "3.5",
        "--dtype",
        "float32",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "species H C O" in proc.stdout and "float32" in proc.stdout
    info = tensorml("info", "m.pt", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "cutoff 3.5, halo 3.5 angstrom" in info.stdout
    assert "apt              per-atom 3x3    [e]" in info.stdout
    assert "dipole           global   3      [e*angstrom]" in info.stdout


def test_export_checkpoint_round_trip(tmp_path):
    model = ReferenceDipoleModel(seed=7)
    save_checkpoint(model, tmp_path / "ckpt.pt")
    assert load_checkpoint(tmp_path / "ckpt.pt").config() == model.config()
    proc = tensorml("export", "ckpt.pt", "-o", "m.pt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from tensorml.export import contract_module, model_metadata

    system = System.from_atoms(water_box(2), ExportedModel.load(tmp_path / "m.pt").units)
    a = ExportedModel.load(tmp_path / "m.pt").evaluate_one(system, ["dipole", "apt"])
    b = ExportedModel(contract_module(model), model_metadata(model, "float64")).evaluate_one(system, ["dipole", "apt"])
    np.testing.assert_allclose(a["apt"], b["apt"], rtol=1e-12, atol=1e-13)


def test_clear_errors(tmp_path):
    proc = tensorml("export", "reference", "-o", "m.pt", "--species", "O", "Hx", cwd=tmp_path)
    assert proc.returncode == 1 and "unknown element symbol(s) ['Hx']" in proc.stderr
    proc = tensorml("info", "nothing.pt", cwd=tmp_path)
    assert proc.returncode == 1 and "nothing.pt" in proc.stderr and "not found" in proc.stderr


def test_plugin_entry_point_and_torch_check():
    import os

    import pytest

    from tensorml import lammps_plugin

    assert os.path.isfile(lammps_plugin.plugin_path())
    lammps_plugin.check_torch_version("2.13.0", "2.13.0+cpu")
    with pytest.raises(RuntimeError, match="compiled against torch 2.13.0 but torch 2.14.1"):
        lammps_plugin.check_torch_version("2.13.0", "2.14.1")
