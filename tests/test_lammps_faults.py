"""Faults injected into LAMMPS runs: what is already written survives, and the error names the step.

The i-PI side (server killed and restarted, garbage on the socket) is tests/test_ipi_faults.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engines import read_ave_time, read_dump, run_lammps
from tensorml import archive

pytestmark = pytest.mark.lammps

# Two H atoms fly head-on at 16 angstrom/ps with dt = 2^-7 ps (no forces: properties only), so their
# positions are exact binary fractions and they meet exactly at step 8: r_ij = 0 there, the model's
# dipole is NaN, and nothing before step 8 is affected.
COLLISION = """
units           metal
atom_style      atomic
atom_modify     map yes
region          b block 0 10 0 10 0 10
create_box      2 b
create_atoms    2 single 4.0 5.0 5.0 units box
create_atoms    2 single 6.0 5.0 5.0 units box
create_atoms    1 single 5.0 8.0 5.0 units box
mass            * 1.0
pair_style      tensorml {model} properties_only yes
pair_coeff      * * O H
velocity        all set 0 0 0
set             atom 1 vx 16.0
set             atom 2 vx -16.0
timestep        0.0078125
compute         p all tensorml/props
fix             t all ave/time 1 1 1 c_p[1] c_p[2] c_p[3] file dipole.dat format " %.17g"
dump            d all custom 1 props.dump id x y z c_p[1] c_p[2] c_p[3]
dump_modify     d sort id
thermo          1
fix             nve all nve
run             20
"""


@pytest.fixture()
def unchecked_model(tmp_path, model_path):
    """The reference model with the minimum-distance check off, so r = 0 reaches the model."""
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    path = tmp_path / "unchecked.pt"
    archive.save_scripted(module, path, dict(json.loads(extra["metadata.json"]), min_distance=0.0))
    return path


@pytest.mark.parametrize("nprocs", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_nan_at_step_n_keeps_the_dump_and_ave_time_files(tmp_path, unchecked_model, nprocs):
    proc = run_lammps(tmp_path, COLLISION.format(model=unchecked_model), nprocs=nprocs, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "pair tensorml, step 8:" in out and "non-finite values" in out, out[-3000:]
    frames = read_dump(tmp_path / "props.dump")
    assert [f["step"] for f in frames] == list(range(8)), "every step before the NaN is in the dump"
    for f in frames:
        assert len(f["id"]) == 3 and np.isfinite(f["c_p[1]"]).all()
    np.testing.assert_allclose(frames[7]["x"][:2], [4.875, 5.125], rtol=0, atol=1e-12)  # 0.125 apart at step 7
    rows = read_ave_time(tmp_path / "dipole.dat")
    assert rows[:, 0].tolist() == list(range(8)) and np.isfinite(rows).all()
