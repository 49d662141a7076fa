"""i-PI runs with the tensorml driver: every route, batching, several clients, failures.

One reference run (8 beads, one tensorml-ipi client, no batching) is compared with the same
simulation (same seeds) served by i-PI's own i-pi-py_driver with batch_size 8, by two clients
started with mpirun sharing batches of 4, and in-process through <ffdirect>: the trajectories
must agree to rounding.  Per-bead dipoles, BECs, polarizabilities and forces of the reference
run are checked against the Python model on the bead positions written by i-PI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from ase.io import write

from engines import BIN, tool
from tensorml import units as U
from tensorml.runtime import System
from tensorml_ipi.cli import pes_path
from tensorml_ipi.pes import bec_from_apt

pytestmark = pytest.mark.ipi

BOHR = U.factor(U.LENGTH, U.ATOMIC, U.METAL)  # angstrom per bohr
NBEADS = 8
STEPS = 3

FORCEFIELD_SOCKET = """<ffsocket name="tml" mode="{mode}" pbc="false" matching="{matching}">
    <address>{address}</address><batch_size>{batch}</batch_size>
    <exit_on_disconnect>{exit_on_disconnect}</exit_on_disconnect><latency>1e-4</latency>
  </ffsocket>"""
FORCEFIELD_DIRECT = """<ffdirect name="tml" pbc="false">
    <pes>custom</pes><pes_path>{pes}</pes_path>
    <parameters>{{template: init.extxyz, model: {model}, device: cpu}}</parameters>
    <batch_size>{batch}</batch_size>
  </ffdirect>"""
SIMULATION = """<simulation verbosity="{verbosity}" floatformat="%.16e">
  <output prefix="sim">
    <properties stride="1" filename="out"> [ step, conserved, potential ] </properties>
    <trajectory filename="pos" stride="1" format="bin"> positions </trajectory>
    <trajectory filename="frc" stride="1" format="bin"> forces </trajectory>
    <trajectory filename="dipole" stride="1" extra_type="dipole"> extras </trajectory>
    <trajectory filename="BEC" stride="1" extra_type="BEC"> extras </trajectory>
    <trajectory filename="pol" stride="1" extra_type="polarizability"> extras </trajectory>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>7</seed></prng>
  {forcefield}
  <system>
    <initialize nbeads="{nbeads}">
      <file mode="ase">{init}</file>
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


def simulation_xml(
    address="",
    nbeads=NBEADS,
    steps=STEPS,
    batch=1,
    matching="auto",
    direct_model=None,
    exit_on_disconnect=False,
    init="init.extxyz",
    verbosity="low",
    mode="unix",
):
    if direct_model is None:
        ff = FORCEFIELD_SOCKET.format(
            address=address,
            batch=batch,
            matching=matching,
            mode=mode,
            exit_on_disconnect=str(exit_on_disconnect).lower(),
        )
    else:
        ff = FORCEFIELD_DIRECT.format(pes=pes_path(), model=direct_model, batch=batch)
    return SIMULATION.format(forcefield=ff, nbeads=nbeads, steps=steps, init=init, verbosity=verbosity)


def env():
    """The test's environment for the engines, with PYTHONPATH made absolute: the processes run
    elsewhere and must import the same tensorml / tensorml_ipi as the test."""
    return dict(
        os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1", PYTHONPATH=absolute_pythonpath()
    )


def absolute_pythonpath():
    return os.pathsep.join(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)


class Run:
    """i-PI and its clients in a work directory; processes are killed and sockets removed at the end.

    tensorml-ipi clients (which wait for the socket) are started first, and i-PI once they have
    loaded the model, so that all of them take part from the first step; clients that do not wait
    (i-pi-py_driver) are started once i-PI listens.  Client output goes to files (client<k>.err)."""

    def __init__(self, workdir: Path, xml: str, address: str | None):
        self.workdir = Path(workdir)
        self.address = address
        (self.workdir / "input.xml").write_text(xml)
        self.server = None
        self.clients: list[tuple[subprocess.Popen, Path, Path]] = []
        self.ready = 0

    def client(self, cmd, ready=1):
        """A client started now; ``ready``: how many 'connecting to' lines it prints once loaded."""
        k = len(self.clients)
        out, err = self.workdir / f"client{k}.out", self.workdir / f"client{k}.err"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=fo, stderr=fe, text=True, env=env())
        self.clients.append((proc, out, err))
        self.ready += ready
        return proc

    def start(self, after=()):
        deadline = time.monotonic() + 120
        while sum(e.read_text().count("connecting to") for _, _, e in self.clients) < self.ready:
            dead = [e.read_text() for p, _, e in self.clients if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"a client did not start: {dead}")
            time.sleep(0.05)
        self.server = subprocess.Popen(
            [tool("i-pi"), "input.xml"],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env(),
        )
        if after:
            while not Path(f"/tmp/ipi_{self.address}").exists():
                assert self.server.poll() is None and time.monotonic() < deadline, "i-PI did not open its socket"
                time.sleep(0.05)
            for cmd in after:
                self.client(cmd, ready=0)
        return self

    def outputs(self):
        return [(o.read_text(), e.read_text()) for _, o, e in self.clients]

    def finish(self, timeout=180):
        """Wait for everything; returns (server output, [(client stdout, client stderr)])."""
        try:
            out, _ = self.server.communicate(timeout=timeout)
            for p, _, _ in self.clients:
                p.wait(timeout=30)
        except subprocess.TimeoutExpired as err:
            left = self.kill()
            raise AssertionError(f"{err}; i-PI wrote:\n{left}\nclients: {self.outputs()}") from None
        self.kill()
        return out, self.outputs()

    def kill(self):
        """Kill what still runs, remove the socket; returns what a killed i-PI wrote."""
        left = ""
        for p, _, _ in self.clients:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            left = self.server.communicate()[0][-3000:]
        if self.address:
            Path(f"/tmp/ipi_{self.address}").unlink(missing_ok=True)
        return left


def tensorml_ipi(model_path, address, *extra):
    return [
        tool("tensorml-ipi"),
        "--model",
        str(model_path),
        "--template",
        "init.extxyz",
        "--unix",
        address,
        "--device",
        "cpu",
        "--threads",
        "1",
        *extra,
    ]


def new_address():
    return f"tml-{uuid.uuid4().hex[:10]}"


def read_frames(path):
    """Frames of an i-PI binary trajectory (format="bin", full precision): (frames, atoms, 3), atomic units.

    Per frame (i-PI utils/io/backends/io_binary.py): cell h (9 float64), atom count (int64),
    values (3N float64), length of the '|'-joined names (int64), names and title (UTF-32);
    the title ends with 'cell{<unit>}'."""
    data = Path(path).read_bytes()
    frames, off = [], 0
    while off < len(data):
        off += 72
        nat = int(np.frombuffer(data, np.int64, 1, off)[0])
        frames.append(np.frombuffer(data, np.float64, 3 * nat, off + 8).reshape(nat, 3))
        off += 8 + 24 * nat
        off += 8 + 4 * int(np.frombuffer(data, np.int64, 1, off)[0])
        off = data.index("}".encode("utf-32-le"), data.index("cell{".encode("utf-32-le"), off)) + 4
    return np.array(frames)


def read_extras(path):
    """Blocks of an i-PI extras trajectory written with extra_type=<key>: one array per step."""
    blocks = []
    for chunk in Path(path).read_text().split("#EXTRAS")[1:]:
        body = chunk.split("\n", 1)[1]
        blocks.append(np.array([[float(x) for x in line.split()] for line in body.strip().splitlines()]))
    return blocks


def trajectory(workdir, nbeads=NBEADS):
    return np.stack([read_frames(Path(workdir) / f"sim.pos_{b}.bin") for b in range(nbeads)], axis=1)


def prepare(tmp_path, name, box, init=None):
    work = tmp_path / name
    work.mkdir()
    write(work / "init.extxyz", box)
    if init is not None:
        write(work / "start.extxyz", init)
    return work


def check_finished(out, outs, n_clients):
    assert "I-PI reports success" in out, out[-3000:]
    assert len(outs) == n_clients
    for stdout, stderr in outs:
        assert "exit message from i-PI" in stdout, stdout[-2000:] + stderr[-2000:]
        assert "i-PI sent EXIT" in stderr, stderr[-2000:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, model_path):
    """8 beads, one tensorml-ipi client, one structure per message."""
    from tensorml.structures import water_box

    work = prepare(tmp_path_factory.mktemp("ipi_ref"), "ref", water_box(3, seed=1))
    address = new_address()
    run = Run(work, simulation_xml(address), address)
    run.client(tensorml_ipi(model_path, address, "--timing", "timing.json"))
    check_finished(*run.start().finish(), 1)
    return work


def bead_system(work, bead, step, box):
    """The bead's positions written by i-PI (bohr, full precision) as a System in the model's units."""
    pos = read_frames(work / f"sim.pos_{bead}.bin")[step] * BOHR
    return System(box.numbers, pos, box.cell.array, box.pbc)


def test_reference_run_per_bead_tensors_and_forces_equal_python(reference, exported, box):
    timing = json.loads((reference / "timing.json").read_text())
    assert timing["calls"] == timing["structures"] == NBEADS * (STEPS + 1)
    e_au = U.factor(U.ENERGY, U.METAL, U.ATOMIC)
    f_au = U.factor(U.FORCE, U.METAL, U.ATOMIC)
    for bead in range(NBEADS):
        dipoles = read_extras(reference / f"sim.dipole_{bead}")
        becs = read_extras(reference / f"sim.BEC_{bead}")
        pols = read_extras(reference / f"sim.pol_{bead}")
        forces = read_frames(reference / f"sim.frc_{bead}.bin")
        assert len(dipoles) == len(becs) == len(pols) == len(forces) == STEPS + 1
        for step in (0, STEPS):
            ref = exported.evaluate_one(
                bead_system(reference, bead, step, box), ["forces", "dipole", "apt", "polarizability"]
            )
            np.testing.assert_allclose(dipoles[step].ravel(), ref["dipole"] / BOHR, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(becs[step], bec_from_apt(ref["apt"]), rtol=0, atol=1e-10)
            np.testing.assert_allclose(pols[step].ravel(), ref["polarizability"].ravel() / BOHR**3, rtol=1e-10)
            np.testing.assert_allclose(forces[step], ref["forces"] * f_au, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(becs[STEPS].reshape(-1, 3, 3).sum(0), 0.0, atol=1e-10)  # acoustic sum rule
    # the beads differ and moved: the per-bead tensors are not one value copied
    d = np.array([read_extras(reference / f"sim.dipole_{b}")[STEPS].ravel() for b in range(NBEADS)])
    assert np.ptp(d, axis=0).max() > 1e-4
    # the potential i-PI reports is the bead average of the model energy (hartree)
    out = np.loadtxt(reference / "sim.out")
    energies = [
        exported.evaluate_one(bead_system(reference, b, STEPS, box), ["energy"])["energy"] for b in range(NBEADS)
    ]
    assert out[-1, 2] == pytest.approx(np.mean(energies) * e_au, rel=1e-10)


def test_batched_through_ipi_py_driver_equals_unbatched(reference, tmp_path, model_path, box):
    """i-PI's own i-pi-py_driver with our PES file; i-PI sends all 8 beads in one message."""
    work = prepare(tmp_path, "batched", box)
    address = new_address()
    run = Run(work, simulation_xml(address, batch=NBEADS), address)
    run.start(
        after=[
            [
                tool("i-pi-py_driver"),
                "-m",
                "custom",
                "-P",
                pes_path(),
                "-u",
                "-a",
                address,
                "-o",
                f"template=init.extxyz,model={model_path},device=cpu,threads=1",
            ]
        ]
    )
    out, outs = run.finish()
    assert "I-PI reports success" in out, out[-3000:]
    assert "exit message from i-PI" in outs[0][0]
    np.testing.assert_allclose(trajectory(work), trajectory(reference), rtol=0, atol=1e-9)
    for b in (0, NBEADS - 1):
        np.testing.assert_allclose(
            np.array(read_extras(work / f"sim.BEC_{b}")),
            np.array(read_extras(reference / f"sim.BEC_{b}")),
            rtol=0,
            atol=1e-9,
        )


def test_two_clients_by_mpirun_equal_one(reference, tmp_path, model_path, box):
    """mpirun -np 2 tensorml-ipi: two clients share the 8 beads in batches of 4 (and positions and
    forces travel through shared memory: <ffsocket mode="shm">, --shm)."""
    work = prepare(tmp_path, "two", box)
    address = new_address()
    run = Run(work, simulation_xml(address, batch=NBEADS // 2, mode="shm"), address)
    run.client(
        [tool("mpirun"), "-np", "2"] + tensorml_ipi(model_path, address, "--shm", "--timing", "timing_{rank}.json"),
        ready=2,
    )
    out, outs = run.start().finish()
    assert "I-PI reports success" in out, out[-3000:]
    assert outs[0][0].count("exit message from i-PI") == 2, outs[0]
    timings = [json.loads((work / f"timing_{r}.json").read_text()) for r in (0, 1)]
    assert sum(t["structures"] for t in timings) >= NBEADS * (STEPS + 1)
    assert all(c["structures"] == NBEADS // 2 for t in timings for c in t["per_call"])
    assert all(t["calls"] > 0 for t in timings), "one client got no work"
    np.testing.assert_allclose(trajectory(work), trajectory(reference), rtol=0, atol=1e-9)


def test_ffdirect_in_process_equals_socket(reference, tmp_path, model_path, box):
    """<ffdirect pes="custom" pes_path=...> with the documented parameters, batches of 8."""
    work = prepare(tmp_path, "direct", box)
    run = Run(work, simulation_xml(direct_model=model_path, batch=NBEADS), None)
    out, _ = run.start().finish()
    assert "I-PI reports success" in out, out[-3000:]
    np.testing.assert_allclose(trajectory(work), trajectory(reference), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        np.array(read_extras(work / "sim.dipole_3")),
        np.array(read_extras(reference / "sim.dipole_3")),
        rtol=0,
        atol=1e-9,
    )


def test_matching_lock_each_client_keeps_its_bead(tmp_path, model_path, exported, box):
    """matching="lock" (one client per bead, no batching): each client evaluates one and the same
    bead at every step (the position sums it records are those of one bead's trajectory), and each
    bead's tensors match its positions."""
    work = prepare(tmp_path, "lock", box)
    address = new_address()
    run = Run(work, simulation_xml(address, nbeads=2, matching="lock"), address)
    for k in range(2):
        run.client(tensorml_ipi(model_path, address, "--timing", f"timing_{k}.json"))
    check_finished(*run.start().finish(), 2)
    sums = {b: [float(np.sum(q)) for q in read_frames(work / f"sim.pos_{b}.bin")] for b in range(2)}
    served = []
    for k in range(2):
        seen = [c["position_sums"] for c in json.loads((work / f"timing_{k}.json").read_text())["per_call"]]
        assert all(len(s) == 1 for s in seen) and len(seen) == STEPS + 1
        beads = [b for b in range(2) if [s[0] for s in seen[1:]] == sums[b][1:]]  # step 0: beads coincide
        assert len(beads) == 1, f"client {k} did not keep one bead"
        served += beads
    assert sorted(served) == [0, 1]
    for bead in range(2):
        ref = exported.evaluate_one(bead_system(work, bead, STEPS, box), ["dipole"])
        np.testing.assert_allclose(
            read_extras(work / f"sim.dipole_{bead}")[STEPS].ravel(), ref["dipole"] / BOHR, rtol=1e-10
        )


def test_driver_exits_promptly_when_ipi_is_killed(tmp_path, model_path, box):
    work = prepare(tmp_path, "killed", box)
    address = new_address()
    run = Run(work, simulation_xml(address, nbeads=2, steps=100000), address)
    client = run.client(tensorml_ipi(model_path, address))
    run.start()
    try:
        deadline = time.monotonic() + 120
        out = work / "sim.out"
        while not (out.exists() and len(out.read_text().splitlines()) > 8):
            assert time.monotonic() < deadline and run.server.poll() is None and client.poll() is None
            time.sleep(0.2)
        run.server.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        client.wait(timeout=30)
        elapsed = time.monotonic() - killed
        stderr = run.outputs()[0][1]
    finally:
        run.kill()
    assert client.returncode == 1, stderr
    assert "lost the i-PI server" in stderr
    assert elapsed < 5.0


def test_non_finite_model_output_is_reported_not_answered(tmp_path, model_path, box):
    """Two atoms on top of each other (the model would give NaN): the driver names the evaluation and
    atoms and exits 3; with exit_on_disconnect i-PI stops too (without it, it waits for a client)."""
    bad = box.copy()
    bad.positions[4] = bad.positions[3]
    work = prepare(tmp_path, "nan", box, init=bad)
    address = new_address()
    run = Run(work, simulation_xml(address, nbeads=2, batch=2, exit_on_disconnect=True, init="start.extxyz"), address)
    client = run.client(tensorml_ipi(model_path, address))
    out, outs = run.start().finish(timeout=120)
    stderr = outs[0][1]
    assert client.returncode == 3, stderr
    assert "evaluation 1 of this driver" in stderr and "atoms 4 and 5 (1-based)" in stderr, stderr[-3000:]
    assert "closer than the model's minimum distance" in stderr
    assert "Client shutdown" in out, out[-3000:]  # a clean end of stream, not a reset that hangs i-PI
    assert not (work / "sim.dipole_0").exists() or "nan" not in (work / "sim.dipole_0").read_text().lower()
