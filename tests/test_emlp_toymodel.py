"""An analytic stand-in for a trained eMLP, shared by the eMLP test files, and its own checks.

An untrained SchNet does not keep electron pairs apart (they collapse: the Gaussian charges of
eq. 8 are wide, gamma = 0.3928/angstrom, so they barely repel), and no random network holds the
cores of a molecule in a minimum.  :class:`SpringEMLP` has the eMLP forward signature and the
eMLP long range (eqs. 8, 9, 12 from :mod:`tensorml.emlp.electrostatics`) plus harmonic springs on
every inter-particle distance of a reference structure, so it has a minimum in cores *and* pairs,
is invariant under rotations and translations, and exercises relaxation and response code the
way a trained model does.
"""

from __future__ import annotations

import numpy as np
import torch
from ase.build import molecule

from tensorml.emlp.electrostatics import coulomb_energy, field_energy, self_energy
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import DEFAULT_GAMMA
from tensorml.emlp.particles import core_charge_table


class ToyEMLP(torch.nn.Module):
    """What analytic stand-ins share: the eMLP core charges (Table 1) and a float64 parameter."""

    def __init__(self):
        super().__init__()
        self.register_buffer("charge_table", core_charge_table())
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))  # carries the dtype

    def core_charges(self, numbers):
        return self.charge_table[numbers]

    def positions_and_charges(self, cores, numbers, pairs):
        """All particles (cores, then pairs) and their charges in e (pairs -2)."""
        x = torch.cat([cores, pairs])
        return x, torch.cat([self.charge_table[numbers], torch.full((len(pairs),), -2.0, dtype=x.dtype)])


class SpringEMLP(ToyEMLP):
    """E = eqs. 8 + 9 + 12 + sum_{a<b} k_ab/2 (|x_a - x_b| - d_ab)^2 over all particles (eV)."""

    def __init__(self, cores, pairs, k_core: float = 20.0, k_pair: float = 8.0):
        super().__init__()
        x = torch.as_tensor(np.vstack([cores, pairs]), dtype=torch.float64)
        self.n_cores = len(cores)
        self.register_buffer("d0", torch.cdist(x, x))
        k = torch.full_like(self.d0, k_pair)
        k[: self.n_cores, : self.n_cores] = k_core
        self.register_buffer("k", k)

    def forward(self, cores, numbers, pairs, cell, pbc, efield):
        x, q = self.positions_and_charges(cores, numbers, pairs)
        diff = x.unsqueeze(0) - x.unsqueeze(1)
        iu = torch.triu_indices(len(x), len(x), 1)
        d = torch.sqrt((diff[iu[0], iu[1]] ** 2).sum(-1))
        springs = 0.5 * (self.k[iu[0], iu[1]] * (d - self.d0[iu[0], iu[1]]) ** 2).sum()
        return (
            springs
            + coulomb_energy(x, q, DEFAULT_GAMMA)
            + self_energy(q, DEFAULT_GAMMA)
            + field_energy(x, q, efield)
            + self.dummy
        )


def water():
    """Water cores (angstrom), numbers and a Lewis guess of its four pairs."""
    atoms = molecule("H2O")
    return atoms.positions.copy(), atoms.numbers.copy(), lewis_pairs(atoms.positions, atoms.numbers)


def spring_water():
    cores, numbers, pairs = water()
    return SpringEMLP(cores, pairs), cores, numbers, pairs


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_spring_model_is_invariant():
    model, cores, numbers, pairs = spring_water()
    rng = np.random.default_rng(0)
    z = torch.zeros(3, dtype=torch.float64)

    def args(c, p):
        dtype = torch.float64
        return (
            torch.tensor(c),
            torch.tensor(numbers),
            torch.tensor(p),
            torch.zeros(3, 3, dtype=dtype),
            torch.zeros(3, dtype=torch.bool),
            z,
        )

    c = cores + 0.05 * rng.normal(size=cores.shape)
    p = pairs + 0.05 * rng.normal(size=pairs.shape)
    e0 = float(model(*args(c, p)).detach())
    rot = _random_rotation(rng)
    shift = rng.normal(size=3)
    e1 = float(model(*args(c @ rot.T + shift, p @ rot.T + shift)).detach())
    assert abs(e1 - e0) < 1e-10
