"""The trainer: loss goes down, checkpoints resume exactly (also after an interrupt), splits keep molecules whole."""

import numpy as np
import pytest
import torch

from tensorml.train import data as D
from tensorml.train import load_config
from tensorml.train.loop import Trainer
from tensorml.train.losses import loss_terms, sign_insensitive_mse, target_scales
from tensorml.train.synthetic import write_water_dataset

EANN = {"type": "eann", "n_radial": 4, "max_l": 2, "n_pseudovectors": 2}
H = {"hidden": [8]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_water_dataset(tmp_path_factory.mktemp("data") / "water.extxyz", n_frames=24, seed=4, max_molecules=2)


def config(dataset, out, **training):
    cfg = load_config(
        None,
        {
            "dtype": "float64",
            "data": {"train": str(dataset), "val_fraction": 0.2, "test_fraction": 0.2},
            "model": {
                "cutoff": 3.5,
                "backbone": EANN,
                "heads": {"dipole": H, "polarizability": {"type": "atomic", **H}, "energy": H},
            },
            "loss": {"weights": {"dipole": 1.0, "polarizability": 1.0, "apt": 1.0, "energy": 0.1, "forces": 0.1}},
            "training": {"epochs": 3, "batch_size": 4, "lr": 5e-3, "ema": 0.9, **training},
            "output": {"dir": str(out)},
        },
    )
    return cfg


def trainer(cfg, **kw):
    t = Trainer(cfg, progress=False, log=lambda msg: None, **kw)
    t.setup()
    return t


def params(t):
    return {k: v.detach().clone() for k, v in t.model.state_dict().items()}


def test_split_keeps_molecules_whole(dataset, tmp_path):
    t = trainer(config(dataset, tmp_path))
    ids = {split: {s.system_id for s in t.samples[split]} for split in ("train", "val", "test")}
    assert ids["train"] and ids["val"] and ids["test"]
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["val"]) and not (ids["val"] & ids["test"])
    assert "system_id" in t.split["how"]


def test_short_training_decreases_the_loss(dataset, tmp_path):
    t = trainer(config(dataset, tmp_path, ema=None))
    before = t.evaluate(t.samples["train"])
    t.train(max_steps=12)
    after = t.evaluate(t.samples["train"])
    assert after["loss"] < 0.7 * before["loss"]
    for name in ("dipole", "apt", "polarizability"):
        assert after[name] < before[name], name


def test_resume_gives_the_same_next_steps(dataset, tmp_path):
    """Straight through == interrupted mid-epoch (Ctrl-C) + resumed, to the last bit (float64, CPU)."""
    straight = trainer(config(dataset, tmp_path / "a", epochs=2))
    straight.train()
    interrupted = trainer(config(dataset, tmp_path / "b", epochs=2))
    original_step = interrupted.train_step
    calls = {"n": 0}

    def step_then_interrupt(samples):
        if calls["n"] == 4:  # in the second epoch (3 batches per epoch)
            raise KeyboardInterrupt
        calls["n"] += 1
        return original_step(samples)

    interrupted.train_step = step_then_interrupt
    result = interrupted.train()
    assert result["stopped"] == "interrupted" and interrupted.interrupted
    ckpt = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 1)
    resumed = trainer(config(dataset, tmp_path / "b", epochs=2), resume=True)
    assert (resumed.epoch, resumed.batch_in_epoch, resumed.step_count) == (1, 1, 4)
    resumed.train()
    a, b = params(straight), params(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["val"]["loss"] for h in straight.history] == [h["val"]["loss"] for h in resumed.history]
    # best.pt is a model checkpoint (EMA weights): tensorml export reads it
    from tensorml.models import load_checkpoint

    assert load_checkpoint(tmp_path / "b" / "best.pt").config() == resumed.model.config()


def test_seeded_runs_are_identical(dataset, tmp_path):
    runs = []
    for name in ("x", "y"):
        t = trainer(config(dataset, tmp_path / name))
        t.train(max_steps=3)
        runs.append(params(t))
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k


def test_sign_insensitive_and_charge_losses():
    pred = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, 0.0]])
    ref = torch.tensor([[-1.0, -2.0, -3.0], [0.5, 0.0, 0.0]])
    mask = torch.tensor([True, True])
    assert float(sign_insensitive_mse(pred, ref, mask)) == pytest.approx(0.0)
    assert float(sign_insensitive_mse(pred, -ref, mask)) == pytest.approx(0.0)
    # eq. 6: (sum_i q_i - Q)^2 per frame
    batch = {
        "labels": {"charge": torch.tensor([0.0, -1.0])},
        "masks": {"charge": torch.tensor([True, True])},
        "n_atoms": torch.tensor([2.0, 1.0]),
        "inputs": {"batch": torch.tensor([0, 0, 1])},
    }
    out = {"charges": torch.tensor([0.3, -0.1, -0.5])}
    terms = loss_terms(out, batch, {"charge": 1.0}, {})
    assert float(terms["charge"]) == pytest.approx((0.2**2 + 0.5**2) / 2)


def test_transition_dipole_training_with_phase_free_labels(tmp_path):
    """Labels from a teacher with eqs. 7-8 and random signs: the sign-insensitive loss learns them."""
    from tensorml.contract_module import ContractModule
    from tensorml.data import write_dataset
    from tensorml.models.tensorial import TensorialModel
    from tensorml.train.synthetic import water_clusters

    teacher = TensorialModel(species=[1, 8], cutoff=3.5, backbone=EANN, heads={"transition_dipole": H}, seed=7)
    teacher.to(torch.float64)
    frames = water_clusters(16, max_molecules=2, seed=1)
    samples = D.make_samples(frames, 3.5)
    teacher.backbone.fit_statistics(D.model_graph(D.collate(samples, torch.float64)["inputs"], teacher.species))
    module = ContractModule(teacher)
    rng = np.random.default_rng(0)
    for atoms, s in zip(frames, samples):
        mu = module(D.collate([s], torch.float64)["inputs"], ["transition_dipole"])["transition_dipole"][0]
        atoms.info["transition_dipole"] = mu.detach().numpy() * rng.choice([-1.0, 1.0]) * 50.0
    path = tmp_path / "td.extxyz"
    write_dataset(frames, path)
    cfg = load_config(
        None,
        {
            "dtype": "float64",
            "data": {"train": str(path), "val_fraction": 0.25, "test_fraction": 0.0},
            "model": {"cutoff": 3.5, "backbone": EANN, "heads": {"transition_dipole": H}},
            "loss": {"weights": {"transition_dipole": 1.0}, "sign_insensitive": True},
            "training": {"epochs": 50, "batch_size": 4, "lr": 1e-2, "ema": None},
            "output": {"dir": str(tmp_path / "o")},
        },
    )
    t = trainer(cfg)
    before = t.evaluate(t.samples["train"])["loss"]
    t.train(max_steps=15)
    assert t.evaluate(t.samples["train"])["loss"] < 0.8 * before


def test_target_scales_and_statistics(dataset):
    frames = D.read_frames(dataset)
    samples = D.make_samples(frames, 3.5)
    scales = target_scales(samples, ["dipole", "apt", "energy", "charge"])
    dip = np.stack([s.labels["dipole"] for s in samples])
    assert scales["dipole"] == pytest.approx(np.sqrt(dip.var(0).mean()))
    assert scales["charge"] == 1.0 and scales["apt"] > 0.05
    labels = D.statistics_labels(samples, [1, 8])
    assert labels["energy"][0].shape == (24, 2) and labels["apt"].shape[1:] == (3, 3)


def test_config_validation(dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown configuration key"):
        load_config(None, {"data": {"train": str(dataset), "trian": 1}})
    with pytest.raises(ValueError, match="data.train"):
        load_config(None, {})
    cfg = config(dataset, tmp_path)
    cfg["loss"]["weights"] = {"transition_dipole": 1.0}
    with pytest.raises(ValueError, match="transition_dipole"):
        trainer(cfg)


def test_dataset_test_tags_define_the_test_set(dataset):
    frames = D.read_frames(dataset)
    for k, a in enumerate(frames):
        a.info["split"] = "test" if k % 4 == 0 else "train"
    samples = D.make_samples(frames, 3.5)
    train, val, test, how = D.split_by_identity(samples, 0.2, 0.3, seed=0)
    assert test == list(range(0, 24, 4)) and "own test" in how
    assert not set(val) & set(test) and sorted(train + val + test) == list(range(24))
    assert {samples[k].system_id for k in val}.isdisjoint({samples[k].system_id for k in train})


def test_element_charges_of_one_molecule_stay_finite(tmp_path):
    """All frames are one molecule centred at its centre of mass (acetamide, 0.02 angstrom noise, as
    the NMA set): then sum_t m_t (sum_{i in t} r_i) = 0 in every frame, so charges proportional to
    the element masses add nothing to any dipole and the least-squares problem is singular. The
    initial charges must stay of order e, keep the molecule neutral and still reproduce the dipoles
    (plain least squares gave charges of 1e5 e on the NMA set)."""
    from ase.build import molecule
    from ase.io import write

    rng = np.random.default_rng(0)
    base = molecule("CH3CONH2")
    q_true = {1: 0.3, 6: -0.2, 7: -0.7, 8: -0.5}
    frames = []
    for k in range(20):
        a = base.copy()
        a.positions += 0.02 * rng.normal(size=a.positions.shape)
        a.positions -= a.get_center_of_mass()
        q = np.array([q_true[z] for z in a.numbers])
        q -= q.mean()
        a.info.update(dipole=q @ a.positions, system_id=f"m{k}")
        frames.append(a)
    write(tmp_path / "acetamide.extxyz", frames)
    cfg = load_config(
        None,
        {
            "dtype": "float64",
            "data": {"train": str(tmp_path / "acetamide.extxyz"), "val_fraction": 0.2, "test_fraction": 0.2},
            "model": {
                "species": ["H", "C", "N", "O"],
                "cutoff": 3.5,
                "backbone": EANN,
                "heads": {"dipole": {"atomic_dipoles": False, **H}},
            },
            "training": {"epochs": 1},
            "output": {"dir": str(tmp_path / "out")},
        },
    )
    t = trainer(cfg)
    q = t.model.dipole_head.element_charges.detach().numpy()
    counts = np.array([np.sum(base.numbers == z) for z in (1, 6, 7, 8)])
    assert np.abs(q).max() < 3.0 and abs(counts @ q) < 1e-8
    fitted = np.array([q[[1, 6, 7, 8].index(z)] for z in base.numbers]) @ frames[0].positions
    truth = frames[0].info["dipole"]
    assert np.linalg.norm(fitted - truth) < 0.2 * np.linalg.norm(truth)


@pytest.mark.parametrize(
    "model, message",
    [
        ({"cutof": 3.5}, r"unknown key 'cutof' in the model configuration; allowed: .*cutoff"),
        (
            {"heads": {"dipole": {"hiden": [8]}}},
            r"unknown key 'hiden' in the model \(\w+\) configuration; allowed: .*hidden",
        ),
    ],
)
def test_a_typo_in_the_model_section_names_the_key(dataset, tmp_path, model, message):
    cfg = load_config(None, {"data": {"train": str(dataset)}, "model": model, "output": {"dir": str(tmp_path)}})
    with pytest.raises(ValueError, match=message):
        trainer(cfg)
