"""The composed eMLP energy (eq. 3): invariances, autograd forces/stress vs finite differences,
TorchScript export in float64 and float32, presets, per-element reference energies, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import molecule

from tensorml.emlp.evaluate import energy_and_forces, make_inputs
from tensorml.emlp.export import export_emlp, load_emlp, load_emlp_model, read_metadata
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.schnet import PRESETS


@pytest.fixture(scope="module")
def model():
    return EMLPModel(build_config([1, 6, 7, 8], preset="small", seed=3))


def _methanol(seed=0, noise=0.05):
    atoms = molecule("CH3OH")
    rng = np.random.default_rng(seed)
    pairs = lewis_pairs(atoms.positions, atoms.numbers) + noise * rng.normal(size=(7, 3))
    return atoms.positions + noise * rng.normal(size=atoms.positions.shape), atoms.numbers, pairs


def _energy(model, cores, numbers, pairs, **kw):
    inputs = make_inputs(model, cores, numbers, pairs, **kw)
    return float(model(inputs.cores, inputs.numbers, inputs.pairs, inputs.cell, inputs.pbc, inputs.efield).detach())


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_energy_is_invariant_under_rotation_translation_permutation(model):
    cores, numbers, pairs = _methanol()
    e0 = _energy(model, cores, numbers, pairs)
    rng = np.random.default_rng(1)
    rot, shift = _rotation(rng), rng.normal(size=3)
    assert abs(_energy(model, cores @ rot.T + shift, numbers, pairs @ rot.T + shift) - e0) < 1e-10
    mirror = np.diag([1.0, -1.0, 1.0])
    assert abs(_energy(model, cores @ mirror, numbers, pairs @ mirror) - e0) < 1e-10  # distances only
    pc, pp = rng.permutation(len(cores)), rng.permutation(len(pairs))
    assert abs(_energy(model, cores[pc], numbers[pc], pairs[pp]) - e0) < 1e-10


def test_field_energy_is_minus_field_dot_dipole(model):
    cores, numbers, pairs = _methanol(2)
    efield = np.array([0.2, -0.1, 0.3])
    q = np.array([{1: 1, 6: 4, 8: 6}[z] for z in numbers], dtype=float)
    dipole = q @ cores - 2 * pairs.sum(0)
    delta = _energy(model, cores, numbers, pairs, efield=efield) - _energy(model, cores, numbers, pairs)
    assert abs(delta + efield @ dipole) < 1e-10


def _fd_forces(model, cores, numbers, pairs, which, h=1e-5, **kw):
    x = (cores if which == "cores" else pairs).copy()
    out = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xs = []
        for sign in (1, -1):
            y = x.copy()
            y[idx] += sign * h
            c, p = (y, pairs) if which == "cores" else (cores, y)
            xs.append(_energy(model, c, numbers, p, **kw))
        out[idx] = -(xs[0] - xs[1]) / (2 * h)
    return out


def test_forces_on_cores_and_pairs_match_finite_differences(model):
    cores, numbers, pairs = _methanol(3)
    kw = {"efield": [0.05, 0.0, -0.1]}
    out = energy_and_forces(model, make_inputs(model, cores, numbers, pairs, **kw))
    assert np.allclose(out["core_forces"].numpy(), _fd_forces(model, cores, numbers, pairs, "cores", **kw), atol=1e-7)
    assert np.allclose(out["pair_forces"].numpy(), _fd_forces(model, cores, numbers, pairs, "pairs", **kw), atol=1e-7)


def _periodic_water(seed=0):
    rng = np.random.default_rng(seed)
    atoms = molecule("H2O")
    cell = np.array([[4.5, 0.0, 0.0], [0.3, 4.2, 0.0], [-0.2, 0.4, 4.8]])
    pairs = lewis_pairs(atoms.positions, atoms.numbers) + 0.03 * rng.normal(size=(4, 3))
    return atoms.positions + 0.03 * rng.normal(size=(3, 3)), atoms.numbers, pairs, cell


def test_periodic_energy_forces_stress_and_lattice_translations(model):
    cores, numbers, pairs, cell = _periodic_water()
    kw = {"cell": cell, "pbc": True}
    e0 = _energy(model, cores, numbers, pairs, **kw)
    moved = pairs.copy()
    moved[1] += cell[0] - cell[2]  # an unwrapped pair one cell away: the same crystal
    assert abs(_energy(model, cores, numbers, moved, **kw) - e0) < 1e-9
    out = energy_and_forces(model, make_inputs(model, cores, numbers, pairs, **kw), stress=True)
    assert np.allclose(out["pair_forces"].numpy(), _fd_forces(model, cores, numbers, pairs, "pairs", **kw), atol=1e-6)
    volume = abs(np.linalg.det(cell))
    fd = np.zeros((3, 3))
    h = 1e-5
    for a in range(3):
        for b in range(3):
            es = []
            for sign in (1, -1):
                deform = np.eye(3)
                deform[a, b] += sign * h
                es.append(_energy(model, cores @ deform, numbers, pairs @ deform, cell=cell @ deform, pbc=True))
            fd[a, b] = (es[0] - es[1]) / (2 * h) / volume
    assert np.allclose(out["stress"].numpy(), fd, atol=1e-7)


def test_torchscript_export_matches_eager_in_float64_and_float32(model, tmp_path):
    cores, numbers, pairs = _methanol(4)
    ref = energy_and_forces(model, make_inputs(model, cores, numbers, pairs))
    for dtype, tol in (("float64", 1e-10), ("float32", 2e-3)):
        path = tmp_path / f"emlp_{dtype}.pt"
        meta = export_emlp(model, path, dtype=dtype)
        assert meta["dtype"] == dtype and read_metadata(path)["species"] == [1, 6, 7, 8]
        module, _ = load_emlp(path)
        for _ in range(3):  # the profiling executor optimises after a few calls: gradients must stay exact
            out = energy_and_forces(module, make_inputs(module, cores, numbers, pairs))
            assert out["energy"].dtype == getattr(torch, dtype)
            assert abs(float(out["energy"]) - float(ref["energy"])) < tol * 10
            for key in ("core_forces", "pair_forces"):
                assert np.allclose(out[key].double().numpy(), ref[key].numpy(), atol=tol)
    rebuilt = load_emlp_model(tmp_path / "emlp_float64.pt")
    assert abs(_energy(rebuilt, cores, numbers, pairs) - float(ref["energy"])) < 1e-12


def test_reference_energies_add_per_element(model):
    cores, numbers, pairs = _methanol(5)
    m = EMLPModel(model.config)
    m.load_state_dict(model.state_dict())
    e0 = _energy(m, cores, numbers, pairs)
    m.set_reference_energies({1: -13.0, 6: -1000.0, 8: -2000.0})
    assert abs(_energy(m, cores, numbers, pairs) - e0 - (4 * -13.0 - 1000.0 - 2000.0)) < 1e-9
    with pytest.raises(ValueError, match="not one of the model's species"):
        m.set_reference_energies({9: 1.0})


def test_presets_and_errors():
    big = EMLPModel(build_config([1, 6, 7, 8]))  # the seed's Table 3 is the default
    sr = big.short_range
    assert sr.embedding.weight.shape == (5, PRESETS["table3"]["features"]) == (5, 512)
    assert len(sr.interactions) == 4 and sr.interactions[0].filter_1.weight.shape == (128, 32)
    assert sr.norm == 70.0 and sr.cutoff == 4.0 and big.gamma == 0.3928
    with pytest.raises(ValueError, match="unknown SchNet preset"):
        build_config([1], preset="huge")
    with pytest.raises(ValueError, match="core charge"):
        build_config([1, 26], preset="small")
    small = EMLPModel(build_config([1, 8], preset="small"))
    with pytest.raises(ValueError, match="not trained for"):
        _energy(small, [[0, 0, 0]], [6], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="fully periodic"):
        make_inputs(small, [[0, 0, 0]], [8], np.zeros((3, 3)), cell=np.eye(3) * 5, pbc=[True, True, False])
