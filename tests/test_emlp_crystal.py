"""Crystal response properties of the eMLP (seed eqs. 40-45) against finite differences.

The crystal is a polar toy (an H core, a Li core and one electron pair per triclinic cell) held
together by harmonic springs between all particles closer than 4.7 angstrom, including periodic
images, with the eMLP's own Ewald electrostatics (eqs. 8-9) and field term (eq. 12): it has a
minimum in cores and pairs and depends on the cell through the images, like a trained model.
Every Hessian formula is checked against finite differences of relaxed structures:

* dielectric tensor (eq. 43) = delta + (4 pi k_e / V) dd/dE, pairs (and cores) relaxed at +/-E;
* stiffness (eq. 41) = (1/V) d^2E/deps_ij deps_kl of the relaxed energy under the strain A(1 + eps);
* proper piezoelectric tensor (eq. 44) = (1/V) dd_i/deps_jk - delta_ik P_j (eq. 45 with P = d/V).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tensorml.emlp.crystal import (
    C_PER_M2,
    GPA,
    crystal_hessian,
    crystal_response,
    dielectric_tensor,
    piezoelectric_tensor,
    stiffness_tensor,
)
from tensorml.emlp.electrostatics import K_E, field_energy
from tensorml.emlp.evaluate import make_inputs, total_charge_dipole
from tensorml.emlp.ewald import ewald_energy
from tensorml.emlp.model import DEFAULT_GAMMA, EMLPModel, build_config
from tensorml.emlp.relax import optimize_structure, relax_pairs
from test_emlp_toymodel import ToyEMLP

CELL = np.array([[3.0, 0.0, 0.0], [0.3, 3.2, 0.0], [0.2, -0.1, 3.4]])
FRACTIONAL = np.array([[0.10, 0.20, 0.15], [0.45, 0.50, 0.55], [0.22, 0.30, 0.28]])  # H, Li, pair
NUMBERS = np.array([1, 3])
PBC = np.ones(3, dtype=bool)


class SpringCrystal(ToyEMLP):
    """Springs k/2 (|x_j + n A - x_i| - d_0)^2 over fixed (i, j, n) + Ewald + field, eV."""

    def __init__(self, positions, cell, cutoff=4.7, k=6.0):
        super().__init__()
        i, j, n, d0 = [], [], [], []
        p = len(positions)
        for a in range(p):
            for b in range(p):
                for shift in np.ndindex(3, 3, 3):
                    s = np.array(shift) - 1
                    if (a, b) > (b, a) or (a == b and tuple(s) <= (0, 0, 0)):
                        continue  # each spring once
                    d = np.linalg.norm(positions[b] + s @ cell - positions[a])
                    if d < cutoff:
                        i.append(a), j.append(b), n.append(s), d0.append(d)
        self.register_buffer("i", torch.tensor(i))
        self.register_buffer("j", torch.tensor(j))
        self.register_buffer("n", torch.tensor(np.array(n), dtype=torch.float64))
        self.register_buffer("d0", torch.tensor(d0, dtype=torch.float64))
        self.k = k

    def forward(self, cores, numbers, pairs, cell, pbc, efield):
        x, q = self.positions_and_charges(cores, numbers, pairs)
        d = torch.linalg.norm(x[self.j] + self.n @ cell - x[self.i], dim=1)
        springs = 0.5 * self.k * ((d - self.d0) ** 2).sum()
        return (
            springs
            + ewald_energy(x, q, cell, DEFAULT_GAMMA, DEFAULT_GAMMA, 1e-12, K_E)
            + field_energy(x, q, efield)
            + self.dummy
        )


@pytest.fixture(scope="module")
def crystal():
    """(model, cores, pairs) at a minimum of cores and pairs."""
    x = FRACTIONAL @ CELL
    model = SpringCrystal(x, CELL)
    cores, pairs = optimize_structure(model, x[:2], NUMBERS, x[2:], CELL, PBC, fmax=1e-7)
    return model, cores, pairs


def relaxed(model, cores, pairs, cell=CELL, efield=None, ions=True):
    """(energy eV, dipole e*angstrom) with the pairs (and the cores) relaxed."""
    if ions:
        cores, pairs = optimize_structure(model, cores, NUMBERS, pairs, cell, PBC, efield, fmax=1e-7)
    else:
        pairs = relax_pairs(model, cores, NUMBERS, pairs, cell, PBC, efield, fmax=1e-7).pairs
    inputs = make_inputs(model, cores, NUMBERS, pairs, cell, PBC, efield)
    energy = float(model(inputs.cores, inputs.numbers, inputs.pairs, inputs.cell, inputs.pbc, inputs.efield).detach())
    return energy, total_charge_dipole(model, inputs).detach().numpy()


def strained(model, cores, pairs, eps, ions, efield=None):
    deform = np.eye(3) + eps
    return relaxed(model, cores @ deform, pairs @ deform, CELL @ deform, efield, ions)


def hessian(crystal):
    model, cores, pairs = crystal
    return crystal_hessian(model, make_inputs(model, cores, NUMBERS, pairs, CELL, PBC))


@pytest.mark.parametrize("ions", [False, True])
def test_dielectric_tensor_is_the_field_derivative_of_the_relaxed_dipole(crystal, ions):
    model, cores, pairs = crystal
    h = 1e-3
    volume = abs(np.linalg.det(CELL))
    fd = np.zeros((3, 3))
    for b in range(3):
        field = np.zeros(3)
        field[b] = h
        fd[:, b] = (
            relaxed(model, cores, pairs, efield=field, ions=ions)[1]
            - relaxed(model, cores, pairs, efield=-field, ions=ions)[1]
        ) / (2 * h)
    expected = np.eye(3) + 4 * np.pi * K_E * fd / volume
    got = dielectric_tensor(hessian(crystal), ions=ions)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected - np.eye(3)).max())
    assert np.all(np.linalg.eigvalsh(got) > 1.0)
    if ions:  # cores add their own (ionic) screening
        assert np.trace(got) > np.trace(dielectric_tensor(hessian(crystal), ions=False))


@pytest.mark.parametrize("ions", [False, True])
def test_stiffness_is_the_second_strain_derivative_of_the_relaxed_energy(crystal, ions):
    model, cores, pairs = crystal
    c = stiffness_tensor(hessian(crystal), ions=ions)
    volume = abs(np.linalg.det(CELL))
    h = 2e-3
    for (i, j), (k, m) in [((0, 0), (0, 0)), ((0, 0), (1, 1)), ((1, 2), (1, 2)), ((0, 1), (2, 0)), ((2, 1), (0, 0))]:
        e = {}
        for si in (1, -1):
            for sk in (1, -1):
                eps = np.zeros((3, 3))
                eps[i, j] += si * h
                eps[k, m] += sk * h
                e[si, sk] = strained(model, cores, pairs, eps, ions)[0]
        fd = (e[1, 1] - e[1, -1] - e[-1, 1] + e[-1, -1]) / (4 * h * h) / volume
        assert c[i, j, k, m] == pytest.approx(fd, rel=1e-4, abs=1e-6 * np.abs(c).max()), (i, j, k, m)
    if ions:  # relaxing the cores softens the crystal
        clamped = stiffness_tensor(hessian(crystal), ions=False)
        assert c[0, 0, 0, 0] < clamped[0, 0, 0, 0]


@pytest.mark.parametrize("ions", [False, True])
def test_proper_piezoelectric_tensor_is_the_strain_derivative_of_the_dipole(crystal, ions):
    model, cores, pairs = crystal
    piezo = piezoelectric_tensor(hessian(crystal), ions=ions)
    volume = abs(np.linalg.det(CELL))
    polarization = relaxed(model, cores, pairs, ions=False)[1] / volume
    h = 1e-3
    for j in range(3):
        for k in range(3):
            eps = np.zeros((3, 3))
            eps[j, k] = h
            dd = (strained(model, cores, pairs, eps, ions)[1] - strained(model, cores, pairs, -eps, ions)[1]) / (2 * h)
            expected = dd / volume - np.eye(3)[:, k] * polarization[j]
            np.testing.assert_allclose(piezo[:, j, k], expected, rtol=0, atol=1e-6 + 1e-4 * np.abs(piezo).max())
    assert np.abs(piezo).max() > 1e-3  # a polar crystal: the check is not of zeros


def test_crystal_response_report_units(crystal):
    model, cores, pairs = crystal
    r = crystal_response(model, make_inputs(model, cores, NUMBERS, pairs, CELL, PBC), relaxed_ions=True)
    hess = hessian(crystal)
    assert r.stiffness_relaxed_gpa[3, 3] == pytest.approx(stiffness_tensor(hess)[1, 2, 1, 2] * GPA)
    assert r.piezo_relaxed_c_m2[0, 5] == pytest.approx(piezoelectric_tensor(hess)[0, 0, 1] * C_PER_M2)
    # d = e C^-1: applying the strain d^T E (Voigt, shear counted twice) to C gives back e^T E
    np.testing.assert_allclose(r.piezo_strain_pc_n @ r.stiffness_relaxed_gpa * 1e-3, r.piezo_relaxed_c_m2, atol=1e-12)
    assert np.allclose(
        r.stiffness_relaxed_gpa, r.stiffness_relaxed_gpa.T, atol=1e-6 * np.abs(r.stiffness_relaxed_gpa).max()
    )
    assert r.volume == pytest.approx(abs(np.linalg.det(CELL)))


@pytest.fixture(scope="module")
def schnet_crystal():
    """An untrained periodic SchNet eMLP: methane in a triclinic box, pairs relaxed (cores are not at
    a minimum, so only the clamped-ion properties, which need a minimum of the pairs, apply)."""
    from ase.build import molecule

    model = EMLPModel(build_config([1, 6], preset="small"))
    cell = np.array([[4.6, 0.0, 0.0], [0.4, 4.4, 0.0], [0.0, 0.3, 4.8]])
    ch4 = molecule("CH4")
    rng = np.random.default_rng(0)
    cores = ch4.positions + 2.3 + 0.05 * rng.normal(size=(5, 3))
    pairs = 0.6 * ch4.positions[1:] + 0.4 * ch4.positions[:1] + 2.3
    pairs = relax_pairs(model, cores, ch4.numbers, pairs, cell, PBC, fmax=1e-6).pairs
    return model, cell, cores, ch4.numbers, pairs


def test_schnet_emlp_cell_derivatives_match_finite_differences(schnet_crystal):
    """The mixed block H_fa of a periodic SchNet eMLP (neighbour images and Ewald sum depend on the
    cell) equals finite differences of the fractional-coordinate gradient."""
    model, cell, cores, numbers, pairs = schnet_crystal
    hess = crystal_hessian(model, make_inputs(model, cores, numbers, pairs, cell, PBC))

    def gradient(a):
        s = np.vstack([cores, pairs]) @ np.linalg.inv(cell)
        t = torch.tensor(s, requires_grad=True)
        x = t @ torch.tensor(a)
        energy = model(
            x[:5], torch.tensor(numbers), x[5:], torch.tensor(a), torch.tensor(PBC), torch.zeros(3, dtype=torch.float64)
        )
        return torch.autograd.grad(energy, t)[0].numpy().reshape(-1)

    h = 1e-5
    for k in (0, 4, 7):
        da = np.zeros(9)
        da[k] = h
        fd = (gradient(cell + da.reshape(3, 3)) - gradient(cell - da.reshape(3, 3))) / (2 * h)
        np.testing.assert_allclose(hess.fa[:, k], fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hess.ff, hess.ff.T, atol=1e-9)


def test_clamped_ion_tensors_are_invariant_under_lattice_translations_of_a_particle(schnet_crystal):
    """Moving a pair and a core by lattice vectors changes the dipole but not the proper
    piezoelectric tensor, the dielectric tensor or the stiffness (seed, after eq. 44)."""
    model, cell, cores, numbers, pairs = schnet_crystal
    a = crystal_hessian(model, make_inputs(model, cores, numbers, pairs, cell, PBC))
    moved_pairs, moved_cores = pairs.copy(), cores.copy()
    moved_pairs[1] += cell[1] - cell[2]
    moved_cores[2] += cell[0]
    b = crystal_hessian(model, make_inputs(model, moved_cores, numbers, moved_pairs, cell, PBC))
    pa, pb = piezoelectric_tensor(a, ions=False), piezoelectric_tensor(b, ions=False)
    assert np.abs(pa).max() > 1e-4  # (e/angstrom^2: 1e-4 = 1.6e-3 C/m^2)
    np.testing.assert_allclose(pa, pb, atol=1e-7 * np.abs(pa).max() + 1e-12)
    np.testing.assert_allclose(dielectric_tensor(a), dielectric_tensor(b), atol=1e-8)
    np.testing.assert_allclose(stiffness_tensor(a, ions=False), stiffness_tensor(b, ions=False), atol=1e-8)


def test_response_command_prints_crystal_tensors_with_units(schnet_crystal, tmp_path, capsys):
    """`tensorml response` on a periodic extxyz with 'X' pairs: ion-clamped tensors (the untrained
    model's cores are not at a minimum, so the relaxed-ion ones are refused with the reason)."""
    import argparse

    from ase import Atoms
    from ase.io import write

    from tensorml.commands import response
    from tensorml.emlp.export import export_emlp

    model, cell, cores, numbers, pairs = schnet_crystal
    export_emlp(model, tmp_path / "emlp.pt")
    atoms = Atoms(numbers=list(numbers) + [0] * len(pairs), positions=np.vstack([cores, pairs]), cell=cell, pbc=True)
    atoms.symbols[len(numbers) :] = "X"
    write(tmp_path / "crystal.extxyz", atoms)
    parser = argparse.ArgumentParser()
    response.register(parser.add_subparsers())
    args = parser.parse_args(
        ["response", str(tmp_path / "emlp.pt"), str(tmp_path / "crystal.extxyz"), "--core-fmax", "1e-9"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    expected = crystal_response(model, make_inputs(model, cores, numbers, pairs, cell, PBC), relaxed_ions=False)
    assert "dielectric tensor, ion-clamped" in out and "stiffness, ion-clamped (GPa" in out and "C/m^2" in out
    assert f"{expected.dielectric_clamped[0, 0]:11.4f}" in out
    assert "not a minimum of the cores" in out and "relaxed ions" not in out
