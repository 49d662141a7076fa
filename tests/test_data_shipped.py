"""The datasets shipped in data/ load through the trainer's reader and are physically sane."""

from pathlib import Path

import numpy as np
import pytest

from tensorml.data import read_dataset
from tensorml.data.splits import train_test_split

DATA = Path(__file__).resolve().parents[1] / "data"


def _load(name):
    path = DATA / f"{name}.extxyz.xz"
    if not path.exists():
        pytest.fail(f"shipped dataset {path} is missing (see data/README.md to make it)")
    return read_dataset(path)


def _check_split(frames):
    train, test = train_test_split(frames)
    assert train and test
    assert not {a.info["system_id"] for a in train} & {a.info["system_id"] for a in test}


def test_water_clusters():
    frames = _load("water_clusters")
    assert len(frames) >= 500  # issue 3: about as many APTs as the APTNN seed trained on
    _check_split(frames)
    sizes = {len(a) // 3 for a in frames}
    assert {1, 2, 3, 4, 5, 6} <= sizes
    for a in frames:
        n = len(a) // 3
        assert a.get_chemical_symbols() == ["O", "H", "H"] * n
        assert a.info["method"] == "B3LYP" and a.info["basis"] == "aug-cc-pVDZ"
        assert a.arrays["forces"].shape == (3 * n, 3) and a.arrays["apt"].shape == (3 * n, 3, 3)
        np.testing.assert_allclose(a.arrays["apt"].sum(axis=0), 0.0, atol=0.05)  # neutral: sum rule
        np.testing.assert_allclose(a.info["efield"], 0.0)
        alpha = a.info["polarizability"]
        np.testing.assert_allclose(alpha, alpha.T)
        # ~1.4 angstrom^3 per molecule at this level (experiment 1.47)
        assert 1.1 * n < np.trace(alpha) / 3 < 2.2 * n  # stretched O-H bonds raise it
        assert a.info["electron_pairs"].shape == (4 * n, 3)
        # Boys point charges (O core +6, H +1, pairs -2) reproduce the dipole
        z = np.where(a.numbers == 8, 6.0, 1.0)
        dip = z @ a.positions - 2 * a.info["electron_pairs"].sum(axis=0)
        np.testing.assert_allclose(dip, a.info["dipole"], atol=0.01)
    # isotropic APTs: about -0.56 e on oxygen, +0.28 e on hydrogen at this level
    o = np.mean([np.trace(t) / 3 for a in frames for t in a.arrays["apt"][a.numbers == 8]])
    assert -1.0 < o < -0.4


def test_water_cluster_field_frames():
    frames = _load("water_clusters_fields")
    parents = {a.info["frame_index"]: a for a in _load("water_clusters")}
    assert len(frames) >= 6 * len(parents) * 0.9
    for a in frames[:60]:
        p = parents[a.info["parent_frame_index"]]
        np.testing.assert_allclose(a.positions, p.positions)
        assert np.count_nonzero(a.info["efield"]) == 1
        assert a.info["electron_pairs"].shape == p.info["electron_pairs"].shape
        assert a.info["split"] == p.info["split"]


def test_emlp_molecules():
    """Boys-centre data for the eMLP: one pair per two valence electrons, the point charges of cores
    and pairs reproduce the DFT dipole, fields up to 0.01 a.u., unseen test molecules."""
    from tensorml import units as U
    from tensorml.emlp.particles import core_charges

    frames = _load("emlp_molecules")
    assert len(frames) >= 600
    _check_split(frames)
    assert {a.info["system_id"] for a in frames if a.info["split"] == "test"} == {
        "CH3CH2OH",
        "CH2NHCH2",
        "H2CCO",
        "HCOOH",
    }
    max_field = 0.01 * U.EFIELD_AU  # V/angstrom
    for a in frames:
        assert a.info["method"] == "PBE0" and a.info["basis"] == "aug-cc-pVDZ"
        q = core_charges(a.numbers)
        pairs = a.info["electron_pairs"]
        assert pairs.shape == (int(q.sum()) // 2, 3)
        assert np.linalg.norm(a.info["efield"]) <= max_field * (1 + 1e-9)
        dip = q @ a.positions - 2 * pairs.sum(axis=0)
        np.testing.assert_allclose(dip, a.info["dipole"], atol=0.02)
        assert a.arrays["forces"].shape == (len(a), 3)


def test_emlp_equilibrium_polarizabilities():
    frames = _load("emlp_equilibrium")
    assert {a.info["system_id"] for a in frames} == {"CH3CH2OH", "CH2NHCH2", "H2CCO", "HCOOH"}
    for a in frames:
        alpha = a.info["polarizability"]
        np.testing.assert_allclose(alpha, alpha.T, atol=1e-3)
        assert 2.0 < np.trace(alpha) / 3 < 8.0  # angstrom^3: small organic molecules
        np.testing.assert_allclose(a.info["efield"], 0.0)


def test_nma():
    """N-methylacetamide conformers (EANN seed's toy system): dipole ~3.7-4 D and an isotropic
    polarizability ~7 angstrom^3 at B3LYP/cc-pVDZ, symmetric polarizabilities, a random test split."""
    frames = _load("nma")
    assert len(frames) >= 190
    assert {a.info["split"] for a in frames} == {"train", "test"}
    for a in frames:
        assert a.get_chemical_formula() == "C3H7NO"
        assert a.info["method"] == "B3LYP" and a.info["basis"] == "cc-pVDZ"
        alpha = a.info["polarizability"]
        np.testing.assert_allclose(alpha, alpha.T, atol=1e-3)
        assert 5.0 < np.trace(alpha) / 3 < 9.0
        assert 0.5 < np.linalg.norm(a.info["dipole"]) < 1.2  # e*angstrom (2.4-5.8 D)
