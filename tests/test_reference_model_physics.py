"""Physics of the exported reference model, through the contract (what every engine sees).

Derivatives are checked against central finite differences, symmetry under random
rotations and reflections, translation invariance, the acoustic sum rule and the
field response (dF/dE = APT^T, dM/dE = alpha / k_e).
"""

import numpy as np
import pytest
from ase.build import molecule
from scipy.spatial.transform import Rotation
from engines import assert_field_response

from tensorml import units as U
from tensorml.export import export_model
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box

ALL = ["energy", "forces", "virial", "dipole", "apt", "polarizability", "charges", "atomic_dipoles"]


def small_box(seed=2):
    """8 molecules in 6.2 angstrom: the 4 angstrom cutoff reaches several periodic images."""
    return System.from_atoms(water_box(2, seed=seed), U.METAL)


def cluster():
    a = molecule("H2O")
    b = molecule("H2O")
    b.rotate(70, "x")
    b.positions += [2.9, 0.3, -0.2]
    return System.from_atoms(a + b, U.METAL)


def moved(system, positions=None, cell=None, efield=None):
    return System(
        system.numbers,
        system.positions if positions is None else positions,
        system.cell if cell is None else cell,
        system.pbc,
        system.efield if efield is None else efield,
    )


@pytest.fixture(params=["box", "cluster"])
def system(request):
    return small_box() if request.param == "box" else cluster()


def central_difference(exported, system, name, h=1e-5):
    """d(output)/d(positions) by central differences: shape output.shape + positions.shape."""
    rows = []
    for i in range(len(system.numbers)):
        for b in range(3):
            p = system.positions.copy()
            p[i, b] += h
            plus = exported.evaluate_one(moved(system, p), [name])[name]
            p[i, b] -= 2 * h
            minus = exported.evaluate_one(moved(system, p), [name])[name]
            rows.append((plus - minus) / (2 * h))
    grad = np.array(rows).reshape(system.positions.shape + np.shape(rows[0]))
    return np.moveaxis(grad, [0, 1], [-2, -1])


def test_forces_are_minus_energy_gradient(exported, system):
    forces = exported.evaluate_one(system, ["forces"])["forces"]
    fd = -central_difference(exported, system, "energy")
    np.testing.assert_allclose(forces, fd, atol=1e-6 * np.abs(fd).max())


def test_apt_is_dipole_gradient(exported, system):
    """APT[i, a, b] = dM_a / dr_ib, against central differences of the dipole."""
    apt = exported.evaluate_one(system, ["apt"])["apt"]
    fd = central_difference(exported, system, "dipole")  # [a, i, b]
    np.testing.assert_allclose(apt, fd.transpose(1, 0, 2), atol=1e-7)
    # an APT that is not just the fixed charge: the environment matters
    charges = exported.evaluate_one(system, ["charges"])["charges"]
    assert np.abs(apt - charges[:, None, None] * np.eye(3)).max() > 1e-2


def test_virial_against_finite_strain(exported):
    """virial = -dE/d(strain), with r -> r (1 + eps) and cell -> cell (1 + eps)."""
    system = small_box()
    w = exported.evaluate_one(system, ["virial"])["virial"]
    h = 1e-6
    fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                eps = np.zeros((3, 3))
                eps[a, b] = sign * h
                deform = np.eye(3) + eps
                energies.append(
                    exported.evaluate_one(moved(system, system.positions @ deform, system.cell @ deform), ["energy"])[
                        "energy"
                    ]
                )
            fd[a, b] = -(energies[0] - energies[1]) / (2 * h)
    np.testing.assert_allclose(w, fd, atol=1e-6 * np.abs(fd).max())
    np.testing.assert_allclose(w, w.T, atol=1e-10 * np.abs(w).max())


def random_orthogonal(seed, reflect):
    r = Rotation.random(random_state=seed).as_matrix()
    return r @ np.diag([1, 1, -1]) if reflect else r


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("reflect", [False, True])
def test_equivariance(exported, system, seed, reflect):
    q = random_orthogonal(seed, reflect)
    assert np.linalg.det(q) == pytest.approx(-1.0 if reflect else 1.0)
    a = exported.evaluate_one(system, ALL)
    b = exported.evaluate_one(moved(system, system.positions @ q.T, system.cell @ q.T), ALL)
    assert b["energy"] == pytest.approx(a["energy"], rel=1e-12)
    np.testing.assert_allclose(b["forces"], a["forces"] @ q.T, atol=1e-10)
    np.testing.assert_allclose(b["dipole"], q @ a["dipole"], atol=1e-10)  # a polar vector
    np.testing.assert_allclose(b["atomic_dipoles"], a["atomic_dipoles"] @ q.T, atol=1e-10)
    np.testing.assert_allclose(b["polarizability"], q @ a["polarizability"] @ q.T, atol=1e-10)
    np.testing.assert_allclose(b["apt"], q @ a["apt"] @ q.T, atol=1e-10)
    np.testing.assert_allclose(b["virial"], q @ a["virial"] @ q.T, atol=1e-9)
    np.testing.assert_allclose(b["charges"], a["charges"], atol=0)


def test_translation(exported, system):
    shift = np.array([0.37, -1.9, 12.4])
    a = exported.evaluate_one(system, ALL)
    b = exported.evaluate_one(moved(system, system.positions + shift), ALL)
    for name in ("energy", "forces", "apt", "polarizability", "virial"):
        np.testing.assert_allclose(b[name], a[name], atol=1e-9, err_msg=name)
    total_charge = a["charges"].sum()
    assert total_charge == pytest.approx(0.0, abs=1e-12)  # neutral water: M does not move
    np.testing.assert_allclose(b["dipole"], a["dipole"] + total_charge * shift, atol=1e-9)


def test_charged_system_dipole_moves_with_origin(exported):
    oh = molecule("OH")
    system = System.from_atoms(oh, U.METAL)
    shift = np.array([1.0, 2.0, -3.0])
    a = exported.evaluate_one(system, ["dipole", "charges", "apt"])
    b = exported.evaluate_one(moved(system, system.positions + shift), ["dipole"])
    q = a["charges"].sum()
    assert q == pytest.approx(0.4238 - 0.8476)
    np.testing.assert_allclose(b["dipole"], a["dipole"] + q * shift, atol=1e-12)
    # acoustic sum rule: sum_i APT_i = Q * identity
    np.testing.assert_allclose(a["apt"].sum(axis=0), q * np.eye(3), atol=1e-12)


def test_acoustic_sum_rule(exported, system):
    apt = exported.evaluate_one(system, ["apt"])["apt"]
    np.testing.assert_allclose(apt.sum(axis=0), np.zeros((3, 3)), atol=1e-10)


def test_field_response(exported):
    """dF_i/dE = APT_i^T (Born charges both ways) and dM/dE = alpha / k_e (angstrom^3 -> e*angstrom per V/angstrom)."""
    system = cluster()
    base = exported.evaluate_one(system, ["apt", "polarizability"])
    assert_field_response(
        lambda field: exported.evaluate_one(moved(system, efield=field), ["forces", "dipole"]),
        base,
        apt_atol=1e-8,
        alpha_atol=1e-10,
    )


def test_batched_equals_separate(exported):
    systems = [small_box(2), cluster(), small_box(5)]
    together = exported.evaluate(systems, ALL)
    for s, t in zip(systems, together):
        alone = exported.evaluate_one(s, ALL)
        for name in ALL:
            np.testing.assert_allclose(t[name], alone[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_float32_export_close_to_float64(tmp_path, reference_model, exported):
    path = tmp_path / "f32.pt"
    export_model(reference_model, path, dtype="float32")
    f32 = ExportedModel.load(path)
    assert f32.metadata["dtype"] == "float32"
    system = small_box()
    a = exported.evaluate_one(system, ALL)
    b = f32.evaluate_one(system, ALL)
    for name in ALL:
        scale = max(np.abs(a[name]).max(), 1e-3)
        np.testing.assert_allclose(b[name], a[name], atol=2e-5 * scale, err_msg=name)


def test_dipole_time_derivative(exported, system):
    """dM/dt = sum_i APT_i v_i: the Jacobian-vector product route, the APT route and finite differences of M."""
    rng = np.random.default_rng(4)
    v = rng.normal(size=system.positions.shape)
    s = moved(system)
    s.velocities = v
    jvp = exported.evaluate_one(s, ["dmdt"])["dmdt"]
    full = exported.evaluate_one(s, ["dmdt", "apt", "apt_velocity"])
    np.testing.assert_allclose(full["apt_velocity"], np.einsum("nab,nb->na", full["apt"], v), atol=1e-12)
    np.testing.assert_allclose(full["dmdt"], full["apt_velocity"].sum(0), atol=1e-12)
    np.testing.assert_allclose(jvp, full["dmdt"], rtol=1e-10, atol=1e-12)
    h = 1e-5
    mp = exported.evaluate_one(moved(system, system.positions + h * v), ["dipole"])["dipole"]
    mm = exported.evaluate_one(moved(system, system.positions - h * v), ["dipole"])["dipole"]
    np.testing.assert_allclose(jvp, (mp - mm) / (2 * h), atol=1e-7)


def test_dmdt_needs_velocities(exported, system):
    with pytest.raises(ValueError, match="'dmdt' needs velocities"):
        exported.evaluate_one(system, ["dmdt"])
