"""The torch pair relaxer (tensorml.emlp.relax) against the SciPy one it replaced, batched against
one-by-one, warm Hessians, float32 models, recovered stalls in a batch, and the engine's batches.

Two relaxations that both end with every pair force below fmax lie within 2 sqrt(M) fmax / lambda_min
of each other (M pairs, lambda_min the smallest eigenvalue of the pair Hessian, eV/angstrom^2): that
bound, computed for each structure, is the tolerance of every comparison of relaxed pairs, never
the last bits of a BLAS kernel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule

from tensorml.emlp.engine import EMLPEngine
from tensorml.emlp.export import export_emlp, load_emlp, load_emlp_model
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.relax import Structure, optimize_structure, relax_pairs, relax_pairs_batch
from tensorml.emlp.relax_scipy import optimize_structure_scipy, relax_pairs_scipy
from tensorml.runtime import System
from test_emlp_neighbors import _water_box
from test_emlp_relax import _stalling_start

MODEL = Path(__file__).resolve().parents[1] / "models" / "emlp" / "model.pt"


@pytest.fixture(scope="module")
def shipped():
    return load_emlp(MODEL)


def _hessian_blocks(module, cores, numbers, pairs, cell=None):
    """(pair-pair Hessian [3M, 3M], core-pair block [3N, 3M]) of the energy, eV/angstrom^2."""
    n = len(cores)
    periodic = cell is not None
    c = torch.zeros((3, 3), dtype=torch.float64) if cell is None else torch.tensor(cell)
    pbc = torch.full((3,), periodic, dtype=torch.bool)
    x = torch.tensor(np.concatenate([cores, pairs]).reshape(-1), requires_grad=True)
    e = module(
        x[: 3 * n].reshape(-1, 3),
        torch.tensor(numbers),
        x[3 * n :].reshape(-1, 3),
        c,
        pbc,
        torch.zeros(3, dtype=torch.float64),
    )
    (g,) = torch.autograd.grad(e, x, create_graph=True)
    rows = [torch.autograd.grad(g[k], x, retain_graph=True)[0] for k in range(3 * n, len(x))]
    h = torch.stack(rows).detach().numpy()  # [3M, 3(N + M)]
    return h[:, 3 * n :], h[:, : 3 * n].T


def _tolerance(h_pp, fmax):
    """Largest distance (angstrom) between two points whose pair forces are all below fmax."""
    lam = np.linalg.eigvalsh(0.5 * (h_pp + h_pp.T)).min()
    assert lam > 0  # a minimum of the pairs
    m = h_pp.shape[0] // 3
    return 2.0 * np.sqrt(m) * fmax / lam


@pytest.mark.parametrize("name", ["CH3OH", "NH3", "CH3CH2OH", "CH2NHCH2"])
def test_torch_relaxer_reaches_the_scipy_minimum_on_the_shipped_model(shipped, name):
    """Same relaxed pairs, energy and core forces as SciPy's L-BFGS-B, from the same Lewis guess.

    (Not planar HCOOH or H2CO: from their in-plane Lewis guess both relaxers end on the symmetric
    saddle, a pair Hessian with a negative eigenvalue, where the fmax bound does not hold.)"""
    module, _ = shipped
    atoms = molecule(name)
    guess = lewis_pairs(atoms.positions, atoms.numbers)
    fmax = 1e-4
    ref = relax_pairs_scipy(module, atoms.positions, atoms.numbers, guess, fmax=fmax)
    got = relax_pairs(module, atoms.positions, atoms.numbers, guess, fmax=fmax)
    assert got.max_pair_force < fmax and ref.max_pair_force < fmax
    h_pp, h_cp = _hessian_blocks(module, atoms.positions, atoms.numbers, got.pairs)
    tol = _tolerance(h_pp, fmax)
    assert tol < 1e-3  # a meaningful check: well below any chemical length
    dx = got.pairs - ref.pairs
    assert np.linalg.norm(dx) <= tol
    m = len(guess)
    assert abs(got.energy - ref.energy) <= m * fmax**2 / np.linalg.eigvalsh(h_pp).min()
    # core forces move with the pairs through the core-pair Hessian block
    assert np.linalg.norm(got.core_forces - ref.core_forces) <= np.linalg.norm(h_cp, 2) * tol
    np.testing.assert_allclose(got.dipole, ref.dipole, atol=2.0 * np.sqrt(m) * tol)
    assert got.iterations > 0 and got.info["evaluations"] >= got.iterations
    assert "fallback" not in got.info and "accepted_within_slack" not in got.info


def test_joint_optimisation_reaches_the_scipy_structure(shipped):
    """optimize_structure (cores and pairs, tensorml response) = the SciPy one it replaced: the same
    interparticle distances within 4 sqrt(K) fmax / lambda (K particles, lambda the smallest non-zero
    eigenvalue of the full Hessian; translations and rotations are free)."""
    module, _ = shipped
    atoms = molecule("CH3OH")
    pairs = relax_pairs(module, atoms.positions, atoms.numbers, lewis_pairs(atoms.positions, atoms.numbers)).pairs
    fmax = 1e-6  # the softest mode (a torsion, ~0.03 eV/angstrom^2) makes the bound 3e-3 angstrom
    ref = np.concatenate(optimize_structure_scipy(module, atoms.positions, atoms.numbers, pairs, fmax=fmax))
    got = np.concatenate(optimize_structure(module, atoms.positions, atoms.numbers, pairs, fmax=fmax))
    n = len(atoms)
    x = torch.tensor(got.reshape(-1), requires_grad=True)
    z = torch.zeros(3, dtype=torch.float64)
    e = module(x[: 3 * n].reshape(-1, 3), torch.tensor(atoms.numbers), x[3 * n :].reshape(-1, 3),
               torch.zeros((3, 3), dtype=torch.float64), torch.zeros(3, dtype=torch.bool), z)  # fmt: skip
    (g,) = torch.autograd.grad(e, x, create_graph=True)
    full = torch.stack([torch.autograd.grad(g[k], x, retain_graph=True)[0] for k in range(len(x))]).detach().numpy()
    lam = np.linalg.eigvalsh(0.5 * (full + full.T))
    assert lam.min() > -1e-6 * lam.max()  # a minimum (six zero modes)
    soft = lam[lam > 1e-6 * lam.max()].min()
    tol = 4.0 * np.sqrt(len(got)) * fmax / soft
    d = lambda y: np.linalg.norm(y[:, None] - y[None], axis=-1)  # noqa: E731
    assert np.abs(d(got) - d(ref)).max() <= tol and tol < 1e-2


def _batch_structures():
    """Methanol in a field, ammonia (fewer pairs: padding), a periodic box of 8 waters (stress)."""
    ch3oh, nh3 = molecule("CH3OH"), molecule("NH3")
    rng = np.random.default_rng(5)
    cores = ch3oh.positions + 0.02 * rng.normal(size=ch3oh.positions.shape)
    box_cores, box_numbers, box_pairs, cell = _water_box(2, 3.1)
    return [
        Structure(cores, ch3oh.numbers, lewis_pairs(cores, ch3oh.numbers), efield=[0.0, 0.05, 0.1]),
        Structure(nh3.positions, nh3.numbers, lewis_pairs(nh3.positions, nh3.numbers)),
        Structure(box_cores, box_numbers, box_pairs, cell=cell, pbc=[True] * 3, stress=True, bound=1.0),
    ]


def test_batched_relaxation_equals_one_by_one(shipped):
    module, _ = shipped
    fmax = 1e-4
    structures = _batch_structures()
    together = relax_pairs_batch(module, structures, fmax=fmax)
    for s, got in zip(structures, together):
        alone = relax_pairs_batch(module, [s], fmax=fmax)[0]
        for r in (got, alone):
            assert r.max_pair_force < fmax and r.pairs.dtype == np.float64 and r.core_forces.dtype == np.float64
        h_pp, h_cp = _hessian_blocks(module, s.cores, s.numbers, got.pairs, s.cell)
        tol = _tolerance(h_pp, fmax)
        assert np.linalg.norm(got.pairs - alone.pairs) <= tol
        assert np.linalg.norm(got.core_forces - alone.core_forces) <= np.linalg.norm(h_cp, 2) * tol
        assert abs(got.energy - alone.energy) <= len(s.pairs) * fmax**2 / np.linalg.eigvalsh(h_pp).min()
        assert (got.stress is None) == (not s.stress)
        if s.stress:  # eV/angstrom^3; 1e-6 is 0.16 MPa
            np.testing.assert_allclose(got.stress, alone.stress, atol=1e-6)
            assert got.stress.shape == (3, 3) and np.abs(got.stress).max() > 1e-4
    # the relaxed state of every structure is reported without an extra evaluation per structure
    assert all(r.info["evaluations"] >= r.iterations + 1 for r in together)


def test_relaxed_outputs_equal_a_fresh_evaluation(shipped):
    """Energy, core forces and stress taken from the last relaxation step equal the model at the pairs."""
    from tensorml.emlp.evaluate import energy_and_forces, make_inputs

    module, _ = shipped
    s = _batch_structures()[2]
    r = relax_pairs_batch(module, [s], fmax=1e-3)[0]
    out = energy_and_forces(module, make_inputs(module, s.cores, s.numbers, r.pairs, s.cell, s.pbc), stress=True)
    assert r.energy == pytest.approx(float(out["energy"]), abs=1e-9 * abs(r.energy))
    np.testing.assert_allclose(r.core_forces, out["core_forces"].numpy(), atol=1e-9)
    np.testing.assert_allclose(r.pair_forces, out["pair_forces"].numpy(), atol=1e-9)
    np.testing.assert_allclose(r.stress, out["stress"].numpy(), atol=1e-11)


def test_a_warm_hessian_saves_evaluations_along_a_trajectory(shipped):
    """MD-like steps of methanol through the engine: starting L-BFGS with the curvature of the previous
    step's relaxation needs fewer evaluations than a scaled identity, for the same results."""
    module, metadata = shipped
    atoms = molecule("CH3OH")
    rng = np.random.default_rng(2)
    velocity = 0.004 * rng.normal(size=atoms.positions.shape)  # angstrom per step
    engines = {warm: EMLPEngine(module, metadata, fmax=1e-3, warm_hessian=warm) for warm in (True, False)}
    counts = {True: 0, False: 0}
    for step in range(8):
        positions = atoms.positions + step * velocity
        out = {}
        for warm, engine in engines.items():
            before = engine.evaluations
            out[warm] = engine.relax(positions, atoms.numbers)
            if step:
                counts[warm] += engine.evaluations - before
        h_pp, _ = _hessian_blocks(module, positions, atoms.numbers, out[True].pairs)
        assert np.linalg.norm(out[True].pairs - out[False].pairs) <= _tolerance(h_pp, 1e-3)
    assert counts[True] < 0.75 * counts[False]
    assert engines[True].recovered == {}


def test_engine_batch_equals_separate_engines(shipped):
    """Three beads in one evaluate call (relaxed together) = each bead in its own engine."""
    module, metadata = shipped
    atoms = molecule("CH3OH")
    rng = np.random.default_rng(4)
    beads = [atoms.positions + 0.03 * rng.normal(size=atoms.positions.shape) for _ in range(3)]
    requested = ["energy", "forces", "electron_pairs", "relax_iterations"]
    engine = EMLPEngine(module, metadata, fmax=1e-4)
    together = engine.evaluate([System(atoms.numbers, p) for p in beads], requested)
    assert len(engine.memory) == 3 and engine.evaluations > 0
    for p, got in zip(beads, together):
        alone = EMLPEngine(module, metadata, fmax=1e-4).evaluate_one(System(atoms.numbers, p), requested)
        h_pp, h_cp = _hessian_blocks(module, p, atoms.numbers, got["electron_pairs"])
        tol = _tolerance(h_pp, 1e-4)
        assert np.linalg.norm(got["electron_pairs"] - alone["electron_pairs"]) <= tol
        assert np.linalg.norm(got["forces"] - alone["forces"]) <= np.linalg.norm(h_cp, 2) * tol


def test_stalls_in_a_batch_are_recovered_and_reported_per_structure():
    model, cores, numbers, start = _stalling_start()
    other = start + 0.03 * np.random.default_rng(8).normal(size=start.shape)
    results = relax_pairs_batch(model, [Structure(cores, numbers, start), Structure(cores, numbers, other)], fmax=1e-6)
    for r in results:
        assert r.max_pair_force < 1e-6
        assert "FIRE" in r.info["fallback"] and "accepted_within_slack" not in r.info


def test_a_float32_model_relaxes_in_float64_state(shipped, tmp_path):
    """A float32 export relaxes to the float64 minimum within the fmax bound plus float32 rounding of
    the forces (~1e-5 eV/angstrom); results are float64 arrays."""
    module, _ = shipped
    path = tmp_path / "f32.pt"
    export_emlp(load_emlp_model(MODEL), path, dtype="float32")
    f32, _ = load_emlp(path)
    atoms = molecule("CH3OH")
    guess = lewis_pairs(atoms.positions, atoms.numbers)
    fmax = 1e-3
    r32 = relax_pairs(f32, atoms.positions, atoms.numbers, guess, fmax=fmax)
    r64 = relax_pairs(module, atoms.positions, atoms.numbers, guess, fmax=fmax)
    assert r32.pairs.dtype == np.float64 and r32.max_pair_force < fmax
    h_pp, _ = _hessian_blocks(module, atoms.positions, atoms.numbers, r64.pairs)
    assert np.linalg.norm(r32.pairs - r64.pairs) <= _tolerance(h_pp, fmax + 1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_engine_relaxes_on_the_gpu(shipped):
    module, metadata = shipped
    atoms = molecule("CH3OH")
    cpu = EMLPEngine(module, metadata, fmax=1e-4).relax(atoms.positions, atoms.numbers)
    gpu_module, _ = load_emlp(MODEL)
    gpu = EMLPEngine(gpu_module, metadata, fmax=1e-4, device="cuda").relax(atoms.positions, atoms.numbers)
    h_pp, _ = _hessian_blocks(module, atoms.positions, atoms.numbers, cpu.pairs)
    assert np.linalg.norm(gpu.pairs - cpu.pairs) <= _tolerance(h_pp, 1e-4)
    assert abs(gpu.energy - cpu.energy) < 1e-6


def test_relaxation_works_under_no_grad(shipped):
    """Callers evaluating without gradients (inference loops) still get relaxed pairs and forces."""
    module, _ = shipped
    atoms = molecule("NH3")
    guess = lewis_pairs(atoms.positions, atoms.numbers)
    ref = relax_pairs(module, atoms.positions, atoms.numbers, guess)
    with torch.no_grad():
        got = relax_pairs(module, atoms.positions, atoms.numbers, guess)
        joint = optimize_structure(module, atoms.positions, atoms.numbers, got.pairs, fmax=1e-3)
    np.testing.assert_allclose(got.core_forces, ref.core_forces, atol=1e-9)
    assert joint[1].shape == guess.shape
