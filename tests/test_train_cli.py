"""tensorml train / tensorml evaluate end to end, on a tiny synthetic dataset (both backbones)."""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

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


REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "training" / "quickstart.yaml"


def test_quickstart_runs_from_a_clean_checkout(tmp_path, monkeypatch, capsys):
    """examples/training/quickstart.yaml trains as shipped (its data are in the repository, tracked by git),
    from any folder; the shipped data are what the command in the configuration's comments makes."""
    from tensorml.data import read_dataset
    from tensorml.train import load_config
    from tensorml.train import synthetic

    data = Path(load_config(QUICKSTART)["data"]["train"])
    assert data.is_file(), f"{data} is not shipped"
    assert data.stat().st_size < 200_000
    assert REPO in data.parents and "out" not in data.relative_to(REPO).parts
    if (REPO / ".git").exists() and shutil.which("git"):
        rel = str(data.relative_to(REPO))
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=REPO, capture_output=True)
        assert tracked.returncode == 0, f"{rel} is not tracked by git: a fresh clone lacks it"
    # the command in the comments regenerates the shipped file
    lines = [
        ln for ln in QUICKSTART.read_text().splitlines() if ln.startswith("#") and "tensorml.train.synthetic" in ln
    ]
    assert lines, "quickstart.yaml does not say how its data were made"
    words = shlex.split(lines[0].lstrip("#"))
    argv = words[words.index("tensorml.train.synthetic") + 1 :]
    assert (REPO / argv[0]).resolve() == data
    assert synthetic.main([str(tmp_path / "again.extxyz"), *argv[1:]]) == 0
    shipped, again = read_dataset(data), read_dataset(tmp_path / "again.extxyz")
    assert len(shipped) == len(again)
    for a, b in zip(shipped, again):
        assert a.info["system_id"] == b.info["system_id"]
        np.testing.assert_allclose(a.positions, b.positions, atol=2e-8)
        np.testing.assert_allclose(a.arrays["apt"], b.arrays["apt"], atol=2e-8)
        np.testing.assert_allclose(a.info["dipole"], b.info["dipole"], rtol=1e-9, atol=1e-12)
    # train from another folder, one epoch
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert cli_main(["train", str(QUICKSTART), "--epochs", "1", "--no-progress", "-o", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "model.pt").is_file()
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert sum(report["data"].values()) == len(shipped)


def test_train_missing_dataset_names_the_file_and_the_command(tmp_path, monkeypatch, capsys):
    """A missing data.train file: the error names it and a command that makes it; that command works."""
    cfg = yaml.safe_load(QUICKSTART.read_text())
    cfg["data"]["train"] = "made_later/water.extxyz"
    cfg["output"]["dir"] = "run"
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "quick.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    assert cli_main(["train", str(path), "--epochs", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    missing = Path("cfg") / "made_later" / "water.extxyz"  # relative to the working folder
    assert f"no such dataset file: {missing}" in err and "data.train" in err and str(path) in err, err
    commands = [ln.strip() for ln in err.splitlines() if ln.strip().startswith("python -m ")]
    assert commands, err
    words = shlex.split(commands[0])
    assert str(missing) in words
    # the command, as printed, makes the file (fewer frames: only the file matters here)
    words[words.index("--frames") + 1] = "16"
    proc = subprocess.run([sys.executable, *words[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / missing).is_file()
    assert cli_main(["train", str(path), "--epochs", "1", "--no-progress"]) == 0
    # --train-data pointing nowhere is named as such
    assert cli_main(["train", str(path), "--train-data", "nowhere.extxyz"]) == 1
    err = capsys.readouterr().err
    assert "no such dataset file: nowhere.extxyz (--train-data)" in err, err


def _eval_json(args, path) -> dict:
    assert cli_main(["evaluate", *map(str, args), "--json", str(path)]) == 0
    return json.loads(Path(path).read_text())


def test_evaluate_split_reproduces_the_training_split(tmp_path, dataset, capsys):
    """--split train/val/test scores exactly the frames the training run put there: the metrics equal those
    of its report.json, from the checkpoint's indices or recomputed from best.pt or the configuration."""
    cfg = {
        "seed": 3,
        "data": {"train": str(dataset), "val_fraction": 0.25, "test_fraction": 0.25},
        "model": {"cutoff": 3.5, "backbone": BACKBONES["eann"], "heads": {"dipole": {"hidden": [8]}}},
        "training": {"epochs": 1, "batch_size": 4},
        "output": {"dir": "run", "export_dtype": "float64", "plots": False},
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert cli_main(["train", str(config), "--no-progress"]) == 0
    run = tmp_path / "run"
    report = json.loads((run / "report.json").read_text())
    assert 0 < report["data"]["test"] < 12 and sum(report["data"].values()) == 12
    model = run / "model.pt"
    capsys.readouterr()

    def check(split, *extra):
        got = _eval_json([model, dataset, "--split", split, *extra], tmp_path / f"{split}.json")
        out = capsys.readouterr().out
        n = report["data"][split]
        assert f"split: {split} ({n} frames" in out, out
        assert got["split"]["name"] == split and got["split"]["frames"] == n
        assert got["dipole"]["frames"] == n
        assert got["dipole"]["rmse"] == pytest.approx(report["metrics"][split]["dipole"]["rmse"], rel=1e-9)
        return out

    for split in ("train", "val", "test"):
        assert "checkpoint.pt (frame indices" in check(split)
    # default: every frame, and it says so
    all_ = _eval_json([model, dataset], tmp_path / "all.json")
    assert "split: all (12 frames; train and test together)" in capsys.readouterr().out
    assert all_["dipole"]["frames"] == 12 and all_["split"]["name"] == "all"
    # without the indices: recomputed from best.pt's configuration, then from the YAML, same frames
    (run / "checkpoint.pt").unlink()
    assert "best.pt (its training configuration: split recomputed)" in check("test")
    (run / "best.pt").unlink()
    assert cli_main(["evaluate", str(model), str(dataset), "--split", "test"]) == 1
    err = capsys.readouterr().err
    assert "does not record how its training data were split" in err and "--split-from" in err, err
    assert "checkpoint.pt" in err and "training configuration" in err, err
    assert "split recomputed" in check("test", "--split-from", config)
    # data that are not the run's
    other = write_water_dataset(tmp_path / "other.extxyz", n_frames=6, seed=9, max_molecules=2)
    assert cli_main(["evaluate", str(model), str(other), "--split", "test", "--split-from", str(config)]) == 1
    assert "is not a data file of the training run" in capsys.readouterr().err


def test_evaluate_split_of_the_shipped_water_model(capsys):
    """models/water/: the test split reproduced from its config.yaml gives the test metrics of its report."""
    water = REPO / "models" / "water"
    report = json.loads((water / "report.json").read_text())
    data = REPO / "data" / "water_clusters.extxyz.xz"
    assert cli_main(["evaluate", str(water / "model.pt"), str(data), "--split", "test"]) == 0
    out = capsys.readouterr().out
    n = report["data"]["test"]
    assert f"split: test ({n} frames; held out by the training run" in out and "config.yaml" in out, out
    row = next(ln for ln in out.splitlines() if ln.startswith("| dipole |"))
    assert row.split("|")[2].strip() == str(n)
    assert float(row.split("|")[3]) == pytest.approx(report["metrics"]["test"]["dipole"]["rmse"], rel=1e-3)
