"""eMLP particles and long range: charges (Table 1), eqs. 8, 9, 11, 12 and the Ewald sum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tensorml.emlp.electrostatics import K_E, coulomb_energy, field_energy, self_energy
from tensorml.emlp.ewald import ewald_energy
from tensorml.emlp.particles import core_charge, core_charges, dipole, n_electron_pairs

GAMMA = 0.3928


def test_core_charges_follow_the_valence_pair_rule():
    assert [core_charge(z) for z in (1, 6, 7, 8)] == [1, 4, 5, 6]  # Table 1
    assert [core_charge(z) for z in (9, 11, 15, 17, 35)] == [7, 1, 5, 7, 7]
    with pytest.raises(ValueError, match="transition metals"):
        core_charge(26)
    assert n_electron_pairs([8, 1, 1]) == 4  # water, Fig. 2
    assert n_electron_pairs([7, 1, 1, 1, 1], total_charge=1) == 4
    with pytest.raises(ValueError, match="closed shells"):
        n_electron_pairs([8, 1])


def test_dipole_of_cores_and_pairs():
    cores = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    pairs = np.array([[0.5, 0.2, 0]])
    d = dipole(cores, [1, 1], pairs)
    assert np.allclose(d, core_charges([1, 1]) @ cores - 2 * pairs[0])


def _system(seed=0, n=7):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(scale=1.2, size=(n, 3)))
    q = torch.tensor([6.0, 1.0, 1.0] + [-2.0] * (n - 3), dtype=torch.float64)
    return x, q


def test_overlap_limit_of_coulomb_plus_self_energy_eq11():
    x, q = _system()
    for total in (0.0, 2.0):
        qq = q.clone()
        qq[0] += total
        tiny = 1e-7 * x
        e = coulomb_energy(tiny, qq, GAMMA) + self_energy(qq, GAMMA)
        expected = K_E * GAMMA / math.sqrt(math.pi) * float(qq.sum()) ** 2
        assert abs(float(e) - expected) < 1e-9


def test_coulomb_is_point_charge_law_at_long_range():
    q = torch.tensor([1.0, -1.0], dtype=torch.float64)
    x = torch.tensor([[0.0, 0, 0], [0, 0, 20.0]], dtype=torch.float64)
    assert abs(float(coulomb_energy(x, q, GAMMA)) - (-K_E / 20.0)) < 1e-12


def _fd_gradient(f, x, h=1e-5):
    g = torch.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp = x.clone()
        xp[idx] += h
        xm = x.clone()
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


def test_coulomb_gradient_matches_finite_differences_even_for_coinciding_particles():
    x, q = _system(1)
    x[4] = x[3]  # two pairs on one point: finite energy and gradient
    f = lambda y: coulomb_energy(y, q, GAMMA)  # noqa: E731
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg), xg)
    assert torch.isfinite(g).all()
    assert torch.allclose(g, _fd_gradient(f, x), atol=1e-7)


def test_field_term_is_minus_field_dot_dipole_and_its_derivatives():
    x, q = _system(2)
    efield = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64, requires_grad=True)
    e = field_energy(x, q, efield)
    d = (q[:, None] * x).sum(0)
    assert abs(float((e + efield @ d).detach())) < 1e-12
    (de,) = torch.autograd.grad(e, efield)
    assert torch.allclose(-de, d)  # d = -dE/dE
    f = lambda y: field_energy(y, q, efield.detach())  # noqa: E731
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg), xg)
    assert torch.allclose(g, _fd_gradient(f, x), atol=1e-8)


def _cell():
    return torch.tensor([[7.0, 0.0, 0.0], [0.8, 6.5, 0.0], [-0.5, 0.4, 7.4]], dtype=torch.float64)


def test_ewald_is_independent_of_the_splitting_parameter():
    x, q = _system(3)
    cell = _cell()
    e_recip = ewald_energy(x, q, cell, GAMMA, GAMMA, 1e-12)  # reciprocal space only
    e_split = ewald_energy(x, q, cell, GAMMA, 0.25, 1e-12)  # real + reciprocal space
    assert abs(float(e_recip - e_split)) < 1e-8
    with pytest.raises(ValueError, match="alpha"):
        ewald_energy(x, q, cell, GAMMA, 0.5, 1e-12)


def test_ewald_is_invariant_under_lattice_translations_of_particles():
    x, q = _system(4)
    cell = _cell()
    e0 = ewald_energy(x, q, cell, GAMMA, GAMMA, 1e-12)
    moved = x.clone()
    moved[2] += cell[0] - 2 * cell[2]
    moved[5] += cell[1]
    assert abs(float(e0 - ewald_energy(moved, q, cell, GAMMA, 0.3, 1e-12))) < 1e-8


def test_ewald_approaches_the_isolated_energy_in_a_large_cell():
    """Tin-foil Ewald of a neutral molecule in a cube of side L: E_iso - 2 pi k_e |d|^2 / (3 V) + O(L^-5)."""
    x, q = _system(5)
    d = (q[:, None] * x).sum(0)
    iso = float(coulomb_energy(x, q, GAMMA) + self_energy(q, GAMMA))
    residual = {}
    for length in (40.0, 60.0):
        cell = torch.eye(3, dtype=torch.float64) * length
        periodic = float(ewald_energy(x, q, cell, GAMMA, GAMMA, 1e-12))
        correction = 2 * math.pi * K_E * float(d @ d) / (3 * length**3)
        assert correction > 1e-2  # the dipole term matters at these sizes
        residual[length] = periodic + correction - iso
    assert abs(residual[60.0]) < 3e-5
    assert abs(residual[40.0] / residual[60.0] / 1.5**5 - 1) < 0.1  # quadrupole terms: L^-5


def test_ewald_forces_and_strain_derivative_match_finite_differences():
    x, q = _system(6)
    cell = _cell()
    f = lambda y: ewald_energy(y, q, cell, GAMMA, 0.3, 1e-12)  # noqa: E731
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg), xg)
    assert torch.allclose(g, _fd_gradient(f, x), atol=1e-6)

    def strained(eps):
        deform = torch.eye(3, dtype=torch.float64) + eps
        return ewald_energy(x @ deform, q, cell @ deform, GAMMA, GAMMA, 1e-12)

    eps = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    (ge,) = torch.autograd.grad(strained(eps), eps)
    assert torch.allclose(ge, _fd_gradient(strained, torch.zeros(3, 3, dtype=torch.float64)), atol=1e-6)
