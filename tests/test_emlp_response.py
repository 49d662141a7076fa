"""Response properties from autograd Hessians (seed appendix A) against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch
from ase.build import molecule
from ase.data import atomic_masses

from tensorml.emlp.electrostatics import K_E
from tensorml.emlp.evaluate import make_inputs
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.relax import optimize_structure, relax_pairs
from tensorml.emlp.response import (
    FREQUENCY_CM,
    IR_INTENSITY_KM_PER_MOL,
    atomic_polar_tensors,
    born_oppenheimer_hessian,
    electronic_polarizability,
    extended_hessian,
    ir_spectrum,
    relaxed_polarizability,
    rigid_modes,
)
from test_emlp_toymodel import spring_water


def _finite_field_alpha(relaxed_dipole, h=1e-2):
    """k_e d d/dE by central differences of the relaxed dipole (angstrom^3)."""
    alpha = np.zeros((3, 3))
    for k in range(3):
        field = np.zeros(3)
        field[k] = h
        alpha[:, k] = (relaxed_dipole(field) - relaxed_dipole(-field)) / (2 * h)
    return K_E * alpha


def test_electronic_polarizability_equals_finite_field_derivative_of_relaxed_dipole():
    model = torch.jit.script(EMLPModel(build_config([1, 6, 7, 8], preset="small")))
    atoms = molecule("CH4")
    cores, numbers = atoms.positions, atoms.numbers
    res = relax_pairs(model, cores, numbers, lewis_pairs(cores, numbers), fmax=1e-7)
    alpha = electronic_polarizability(extended_hessian(model, make_inputs(model, cores, numbers, res.pairs)))
    numeric = _finite_field_alpha(lambda f: relax_pairs(model, cores, numbers, res.pairs, efield=f, fmax=1e-7).dipole)
    assert np.allclose(alpha, alpha.T) and np.all(np.linalg.eigvalsh(alpha) > 0)
    assert np.allclose(alpha, numeric, rtol=1e-3, atol=1e-4 * np.abs(alpha).max())


@pytest.fixture(scope="module")
def water_minimum():
    model, cores, numbers, pairs = spring_water()
    cores, pairs = optimize_structure(model, cores, numbers, pairs, fmax=1e-6)
    blocks = extended_hessian(model, make_inputs(model, cores, numbers, pairs))
    return model, cores, numbers, pairs, blocks


def test_polarizability_with_core_relaxation_equals_finite_field_on_internal_coordinates(water_minimum):
    model, cores, numbers, pairs, blocks = water_minimum
    x0 = np.vstack([cores, pairs])
    basis = np.linalg.svd(np.eye(x0.size) - (r := rigid_modes(x0)) @ r.T)[0][:, : x0.size - r.shape[1]]
    n = len(cores)

    def relaxed_dipole(field):
        def fun(y):
            x = torch.tensor((x0.reshape(-1) + basis @ y).reshape(-1, 3), requires_grad=True)
            e = model(
                x[:n],
                torch.tensor(numbers),
                x[n:],
                torch.zeros(3, 3, dtype=torch.float64),
                torch.zeros(3, dtype=torch.bool),
                torch.tensor(field),
            )
            (g,) = torch.autograd.grad(e, x)
            return float(e.detach()), basis.T @ g.numpy().reshape(-1)

        y = scipy.optimize.minimize(fun, np.zeros(basis.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-10}).x
        x = (x0.reshape(-1) + basis @ y).reshape(-1, 3)
        return np.array([6, 1, 1]) @ x[:n] - 2 * x[n:].sum(0)

    alpha = relaxed_polarizability(blocks)
    assert np.allclose(alpha, _finite_field_alpha(relaxed_dipole), rtol=1e-3, atol=1e-4 * np.abs(alpha).max())
    # core relaxation adds a positive (semi-definite) vibrational part
    assert np.all(np.linalg.eigvalsh(alpha - electronic_polarizability(blocks)) > -1e-8)


def test_born_oppenheimer_hessian_and_apts_match_finite_differences(water_minimum):
    model, cores, numbers, pairs, blocks = water_minimum
    h_bo = born_oppenheimer_hessian(blocks)
    apt = atomic_polar_tensors(blocks)
    step = 1e-4
    for atom, axis in ((0, 1), (2, 2)):
        plus, minus = cores.copy(), cores.copy()
        plus[atom, axis] += step
        minus[atom, axis] -= step
        rp = relax_pairs(model, plus, numbers, pairs, fmax=1e-8)
        rm = relax_pairs(model, minus, numbers, pairs, fmax=1e-8)
        column = -(rp.core_forces - rm.core_forces).reshape(-1) / (2 * step)
        assert np.allclose(h_bo[:, 3 * atom + axis], column, atol=1e-4)
        assert np.allclose(apt[atom, :, axis], (rp.dipole - rm.dipole) / (2 * step), atol=1e-5)
    assert np.allclose(apt.sum(0), 0.0, atol=1e-8)  # acoustic sum rule of a neutral molecule


def test_ir_spectrum_of_water(water_minimum):
    model, cores, numbers, pairs, blocks = water_minimum
    spectrum = ir_spectrum(blocks, numbers)
    assert spectrum.frequencies.shape == (3,) and np.all(spectrum.frequencies > 100)
    # each mode's intensity is the conversion factor times |sum_j apt_j . dR_j/dQ|^2
    apt = atomic_polar_tensors(blocks)
    masses = atomic_masses[numbers]
    for k in range(3):
        mode = spectrum.modes[k]
        assert abs((masses[:, None] * mode**2).sum() - 1) < 1e-10  # normalised in mass-weighted coordinates
        dmu = np.einsum("jab,jb->a", apt, mode)
        assert abs(spectrum.intensities[k] - IR_INTENSITY_KM_PER_MOL * dmu @ dmu) < 1e-8
    # an eigenvector of the mass-weighted BO Hessian with the reported frequency
    hm = born_oppenheimer_hessian(blocks) / np.sqrt(np.outer(np.repeat(masses, 3), np.repeat(masses, 3)))
    v = spectrum.modes[1].reshape(-1) * np.repeat(np.sqrt(masses), 3)
    rayleigh = v @ hm @ v / (v @ v)
    assert abs(np.sqrt(rayleigh) * FREQUENCY_CM - spectrum.frequencies[1]) < 1e-6 * spectrum.frequencies[1]
    assert np.allclose(hm @ v, rayleigh * v, atol=1e-8 * rayleigh)
    assert 974.0 < IR_INTENSITY_KM_PER_MOL < 976.0  # 42.2561 km/mol per D^2/(angstrom^2 amu) x 4.8032^2


def test_non_minimum_is_refused():
    model = torch.jit.script(EMLPModel(build_config([1, 6], preset="small")))
    atoms = molecule("CH4")
    pairs = lewis_pairs(atoms.positions, atoms.numbers)
    pairs[0] = pairs[1]  # pairs on top of each other: not a minimum of the pair energy
    blocks = extended_hessian(model, make_inputs(model, atoms.positions, atoms.numbers, pairs))
    blocks.pp[:] = -np.eye(len(blocks.pp))
    with pytest.raises(ValueError, match="not positive definite"):
        electronic_polarizability(blocks)
