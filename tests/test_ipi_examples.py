"""The i-PI examples run as written (fewer steps), and the spectrum tools read what they write.

Example 1 (examples/ipi/run.sh) is also run by test_examples.py; here: q-TIP4P/F from LAMMPS with a
weight-0 tensorml properties component, and field-driven dynamics through the driver's BEC.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engines import BIN
from test_ipi_runs import absolute_pythonpath
from tensorml import units as U
from tensorml.spectra.readers import ipi as ipi_reader

pytestmark = pytest.mark.ipi

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ipi"
NBEADS = 8
OUTPUT = re.compile(r"^((water|qtip4pf|efield)\.(?!data$).*|.*\.log|RESTART|EXIT|model\.pt|#.*)$")  # not inputs


def example(tmp_path, model_path, name, steps):
    """examples/ipi copied with the model as model.pt; the example's input shortened to ``steps``."""
    work = tmp_path / "ipi"
    shutil.copytree(EXAMPLES, work, ignore=lambda _, names: [n for n in names if OUTPUT.match(n)])
    shutil.copy(model_path, work / "model.pt")
    xml = work / name / "input.xml"
    text = xml.read_text()
    start = text.index("<total_steps>")
    end = text.index("</total_steps>") + len("</total_steps>")
    xml.write_text(text[:start] + f"<total_steps>{steps}</total_steps>" + text[end:])
    return work / name


def run(script: Path, timeout=240):
    env = dict(
        os.environ,
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        OMP_NUM_THREADS="1",
        DEVICE="cpu",
        PYTHONPATH=absolute_pythonpath(),
    )
    proc = subprocess.run(
        ["bash", str(script)], cwd=script.parent, capture_output=True, text=True, timeout=timeout, env=env
    )
    logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in script.parent.glob("*.log"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs
    return proc


def test_qtip4pf_with_tensorml_properties(tmp_path, model_path):
    work = example(tmp_path, model_path, "qtip4pf", steps=3)
    run(work / "run.sh")
    # the spectrum tools' reader: all 8 beads per step from the weight-0 component's extras
    dip = ipi_reader.read_extras(work / "qtip4pf.dipole", "dipole")
    assert dip.all_beads and dip.values.shape == (4, NBEADS, 3) and list(dip.steps) == [0, 1, 2, 3]
    bec = ipi_reader.read_extras(work / "qtip4pf.tensors", "BEC")
    assert bec.values.shape == (4, NBEADS, 81 * 3, 3)
    np.testing.assert_allclose(bec.values.reshape(4, NBEADS, 81, 3, 3).sum(2), 0.0, atol=1e-9)  # ASR
    pol = ipi_reader.read_extras(work / "qtip4pf.tensors", "polarizability")
    assert pol.values.shape == (4, NBEADS, 3, 3)
    np.testing.assert_allclose(
        ipi_reader.read_extras(work / "qtip4pf.tensors", "dipole").values, dip.values, rtol=1e-12
    )
    assert np.ptp(dip.values[-1], axis=0).max() > 1e-5  # beads differ: not the centroid copied
    # the dynamics is q-TIP4P/F alone (the tensorml component has zero energy and weight 0)
    out = np.loadtxt(work / "qtip4pf.out")
    assert out.shape == (4, 5) and np.all(np.isfinite(out))
    lammps = (work / "lammps.log").read_text()
    assert "Got EXIT message from i-PI" in lammps


def test_efield_driven_dynamics_through_bec(tmp_path, model_path):
    work = example(tmp_path, model_path, "efield", steps=4)
    run(work / "run.sh")
    out = np.loadtxt(work / "efield.out")  # step, time (fs), conserved, T, pot, E (V/A) x3, dipole x3, E.M
    assert out.shape == (5, 12)
    # the field i-PI applied: A cos(w t) exp(-(t - t0)^2 / (2 s^2)) along z
    t = out[:, 1]
    omega = 3500.0 * 2 * np.pi * 2.99792458e10 * 1e-15  # rad/fs
    expected = 0.1 * np.cos(omega * t) * np.exp(-((t - 10.0) ** 2) / (2 * 4.0**2))
    np.testing.assert_allclose(out[:, 7], expected, rtol=1e-4, atol=1e-9)
    # i-PI's dipole property is the bead average of the driver's "dipole" extras
    per_bead = np.array(
        [ipi_reader.read_extras(work / f"efield.dipole_{b}", "dipole").values for b in range(NBEADS)]
    )  # (beads, steps, 3)
    np.testing.assert_allclose(out[:, 8:11], per_bead.mean(axis=0), rtol=1e-10, atol=1e-12)
    e_au = out[:, 5:8] / U.factor(U.EFIELD, U.ATOMIC, U.METAL)  # V/angstrom -> hartree/(e bohr)
    ev = U.factor(U.ENERGY, U.ATOMIC, U.METAL)
    np.testing.assert_allclose(out[:, 11], np.einsum("ta,ta->t", out[:, 8:11], e_au) * ev, rtol=1e-4, atol=1e-12)
    bec = ipi_reader.read_extras(work / "efield.BEC_3", "BEC")
    assert bec.values.shape == (1, 81 * 3, 3)  # stride 10: step 0 only


def test_emlp_methanol_pimd_relaxes_every_bead(tmp_path):
    """Example 4 as written (the shipped eMLP, 4 beads), 3 steps: per bead and step 7 relaxed
    electron pairs next to the nuclei, and the dipole is that of the cores and pairs."""
    work = tmp_path / "ipi"
    shutil.copytree(EXAMPLES, work, ignore=lambda _, names: [n for n in names if OUTPUT.match(n)])
    xml = work / "emlp" / "input.xml"
    xml.write_text(xml.read_text().replace("<total_steps>20</total_steps>", "<total_steps>3</total_steps>"))
    model = Path(__file__).resolve().parents[1] / "models" / "emlp" / "model.pt"
    env = dict(
        os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1", PYTHONPATH=absolute_pythonpath()
    )
    proc = subprocess.run(
        ["bash", "run.sh", str(model)], cwd=work / "emlp", capture_output=True, text=True, timeout=300, env=env
    )
    logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in (work / "emlp").glob("*.log"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs
    bohr = U.factor(U.LENGTH, U.ATOMIC, U.METAL)
    charges = {"C": 4, "O": 6, "H": 1}
    for bead in range(4):
        d = work / "emlp"
        pairs = ipi_reader.read_extras(d / f"methanol.pairs_{bead}", "electron_pairs").values.reshape(-1, 7, 3) * bohr
        dipoles = ipi_reader.read_extras(d / f"methanol.dipole_{bead}", "dipole").values.reshape(-1, 3) * bohr
        traj = ipi_reader.read_xyz(d / f"methanol.pos_{bead}.xyz")
        positions = traj.converted()
        assert len(pairs) == len(dipoles) == len(positions) == 4
        q = np.array([charges[s] for s in traj.names])
        for step in range(4):
            cores = positions[step]
            near = np.linalg.norm(pairs[step][:, None] - cores[None], axis=-1).min(1)
            assert near.max() < 1.2  # every pair sits on a bond or a lone pair
            # (i-PI's xyz keeps 6 digits: 1e-5 bohr on each of 6 cores of charges up to 6 e)
            np.testing.assert_allclose(dipoles[step], q @ cores - 2 * pairs[step].sum(0), atol=2e-3)
