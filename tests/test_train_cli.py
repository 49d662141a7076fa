"""tensorml train / tensorml evaluate end to end, on a tiny synthetic dataset (both backbones)."""

import json

import numpy as np
import pytest
import torch
import yaml

from tensorml.cli import main as cli_main
from tensorml.runtime import ExportedModel
from tensorml.train.synthetic import write_water_dataset

BACKBONES = {
    "eann": {"type": "eann", "n_radial": 4, "max_l": 2, "n_pseudovectors": 2},
    "equivariant": {
        "type": "equivariant",
        "hidden_irreps": "4x0e+2x0o+2x1o+2x1e+2x2e+2x2o",
        "n_layers": 1,
        "n_scalars": 4,
        "n_vectors": 2,
        "n_pseudovectors": 2,
        "n_tensors": 2,
        "n_basis": 4,
        "radial_hidden": 8,
    },
}


@pytest.fixture(autouse=True)
def _plain_interpreter():
    """TorchScript without its profiling/optimizing passes: these tests call each model a few times only."""
    with torch.jit.optimized_execution(False):
        yield


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_water_dataset(tmp_path_factory.mktemp("data") / "water.extxyz", n_frames=12, seed=2, max_molecules=2)


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_train_then_evaluate(tmp_path, dataset, backbone, capsys):
    heads = {"dipole": {"hidden": [8]}, "polarizability": {"type": "atomic", "hidden": [8]}}
    if backbone == "equivariant":
        heads["apt"] = {"type": "direct", "hidden": [8]}
    cfg = {
        "seed": 1,
        "data": {"train": str(dataset), "val_fraction": 0.25, "test_fraction": 0.25},
        "model": {"cutoff": 3.5, "backbone": BACKBONES[backbone], "heads": heads},
        "training": {"epochs": 1, "batch_size": 4},
        "output": {"dir": "run", "export_dtype": "float32"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli_main(["train", str(path), "--no-progress", "--epochs", "2"]) == 0
    run = tmp_path / "run"  # relative to the configuration file
    for name in (
        "model.pt",
        "best.pt",
        "checkpoint.pt",
        "report.md",
        "report.json",
        "parity_dipole.png",
        "parity_apt.png",
        "training_curve.png",
    ):
        assert (run / name).is_file(), name
    report = json.loads((run / "report.json").read_text())
    assert set(report["metrics"]) == {"train", "val", "test"}
    assert {"dipole", "polarizability", "apt"} <= set(report["metrics"]["test"])
    assert "per_element" in report["metrics"]["test"]["apt"]
    em = ExportedModel.load(run / "model.pt")
    assert em.metadata["dtype"] == "float32"
    capsys.readouterr()
    out_json = tmp_path / "eval.json"
    assert (
        cli_main(
            [
                "evaluate",
                str(run / "model.pt"),
                str(dataset),
                "--json",
                str(out_json),
                "--plots",
                str(tmp_path / "plots"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| dipole |" in printed and "RMSE" in printed
    metrics = json.loads(out_json.read_text())
    assert metrics["dipole"]["frames"] == 12
    assert np.isfinite(metrics["apt"]["rmse"]) and (tmp_path / "plots" / "parity_apt.png").is_file()
    # resuming a finished run trains the extra epochs only
    assert cli_main(["train", str(path), "--no-progress", "--epochs", "3", "--resume"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
