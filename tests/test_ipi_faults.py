"""Fault injection for tensorml-ipi: a server that is not there, a peer that sends garbage or
impossible sizes, and an i-PI server killed mid-run and restarted from its checkpoint.

The fake servers are a few lines of unix-socket code in a thread.  Each holds its connection for at
most ``HOLD`` seconds after sending its fault and then hangs up, so a driver that waits instead of
failing makes the test fail on its exit status and its time, never hang."""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase.io import write

from engines import tool
from tensorml.structures import water_box
from tensorml_ipi import cli
from test_ipi_runs import Run, env, new_address, read_frames, tensorml_ipi

pytestmark = pytest.mark.ipi

HOLD = 15.0  # seconds a fake server keeps the connection open after its fault
FAST = 5.0  # a fault must stop the driver within this (the server would hang up only after HOLD)
NATOMS = 81  # water_box(3)


def header(name: str) -> bytes:
    return name.upper().ljust(12).encode()


def i32(value: int) -> bytes:
    return np.int32(value).tobytes()


def recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            break
        data += part
    return data


class FakeServer:
    """Listens on ``<prefix><name>``, plays ``script(conn)`` to the first client, then waits (at most
    HOLD s) for the client to close. ``eof``: the client closed (True) or HOLD ran out (False);
    ``replies``: what the script read; ``error``: an exception of the script."""

    def __init__(self, prefix: str, name: str, script, connections: int = 1):
        self.path = prefix + name
        self.script = script
        self.connections = connections
        self.replies: list[bytes] = []
        self.eof: bool | None = None
        self.sent_fault: float | None = None
        self.error: BaseException | None = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.listener.settimeout(60)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            for k in range(self.connections):
                conn, _ = self.listener.accept()
                with conn:
                    conn.settimeout(HOLD)
                    self.script(self, conn, k)
                    try:
                        while conn.recv(65536):
                            pass
                        self.eof = True
                    except socket.timeout:
                        self.eof = False
                    except ConnectionResetError:
                        self.eof = "reset"
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.error = err
        finally:
            self.listener.close()

    def handshake(self, conn, init: bytes = b""):
        """STATUS/NEEDINIT, INIT, STATUS/READY as i-PI does it."""
        conn.sendall(header("STATUS"))
        self.replies.append(recv_exact(conn, 12))
        conn.sendall(header("INIT") + i32(0) + i32(len(init)) + init)
        conn.sendall(header("STATUS"))
        self.replies.append(recv_exact(conn, 12))

    def fault(self, conn, data: bytes):
        self.sent_fault = time.monotonic()
        conn.sendall(data)

    def join(self):
        self.thread.join(timeout=HOLD + 30)
        assert not self.thread.is_alive(), "the fake server did not finish"
        assert self.error is None, repr(self.error)


@pytest.fixture()
def template(tmp_path):
    write(tmp_path / "init.extxyz", water_box(3, seed=1))
    return str(tmp_path / "init.extxyz")


@pytest.fixture()
def prefix(tmp_path):
    return str(tmp_path / "s_")


def drive(model_path, template, prefix, name="fake", *extra):
    """cli.main in this process; returns (exit status, seconds it ran)."""
    start = time.monotonic()
    status = cli.main(
        [
            "--model",
            str(model_path),
            "--template",
            template,
            "--unix",
            name,
            "--sockets-prefix",
            prefix,
            "--device",
            "cpu",
            "--threads",
            "1",
            *extra,
        ]
    )
    return status, time.monotonic() - start


# ----------------------------------------------------------------------------- no server at all


def test_no_server_names_the_address_and_the_wait(model_path, template, prefix, capsys):
    """Never connected: not 'lost the i-PI server after 0 evaluations', but where and how long."""
    status, elapsed = drive(model_path, template, prefix, "nobody", "--connect-timeout", "0.7")
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"tensorml-ipi: no i-PI server at {prefix}nobody after 0.7 s" in err, err
    assert "lost" not in err and "evaluations" not in err, err
    assert 0.7 <= elapsed < 0.7 + FAST


def test_stale_socket_file_is_no_server(model_path, template, prefix, capsys):
    """A socket file nobody listens on (i-PI killed): refused, waited for, then the same message."""
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(prefix + "stale")
    stale.close()  # the file stays, nobody listens
    status, _ = drive(model_path, template, prefix, "stale", "--connect-timeout", "0.5")
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"no i-PI server at {prefix}stale after 0.5 s" in err and "stale socket" in err, err
    assert "lost" not in err


# ----------------------------------------------------------------------------- garbage


def not_ipi(data: bytes) -> str:
    return f"not an i-PI message: {data[:12]!r} arrived where a 12-byte header (STATUS, INIT, POSDATA, GETFORCE, EXIT)"


GARBAGE = {  # case: (handshake first, bytes sent, what the driver must say)
    "random bytes": (False, random.Random(0).randbytes(64), not_ipi(random.Random(0).randbytes(64))),
    "unknown header": (True, b"GETPOSITIONS", not_ipi(b"GETPOSITIONS")),
    "lower case": (True, b"status      ", not_ipi(b"status      ")),
    "NUL padded": (True, b"STATUS\0\0\0\0\0\0", not_ipi(b"STATUS\0\0\0\0\0\0")),
    # three stray bytes shift the stream: the 12 bytes read are named as they arrived
    "shifted": (True, b"POS" + header("STATUS"), not_ipi(b"POSSTATUS   ")),
    "GETFORCE first": (True, header("GETFORCE"), "i-PI asked for forces (GETFORCE) before sending any positions"),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_is_named_and_stops_the_driver(case, model_path, template, prefix, capsys):
    after_handshake, data, expected = GARBAGE[case]

    def script(server, conn, _):
        if after_handshake:
            server.handshake(conn)
        server.fault(conn, data)

    server = FakeServer(prefix, "fake", script)
    status, _ = drive(model_path, template, prefix)
    stopped = time.monotonic()
    server.join()
    err = capsys.readouterr().err
    assert status == 3, err
    assert expected in err, err
    assert "Traceback" not in err, err
    assert stopped - server.sent_fault < FAST
    assert server.eof is True  # closed cleanly, not left open nor reset


def test_garbage_stops_the_console_script(model_path, template, prefix):
    """The installed command: exit status 3, the bytes named, no traceback."""
    data = random.Random(1).randbytes(40)
    server = FakeServer(prefix, "cli", lambda s, conn, _: (s.handshake(conn), s.fault(conn, data)))
    cmd = [tool("tensorml-ipi"), "--model", str(model_path), "--template", template, "--unix", "cli"]
    proc = subprocess.run(
        cmd + ["--sockets-prefix", prefix, "--device", "cpu", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=HOLD + 60,
        env=env(),
    )
    stopped = time.monotonic()
    server.join()
    assert proc.returncode == 3, proc.stderr
    assert not_ipi(data) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert stopped - server.sent_fault < FAST
    assert server.eof is True


def test_known_headers_come_from_the_installed_client(tmp_path):
    """The protocol's five headers, and any other header the installed client's loop compares with."""
    client = cli._ipi_client_module()
    assert {header(h) for h in ("STATUS", "INIT", "POSDATA", "GETFORCE", "EXIT")} <= cli._client_headers(client)
    source = Path(client.__file__).read_text()
    newer = tmp_path / "i-pi-py_driver"
    newer.write_text(
        source.replace(
            'header == Message("EXIT")',
            'header == Message("GETTEMP"):\n            pass\n        elif header == Message("EXIT")',
        )
    )
    loader_client = cli._ipi_client_module(str(newer))
    assert header("GETTEMP") in cli._client_headers(loader_client)
    assert header("GETTEMP") not in cli._client_headers(client)


# ----------------------------------------------------------------------------- impossible sizes


def posdata(mode: str, nat: int) -> bytes:
    """A POSDATA up to (and including) the atom count, as i-PI's unbatched, batched or shm sockets send it."""
    cell = np.eye(3).ravel() * 17.6
    if mode == "plain":  # h, h^-1, nat, positions
        return header("POSDATA") + cell.tobytes() + (np.eye(3).ravel() / 17.6).tobytes() + i32(nat)
    return header("POSDATA") + i32(nat)  # batched and shm: nat first


SIZES = [("plain", -5), ("plain", 2**31 - 1), ("plain", NATOMS - 1), ("batched", -5), ("batched", 2**31 - 1)]
SIZES += [("shm", -5), ("shm", NATOMS + 3)]


@pytest.mark.parametrize("mode,nat", SIZES)
def test_impossible_atom_count_is_named(mode, nat, model_path, template, prefix, capsys):
    init = b"batch_size:2" if mode == "batched" else b""

    def script(server, conn, _):
        server.handshake(conn, init)
        server.fault(conn, posdata(mode, nat))

    server = FakeServer(prefix, "fake", script)
    status, _ = drive(model_path, template, prefix, "fake", *(["--shm"] if mode == "shm" else []))
    stopped = time.monotonic()
    server.join()
    err = capsys.readouterr().err
    assert status == 3, err
    assert f"i-PI announced {nat} atoms (POSDATA)" in err and f"the template {template} has {NATOMS}" in err, err
    assert "Traceback" not in err, err
    assert stopped - server.sent_fault < FAST
    assert server.eof is True


def test_impossible_init_length_is_named(model_path, template, prefix, capsys):
    def script(server, conn, _):
        conn.sendall(header("STATUS"))
        server.replies.append(recv_exact(conn, 12))
        server.fault(conn, header("INIT") + i32(0) + i32(-3))

    server = FakeServer(prefix, "fake", script)
    status, _ = drive(model_path, template, prefix)
    server.join()
    err = capsys.readouterr().err
    assert status == 3 and "INIT string of -3 bytes" in err and "Traceback" not in err, err


# ----------------------------------------------------------------------------- reconnecting


def test_reconnect_to_a_fake_server_that_comes_back(model_path, template, prefix, capsys):
    """Server gone after the handshake; with --reconnect the driver waits, connects to the next
    server at the same address and ends on its EXIT with status 0."""
    gone = threading.Event()

    def first(server, conn, _):
        server.handshake(conn)
        conn.shutdown(socket.SHUT_RDWR)
        gone.set()

    server = FakeServer(prefix, "back", first)
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(out=drive(model_path, template, prefix, "back", "--reconnect", "20")),
        daemon=True,
    )
    thread.start()
    assert gone.wait(60)
    server.join()
    Path(server.path).unlink()  # as a restarted i-PI needs: the old socket file removed
    time.sleep(0.5)  # the driver is waiting now

    def second(server, conn, _):
        server.handshake(conn)
        conn.sendall(header("EXIT"))

    again = FakeServer(prefix, "back", second)
    thread.join(timeout=HOLD + 30)
    again.join()
    err = capsys.readouterr().err
    assert not thread.is_alive()
    assert result["out"][0] == 0, err
    assert "lost the i-PI server after 0 evaluations" in err and "reconnecting (up to 20 s)" in err, err
    assert f"reconnected to {prefix}back" in err, err
    assert again.replies == [header("NEEDINIT"), header("READY")]  # a fresh handshake with the new server
    assert again.eof is True  # the driver hung up after EXIT


def test_reconnect_gives_up_after_its_time(model_path, template, prefix, capsys):
    def first(server, conn, _):
        server.handshake(conn)
        conn.shutdown(socket.SHUT_RDWR)

    server = FakeServer(prefix, "never", first)
    status, elapsed = drive(model_path, template, prefix, "never", "--reconnect", "1")
    server.join()
    err = capsys.readouterr().err
    assert status == 1, err
    assert "lost the i-PI server after 0 evaluations" in err, err
    assert f"i-PI did not come back: no i-PI server at {prefix}never after 1 s" in err, err
    assert elapsed < 1 + FAST


def test_no_reconnect_on_garbage(model_path, template, prefix, capsys):
    """A protocol error is not a server restart: --reconnect does not retry it."""
    server = FakeServer(prefix, "junk", lambda s, conn, _: (s.handshake(conn), s.fault(conn, b"JUNKJUNKJUNK")))
    status, _ = drive(model_path, template, prefix, "junk", "--reconnect", "30")
    server.join()
    assert status == 3 and "reconnecting" not in capsys.readouterr().err


CHECKPOINTED = """<simulation verbosity="low" floatformat="%.16e">
  <output prefix="sim">
    <properties stride="1" filename="out"> [ step, conserved, potential ] </properties>
    <trajectory filename="pos" stride="1" format="bin"> positions </trajectory>
    <trajectory filename="dipole" stride="1" extra_type="dipole"> extras </trajectory>
    <checkpoint stride="{stride}" filename="chk" overwrite="false"/>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>7</seed></prng>
  <ffsocket name="tml" mode="unix" pbc="false">
    <address>{address}</address><latency>1e-4</latency>
  </ffsocket>
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


def checkpoints(work: Path):
    """Complete checkpoint files (a kill may cut the last one short), newest first, with their step."""
    found = []
    for path in work.glob("sim.chk_*"):
        text = path.read_text()
        if text.rstrip().endswith("</simulation>"):
            step = re.search(r"<step>\s*(\d+)\s*</step>", text)  # i-PI leaves out a step 0
            found.append((int(step.group(1)) if step else 0, path))
    return sorted(found, reverse=True)


def last_step(work: Path) -> int:
    found = steps_in((work / "sim.out").read_bytes()) if (work / "sim.out").exists() else []
    return found[-1] if found else -1


def steps_in(text: bytes) -> list[int]:
    """Steps of the complete rows of an i-PI properties file (first column)."""
    lines = text.decode().split("\n")[:-1]  # the last piece is empty or a row cut short
    return [int(float(line.split()[0])) for line in lines if line.strip() and not line.startswith("#")]


def frames_in(data: bytes) -> list[np.ndarray]:
    """The complete frames of an i-PI binary trajectory (a frame cut short by a kill is left out)."""
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for end in range(len(data), 0, -1):  # the longest prefix that reads as whole frames
            path = Path(tmp) / "part.bin"
            path.write_bytes(data[:end])
            try:
                frames = list(read_frames(path))
                break
            except (ValueError, IndexError):
                continue
    return frames


def test_driver_survives_ipi_killed_and_restarted_from_checkpoint(tmp_path, model_path):
    """SIGKILL i-PI mid-run, remove its stale socket, restart it from its last checkpoint: the one
    tensorml-ipi --reconnect process serves both, the run ends with exit 0, and the restarted run
    (which i-PI appends to the outputs) continues from the checkpointed step with the same
    trajectory as the killed run had after it."""
    steps, stride = 40, 4
    work = tmp_path / "restart"
    work.mkdir()
    write(work / "init.extxyz", water_box(2, seed=1))
    address = new_address()
    run = Run(work, CHECKPOINTED.format(address=address, steps=steps, stride=stride), address)
    client = run.client(tensorml_ipi(model_path, address, "--extras", "dipole", "--reconnect", "60"))
    run.start()
    outputs = ("sim.out", "sim.pos_0.bin")
    try:
        deadline = time.monotonic() + 120
        while not (checkpoints(work) and stride <= checkpoints(work)[0][0] < last_step(work) < steps - stride):
            assert time.monotonic() < deadline and run.server.poll() is None and client.poll() is None
            time.sleep(0.02)
        run.server.send_signal(signal.SIGKILL)
        run.server.wait()
        killed = {name: (work / name).read_bytes() for name in outputs}
        # the newest checkpoint the killed run got past (it may have written one more as it died)
        step, checkpoint = next((k, path) for k, path in checkpoints(work) if k < steps_in(killed["sim.out"])[-1])
        assert Path(f"/tmp/ipi_{address}").exists()  # the stale socket that would stop i-PI's restart
        deadline = time.monotonic() + 30
        while "reconnecting" not in run.outputs()[0][1]:
            assert client.poll() is None and time.monotonic() < deadline, run.outputs()
            time.sleep(0.05)
        Path(f"/tmp/ipi_{address}").unlink()
        run.server = subprocess.Popen(
            [tool("i-pi"), checkpoint.name],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env(),
        )
        ipi_out, outs = run.finish(timeout=120)
    finally:
        run.kill()
    stderr = outs[0][1]
    assert client.returncode == 0, stderr
    assert "I-PI reports success" in ipi_out, ipi_out[-3000:]
    assert "reconnecting (up to 60 s)" in stderr and f"reconnected to /tmp/ipi_{address}" in stderr, stderr
    assert "i-PI sent EXIT" in stderr
    # what the killed run wrote, and what the restarted run appended
    text = (work / "sim.out").read_bytes()
    assert text.startswith(killed["sim.out"])
    old_steps, new_steps = steps_in(killed["sim.out"]), steps_in(text[len(killed["sim.out"]) :])
    assert old_steps == list(range(len(old_steps))) and old_steps[-1] >= step, old_steps
    assert new_steps == list(range(step + 1, steps + 1)), (step, new_steps)
    data = (work / "sim.pos_0.bin").read_bytes()
    old, new = frames_in(killed["sim.pos_0.bin"]), frames_in(data[len(killed["sim.pos_0.bin"]) :])
    assert len(new) == len(new_steps)
    overlap = len(old) - 1 - step  # steps the killed run made after the checkpoint
    assert overlap >= 1, (len(old), step)
    np.testing.assert_allclose(np.array(new[:overlap]), np.array(old[step + 1 :]), rtol=0, atol=1e-10)


def test_example_script_resumes_from_restart_over_a_stale_socket(tmp_path, model_path):
    """examples/ipi/run.sh with RESUME=RESTART: the stale socket file of a killed i-PI is removed,
    i-PI continues from the file and appends to the outputs of the first run."""
    examples = Path(__file__).resolve().parents[1] / "examples" / "ipi"
    work = tmp_path / "ipi"
    work.mkdir()
    address = new_address()  # the example's own address, made unique: tests may run side by side
    for name in ("run.sh", "supervise.sh", "init.extxyz", "input.xml"):
        text = (examples / name).read_text().replace("tensorml-water", address)
        (work / name).write_text(text.replace("<total_steps>20</total_steps>", "<total_steps>2</total_steps>"))
    (work / "model.pt").write_bytes(Path(model_path).read_bytes())
    environment = dict(env(), DEVICE="cpu", THREADS="1")

    def script(**extra):
        proc = subprocess.run(
            ["bash", "run.sh"], cwd=work, capture_output=True, text=True, timeout=240, env=dict(environment, **extra)
        )
        logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in work.glob("*.log"))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs
        return steps_in((work / "water.out").read_bytes())

    try:
        assert script() == [0, 1, 2]
        restart = work / "RESTART"
        restart.write_text(
            re.sub(r"<total_steps>\s*2\s*</total_steps>", "<total_steps>4</total_steps>", restart.read_text())
        )
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(f"/tmp/ipi_{address}")  # what a killed i-PI leaves behind
        stale.close()
        assert script(RESUME="RESTART") == [0, 1, 2, 3, 4]
    finally:
        Path(f"/tmp/ipi_{address}").unlink(missing_ok=True)
    assert "i-PI sent EXIT" in (work / "tensorml-ipi.log").read_text()
