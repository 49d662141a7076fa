"""read_dataset: our extxyz, users' extxyz (born_charges), CP2K Wannier xyz, i-PI xyz, compression."""

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from tensorml import units
from tensorml.data import read_dataset, write_dataset
from tensorml.data.inputs import read_structures
from tensorml.data.splits import assign_split, train_test_split

RNG = np.random.default_rng(7)


def _frame(n_pairs=4):
    a = Atoms("OHH", positions=[[0.0, 0.0, 0.1], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    a.info.update(
        energy=-2078.5,
        dipole=np.array([0.1, -0.2, 0.3]),
        efield=np.array([0.0, 0.05, 0.0]),
        polarizability=RNG.normal(size=(3, 3)),
        charge=0,
        system_id="water1_000",
        method="B3LYP",
    )
    a.arrays["forces"] = RNG.normal(size=(3, 3))
    a.arrays["apt"] = RNG.normal(size=(3, 3, 3))  # not symmetric: pins the flattening order
    a.info["electron_pairs"] = RNG.normal(size=(n_pairs, 3))
    return a


@pytest.mark.parametrize("suffix", [".extxyz", ".extxyz.xz", ".extxyz.gz"])
@pytest.mark.parametrize("n_pairs", [0, 1, 3, 4])
def test_round_trip(tmp_path, suffix, n_pairs):
    frames = [_frame(n_pairs), _frame(n_pairs)]
    path = tmp_path / f"d{suffix}"
    write_dataset(frames, path)
    back = read_dataset(path)
    assert len(back) == 2
    for a, b in zip(frames, back):
        assert b.get_chemical_symbols() == ["O", "H", "H"]  # pairs are not atoms
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-7)
        np.testing.assert_allclose(b.arrays["apt"], a.arrays["apt"], atol=1e-7)
        np.testing.assert_allclose(b.arrays["forces"], a.arrays["forces"], atol=1e-7)
        np.testing.assert_allclose(b.info["polarizability"], a.info["polarizability"], atol=1e-12)
        np.testing.assert_allclose(b.info["dipole"], a.info["dipole"])
        np.testing.assert_allclose(b.info["efield"], a.info["efield"])
        assert b.info["energy"] == a.info["energy"]
        assert b.info["system_id"] == "water1_000" and b.info["method"] == "B3LYP"
        if n_pairs:
            np.testing.assert_allclose(b.info["electron_pairs"], a.info["electron_pairs"], atol=1e-7)
        else:
            assert "electron_pairs" not in b.info
        assert b.calc is None


def test_on_disk_layout(tmp_path):
    """apt and polarizability are row-major [a][b]; pairs are X atoms with zero forces."""
    a = _frame(2)
    path = tmp_path / "d.extxyz"
    write_dataset([a], path)
    lines = path.read_text().splitlines()
    assert lines[0].strip() == "5"
    head = lines[1]
    assert "apt:R:9" in head and "forces:R:3" in head
    pol = head.split('polarizability="')[1].split('"')[0].split()
    np.testing.assert_allclose([float(x) for x in pol], a.info["polarizability"].ravel())
    row_h = lines[3].split()  # first H
    np.testing.assert_allclose([float(x) for x in row_h[7:16]], a.arrays["apt"][1].ravel(), atol=1e-7)
    for line in lines[5:7]:
        cols = line.split()
        assert cols[0] == "X"
        assert [float(x) for x in cols[4:]] == [0.0] * 12


def test_user_extxyz_with_born_charges(tmp_path):
    """A user's file: ASE's own writer (energy/forces/dipole go to a calculator), born_charges."""
    a = Atoms("OHH", positions=[[0.0, 0.0, 0.1], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    forces = RNG.normal(size=(3, 3))
    a.calc = SinglePointCalculator(a, energy=-12.5, forces=forces, dipole=np.array([0.0, 0.0, 0.4]))
    born = RNG.normal(size=(3, 3, 3))
    a.arrays["born_charges"] = born.reshape(3, 9)
    a.info["polarizability"] = np.arange(9.0)
    a.info["cluster_id"] = "c7"
    path = tmp_path / "user.extxyz"
    write(path, a, format="extxyz")
    (b,) = read_dataset(path)
    assert b.info["energy"] == -12.5
    np.testing.assert_allclose(b.arrays["forces"], forces, atol=1e-7)
    np.testing.assert_allclose(b.info["dipole"], [0, 0, 0.4])
    np.testing.assert_allclose(b.arrays["apt"], born, atol=1e-7)
    assert "born_charges" not in b.arrays
    np.testing.assert_allclose(b.info["polarizability"], np.arange(9.0).reshape(3, 3))
    assert b.info["system_id"] == "c7"
    np.testing.assert_allclose(b.info["efield"], 0.0)
    (c,) = read_dataset(path, born_transpose=True)
    np.testing.assert_allclose(c.arrays["apt"], born.transpose(0, 2, 1), atol=1e-7)


CP2K_WANNIER = """\
7
 i =        5, time =        2.500
O         5.000000      5.000000      5.000000
H         5.757000      5.586000      5.000000
H         4.243000      5.586000      5.000000
X         5.312000      5.254000      5.000000
X         4.688000      5.254000      5.000000
X         5.000000      4.820000      5.260000
X         5.000000      4.820000     14.740000
"""


def test_cp2k_wannier_centres(tmp_path):
    path = tmp_path / "water-HOMO_centers_s1-1_0.xyz"
    path.write_text(CP2K_WANNIER)
    (a,) = read_dataset(path)
    assert a.get_chemical_symbols() == ["O", "H", "H"]
    pairs = a.info["electron_pairs"]
    assert pairs.shape == (4, 3)
    assert pairs[3, 2] == pytest.approx(14.74)  # no cell: left where CP2K put it
    (b,) = read_dataset(path, cell=np.eye(3) * 10.0)  # periodic run: unwrap next to the oxygen
    assert b.info["electron_pairs"][3, 2] == pytest.approx(4.74)
    np.testing.assert_allclose(b.info["electron_pairs"][:3], pairs[:3])
    # valence pairs of a neutral water: 4; point-charge dipole O(+6) H(+1) X(-2) is small and finite
    dip = 6 * b.positions[0] + b.positions[1] + b.positions[2] - 2 * b.info["electron_pairs"].sum(0)
    assert np.linalg.norm(dip) < 1.0


def test_ipi_trajectory_atomic_units(tmp_path):
    bohr = units.factor(units.LENGTH, units.ATOMIC, units.METAL)
    text = (
        "3\n# CELL(abcABC):   20.00000    20.00000    20.00000    90.00000    90.00000    90.00000  "
        "Step:           4  Bead:       0 positions{atomic_unit}  cell{atomic_unit}\n"
        "       O  0.00000e+00  0.00000e+00  0.00000e+00\n"
        "       H  1.81414e+00  0.00000e+00  0.00000e+00\n"
        "       H -4.53535e-01  1.75743e+00  0.00000e+00\n"
    )
    path = tmp_path / "sim.pos_0.xyz"
    path.write_text(text * 2)
    frames = read_structures(path)
    assert len(frames) == 2
    assert frames[0].get_distance(0, 1) == pytest.approx(1.81414 * bohr, rel=1e-6)
    assert frames[0].cell[0, 0] == pytest.approx(20 * bohr)
    assert frames[0].info["step"] == 4
    data = read_dataset(path)
    assert data[1].get_distance(0, 1) == pytest.approx(0.96, abs=1e-3)


def test_lammps_dump_types(tmp_path):
    dump = (
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
        "ITEM: ATOMS id type x y z\n1 1 0 0 0\n2 2 0.96 0 0\n3 2 -0.24 0.93 0\n"
    )
    path = tmp_path / "traj.lammpstrj"
    path.write_text(dump)
    (a,) = read_structures(path, types=["O", "H"])
    assert a.get_chemical_symbols() == ["O", "H", "H"]
    assert a.get_distance(0, 1) == pytest.approx(0.96)


def test_splits_keep_systems_whole():
    frames = []
    for s in range(40):
        for _ in range(3):
            a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
            a.info["system_id"] = f"sys{s}"
            frames.append(a)
    train, test = train_test_split(frames, test_fraction=0.25, seed=1)
    ids_train = {a.info["system_id"] for a in train}
    ids_test = {a.info["system_id"] for a in test}
    assert not ids_train & ids_test
    assert 4 <= len(ids_test) <= 18 and len(train) + len(test) == 120
    assign_split(frames, 0.25, seed=1)
    t2, s2 = train_test_split(frames)  # the stored split wins
    assert [id(a) for a in s2] == [id(a) for a in test]


def test_labelled_file_can_be_labelled_again(tmp_path):
    """read_structures (the labeller's input reader) drops the X electron pairs."""
    path = tmp_path / "d.extxyz.xz"
    write_dataset([_frame(4)], path)
    (a,) = read_structures(path)
    assert a.get_chemical_symbols() == ["O", "H", "H"]


def test_user_extxyz_with_3x3_polarizability(tmp_path):
    """ASE writes a 3x3 info array as JSON; it must come back unchanged, not transposed."""
    a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    a.info["polarizability"] = np.arange(9.0).reshape(3, 3)
    path = tmp_path / "h2.extxyz"
    write(path, a, format="extxyz")
    (b,) = read_dataset(path)
    np.testing.assert_array_equal(b.info["polarizability"], np.arange(9.0).reshape(3, 3))


def test_a_truncated_extxyz_names_the_file_and_frame(tmp_path, capsys):
    from ase.io import write as ase_write

    from tensorml.cli import main

    frames = [Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]) for _ in range(3)]
    for k, a in enumerate(frames):
        a.info["dipole"] = np.array([0.1 * k, 0.0, 0.0])
    path = tmp_path / "torn.extxyz"
    ase_write(path, frames)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))  # the last frame loses two atom lines
    with pytest.raises(ValueError, match=r"torn.extxyz: frame 3 cannot be read.*2 frame\(s\) before it"):
        read_dataset(path)
    from pathlib import Path

    model = Path(__file__).resolve().parents[1] / "models" / "water" / "model.pt"
    assert main(["evaluate", str(model), str(path)]) == 1
    assert "frame 3 cannot be read" in capsys.readouterr().err
