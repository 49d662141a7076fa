"""The PySCF labeller against independent calculations.

* nuclear gradient in a field vs finite differences of the energy,
* dipole vs -dE/dF,
* field-derived APT (dF/dE, 7 SCFs) vs finite-difference dM/dR (displaced geometries),
* finite-field polarizability vs an analytic coupled-perturbed HF polarizability,
* acoustic sum rule, Boys centres (count, core dropped, dipole, field response).
"""

import numpy as np
import pytest
from ase import Atoms

from tensorml import units
from tensorml.data import finite_field as ff
from tensorml.data.labels import LabelRequest, label_frame
from tensorml.data.theory import LevelOfTheory

HF_STO3G = LevelOfTheory(method="HF", basis="sto-3g", density_fit=False, conv_tol=1e-11, conv_tol_grad=1e-8)
BOHR = units.factor(units.LENGTH, units.ATOMIC, units.METAL)


@pytest.fixture(scope="module")
def water():
    # a distorted, rotated, off-origin water: no symmetry left, so every APT element is tested
    return Atoms("OHH", positions=[[0.12, -0.05, 0.31], [1.05, 0.08, 0.22], [-0.18, 0.88, 0.61]])


def _energy(atoms, level, field, positions=None):
    pos = atoms.positions if positions is None else positions
    mol = ff.build_molecule(atoms.get_chemical_symbols(), pos, level)
    return ff.run_scf(ff.make_scf(mol, level, field))


def test_gradient_in_field_matches_finite_differences(water):
    field = np.array([0.02, -0.015, 0.01])
    mf = _energy(water, HF_STO3G, field)
    grad = ff.gradient_au(mf)
    h = 1e-4  # angstrom
    for i in range(3):
        for x in range(3):
            e = []
            for s in (1, -1):
                p = water.positions.copy()
                p[i, x] += s * h
                e.append(_energy(water, HF_STO3G, field, p).e_tot)
            fd = (e[0] - e[1]) / (2 * h / BOHR)
            assert grad[i, x] == pytest.approx(fd, abs=2e-7)
    # the field pushes the nuclei: total force on a neutral molecule is zero, with field or not
    assert np.abs(grad.sum(axis=0)).max() < 1e-6


def test_dipole_is_minus_field_derivative_of_energy(water):
    field = np.array([0.003, 0.0, -0.002])
    dip = ff.dipole_au(_energy(water, HF_STO3G, field))
    h = 1e-4
    for a in range(3):
        fp, fm = field.copy(), field.copy()
        fp[a] += h
        fm[a] -= h
        de = (_energy(water, HF_STO3G, fp).e_tot - _energy(water, HF_STO3G, fm).e_tot) / (2 * h)
        assert -de == pytest.approx(dip[a], abs=1e-6)


@pytest.fixture(scope="module")
def labelled(water):
    return label_frame(water, HF_STO3G, LabelRequest())["labels"]


def test_apt_from_field_matches_dipole_derivative(water, labelled):
    """apt[i, a, b] = dF_ib/dE_a (7 SCFs) must equal dM_a/dR_ib from displaced geometries."""
    apt = labelled["apt"]
    d = 2e-3  # angstrom
    fd = np.zeros((3, 3, 3))
    for i in range(3):
        for b in range(3):
            m = []
            for s in (1, -1):
                p = water.positions.copy()
                p[i, b] += s * d
                m.append(ff.dipole_au(_energy(water, HF_STO3G, np.zeros(3), p)) * BOHR)
            fd[i, :, b] = (m[0] - m[1]) / (2 * d)
    np.testing.assert_allclose(apt, fd, atol=2e-4)
    # the tensors are not symmetric, so this also pins the index order (dipole component first)
    assert np.abs(fd - fd.transpose(0, 2, 1)).max() > 0.01
    assert np.abs(apt.transpose(0, 2, 1) - fd).max() > 0.01


def test_acoustic_sum_rule(labelled):
    np.testing.assert_allclose(labelled["apt"].sum(axis=0), np.zeros((3, 3)), atol=1e-5)


def test_charged_sum_rule():
    h3o = Atoms("OHHH", positions=[[0.0, 0.0, 0.1], [0.95, 0.0, -0.2], [-0.48, 0.82, -0.2], [-0.48, -0.82, -0.25]])
    h3o.info["charge"] = 1
    lab = label_frame(h3o, HF_STO3G, LabelRequest(properties=("energy", "forces", "apt")))["labels"]
    assert lab["charge"] == 1
    np.testing.assert_allclose(lab["apt"].sum(axis=0), np.eye(3), atol=1e-5)


def _cphf_polarizability_au(mf):
    """Static RHF polarizability from the coupled-perturbed HF equations (independent route)."""
    from pyscf.scf import cphf

    mol = mf.mol
    occ = mf.mo_occ > 0
    orbo, orbv = mf.mo_coeff[:, occ], mf.mo_coeff[:, ~occ]
    with mol.with_common_orig((0, 0, 0)):
        r = mol.intor_symmetric("int1e_r", comp=3)
    h1 = np.einsum("xpq,pi,qj->xij", r, orbv, orbo)
    vresp = mf.gen_response(hermi=1)

    def fvind(x):
        x = x.reshape(-1, orbv.shape[1], orbo.shape[1])
        dm = np.einsum("pa,xai,qi->xpq", orbv, x, orbo) * 2
        v = vresp(dm + dm.transpose(0, 2, 1))
        return np.einsum("pa,xpq,qi->xai", orbv, v, orbo).ravel()

    mo1 = cphf.solve(fvind, mf.mo_energy, mf.mo_occ, h1, max_cycle=100, tol=1e-10)[0]
    # alpha_ab = -d^2E/dF_a dF_b = -4 sum_ai h1[a]_ai U[b]_ai
    return -4 * np.einsum("xai,yai->xy", h1, mo1)


def test_polarizability_matches_analytic_cphf(water, labelled):
    mf = _energy(water, HF_STO3G, np.zeros(3))
    alpha_au = _cphf_polarizability_au(mf)
    alpha = labelled["polarizability"]
    np.testing.assert_allclose(alpha, alpha_au * units.POLARIZABILITY_AU, atol=2e-4)
    assert np.all(np.linalg.eigvalsh(alpha) > 0)


def test_boys_centres_reproduce_dipole(water, labelled):
    from tensorml.data.boys import core_charges

    pairs = labelled["electron_pairs"]
    assert pairs.shape == (4, 3)  # 10 electrons: 1 core pair dropped, 4 valence pairs
    z_core = labelled["core_charges"]
    np.testing.assert_array_equal(z_core, [6.0, 1.0, 1.0])
    mol = ff.build_molecule(water.get_chemical_symbols(), water.positions, HF_STO3G)
    np.testing.assert_array_equal(core_charges(mol), z_core)
    point_dipole = z_core @ water.positions - 2 * pairs.sum(axis=0)
    np.testing.assert_allclose(point_dipole, labelled["dipole"], atol=2e-3)
    # every pair is near the oxygen (bonds and lone pairs), none on a hydrogen
    d_o = np.linalg.norm(pairs - water.positions[0], axis=1)
    assert d_o.max() < 0.75


def test_field_frames_and_pair_response(water):
    level = LevelOfTheory(method="HF", basis="6-31g", density_fit=False)
    w = water.copy()
    w.info["efield"] = np.array([0.0, 0.0, 0.5])  # V/angstrom, ~0.01 a.u. as in the eMLP seed
    res = label_frame(w, level, LabelRequest(properties=("energy", "dipole", "electron_pairs")))["labels"]
    ref = label_frame(water, level, LabelRequest(properties=("energy", "dipole", "polarizability", "electron_pairs")))[
        "labels"
    ]
    np.testing.assert_allclose(res["efield"], [0, 0, 0.5])
    # electrons (charge -2 per pair) move against the field, the dipole along it
    shift = (res["electron_pairs"] - ref["electron_pairs"]).mean(axis=0)
    assert shift[2] < -1e-3
    assert res["dipole"][2] > ref["dipole"][2]
    # energy includes the field: E(F) = E(0) - M.F - F.alpha.F/2 + O(F^3), with e*A * V/A = eV and
    # alpha in e^2 A^2/eV = volume / k_e
    f = res["efield"]
    alpha = units.polarizability_volume_to_charge2length2_per_energy(ref["polarizability"])
    second = 0.5 * f @ alpha @ f
    assert second > 1e-3  # the test can tell the second-order term
    assert res["energy"] == pytest.approx(ref["energy"] - ref["dipole"] @ f - second, abs=3e-4)
    # and the dipole responds linearly: M(F) = M(0) + alpha F
    np.testing.assert_allclose(
        res["dipole"], ref["dipole"] + ref["polarizability"] @ f / units.COULOMB_CONSTANT, atol=5e-4
    )
    out = label_frame(
        water, level, LabelRequest(properties=("energy", "forces", "dipole", "electron_pairs"), field_frames=True)
    )
    assert len(out["field_frames"]) == 6
    fields = np.array([f["efield"] for f in out["field_frames"]])
    np.testing.assert_allclose(np.abs(fields).max(axis=1), units.EFIELD_AU * 1e-3)
    assert all(f["electron_pairs"].shape == (4, 3) for f in out["field_frames"])
