"""eMLP training driver, test-error tables (seed Tables 4-5) and NVE stability metrics.

Labels come from a "teacher" eMLP (an untrained SchNet eMLP, whose methane pairs relax cleanly):
a model evaluated on its own labels must show zero static and dynamic errors, known shifts must
show up exactly, and failed relaxations must be counted in the error rate.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.io import write

from test_emlp_toymodel import spring_water
from tensorml.emlp.errors import dynamic_errors, intrinsic_variability, static_errors
from tensorml.emlp.fit import fit_reference_energies
from tensorml.emlp.frames import EMLPFrame
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.relax import relax_pairs
from tensorml.emlp.stability import classify, conserved_energy_metrics, nve_stability


@pytest.fixture(scope="module")
def teacher():
    return EMLPModel(build_config([1, 6, 7, 8], preset="small", seed=3))


def labelled_methanes(model, n, seed=0, field=0.05):
    """(frames, dipoles): methane geometries with the teacher's relaxed pairs, energy and forces."""
    rng = np.random.default_rng(seed)
    base = molecule("CH4")
    frames, dipoles = [], []
    for _ in range(n):
        cores = base.positions + 0.04 * rng.normal(size=(5, 3))
        efield = field * rng.normal(size=3)
        r = relax_pairs(model, cores, base.numbers, lewis_pairs(cores, base.numbers), efield=efield, fmax=1e-6)
        frames.append(EMLPFrame(cores, base.numbers, r.pairs, r.energy, r.core_forces, efield=efield))
        dipoles.append(r.dipole)
    return frames, dipoles


def test_errors_vanish_on_the_models_own_labels_and_see_a_known_shift(teacher):
    frames, dipoles = labelled_methanes(teacher, 4)
    static = static_errors(teacher, frames)
    assert static["energy_meV_per_atom"]["mae"] < 1e-8 and static["forces_meV_per_A"]["mae"] < 1e-6
    assert static["pair_forces_meV_per_A"]["mae"] < 1e-3  # relaxed to 1e-6 eV/angstrom
    dynamic = dynamic_errors(teacher, frames, dipoles)
    assert dynamic["error_rate"] == 0 and dynamic["energy_meV_per_atom"]["mae"] < 1e-6
    assert dynamic["dipole_norm_D"]["mae"] < 1e-5
    shifted = [f.copy(energy=f.energy + 0.05) for f in frames]  # +50 meV on 5 atoms = 10 meV/atom
    assert static_errors(teacher, shifted)["energy_meV_per_atom"]["median"] == pytest.approx(10.0, rel=1e-9)


def test_failed_relaxations_make_the_error_rate(teacher):
    frames, dipoles = labelled_methanes(teacher, 3)
    water = molecule("H2O")  # its lone pairs collapse in an untrained model
    bad = EMLPFrame(water.positions, water.numbers, lewis_pairs(water.positions, water.numbers), 0.0, np.zeros((3, 3)))
    out = dynamic_errors(teacher, frames + [bad], dipoles + [np.zeros(3)])
    assert out["error_rate"] == pytest.approx(0.25)
    assert len(out["failures"]) == 1 and "frame 3" in out["failures"][0] and "collapsed" in out["failures"][0]
    assert out["energy_meV_per_atom"]["n"] == 3  # the failed frame is not in the errors


def test_reference_energies_are_recovered_and_intrinsic_variability_removes_them(teacher):
    """Labels = model + known per-element energies: the fit returns those energies, and the
    intrinsic variability of labels that are exactly linear in the composition is zero."""
    frames, _ = labelled_methanes(teacher, 3)
    frames += labelled_methanes(teacher, 2, seed=1)[0]
    nh3 = molecule("NH3")
    r = relax_pairs(teacher, nh3.positions, nh3.numbers, lewis_pairs(nh3.positions, nh3.numbers), fmax=1e-6)
    frames.append(EMLPFrame(nh3.positions, nh3.numbers, r.pairs, r.energy, r.core_forces))
    shifts = {1: -13.6, 6: -1029.0, 7: -1480.0}
    labelled = [f.copy(energy=f.energy + sum(shifts[int(z)] for z in f.numbers)) for f in frames]
    student = EMLPModel(build_config([1, 6, 7, 8], preset="small", seed=3))  # same weights as the teacher
    refs = fit_reference_energies(student, labelled, [1, 6, 7])
    # only combinations seen in the data are determined: CH4 and NH3 fix e_C + 4 e_H and e_N + 3 e_H
    assert refs[6] + 4 * refs[1] == pytest.approx(shifts[6] + 4 * shifts[1], abs=1e-8)
    assert refs[7] + 3 * refs[1] == pytest.approx(shifts[7] + 3 * shifts[1], abs=1e-8)
    assert static_errors(student, labelled)["energy_meV_per_atom"]["mae"] < 1e-6
    linear = [f.copy(energy=sum(shifts[int(z)] for z in f.numbers)) for f in frames]
    assert intrinsic_variability(linear, [1, 6, 7])["energy_meV_per_atom"] < 1e-9


def test_conserved_energy_metrics_and_regimes():
    t = 0.5 * np.arange(200)
    drift = 1e-6 * t + 1e-5 * np.sin(t)
    m = conserved_energy_metrics(t, drift)
    assert m["slope_eV_per_fs"] == pytest.approx(1e-6, rel=0.05) and m["regime"] == "stable"
    jump = drift.copy()
    jump[120:] -= 2e-3
    assert conserved_energy_metrics(t, jump)["regime"] == "jumps"
    assert classify(0.05) == "unstable"


def test_nve_of_a_harmonic_emlp_conserves_energy():
    """Spring-model water (analytic, with a minimum in cores and pairs): velocity Verlet with the
    pairs relaxed every step conserves the Born-Oppenheimer energy."""
    model, cores, numbers, _ = spring_water()
    atoms = Atoms(numbers=numbers, positions=cores)
    out = nve_stability(model, atoms, steps=100, timestep=0.25, fmax=1e-6)
    assert out["regime"] == "stable", out
    assert abs(out["slope_eV_per_fs"]) < 1e-6 and out["max_jump_eV"] < 1e-4


def test_train_emlp_command_writes_model_and_report(teacher, tmp_path):
    from tensorml.cli import main
    from tensorml.emlp.engine import EMLPEngine
    from tensorml.runtime import load_model

    frames, dipoles = labelled_methanes(teacher, 12, field=0.1)
    images = []
    for k, (f, d) in enumerate(zip(frames, dipoles)):
        a = Atoms(numbers=list(f.numbers) + [0] * len(f.pairs), positions=np.vstack([f.cores, f.pairs]))
        a.symbols[len(f.numbers) :] = "X"
        a.info.update(
            energy=f.energy, dipole=d, efield=f.efield, system_id=f"m{k}", split="test" if k >= 9 else "train"
        )
        a.arrays["forces"] = np.vstack([f.forces, np.zeros_like(f.pairs)])
        images.append(a)
    write(tmp_path / "data.extxyz", images)
    (tmp_path / "config.yaml").write_text(
        "data: {file: data.extxyz, val_fraction: 0.2}\nmodel: {species: [H, C], preset: small}\n"
        "training: {epochs: 2, batch_size: 4}\nevaluation: {stability: {molecules: [CH4], steps: 5}}\n"
    )
    assert main(["train-emlp", str(tmp_path / "config.yaml"), "-o", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["frames"] == {"train": 7, "validation": 2, "test": 3} and report["epochs"] == 2
    assert report["errors"]["dynamic"]["frames"] == 3 and "stability" in report
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Static errors" in text and "error rate" in text and "NVE stability" in text
    assert isinstance(load_model(tmp_path / "out" / "model.pt"), EMLPEngine)
    # re-evaluating the exported model reproduces the report and keeps its training record
    assert (
        main(
            [
                "train-emlp",
                str(tmp_path / "config.yaml"),
                "-o",
                str(tmp_path / "out"),
                "--evaluate-only",
                "--stability-steps",
                "0",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "out" / "report.json").read_text())
    assert again["epochs"] == 2 and "stability" not in again
    for key in ("energy_meV_per_atom", "forces_meV_per_A"):
        assert again["errors"]["static"][key]["mae"] == pytest.approx(report["errors"]["static"][key]["mae"], rel=1e-9)
