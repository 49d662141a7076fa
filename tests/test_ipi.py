"""The i-PI driver on its own: the PES class (units, layouts, batching, errors) and the tensorml-ipi
command without i-PI (vanished or missing server, bad model).  Runs with i-PI: test_ipi_runs.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading

import numpy as np
import pytest
from ase.io import write

from pathlib import Path

from engines import tool
from test_ipi_runs import absolute_pythonpath
from tensorml_ipi import cli
from tensorml import units as U
from tensorml.runtime import System
from tensorml_ipi.pes import DriverError, TensorMLDriver, bec_from_apt, resolve_device

pytestmark = pytest.mark.ipi

BOHR = U.factor(U.LENGTH, U.ATOMIC, U.METAL)  # angstrom per bohr


@pytest.fixture()
def driver(tmp_path, model_path, box):
    write(tmp_path / "init.extxyz", box)
    return TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(model_path))


def to_wire(atoms):
    """Cell (lattice vectors as columns) and positions in bohr, as i-PI sends them."""
    return atoms.cell.array.T / BOHR, atoms.positions / BOHR


def test_pes_matches_python_in_atomic_units(driver, exported, box):
    cell, pos = to_wire(box)
    pot, force, vir, extras = driver.compute_structure(cell, pos)
    extras = json.loads(extras)
    ref = exported.evaluate_one(
        System.from_atoms(box, exported.units),
        ["energy", "forces", "virial", "dipole", "apt", "polarizability", "charges"],
    )
    e_au = U.factor(U.ENERGY, U.METAL, U.ATOMIC)
    assert pot == pytest.approx(ref["energy"] * e_au, rel=1e-12)
    np.testing.assert_allclose(force, ref["forces"] * U.factor(U.FORCE, U.METAL, U.ATOMIC), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vir, ref["virial"].T * e_au, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(extras["dipole"], ref["dipole"] / BOHR, rtol=1e-12)
    np.testing.assert_allclose(extras["polarizability"], ref["polarizability"] / BOHR**3, rtol=1e-12)
    np.testing.assert_allclose(extras["charges"], ref["charges"], rtol=1e-12)
    bec = np.array(extras["BEC"])
    assert bec.shape == (3 * len(box), 3)
    np.testing.assert_allclose(bec, bec_from_apt(ref["apt"]), rtol=1e-12, atol=1e-14)
    assert "raw" not in extras


def test_bec_rows_are_position_derivatives(driver, box):
    """BEC[3i+a, b] = dM_b/dR_ia, checked by finite differences of the driver's own dipole (a.u.)."""
    cell, pos = to_wire(box)
    bec = np.array(json.loads(driver.compute_structure(cell, pos)[3])["BEC"])
    h = 1e-5
    for i in (0, 1, 40):
        for a in range(3):
            p = pos.copy()
            p[i, a] += h
            mp = np.array(json.loads(driver.compute_structure(cell, p)[3])["dipole"])
            p[i, a] -= 2 * h
            mm = np.array(json.loads(driver.compute_structure(cell, p)[3])["dipole"])
            np.testing.assert_allclose(bec[3 * i + a], (mp - mm) / (2 * h), atol=1e-7)
    # acoustic sum rule for a neutral system: sum over atoms of each 3x3 block vanishes
    np.testing.assert_allclose(bec.reshape(-1, 3, 3).sum(0), 0.0, atol=1e-10)


def test_batched_compute_equals_single(driver, box):
    cells, positions = [], []
    for k in range(3):
        b = box.copy()
        b.rattle(0.05, seed=k)
        c, p = to_wire(b)
        cells.append(c)
        positions.append(p)
    batch = driver.compute(cells, positions)
    for c, p, got in zip(cells, positions, batch):
        alone = driver.compute_structure(c, p)
        assert got[0] == pytest.approx(alone[0], rel=1e-12)
        np.testing.assert_allclose(got[1], alone[1], rtol=1e-11, atol=1e-13)
        for key, value in json.loads(alone[3]).items():
            np.testing.assert_allclose(json.loads(got[3])[key], value, rtol=1e-11, atol=1e-13)


def test_properties_only(tmp_path, model_path, box):
    write(tmp_path / "init.extxyz", box)
    d = TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(model_path), properties_only="true")
    pot, force, vir, extras = d.compute_structure(*to_wire(box))
    assert pot == 0.0 and not force.any() and not vir.any()
    assert set(json.loads(extras)) == {"dipole", "BEC", "polarizability", "charges"}


def test_wrong_atom_count_and_unknown_element(tmp_path, model_path, box):
    write(tmp_path / "init.extxyz", box)
    d = TensorMLDriver(template=str(tmp_path / "init.extxyz"), model=str(model_path))
    cell, pos = to_wire(box)
    with pytest.raises(DriverError, match="i-PI sent 80 atoms but the template"):
        d.compute_structure(cell, pos[:80])
    bad = box.copy()
    bad.symbols[0] = "C"
    write(tmp_path / "bad.extxyz", bad)
    with pytest.raises(ValueError, match="unknown element"):
        TensorMLDriver(template=str(tmp_path / "bad.extxyz"), model=str(model_path))


def test_driver_exits_when_server_vanishes(tmp_path, model_path, box, capsys):
    """A server that accepts and closes: the driver must stop promptly with a clear message
    (i-PI's own client loop would read empty headers forever). In-process: cli.main."""
    write(tmp_path / "init.extxyz", box)
    prefix = str(tmp_path / "sock_")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(prefix + "gone")
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"STATUS      ")
        conn.recv(12)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    status = cli.main(
        [
            "--model",
            str(model_path),
            "--template",
            str(tmp_path / "init.extxyz"),
            "--unix",
            "gone",
            "--sockets-prefix",
            prefix,
            "--device",
            "cpu",
        ]
    )
    listener.close()
    err = capsys.readouterr().err
    assert status == 1
    assert "lost the i-PI server after 0 evaluations: i-PI closed the connection" in err


def test_driver_gives_up_without_server(tmp_path, model_path, box, capsys):
    write(tmp_path / "init.extxyz", box)
    status = cli.main(
        [
            "--model",
            str(model_path),
            "--template",
            str(tmp_path / "init.extxyz"),
            "--unix",
            "nobody",
            "--sockets-prefix",
            str(tmp_path / "s_"),
            "--connect-timeout",
            "0.5",
        ]
    )
    assert status == 1 and "no i-PI server" in capsys.readouterr().err


def test_driver_reports_bad_model(tmp_path, model_path, box, capsys):
    write(tmp_path / "init.extxyz", box)
    status = cli.main(
        ["--model", str(tmp_path / "missing.pt"), "--template", str(tmp_path / "init.extxyz"), "--unix", "x"]
    )
    err = capsys.readouterr().err
    assert status == 2 and "missing.pt" in err and "not found" in err
    bad = box.copy()
    bad.symbols[0] = "C"
    write(tmp_path / "bad.extxyz", bad)
    assert cli.main(["--model", str(model_path), "--template", str(tmp_path / "bad.extxyz"), "--unix", "x"]) == 2
    assert "unknown element(s) C: the model knows H, O" in capsys.readouterr().err


def test_console_script_prints_pes_path():
    """The installed entry point runs (and needs no torch for this)."""
    proc = subprocess.run(
        [tool("tensorml-ipi"), "--pes-path"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=absolute_pythonpath()),
    )
    import tensorml_ipi.pes as pes

    assert proc.returncode == 0 and Path(proc.stdout.strip()).samefile(pes.__file__)


def test_extras_selection(tmp_path, model_path, box):
    write(tmp_path / "init.extxyz", box)
    template, model = str(tmp_path / "init.extxyz"), str(model_path)
    d = TensorMLDriver(template=template, model=model, extras="dipole+polarizability")
    assert d.requested == ["energy", "forces", "virial", "dipole", "polarizability"]  # no APT passes
    assert set(json.loads(d.compute_structure(*to_wire(box))[3])) == {"dipole", "polarizability"}
    d = TensorMLDriver(template=template, model=model, extras="none")
    assert d.compute_structure(*to_wire(box))[3] == "{}"
    d = TensorMLDriver(template=template, model=model, extras="apt,dipole", properties_only=True)
    assert d.requested == ["apt", "dipole"]
    with pytest.raises(ValueError, match="unknown extras key 'raw'"):
        TensorMLDriver(template=template, model=model, extras="raw")
    with pytest.raises(ValueError, match="cannot give the extras"):
        TensorMLDriver(template=template, model=model, extras="electron_pairs")


def test_parameters_are_checked(tmp_path, model_path, box):
    """Typos in -o / <parameters> are errors, not silently ignored; <ffdirect>'s verbosity is accepted."""
    write(tmp_path / "init.extxyz", box)
    template, model = str(tmp_path / "init.extxyz"), str(model_path)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['devise'\]"):
        TensorMLDriver(template=template, model=model, devise="cpu")
    TensorMLDriver(template=template, model=model, verbosity=True)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        TensorMLDriver(template=template, model=model, device="gpu")
    with pytest.raises(FileNotFoundError, match="template structure not found"):
        TensorMLDriver(template=str(tmp_path / "nope.xyz"), model=model)


def test_device_choice(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    for name in (
        "MPI_LOCALRANKID",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MV2_COMM_WORLD_LOCAL_RANK",
        "SLURM_LOCALID",
        "LOCAL_RANK",
    ):
        monkeypatch.delenv(name, raising=False)
    assert resolve_device("auto") == "cuda:0"
    monkeypatch.setenv("MPI_LOCALRANKID", "6")  # mpich's hydra: clients of one node spread over the GPUs
    assert resolve_device("cuda") == "cuda:2"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match="sees 4 CUDA device"):
        resolve_device("cuda:4")


def test_non_finite_is_reported_never_answered(driver, box):
    """Overlapping atoms are refused before the model (which would return NaN): the error names the
    evaluation and the atoms; non-finite positions from i-PI are refused before the model too."""
    cell, pos = to_wire(box)
    bad = pos.copy()
    bad[4] = bad[3]
    with pytest.raises(DriverError) as err:
        driver.compute([cell, cell, cell], [pos, bad, pos])
    msg = str(err.value)
    assert "evaluation 1 of this driver" in msg and "atoms 4 and 5 (1-based)" in msg, msg
    assert "closer than the model's minimum distance" in msg
    bad = pos.copy()
    bad[7, 2] = np.inf
    with pytest.raises(
        DriverError,
        match=r"evaluation 2 of this driver: i-PI sent non-finite positions of "
        r"atom\(s\) 7 \(H\)",
    ):
        driver.compute_structure(cell, bad)
    assert driver.compute_structure(cell, pos)[0] == pytest.approx(driver.compute_structure(cell, pos)[0])


def test_repeated_structures_in_a_batch_are_evaluated_once(driver, box):
    """i-PI pads a short batch with copies of its last structure: evaluated once, answered each time."""
    cell, pos = to_wire(box)
    other = pos.copy()
    other[0, 0] += 0.01
    out = driver.compute([cell] * 4, [pos, other, other.copy(), other.copy()])
    assert driver.evaluated == 2 and driver.structures == 4
    for got in out[2:]:
        assert got[0] == out[1][0] and got[3] == out[1][3]
        np.testing.assert_array_equal(got[1], out[1][1])
        assert got[1] is not out[1][1]  # separate arrays: i-PI may keep them per bead
    assert out[0][0] != out[1][0]


def test_driver_help_gives_units_and_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "dipole [e*bohr]" in text and "polarizability [bohr^3]" in text and "BEC [e," in text
    assert "(default: all)" in text and "(default: 60.0)" in text
