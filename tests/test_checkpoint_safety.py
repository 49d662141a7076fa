"""Checkpoints are read with weights_only=True: a file carrying a pickled callable is refused, not run."""

import pytest
import torch

from tensorml import checkpoint
from tensorml.cli import main
from tensorml.models import build_model, load_checkpoint, save_checkpoint


class _WritesAFile:
    """Unpickling this calls Path.touch(target): the stand-in for arbitrary code."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def _crafted(tmp_path):
    marker = tmp_path / "code-ran"
    model = build_model("reference", {"species": [1, 8], "cutoff": 3.0})
    state = {
        "model_type": "reference",
        "config": model.config(),
        "state_dict": model.state_dict(),
        "payload": _WritesAFile(marker),
        "epoch": 0,
        "batch_in_epoch": 0,
    }
    path = tmp_path / "crafted.pt"
    torch.save(state, str(path))
    return path, marker


def test_a_checkpoint_with_a_pickled_callable_is_refused(tmp_path):
    path, marker = _crafted(tmp_path)
    with pytest.raises(checkpoint.CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not marker.exists()


def test_tensorml_export_refuses_it_with_a_message(tmp_path, capsys):
    path, marker = _crafted(tmp_path)
    rc = main(["export", str(path), "-o", str(tmp_path / "model.pt")])
    assert rc != 0 and not marker.exists() and not (tmp_path / "model.pt").exists()
    assert "refused to load" in capsys.readouterr().err


def test_training_resume_refuses_it(tmp_path):
    from tensorml.train import load_config
    from tensorml.train.loop import Trainer
    from tensorml.train.synthetic import write_water_dataset

    path, marker = _crafted(tmp_path)
    data = write_water_dataset(tmp_path / "water.extxyz", n_frames=4, seed=1, max_molecules=1)
    cfg = load_config(None, {"data": {"train": str(data)}, "output": {"dir": str(tmp_path / "run")}})
    with pytest.raises(checkpoint.CheckpointError):
        Trainer(cfg, resume=path, progress=False, log=lambda m: None).setup()
    assert not marker.exists()


def test_numpy_values_are_stored_as_plain_python_and_round_trip(tmp_path):
    import numpy as np

    model = build_model("reference", {"species": [1, 8], "cutoff": 3.0})
    save_checkpoint(model, tmp_path / "ok.pt", split=np.arange(3), scale=np.float64(0.5))
    state = checkpoint.load(tmp_path / "ok.pt")
    assert state["split"] == [0, 1, 2] and state["scale"] == 0.5 and type(state["scale"]) is float
    assert load_checkpoint(tmp_path / "ok.pt").config() == model.config()
