"""Explicit electrons in LAMMPS: fix tensorml/relax relaxes the electron pairs of a format-3 eMLP every step.

References: the same split (contract module + point charges of tensorml.emlp.longrange) relaxed in Python
by SciPy to a far tighter tolerance; LAMMPS on 1 and 2 ranks; the Ewald long range through kspace.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from engines import THREE_WATERS_CELL, read_dump, run_lammps
from lammps_emlp_helpers import relax_in_python, thermo_rows, water_cell
from tensorml.emlp.lammps_data import particle_charges, write_particles
from tensorml.emlp.contract_model import PAIR_Z
from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.emlp.lewis import lewis_pairs
from tensorml.runtime import ExportedModel

pytestmark = pytest.mark.lammps

SHIPPED = Path(__file__).parents[1] / "models" / "emlp" / "model.pt"


@pytest.fixture(scope="module")
def emlp_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("emlp") / "emlp.pt"
    export_contract(load_emlp_model(SHIPPED), path)
    return path


@pytest.fixture(scope="module")
def exported(emlp_path):
    return ExportedModel.load(emlp_path)


@pytest.fixture(scope="module")
def kspace_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("emlp") / "emlp_kspace.pt"
    export_contract(load_emlp_model(SHIPPED), path, long_range="gaussian_kspace")
    return path


MOLECULE = """
units           metal
atom_style      charge
boundary        f f f
newton          {newton}
read_data       data.lmp
pair_style      hybrid/overlay tensorml {model} coul/cut 30.0
pair_coeff      * * tensorml {elements}
pair_coeff      * * coul/cut
group           pairs type {pair_type}
group           cores subtract all pairs
fix             relax pairs tensorml/relax fmax {fmax}
thermo_style    custom step pe etotal f_relax[1] f_relax[2] f_relax[3] f_relax[4] f_relax[5]
thermo_modify   format float %.12g
thermo          1
dump            d all custom 1 out.dump id type x y z fx fy fz
dump_modify     d format float %.15g sort id
{md}
run             {steps}
"""


def methanol(tmp_path, exported):
    mol = molecule("CH3OH")
    mol.translate([15.0, 15.0, 15.0])
    pairs = lewis_pairs(mol.positions, mol.numbers)
    numbers = np.concatenate([mol.numbers, np.full(len(pairs), PAIR_Z)])
    positions = np.concatenate([mol.positions, pairs])
    charges = particle_charges(exported.metadata)
    write_particles(tmp_path / "data.lmp", numbers, positions, charges, [(0, 30)] * 3, [6, 1, 8, 0])
    return numbers, positions


def test_relaxed_molecule_equals_python(tmp_path, emlp_path, exported):
    numbers, positions = methanol(tmp_path, exported)
    script = MOLECULE.format(newton="on", model=emlp_path, elements="C H O X", pair_type=4, fmax=1e-5, md="", steps=0)
    proc = run_lammps(tmp_path, script)
    row = thermo_rows(proc.stdout)[0]
    assert row[3] > 3 and row[5] < 1e-5 and row[6] > 1.0  # iterations; final and starting largest pair force
    frame = read_dump(tmp_path / "out.dump")[0]
    lammps_pos = np.stack([frame["x"], frame["y"], frame["z"]], 1)
    lammps_f = np.stack([frame["fx"], frame["fy"], frame["fz"]], 1)
    ref_pos, ref_e, ref_f = relax_in_python(exported, numbers, positions, np.zeros((3, 3)), np.zeros(3, bool))
    pairs = numbers == PAIR_Z
    # a residual force of 1e-5 eV/angstrom on pairs of curvature >= 1 eV/angstrom^2: < 1e-5 angstrom
    np.testing.assert_allclose(lammps_pos[pairs], ref_pos[pairs], rtol=0, atol=2e-5)
    # LAMMPS' metal Coulomb constant 14.399645 is CODATA's to 2e-8
    assert row[1] == pytest.approx(ref_e, rel=5e-8)
    np.testing.assert_allclose(lammps_f[~pairs], ref_f[~pairs], rtol=0, atol=5e-5)


@pytest.mark.mpi
@pytest.mark.parametrize("nprocs, newton", [(2, "on"), (2, "off")])
def test_md_is_the_same_on_one_and_two_ranks(tmp_path, emlp_path, exported, nprocs, newton):
    """NVE of the cores with the pairs relaxed every step; the subdomain boundary cuts the molecule."""
    md = "velocity cores create 300 4 dist gaussian\ntimestep 0.0005\nfix nve cores nve"
    runs = {}
    for n, nt in [(1, "on"), (nprocs, newton)]:
        work = tmp_path / f"np{n}{nt}"
        work.mkdir()
        methanol(work, exported)
        script = MOLECULE.format(
            newton=nt, model=emlp_path, elements="C H O X", pair_type=4, fmax=1e-4, md=md, steps=20
        )
        runs[n, nt] = (thermo_rows(run_lammps(work, script, nprocs=n).stdout), read_dump(work / "out.dump")[-1])
    (a, fa), (b, fb) = runs.values()
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-8, atol=1e-8)  # step, pe, etotal
    for c in ("x", "y", "z"):
        np.testing.assert_allclose(fa[c], fb[c], rtol=0, atol=1e-7)
    assert np.abs(a[:, 2] - a[0, 2]).max() < 5e-3, "NVE: the total energy is conserved"
    # the step's own force call reuses the relaxation's last model call: iterations + 1 evaluations a step
    np.testing.assert_array_equal(a[:, 4], a[:, 3] + 1)
    assert a[1:, 4].mean() < 7, "the warm start (extrapolation, kept L-BFGS history) keeps evaluations per step low"


PERIODIC = """
units           metal
atom_style      charge
read_data       data.lmp
{coulomb}
group           pairs type 3
fix             relax pairs tensorml/relax fmax 1e-4
thermo_style    custom step pe f_relax[1] f_relax[2] f_relax[3] f_relax[4] f_relax[5]
thermo_modify   format float %.12g
dump            d all custom 1 out.dump id type x y z fx fy fz
dump_modify     d format float %.15g sort id
run             0
"""
#: the two long ranges in LAMMPS: point charges (coul/long + kspace) or the Gaussians from kspace alone
COULOMB = {
    "point_charges": "pair_style hybrid/overlay tensorml {model} coul/long 9.0\npair_coeff * * tensorml O H X\n"
    "pair_coeff * * coul/long\nkspace_style ewald 1e-10",
    "gaussian_kspace": "pair_style tensorml {model}\npair_coeff * * O H X\nkspace_style ewald 1e-10\n"
    "kspace_modify gewald {gamma}",
}


@pytest.mark.parametrize(
    "kind, ranks",
    [pytest.param("point_charges", (1, 2), marks=pytest.mark.mpi), ("gaussian_kspace", (1,))],
    ids=["point", "kspace"],
)
def test_periodic_cell_with_ewald(tmp_path, emlp_path, kspace_path, kind, ranks):
    """kspace on the particle charges: the pairs relax to Python's (Ewald) positions, on 1 and 2 ranks."""
    path = emlp_path if kind == "point_charges" else kspace_path
    model = ExportedModel.load(path)
    gamma = model.metadata["explicit_electrons"]["long_range"]["gaussian_gamma"]
    numbers, positions = water_cell()
    cell = np.diag(THREE_WATERS_CELL)
    ref_pos, ref_e, ref_f = relax_in_python(model, numbers, positions, cell, np.ones(3, bool))
    # start a little away from the minimum: a few iterations, not the slow climb from the Lewis guess
    pairs = numbers == PAIR_Z
    start = ref_pos + np.where(pairs[:, None], np.random.default_rng(3).normal(0, 0.003, ref_pos.shape), 0)
    charges = particle_charges(model.metadata)
    script = PERIODIC.format(coulomb=COULOMB[kind].format(model=path, gamma=gamma))
    for n in ranks:
        work = tmp_path / f"np{n}"
        work.mkdir()
        write_particles(work / "data.lmp", numbers, start, charges, [(0, L) for L in THREE_WATERS_CELL], [8, 1, 0])
        row = thermo_rows(run_lammps(work, script, nprocs=n).stdout)[0]
        frame = read_dump(work / "out.dump")[0]
        pos = np.stack([frame["x"], frame["y"], frame["z"]], 1)
        # LAMMPS keeps atoms in the box: compare modulo the cell
        d = pos[pairs] - ref_pos[pairs]
        d -= np.round(d / np.diag(cell)) * np.diag(cell)
        # fmax 1e-4 eV/angstrom on pairs of curvature > 10 eV/angstrom^2: < 1e-5 angstrom from the minimum
        assert np.abs(d).max() < 5e-5 and row[4] < 1e-4
        assert row[1] == pytest.approx(ref_e, rel=2e-7)  # converged Ewald of LAMMPS == the Python sum, to its constants


def test_gaussian_kspace_needs_its_gewald(tmp_path, kspace_path):
    numbers, positions = water_cell()
    model = ExportedModel.load(kspace_path)
    charges = particle_charges(model.metadata)
    write_particles(tmp_path / "data.lmp", numbers, positions, charges, [(0, L) for L in THREE_WATERS_CELL], [8, 1, 0])
    script = PERIODIC.format(coulomb=COULOMB["gaussian_kspace"].format(model=kspace_path, gamma=0.3))
    out = run_lammps(tmp_path, script, check=False).stdout
    assert "kspace_modify gewald 0.3928" in out


ERRORS = """
units           metal
atom_style      charge
boundary        f f f
read_data       data.lmp
pair_style      hybrid/overlay tensorml {model} coul/cut 30.0
pair_coeff      * * tensorml {elements}
pair_coeff      * * coul/cut
group           pairs type 4
{extra}
run             0
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (dict(extra=""), "needs 'fix ID PAIRS tensorml/relax' on its electron pairs"),
        (dict(elements="C H O NULL", extra=""), "map the type of its electron pairs to X"),
        (dict(extra="group cores type 1 2 3\nfix r cores tensorml/relax"), "must hold exactly the electron pairs"),
        (dict(extra="set type 2 charge 0.9\nfix r pairs tensorml/relax"), "atoms of type 2 carry a charge other"),
        (dict(extra="fix r pairs tensorml/relax max_iterations 2"), "did not converge in 2 iterations"),
        (dict(extra="fix r pairs tensorml/relax wobble 2"), "unknown keyword 'wobble'"),
    ],
)
def test_bad_explicit_electron_input_is_named(tmp_path, emlp_path, exported, edit, message):
    methanol(tmp_path, exported)
    settings = dict(model=emlp_path, elements="C H O X", extra="")
    settings.update(edit)
    proc = run_lammps(tmp_path, ERRORS.format(**settings), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-2000:]


def test_x_with_a_tensor_model_and_a_net_charge_with_kspace(tmp_path, model_path, emlp_path, exported):
    methanol(tmp_path, exported)
    tensor = ERRORS.format(model=model_path, elements="C H O X", extra="")
    out = run_lammps(
        tmp_path,
        tensor.replace("pair_coeff      * * tensorml C H O X", "pair_coeff * * tensorml NULL H O X"),
        check=False,
    ).stdout
    assert "unknown element X for type 4" in out
    charged = (
        ERRORS.format(
            model=emlp_path,
            elements="C H O X",
            extra="group gone id 13\ndelete_atoms group gone\nfix r pairs tensorml/relax",
        )
        .replace("boundary        f f f", "boundary        p p p")
        .replace("coul/cut 30.0", "coul/long 9.0")
        .replace("pair_coeff      * * coul/cut", "pair_coeff * * coul/long\nkspace_style ewald 1e-6")
    )
    out = run_lammps(tmp_path, charged, check=False).stdout
    assert "net charge 2" in out and "the cell must be neutral" in out


def test_the_old_emlp_format_points_to_the_converter(tmp_path, exported):
    from tensorml.emlp.export import export_emlp

    methanol(tmp_path, exported)
    export_emlp(load_emlp_model(SHIPPED), tmp_path / "old.pt")
    out = run_lammps(tmp_path, ERRORS.format(model="old.pt", elements="C H O X", extra=""), check=False).stdout
    assert "old format 'tensorml-emlp'" in out and "tensorml export" in out


def test_minimize_relaxes_cores_and_pairs_together(tmp_path, emlp_path, exported):
    """`minimize` moves cores and pairs as atoms (fix tensorml/relax idles in minimisations): its minimum
    is the relaxed eMLP minimum, so the next run's relaxation has nothing left to do."""
    methanol(tmp_path, exported)
    script = MOLECULE.format(
        newton="on",
        model=emlp_path,
        elements="C H O X",
        pair_type=4,
        fmax=1e-4,
        steps=0,
        md="min_style fire\nminimize 0 1e-4 3000 30000",
    )
    proc = run_lammps(tmp_path, script)
    assert "Stopping criterion = force tolerance" in proc.stdout
    row = thermo_rows(proc.stdout.split("Minimization stats")[1])[0]  # the run 0 after the minimisation
    assert row[3] == 0 and row[6] < 1e-4  # no iteration: the pairs' largest force is already below fmax
    frame = read_dump(tmp_path / "out.dump")[-1]
    forces = np.stack([frame["fx"], frame["fy"], frame["fz"]], 1)
    assert np.linalg.norm(forces, axis=1).max() < 1e-4  # cores and pairs at rest
