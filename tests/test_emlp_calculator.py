"""ASE calculator (relaxation every call, warm start) and the `tensorml response` command."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule
from ase.io import write

from tensorml.emlp.calculator import EMLPCalculator
from tensorml.emlp.export import export_emlp
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.warmstart import PairMemory


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("emlp") / "emlp.pt"
    export_emlp(EMLPModel(build_config([1, 6, 7, 8], preset="small")), path, dtype="float64")
    return path


def test_calculator_forces_are_energy_derivatives_and_warm_start_is_used(model_file):
    atoms = molecule("CH4")
    atoms.calc = EMLPCalculator(model_file, fmax=1e-6)
    e0 = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert atoms.calc.results["relax_iterations"] > 0
    assert atoms.calc.results["max_pair_force"] < 1e-6
    assert atoms.calc.results["electron_pairs"].shape == (4, 3)
    assert np.allclose(
        atoms.get_dipole_moment(),
        np.array([4, 1, 1, 1, 1]) @ atoms.positions - 2 * atoms.calc.results["electron_pairs"].sum(0),
    )
    h = 1e-4
    displaced = atoms.copy()
    displaced.calc = atoms.calc
    displaced.positions[1, 0] += h
    e_plus = displaced.get_potential_energy()
    assert len(atoms.calc.memory) == 2  # each relaxed configuration is stored for warm starts
    assert (
        np.abs(
            displaced.calc.results["electron_pairs"] - atoms.calc.memory.closest(atoms.positions, atoms.numbers)[0]
        ).max()
        < 1e-2
    )
    displaced.positions[1, 0] -= 2 * h
    e_minus = displaced.get_potential_energy()
    assert abs(-(e_plus - e_minus) / (2 * h) - forces[1, 0]) < 1e-5
    assert abs(0.5 * (e_plus + e_minus) - e0) < 1e-6


def test_pair_memory_picks_the_closest_cores():
    memory = PairMemory(capacity=3)
    cores = np.zeros((2, 3))
    cores[1, 0] = 1.0
    memory.store(cores, [1, 1], [[0.5, 0, 0]])
    memory.store(cores + [0, 0, 3.0], [1, 1], [[0.5, 0, 3.2]])
    pairs, moved = memory.closest(cores + [0, 0, 2.9], [1, 1])
    assert np.allclose(pairs, [[0.5, 0, 3.1]]) and abs(moved - 0.1) < 1e-12
    assert memory.closest(cores, [1, 8]) is None


def test_response_command_prints_properties_with_units(model_file, tmp_path, capsys):
    import argparse

    from tensorml.commands import response

    parser = argparse.ArgumentParser()
    response.register(parser.add_subparsers())
    structure = tmp_path / "ch4.xyz"
    write(structure, molecule("CH4"))
    args = parser.parse_args(["response", str(model_file), str(structure)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "electronic polarizability" in out and "angstrom^3" in out and "eV" in out and "Debye" in out
    args = parser.parse_args(["response", str(model_file), str(structure), "--core-fmax", "1e6"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "IR modes" in out and "km/mol" in out and "core relaxation" in out


def test_the_one_calculator_runs_an_emlp_file_like_the_emlp_calculator():
    """TensorMLCalculator picks the engine by the file: the shipped eMLP gives EMLPCalculator's numbers."""
    from pathlib import Path

    from tensorml.calculator import TensorMLCalculator

    shipped = Path(__file__).parents[1] / "models" / "emlp" / "model.pt"
    mol = molecule("CH3OH")
    results = []
    for calc in (TensorMLCalculator(shipped, options={"fmax": 1e-6}), EMLPCalculator(shipped, fmax=1e-6)):
        atoms = mol.copy()
        atoms.calc = calc
        results.append(
            (
                atoms.get_potential_energy(),
                atoms.get_forces(),
                atoms.get_dipole_moment(),
                atoms.calc.get_property("electron_pairs", atoms),
            )
        )
    (e1, f1, d1, p1), (e2, f2, d2, p2) = results
    assert e1 == pytest.approx(e2, abs=1e-8)
    np.testing.assert_allclose(f1, f2, atol=1e-5)
    np.testing.assert_allclose(d1, d2, atol=1e-5)
    assert p1.shape == (7, 3)
    np.testing.assert_allclose(p1, p2, atol=1e-4)
