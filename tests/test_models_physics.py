"""Physics of the tensorial models (both backbones, every head), through the exported contract.

Random orthogonal matrices of both parities, translations and permutations; the APT against
finite differences of the dipole; the acoustic sum rule for neutral and charged molecules; the
rank deficiency of eqs. 10-11 for planar molecules and its cure (eq. 12); periodic safety of
the fixed-charge dipole and refusal of environment charges under PBC; field response.
"""

import numpy as np
import pytest
import torch
from ase.build import molecule
from scipy.spatial.transform import Rotation
from engines import assert_field_response

from tensorml import units as U
from tensorml.export import export_model
from tensorml.models.tensorial import TensorialModel
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box
from tensorml.train import data as D

BACKBONES = {
    "eann": {"type": "eann", "n_radial": 4, "max_l": 2, "n_pseudovectors": 2},
    "equivariant": {
        "type": "equivariant",
        "hidden_irreps": "4x0e+2x0o+2x1o+2x1e+2x2e+2x2o",
        "n_layers": 2,
        "n_scalars": 4,
        "n_vectors": 2,
        "n_pseudovectors": 2,
        "n_tensors": 2,
        "n_basis": 4,
        "radial_hidden": 8,
    },
}
H = {"hidden": [8]}
VARIANTS = {
    # periodic-safe: fixed charges + local dipoles (APT = dM/dr), per-atom 0e+2e polarizability, energy
    "md": {
        "dipole": {"charges": "fixed", "fixed_charges": {"H": 0.41, "O": -0.82}, **H},
        "polarizability": {"type": "atomic", **H},
        "energy": H,
    },
    # isolated molecules: environment charges (eq. 1), eqs. 9-12, direct APT (0e+1e+2e), eqs. 7-8
    "isolated": {
        "dipole": {"charges": "environment", **H},
        "polarizability": {"type": "eann", **H},
        "apt": {"type": "direct", **H},
        "transition_dipole": H,
    },
}


@pytest.fixture(autouse=True)
def _plain_interpreter():
    """TorchScript without its profiling/optimizing passes: these tests call each model a few times only."""
    with torch.jit.optimized_execution(False):
        yield


def water_dimer(planar=False):
    a = molecule("H2O")
    b = molecule("H2O")
    if planar:  # ASE's water lies in the yz plane: rotate both into the xy plane
        a.rotate(90, "y")
        b.rotate(90, "y")
        b.rotate(40, "z")
        b.positions += [2.2, 1.9, 0.0]
    else:
        b.rotate(70, "x")
        b.positions += [2.9, 0.3, -0.2]
    return a + b


def water_trimer():
    atoms = water_dimer()
    c = molecule("H2O")
    c.rotate(120, "z")
    c.positions += [0.8, 2.7, 0.6]
    return atoms + c


def system(atoms, efield=None):
    return System.from_atoms(atoms, U.METAL, efield_V_per_A=efield)


def randomize(model, structures, seed=0, scale=0.3):
    """Fit feature statistics on ``structures`` and perturb every weight, so no head is trivially small."""
    samples = D.make_samples(structures, model.cutoff)
    batch = D.collate(samples, torch.float64)
    model.to(torch.float64)
    model.backbone.fit_statistics(D.model_graph(batch["inputs"], model.species))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("dipole_head.element_charges"):
                continue  # keep the given (neutral) fixed charges
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale * (p.abs().mean() + 0.05))
    return model


def build(backbone, variant, **extra):
    heads = {k: dict(v) for k, v in VARIANTS[variant].items()}
    for k, v in extra.items():
        heads.setdefault(k, {}).update(v)
    model = TensorialModel(species=[1, 8], cutoff=4.0, backbone=BACKBONES[backbone], heads=heads, seed=3)
    return randomize(model, [water_trimer(), water_box(2, seed=2)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exported float64 models, by (backbone, variant), built lazily."""
    cache = {}

    def get(backbone, variant):
        key = (backbone, variant)
        if key not in cache:
            model = build(backbone, variant)
            path = tmp_path_factory.mktemp("m") / f"{backbone}-{variant}.pt"
            export_model(model, path, dtype="float64")
            cache[key] = (model, ExportedModel.load(path))
        return cache[key]

    return get


def outputs_of(em):
    return [o for o in em.outputs if not em.metadata["outputs"][o].get("needs")]


def random_orthogonal(seed, reflect):
    r = Rotation.random(random_state=seed).as_matrix()
    return r @ np.diag([1.0, 1.0, -1.0]) if reflect else r


def transform(name, value, q):
    """How each output transforms under r -> q r (q orthogonal)."""
    if name in ("energy", "charges", "atomic_energies"):
        return value
    if name in ("forces", "atomic_dipoles"):
        return value @ q.T
    if name == "dipole":
        return q @ value
    if name in ("polarizability", "virial"):
        return q @ value @ q.T
    if name == "apt":
        return np.einsum("ab,nbc,dc->nad", q, value, q)
    raise KeyError(name)


@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("reflect", [False, True])
def test_rotation_reflection_equivariance(exported, backbone, variant, reflect):
    _, em = exported(backbone, variant)
    atoms = water_trimer()
    names = [o for o in outputs_of(em) if o not in ("transition_dipole", "virial")]
    a = em.evaluate_one(system(atoms), names + (["transition_dipole"] if "transition_dipole" in em.outputs else []))
    assert np.abs(a["dipole"]).max() > 1e-2 and np.abs(a["apt"]).max() > 1e-2
    for seed in (0, 1):
        q = random_orthogonal(seed, reflect)
        moved = atoms.copy()
        moved.positions = atoms.positions @ q.T
        b = em.evaluate_one(system(moved), names + (["transition_dipole"] if "transition_dipole" in em.outputs else []))
        for name in names:
            scale = max(np.abs(a[name]).max(), 1.0)
            np.testing.assert_allclose(b[name], transform(name, a[name], q), atol=1e-9 * scale, err_msg=name)
        if "transition_dipole" in a and not reflect:
            np.testing.assert_allclose(b["transition_dipole"], q @ a["transition_dipole"], atol=1e-10)
    # the anisotropic parts are really there (an isotropic-only model would pass trivially)
    pol = a["polarizability"]
    assert np.abs(pol - np.trace(pol) / 3 * np.eye(3)).max() > 1e-3
    apt = a["apt"]
    assert np.abs(apt - np.transpose(apt, (0, 2, 1))).max() > 1e-6  # a 1e part (tolerances are 1e-9)


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_transition_dipole_parts_parity(exported, backbone):
    """eq. 7 vectors are polar, the eq. 8 vector is axial: under a reflection mu_T -> Q(mu1 + mu2) - Q mu3."""
    model, _ = exported(backbone, "isolated")
    head = model.transition_head

    def parts(atoms):
        batch = D.collate(D.make_samples([atoms], model.cutoff), torch.float64)
        graph = D.model_graph(batch["inputs"], model.species)
        feats = model.backbone(graph)
        return [p.detach().numpy()[0] for p in head.parts(feats, graph)]

    atoms = water_trimer()
    p = parts(atoms)
    assert all(np.linalg.norm(x) > 1e-4 for x in p)
    for reflect in (False, True):
        q = random_orthogonal(5, reflect)
        moved = atoms.copy()
        moved.positions = atoms.positions @ q.T
        pm = parts(moved)
        sign = np.linalg.det(q)
        np.testing.assert_allclose(pm[0], q @ p[0], atol=1e-10)
        np.testing.assert_allclose(pm[1], q @ p[1], atol=1e-10)
        np.testing.assert_allclose(pm[2], sign * (q @ p[2]), atol=1e-10)


@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_translation_and_permutation(exported, backbone, variant):
    _, em = exported(backbone, variant)
    names = outputs_of(em)
    atoms = water_trimer()
    a = em.evaluate_one(system(atoms), names)
    shift = np.array([0.37, -1.9, 12.4])
    moved = atoms.copy()
    moved.positions += shift
    b = em.evaluate_one(system(moved), names)
    total_charge = a["charges"].sum()
    for name in names:
        expected = a[name] + total_charge * shift if name == "dipole" else a[name]
        np.testing.assert_allclose(b[name], expected, atol=1e-9 * max(1.0, np.abs(a[name]).max()), err_msg=name)
    perm = np.random.default_rng(0).permutation(len(atoms))
    c = em.evaluate_one(system(atoms[perm]), names)
    for name in names:
        per_atom = em.metadata["outputs"][name]["per_atom"]
        expected = a[name][perm] if per_atom else a[name]
        np.testing.assert_allclose(c[name], expected, atol=1e-10 * max(1.0, np.abs(a[name]).max()), err_msg=name)


def central_difference(em, atoms, name, h=1e-5):
    rows = []
    for i in range(len(atoms)):
        for b in range(3):
            vals = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[i, b] += sign * h
                vals.append(em.evaluate_one(system(moved), [name])[name])
            rows.append((vals[0] - vals[1]) / (2 * h))
    return np.array(rows).reshape((len(atoms), 3) + np.shape(rows[0]))


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_apt_is_finite_difference_of_dipole_and_forces_of_energy(exported, backbone):
    _, em = exported(backbone, "md")
    atoms = water_dimer()
    res = em.evaluate_one(system(atoms), ["apt", "forces"])
    fd = central_difference(em, atoms, "dipole")  # [i, b, a] = dM_a/dr_ib
    np.testing.assert_allclose(res["apt"], fd.transpose(0, 2, 1), atol=1e-7)
    charges = em.evaluate_one(system(atoms), ["charges"])["charges"]
    assert np.abs(res["apt"] - charges[:, None, None] * np.eye(3)).max() > 1e-3  # environment matters
    fd_e = central_difference(em, atoms, "energy")
    np.testing.assert_allclose(res["forces"], -fd_e, atol=1e-7 * max(1.0, np.abs(fd_e).max()))


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_acoustic_sum_rule_neutral_and_charged(exported, backbone, tmp_path):
    """sum_i APT_i = Q I for the autograd APT: fixed charges (any Q) and corrected environment charges."""
    _, em = exported(backbone, "md")
    dimer = em.evaluate_one(system(water_dimer()), ["apt", "charges"])
    np.testing.assert_allclose(dimer["apt"].sum(0), np.zeros((3, 3)), atol=1e-10)
    oh = em.evaluate_one(system(molecule("OH")), ["apt", "charges"])
    q = oh["charges"].sum()
    assert q == pytest.approx(0.41 - 0.82, abs=1e-6)
    np.testing.assert_allclose(oh["apt"].sum(0), q * np.eye(3), atol=1e-10)
    # environment charges with the exact total-charge correction: Q = -1 for the hydroxide ion
    model = build(backbone, "isolated", dipole={"charge_correction": "uniform", "total_charge": -1.0})
    model.apt_head = None  # APT as autograd dM/dr of the charge dipole
    model.head_configs.pop("apt")
    path = tmp_path / "charged.pt"
    export_model(model, path, dtype="float64")
    em2 = ExportedModel.load(path)
    assert em2.metadata["outputs"]["apt"]["ghost"] == "sum"
    res = em2.evaluate_one(system(molecule("OH")), ["apt", "charges"])
    assert res["charges"].sum() == pytest.approx(-1.0, abs=1e-12)
    np.testing.assert_allclose(res["apt"].sum(0), -np.eye(3), atol=1e-10)
    assert np.abs(res["apt"][0] - res["charges"][0] * np.eye(3)).max() > 1e-3  # charges do fluctuate


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_planar_molecule_rank_deficiency_and_eq12(exported, backbone):
    """D D^T and r D^T + D r^T have no out-of-plane part for a planar molecule; a I restores full rank."""
    model, em = exported(backbone, "isolated")
    atoms = water_dimer(planar=True)
    assert np.abs(atoms.positions[:, 2]).max() < 1e-12
    batch = D.collate(D.make_samples([atoms], model.cutoff), torch.float64)
    graph = D.model_graph(batch["inputs"], model.species)
    graph["edge_vectors"] = graph["edge_vectors"].detach().requires_grad_(True)
    dd, rd, scalar = [
        p.detach().numpy()[0] for p in model.system_polarizability_head.parts(model.backbone(graph), graph)
    ]
    anisotropic = dd + rd
    assert np.abs(anisotropic).max() > 1e-3
    np.testing.assert_allclose(anisotropic[2, :], 0.0, atol=1e-12)
    np.testing.assert_allclose(anisotropic[:, 2], 0.0, atol=1e-12)
    assert np.linalg.matrix_rank(anisotropic, tol=1e-9) <= 2
    alpha = em.evaluate_one(system(atoms), ["polarizability"])["polarizability"]
    np.testing.assert_allclose(alpha, anisotropic + scalar, atol=1e-10)
    assert alpha[2, 2] == pytest.approx(scalar[2, 2], abs=1e-12) and abs(scalar[2, 2]) > 1e-3
    assert np.linalg.matrix_rank(alpha, tol=1e-9) == 3
    # the per-atom 0e + 2e head is not rank deficient either
    _, em_md = exported(backbone, "md")
    assert np.linalg.matrix_rank(em_md.evaluate_one(system(atoms), ["polarizability"])["polarizability"], tol=1e-9) == 3


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_periodic_fixed_charges_do_not_jump_and_environment_charges_refuse(exported, backbone):
    _, em = exported(backbone, "md")
    box = water_box(2, seed=2)
    names = ["energy", "forces", "dipole", "apt", "polarizability", "atomic_dipoles", "charges"]
    a = em.evaluate_one(system(box), names)
    wrapped = box.copy()
    lattice = box.cell.array[0]
    wrapped.positions[1] += lattice  # an H atom moved to a periodic image
    b = em.evaluate_one(system(wrapped), names)
    for name in ("energy", "forces", "apt", "polarizability", "atomic_dipoles", "charges"):
        np.testing.assert_allclose(b[name], a[name], atol=1e-9 * max(1.0, np.abs(a[name]).max()), err_msg=name)
    # only the fixed-charge quantum q_H L, a constant along an unwrapped trajectory
    np.testing.assert_allclose(b["dipole"] - a["dipole"], a["charges"][1] * lattice, atol=1e-9)
    # rotating the whole periodic system rotates the tensors
    q = random_orthogonal(3, True)
    rot = box.copy()
    rot.positions = box.positions @ q.T
    rot.cell = box.cell.array @ q.T
    c = em.evaluate_one(system(rot), names)
    for name in ("dipole", "apt", "polarizability", "forces"):
        np.testing.assert_allclose(c[name], transform(name, a[name], q), atol=1e-9, err_msg=name)
    _, em_iso = exported(backbone, "isolated")
    with pytest.raises(Exception, match="periodic"):  # torch.jit.Error from the scripted module
        em_iso.evaluate_one(system(box), ["dipole"])
    em_iso.evaluate_one(system(box), ["apt"])  # the direct APT is local: fine under PBC


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_field_response(exported, backbone):
    """With energy, dipole and per-atom polarizability heads: dF/dE = APT^T and dM/dE = alpha / k_e."""
    _, em = exported(backbone, "md")
    atoms = water_dimer()
    base = em.evaluate_one(system(atoms), ["apt", "polarizability"])
    assert_field_response(
        lambda field: em.evaluate_one(system(atoms, field), ["forces", "dipole"]), base, apt_atol=1e-7, alpha_atol=1e-9
    )


def test_environment_charges_refuse_ghost_atoms():
    """A graph with ghost atoms (an MPI domain) is refused by environment charges."""
    from tensorml.contract_module import ContractModule

    model = build("eann", "isolated")
    batch = D.collate(D.make_samples([water_dimer()], model.cutoff), torch.float64)
    inputs = dict(batch["inputs"])
    inputs["n_local"] = torch.tensor(3)
    with pytest.raises(RuntimeError, match="periodic"):
        ContractModule(model)(inputs, ["dipole"])


def test_neutral_formula_keeps_fixed_charges_neutral(tmp_path):
    """neutral_formula: H2O projects the element charges onto q_O + 2 q_H = 0, whatever their values."""
    model = TensorialModel(
        species=[1, 8],
        cutoff=4.0,
        backbone=BACKBONES["eann"],
        seed=1,
        heads={"dipole": {"charges": "fixed", "neutral_formula": "H2O", **H}},
    )
    randomize(model, [water_trimer()])
    with torch.no_grad():
        model.dipole_head.element_charges.copy_(torch.tensor([0.3, -0.2], dtype=torch.float64))
    path = tmp_path / "neutral.pt"
    export_model(model, path, dtype="float64")
    res = ExportedModel.load(path).evaluate_one(system(water_trimer()), ["charges", "apt"])
    assert abs(res["charges"].sum()) < 1e-12 and abs(res["charges"][0]) > 0.1
    np.testing.assert_allclose(res["apt"].sum(0), 0.0, atol=1e-10)
    assert model.config()["heads"]["dipole"]["neutral_formula"] == "H2O"
    with pytest.raises(ValueError, match="neutral_formula"):
        TensorialModel(species=[1, 8], heads={"dipole": {"neutral_formula": "CH4"}})
