"""Lewis guess, pair relaxation (eq. 4), core forces (eq. 5), warm start and failure reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import molecule

from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.relax import RelaxationError, relax_pairs
from test_emlp_toymodel import spring_water


@pytest.fixture(scope="module")
def model():
    return torch.jit.script(EMLPModel(build_config([1, 6, 7, 8], preset="small")))


@pytest.mark.parametrize(
    "name,count", [("H2O", 4), ("CH4", 4), ("C2H4", 6), ("HCN", 5), ("CO2", 8), ("C6H6", 15), ("CH3OH", 7), ("O2", 6)]
)
def test_lewis_guess_has_one_pair_per_valence_electron_pair(name, count):
    atoms = molecule(name)
    pairs = lewis_pairs(atoms.positions, atoms.numbers)
    assert pairs.shape == (count, 3)
    d = np.linalg.norm(pairs[:, None] - pairs[None], axis=-1) + 10 * np.eye(count)
    assert d.min() > 0.3  # distinct bond and lone pairs
    assert np.linalg.norm(pairs[:, None] - atoms.positions[None], axis=-1).min(axis=1).max() < 1.0


def test_lewis_guess_refuses_what_it_cannot_count():
    atoms = molecule("NH3")
    with pytest.raises(ValueError, match="closed shells"):
        lewis_pairs(atoms.positions, atoms.numbers, total_charge=1)
    with pytest.raises(ValueError, match="pass the electron pairs explicitly"):
        lewis_pairs(atoms.positions[:1], atoms.numbers[:1], total_charge=-3)  # N3-: 4 pairs, guess 2


def _methane():
    atoms = molecule("CH4")
    return atoms.positions.copy(), atoms.numbers.copy(), lewis_pairs(atoms.positions, atoms.numbers)


def test_relaxed_pairs_have_vanishing_forces_and_core_forces_follow_eq5(model):
    cores, numbers, guess = _methane()
    rng = np.random.default_rng(0)
    cores = cores + 0.03 * rng.normal(size=cores.shape)
    res = relax_pairs(model, cores, numbers, guess, fmax=1e-6)
    assert res.max_pair_force < 1e-6 and np.abs(res.pair_forces).max() < 1e-6
    assert res.iterations > 0 and res.pairs.shape == (4, 3)
    assert np.allclose(res.dipole, np.array([4, 1, 1, 1, 1]) @ cores - 2 * res.pairs.sum(0))
    # eq. 5: core forces at the relaxed pairs = -dE_BO/dR (pairs re-relaxed at displaced cores)
    h = 1e-4
    for atom, axis in ((0, 2), (3, 0)):
        es = []
        for sign in (1, -1):
            c = cores.copy()
            c[atom, axis] += sign * h
            es.append(relax_pairs(model, c, numbers, res.pairs, fmax=1e-6).energy)
        assert abs(-(es[0] - es[1]) / (2 * h) - res.core_forces[atom, axis]) < 1e-5


def test_relaxation_is_invariant_and_warm_start_is_cheaper(model):
    cores, numbers, guess = _methane()
    res = relax_pairs(model, cores, numbers, guess, fmax=1e-6)
    rng = np.random.default_rng(1)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.diag(r))
    shift = rng.normal(size=3)
    moved = relax_pairs(model, cores @ rot.T + shift, numbers, guess @ rot.T + shift, fmax=1e-6)
    assert abs(moved.energy - res.energy) < 1e-8
    assert np.allclose(moved.core_forces, res.core_forces @ rot.T, atol=1e-5)
    assert np.allclose(moved.pairs, res.pairs @ rot.T + shift, atol=1e-4)
    step = cores + 0.01 * rng.normal(size=cores.shape)
    cold = relax_pairs(model, step, numbers, guess, fmax=1e-6)
    warm = relax_pairs(model, step, numbers, res.pairs, fmax=1e-6, max_displacement=0.05)
    assert abs(cold.energy - warm.energy) < 1e-8
    # cheaper summed over several MD-like steps at the engine's fmax (one step alone differs by an
    # iteration or two either way on this soft untrained model: its softest pair mode is 0.04 eV/A^2)
    iterations = {"cold": 0, "warm": 0}
    for _ in range(6):
        step = cores + 0.01 * rng.normal(size=cores.shape)
        iterations["cold"] += relax_pairs(model, step, numbers, guess, fmax=1e-3).iterations
        iterations["warm"] += relax_pairs(model, step, numbers, res.pairs, fmax=1e-3, max_displacement=0.05).iterations
    assert iterations["warm"] < iterations["cold"]


class _Collapsing(torch.nn.Module):
    """Pairs attract each other: the failure mode 'pairs collapsing' of seed Sec. 3.1.3."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def core_charges(self, numbers):
        return self.base.core_charges(numbers)

    def forward(self, cores, numbers, pairs, cell, pbc, efield):
        d2 = ((pairs.unsqueeze(0) - pairs.unsqueeze(1)) ** 2).sum(-1)
        return self.base(cores, numbers, pairs, cell, pbc, efield) - 50.0 * torch.exp(-d2).sum()


def test_failures_are_reported_not_returned():
    toy, cores, numbers, pairs = spring_water()
    with pytest.raises(RelaxationError, match="collapsed"):
        relax_pairs(_Collapsing(toy), cores, numbers, pairs, max_bound=4.0)
    with pytest.raises(RelaxationError, match="escaped|displacement bound"):
        relax_pairs(toy, cores, numbers, pairs, efield=[0.0, 0.0, 60.0], max_bound=4.0)
    with pytest.raises(RelaxationError, match="did not converge"):
        relax_pairs(toy, cores, numbers, pairs + 0.2, max_iterations=1, restarts=0)


class _RoundedEnergy(torch.nn.Module):
    """A model whose energy carries a 1e7 eV constant: energy differences below ~2e-9 eV are lost to
    rounding (as the last bits of a BLAS kernel lose them near a tight fmax), the gradient is exact."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def core_charges(self, numbers):
        return self.inner.core_charges(numbers)

    def forward(self, cores, numbers, pairs, cell, pbc, efield):
        return self.inner(cores, numbers, pairs, cell, pbc, efield) + 1.0e7


class _QuantizedEnergy(torch.nn.Module):
    """A model whose energy is rounded to a grid of 1e-8 eV (a coarse stand-in for the rounding of the
    total energy near a tight fmax, on any CPU), with the exact gradient: near the minimum no step
    changes the energy, so every line search fails."""

    def __init__(self, inner, grid=1e-8):
        super().__init__()
        self.inner = inner
        self.grid = grid

    def core_charges(self, numbers):
        return self.inner.core_charges(numbers)

    def forward(self, cores, numbers, pairs, cell, pbc, efield):
        e = self.inner(cores, numbers, pairs, cell, pbc, efield)
        return e + (torch.round(e / self.grid) * self.grid - e).detach()


def _stalling_start(wrapper=_QuantizedEnergy):
    from test_emlp_toymodel import spring_water

    model, cores, numbers, pairs = spring_water()
    start = pairs + 0.05 * np.random.default_rng(3).normal(size=pairs.shape)
    return wrapper(model), cores, numbers, start


def test_a_1e7_eV_offset_stalls_scipy_but_not_the_torch_relaxer():
    """The energy with a 1e7 eV constant stopped SciPy's L-BFGS-B above fmax (its line search compares
    energies at the rounding: ABNORMAL/FACTR); the torch L-BFGS accepts a step that leaves the
    rounded energy unchanged and reaches fmax on forces, with no fallback needed."""
    import scipy.optimize

    from tensorml.emlp.evaluate import make_inputs
    from tensorml.emlp.relax_scipy import _energy_gradient

    model, cores, numbers, start = _stalling_start(_RoundedEnergy)
    fmax = 1e-6
    fun = _energy_gradient(model, make_inputs(model, cores, numbers, start))
    res = scipy.optimize.minimize(
        fun,
        start.reshape(-1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": fmax / (2 * np.sqrt(3)), "ftol": 0.0},
    )
    assert np.linalg.norm(res.jac.reshape(-1, 3), axis=1).max() > fmax  # SciPy stopped at the rounding
    result = relax_pairs(model, cores, numbers, start, fmax=fmax)
    assert result.max_pair_force < fmax and "accepted_within_slack" not in result.info


def test_a_line_search_stall_above_fmax_is_polished_by_fire_and_reported():
    """L-BFGS alone stops above fmax on this energy (checked: no FIRE steps allowed); relax_pairs
    restarts it, switches to FIRE, reaches fmax and says so."""
    model, cores, numbers, start = _stalling_start()
    fmax = 1e-6
    alone = relax_pairs(model, cores, numbers, start, fmax=fmax, max_fire_steps=0, slack=1e9)
    assert alone.max_pair_force > 10 * fmax and "accepted_within_slack" in alone.info
    result = relax_pairs(model, cores, numbers, start, fmax=fmax)
    assert result.max_pair_force < fmax
    assert "FIRE" in result.info["fallback"] and "accepted_within_slack" not in result.info
    assert result.info["restarts"] >= 1
    assert result.info["evaluations"] > result.iterations > alone.iterations


def test_a_residual_within_the_slack_is_accepted_and_reported():
    from tensorml.emlp import relax

    model, cores, numbers, start = _stalling_start()
    # FIRE that does nothing: the residual of the stalled L-BFGS is what is left
    result = relax.relax_pairs(model, cores, numbers, start, fmax=1e-6, slack=1e6, max_fire_steps=0)
    assert "accepted_within_slack" in result.info
    with pytest.raises(relax.RelaxationError, match="did not converge"):
        relax.relax_pairs(model, cores, numbers, start, fmax=1e-6, slack=1.0, max_fire_steps=0)
