"""Training pieces: eq. 32 references, eq. 30 / appendix B augmentation, eq. 31 cost, a short fit."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from tensorml.emlp.augment import DEFAULT_K, AugmentOptions, augment_frame
from tensorml.emlp.cost import CostWeights, emlp_cost, predict
from tensorml.emlp.frames import EMLPFrame, frames_from_atoms
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.particles import core_charges
from tensorml.emlp.reference import element_reference_energies, hydride_coefficients, reference_energy
from test_emlp_toymodel import SpringEMLP


def test_eq32_reference_of_a_composition():
    e = {1: -31.7, 6: -1100.0, 7: -1530.0, 8: -2080.0}
    numbers = [6, 6, 7, 8, 8] + [1] * 5  # C2 N O2 H5
    expected = 2 * e[6] + e[7] + 2 * e[8] + 0.5 * (5 - 2 * 2 - 3 - 4 * 2) * e[1]  # eq. 32
    assert abs(reference_energy(numbers, e) - expected) < 1e-9
    c = hydride_coefficients(numbers)
    assert c == {6: 2.0, 7: 1.0, 8: 2.0, 1: 0.5 * (5 - 4 - 3 - 8)}
    per = element_reference_energies(e)
    assert abs(per[8] - (e[8] - e[1])) < 1e-12 and abs(per[1] - e[1] / 2) < 1e-12


def _toy_frame(seed=0, efield=(0.0, 0.0, 0.0)):
    """A water frame labelled by the (rotation-invariant) toy model: its forces obey eqs. 47-48."""
    atoms = molecule("H2O")
    pairs0 = lewis_pairs(atoms.positions, atoms.numbers)
    toy = SpringEMLP(atoms.positions, pairs0)
    rng = np.random.default_rng(seed)
    cores = atoms.positions + 0.05 * rng.normal(size=(3, 3))
    pairs = pairs0 + 0.05 * rng.normal(size=(4, 3))
    frame = EMLPFrame(cores, atoms.numbers, pairs, 0.0, np.zeros((3, 3)), efield=np.array(efield))
    out = predict(toy, frame, stress=False, create_graph=False)
    return frame.copy(
        energy=float(out["energy"].detach()), forces=out["core_forces"].numpy(), pair_forces=out["pair_forces"].numpy()
    )


def _net_force_and_torque(frame):
    x = np.vstack([frame.cores, frame.pairs])
    f = np.vstack([frame.forces, frame.pair_forces])
    q = np.concatenate([core_charges(frame.numbers), -2.0 * np.ones(len(frame.pairs))])
    d = q @ x
    return f.sum(0), np.cross(x, f).sum(0) - np.cross(d, frame.efield)


def test_augmented_labels_keep_net_force_and_torque_eqs_47_48():
    frame = _toy_frame(1, efield=(0.1, -0.2, 0.15))
    net, torque = _net_force_and_torque(frame)
    assert np.abs(net).max() < 1e-9 and np.abs(torque).max() < 1e-9  # the reference labels obey them
    rng = np.random.default_rng(2)
    options = AugmentOptions()
    for _ in range(5):
        aug = augment_frame(frame, rng, options)
        moved = np.flatnonzero(np.linalg.norm(aug.pairs - frame.pairs, axis=1) > 0)
        assert len(moved) == 1
        d_r = aug.pairs[moved[0]] - frame.pairs[moved[0]]
        assert options.min_displacement <= np.linalg.norm(d_r) <= options.max_displacement
        assert abs(aug.energy - frame.energy - 0.5 * DEFAULT_K * d_r @ d_r) < 1e-12  # eq. 30
        assert np.allclose(aug.pair_forces[moved[0]] - frame.pair_forces[moved[0]], -DEFAULT_K * d_r)  # eq. 46
        net, torque = _net_force_and_torque(aug)
        assert np.abs(net).max() < 1e-9 and np.abs(torque).max() < 1e-9
    assert abs(DEFAULT_K - 54.4228) < 1e-3  # 2 Ha/angstrom^2 in eV/angstrom^2 (Table 3)


def test_augmentation_is_least_norm_and_local():
    """Far particles (beyond the cutoff of the displaced pair) get no correction (eq. 56)."""
    frame = _toy_frame(3)
    far = frame.copy(
        cores=np.vstack([frame.cores, [[30.0, 0, 0], [30.7, 0.0, 0.0]]]),
        numbers=np.concatenate([frame.numbers, [1, 1]]),
        forces=np.vstack([frame.forces, np.zeros((2, 3))]),
        pairs=np.vstack([frame.pairs, [[30.35, 0, 0]]]),
        pair_forces=np.vstack([frame.pair_forces, np.zeros((1, 3))]),
    )
    rng = np.random.default_rng(0)
    for _ in range(10):
        aug = augment_frame(far, rng)
        if np.any(aug.pairs[-1] != far.pairs[-1]):
            continue
        assert np.allclose(aug.forces[3:], 0.0) and np.allclose(aug.pair_forces[-1], 0.0)


def test_cost_eq31_is_zero_for_exact_labels_and_weighs_each_term():
    model = EMLPModel(build_config([1, 8], preset="small", seed=1))
    frame = _toy_frame(4)
    exact = predict(model, frame, stress=False, create_graph=False)
    perfect = frame.copy(
        energy=float(exact["energy"]), forces=exact["core_forces"].numpy(), pair_forces=exact["pair_forces"].numpy()
    )
    cost, parts = emlp_cost(model, [perfect])
    assert float(cost.detach()) < 1e-20
    shifted = perfect.copy(energy=perfect.energy + 0.3, forces=perfect.forces + 0.1)
    cost, parts = emlp_cost(model, [shifted, perfect], CostWeights(energy=2.0, forces=0.5, pair_forces=1.0))
    assert abs(parts["energy"] - (0.3 / 3) ** 2 / 2) < 1e-12  # per-core energy error, mean over B
    assert abs(parts["forces"] - 9 * 0.01 / (3 * 6)) < 1e-12  # sum over all cores / (3N)
    assert abs(float(cost.detach()) - (2.0 * parts["energy"] + 0.5 * parts["forces"])) < 1e-12


def test_short_training_reduces_the_cost():
    from tensorml.emlp.train import _references, set_absolute_references, train_emlp

    frames = [_toy_frame(s) for s in range(6)]
    hydrides = {1: _toy_h2(), 8: frames[0]}
    model = EMLPModel(
        build_config([1, 8], preset="small", seed=2, features=16, filters=16, n_basis=8, n_interactions=1)
    )

    def clean_cost():
        return float(emlp_cost(model, frames, references=_references(model, frames, hydrides))[0].detach())

    before = clean_cost()
    history = train_emlp(
        model, frames, epochs=15, lr=3e-2, batch_size=2, hydrides=hydrides, augment_fraction=0.5, seed=0
    )
    assert len(history) == 15 and all(np.isfinite(history))
    model.reference_table.zero_()  # references cancel in the eq.-32 differences anyway
    assert clean_cost() < 0.85 * before
    set_absolute_references(model, hydrides)
    # the per-element references make energies absolute: the hydride labels are reproduced
    for z in (1, 8):
        e = float(predict(model, hydrides[z], stress=False, create_graph=False)["energy"])
        assert abs(e - hydrides[z].energy) < 1e-8


def _toy_h2():
    cores = np.array([[0.0, 0, 0], [0.74, 0, 0]])
    return EMLPFrame(cores, [1, 1], [[0.37, 0, 0]], -2.0, np.zeros((2, 3)))


def test_frames_from_extxyz_layout():
    atoms = Atoms(
        "OH2X4", positions=np.vstack([molecule("H2O").positions, lewis_pairs(molecule("H2O").positions, [8, 1, 1])])
    )
    atoms.info["energy"] = -10.0
    atoms.info["efield"] = np.array([0.0, 0.1, 0.0])
    atoms.arrays["forces"] = np.arange(21.0).reshape(7, 3)
    (frame,) = frames_from_atoms([atoms])
    assert frame.cores.shape == (3, 3) and frame.pairs.shape == (4, 3) and frame.energy == -10.0
    assert np.allclose(frame.pair_forces, atoms.arrays["forces"][3:]) and np.allclose(frame.efield, [0, 0.1, 0])
    atoms.info.pop("energy")
    with pytest.raises(ValueError, match="no energy"):
        frames_from_atoms([atoms])


def test_linear_molecules_in_a_field_cannot_be_augmented_and_training_keeps_them():
    """Collinear particles exert no torque about their axis, so eq. 48 fails for a displaced pair of
    a linear molecule in a field: augment_frame says so, and the trainer keeps the frame as it is."""
    from tensorml.emlp.train import train_emlp

    cores = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.16], [0.0, 0.0, -1.16]])  # O=C=O on z
    pairs = np.array([[0, 0, z] for z in (0.5, 0.7, 0.9, -0.5, -0.7, -0.9, 1.5, -1.5)], dtype=float)
    frame = EMLPFrame(cores, np.array([6, 8, 8]), pairs, -10.0, np.zeros((3, 3)), efield=np.array([0.1, 0.05, 0.02]))
    with pytest.raises(ValueError, match="one line"):
        augment_frame(frame, np.random.default_rng(0))
    model = EMLPModel(build_config([6, 8], preset="small"))
    history = train_emlp(model, [frame, frame], epochs=1, batch_size=2, augment_fraction=1.0)
    assert np.isfinite(history[0])
