"""The i-PI driver: the PES class on its own, and i-PI + tensorml-ipi over a unix socket."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import uuid

import numpy as np
import pytest
from ase.io import read, write

from engines import tool
from tensorml import units as U
from tensorml.runtime import System
from tensorml_ipi.pes import TensorMLDriver, bec_from_apt

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
    ref = exported.evaluate_one(System.from_atoms(box, exported.units),
                                ["energy", "forces", "virial", "dipole", "apt", "polarizability", "charges"])
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
    with pytest.raises(ValueError, match="i-PI sent 80 atoms but the template"):
        d.compute_structure(cell, pos[:80])
    bad = box.copy()
    bad.symbols[0] = "C"
    write(tmp_path / "bad.extxyz", bad)
    with pytest.raises(ValueError, match="unknown element"):
        TensorMLDriver(template=str(tmp_path / "bad.extxyz"), model=str(model_path))


XML = """<simulation verbosity="low" floatformat="%.16e">
  <output prefix="sim">
    <trajectory filename="pos" stride="1" format="ase"> positions{{ase}} </trajectory>
    <trajectory filename="dipole" stride="1" extra_type="dipole"> extras </trajectory>
    <trajectory filename="BEC" stride="1" extra_type="BEC"> extras </trajectory>
    <trajectory filename="pol" stride="1" extra_type="polarizability"> extras </trajectory>
  </output>
  <total_steps>3</total_steps>
  <prng><seed>7</seed></prng>
  <ffsocket name="tml" mode="unix" pbc="false"><address>{address}</address></ffsocket>
  <system>
    <initialize nbeads="2">
      <file mode="ase">init.extxyz</file>
      <velocities mode="thermal" units="kelvin">300</velocities>
    </initialize>
    <forces><force forcefield="tml"/></forces>
    <ensemble><temperature units="kelvin">300</temperature></ensemble>
    <motion mode="dynamics">
      <dynamics mode="nvt"><timestep units="femtosecond">0.25</timestep>
        <thermostat mode="pile_l"><tau units="femtosecond">100</tau></thermostat></dynamics>
    </motion>
  </system>
</simulation>
"""


def read_extras(path):
    """Blocks of an i-PI extras trajectory written with extra_type=<key>: one array per step."""
    blocks = []
    for chunk in path.read_text().split("#EXTRAS")[1:]:
        body = chunk.split("\n", 1)[1]
        blocks.append(np.array([[float(x) for x in line.split()] for line in body.strip().splitlines()]))
    return blocks


def driver_command(how, model_path):
    if how == "tensorml-ipi":
        return [tool("tensorml-ipi"), "--model", str(model_path), "--template", "init.extxyz", "--unix"]
    import tensorml_ipi.pes as pes

    return [tool("i-pi-py_driver"), "-m", "custom", "-P", pes.__file__,
            "-o", f"template=init.extxyz,model={model_path}", "-u", "-a"]


@pytest.mark.parametrize("how", ["tensorml-ipi", "i-pi-py_driver"])
def test_ipi_end_to_end(tmp_path, model_path, exported, box, how):
    write(tmp_path / "init.extxyz", box)
    address = f"tml-{uuid.uuid4().hex[:8]}"
    (tmp_path / "input.xml").write_text(XML.format(address=address))
    server = subprocess.Popen([tool("i-pi"), "input.xml"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    client = subprocess.Popen(driver_command(how, model_path) + [address], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out_server, _ = server.communicate(timeout=240)
        out_client, _ = client.communicate(timeout=60)
    finally:
        server.kill()
        client.kill()
    assert server.returncode == 0, out_server[-3000:]
    assert client.returncode == 0, out_client[-3000:]
    assert "exit message from i-PI" in out_client

    for bead in range(2):
        dipoles = read_extras(tmp_path / f"sim.dipole_{bead}")
        becs = read_extras(tmp_path / f"sim.BEC_{bead}")
        pols = read_extras(tmp_path / f"sim.pol_{bead}")
        frames = read(tmp_path / f"sim.pos_{bead}.extxyz", index=":")
        assert len(dipoles) == len(becs) == len(pols) == len(frames) >= 3
        # step 0: beads sit on the input structure as written to init.extxyz (8 decimals), read
        # by i-PI with ASE's bohr, the CODATA constant tensorml uses: angstrom -> bohr -> angstrom is exact
        start = read(tmp_path / "init.extxyz")
        ref = exported.evaluate_one(System.from_atoms(start, exported.units), ["dipole", "apt", "polarizability"])
        np.testing.assert_allclose(dipoles[0].ravel(), ref["dipole"] / BOHR, rtol=1e-10)
        np.testing.assert_allclose(becs[0], bec_from_apt(ref["apt"]), rtol=0, atol=1e-10)
        np.testing.assert_allclose(pols[0].ravel(), ref["polarizability"].ravel() / BOHR**3, rtol=1e-10)
        # later steps: each bead's extras belong to that bead's positions (written with 8 decimals)
        last = frames[-1]
        last.cell = box.cell
        last.pbc = True
        ref = exported.evaluate_one(System.from_atoms(last, exported.units), ["dipole"])
        np.testing.assert_allclose(dipoles[-1].ravel(), ref["dipole"] / BOHR, rtol=1e-6)
        assert np.abs(dipoles[-1] - dipoles[0]).max() > 1e-4  # the beads moved


def test_driver_exits_when_server_vanishes(tmp_path, model_path, box):
    """A server that accepts and closes: the driver must stop promptly with a clear message."""
    write(tmp_path / "init.extxyz", box)
    prefix = str(tmp_path / "sock_")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(prefix + "gone")
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    proc = subprocess.run(
        [tool("tensorml-ipi"), "--model", str(model_path), "--template", "init.extxyz",
         "--unix", "gone", "--sockets-prefix", prefix],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    listener.close()
    assert proc.returncode == 1
    assert "lost the i-PI server" in proc.stderr and "closed the connection" in proc.stderr


def test_driver_gives_up_without_server(tmp_path, model_path, box):
    write(tmp_path / "init.extxyz", box)
    proc = subprocess.run(
        [tool("tensorml-ipi"), "--model", str(model_path), "--template", "init.extxyz", "--unix", "nobody",
         "--sockets-prefix", str(tmp_path / "s_"), "--connect-timeout", "0.5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "no i-PI server" in proc.stderr


def test_driver_reports_bad_model(tmp_path, box):
    write(tmp_path / "init.extxyz", box)
    proc = subprocess.run([tool("tensorml-ipi"), "--model", "missing.pt", "--template", "init.extxyz",
                           "--unix", "x"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "missing.pt" in proc.stderr and "not found" in proc.stderr
