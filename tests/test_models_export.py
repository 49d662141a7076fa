"""Every tensorial model exports to the contract (TorchScript script) in float32 and float64."""

import numpy as np
import pytest
import torch
from ase.build import molecule

from tensorml import units as U
from tensorml.cli import main as cli_main
from tensorml.export import export_model
from tensorml.models import MODELS, load_checkpoint, save_checkpoint
from tensorml.models.tensorial import TensorialModel
from tensorml.runtime import ExportedModel, System
from tensorml.train import data as D

BACKBONES = {
    "eann": {"type": "eann", "n_radial": 4, "max_l": 3, "n_pseudovectors": 2},
    "equivariant": {
        "type": "equivariant",
        "hidden_irreps": "4x0e+2x0o+2x1o+2x1e+2x2e+2x2o",
        "n_layers": 2,
        "n_scalars": 4,
        "n_vectors": 2,
        "n_pseudovectors": 2,
        "n_tensors": 2,
        "n_basis": 4,
        "radial_hidden": 8,
    },
}
H = {"hidden": [8]}
ALL_HEADS = {  # one model with every head but the alternatives below
    "dipole": {"charges": "environment", **H},
    "polarizability": {"type": "eann", **H},
    "apt": {"type": "direct", **H},
    "energy": H,
    "transition_dipole": H,
}


@pytest.fixture(autouse=True)
def _plain_interpreter():
    """TorchScript without its profiling/optimizing passes: these tests call each model a few times only."""
    with torch.jit.optimized_execution(False):
        yield


def water_pair():
    a, b = molecule("H2O"), molecule("H2O")
    b.positions += [2.8, 0.4, 0.3]
    return a + b


@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("pol", ["atomic", "eann"])
def test_export_both_dtypes_and_metadata(tmp_path, backbone, pol):
    heads = {k: dict(v) for k, v in ALL_HEADS.items()}
    heads["polarizability"]["type"] = pol
    if pol == "atomic":  # the periodic-safe variant: fixed charges, APT = dM/dr
        heads["dipole"]["charges"] = "fixed"
        heads.pop("apt")
    model = TensorialModel(species=["H", "O"], cutoff=3.5, backbone=BACKBONES[backbone], heads=heads, seed=1)
    batch = D.collate(D.make_samples([water_pair()], 3.5), torch.float32)
    model.backbone.fit_statistics(D.model_graph(batch["inputs"], model.species))
    results = {}
    for dtype in ("float32", "float64"):
        path = tmp_path / f"{dtype}.pt"
        meta = export_model(model, path, dtype=dtype)
        em = ExportedModel.load(path)
        assert em.metadata["dtype"] == dtype
        names = [o for o in em.outputs if not meta["outputs"][o].get("needs")]
        results[dtype] = em.evaluate_one(System.from_atoms(water_pair(), U.METAL), names)
    layers = BACKBONES[backbone].get("n_layers", 1)
    assert meta["message_passing_layers"] == layers and meta["halo"] == pytest.approx(3.5 * layers)
    outs = meta["outputs"]
    assert outs["polarizability"]["reduction"] == ("sum" if pol == "atomic" else "system")
    assert outs["apt"]["ghost"] == ("sum" if pol == "atomic" else "local")
    assert ("transition_dipole" in outs) and ("forces" in outs)
    assert meta["model_config"]["backbone"]["type"] == backbone
    for name, value in results["float64"].items():
        scale = max(np.abs(value).max(), 1e-2)
        np.testing.assert_allclose(results["float32"][name], value, atol=1e-4 * scale, err_msg=name)


def test_checkpoint_round_trip_and_cli_export(tmp_path, capsys):
    assert MODELS["tensorial"] is TensorialModel
    model = TensorialModel(
        species=[1, 8], cutoff=3.5, backbone=BACKBONES["eann"], heads={"dipole": H, "polarizability": H}, seed=2
    )
    with torch.no_grad():
        model.backbone.scalar_scale.fill_(3.0)  # buffers travel too
    ckpt = tmp_path / "model.ckpt"
    save_checkpoint(model, ckpt)
    again = load_checkpoint(ckpt)
    assert again.config() == model.config()
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    out = tmp_path / "model.pt"
    assert cli_main(["export", str(ckpt), "-o", str(out), "--dtype", "float32"]) == 0
    assert "tensorial" in capsys.readouterr().out
    em = ExportedModel.load(out)
    assert em.metadata["model_config"] == model.config()
    res = em.evaluate_one(System.from_atoms(water_pair(), U.METAL), ["dipole", "apt", "polarizability"])
    np.testing.assert_allclose(res["apt"].sum(0), res["apt"].sum(0)[0, 0] * np.eye(3), atol=1e-5)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown head"):
        TensorialModel(heads={"quadrupole": {}})
    with pytest.raises(ValueError, match="charges"):
        TensorialModel(heads={"dipole": {"charges": "magic"}})
    with pytest.raises(ValueError, match="backbone"):
        TensorialModel(backbone={"type": "transformer"})
    with pytest.raises(ValueError, match="max_l"):
        TensorialModel(backbone={"type": "eann", "max_l": 5})
