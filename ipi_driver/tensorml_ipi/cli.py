"""tensorml-ipi: connect a tensorml model to a running i-PI server.

The wire protocol is i-PI's own client loop (``run_driver`` of the
``i-pi-py_driver`` script of the installed i-PI), given our PES class
(:class:`tensorml_ipi.pes.TensorMLDriver`).  Around it, the socket module and the
``recv_data`` helper the loop uses are replaced by watched ones (:class:`_Watch`):

* connecting waits for the server socket to appear (``--connect-timeout``),
  so the driver may be started right after i-PI;
* a server that vanishes is noticed: i-PI's loop reads an empty header from a
  closed socket forever, so the socket we hand it raises on end-of-stream,
  and the driver exits with a clear message instead of spinning (or, with
  ``--reconnect``, waits for the server to come back and serves it again);
* every 12-byte header must be one the loop acts on (i-PI's loop skips others
  silently and then waits forever), and the sizes announced in INIT and POSDATA
  are checked before the loop allocates anything (a negative or absurd atom count,
  or one that is not the template's, is named instead of a numpy traceback).

Exit status: 0 after i-PI's EXIT; 1 when the server closed the connection or died
(also mid-message), or was never there; 2 for a setup error (model, template, device,
arguments); 3 when the driver received something it cannot answer: a structure it cannot
evaluate (non-finite positions or model outputs, a failing model call) or a message that
is not i-PI's protocol (unknown header, impossible atom count or INIT length).  In both
cases of 3 the driver stops rather than answer i-PI with garbage, and closes the
connection cleanly so that i-PI notices; a restart would get the same input again, so
``--reconnect`` applies to status 1 only.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import socket
import sys
import time
import traceback
import types

EXIT_OK, EXIT_SERVER_GONE, EXIT_SETUP, EXIT_EVALUATION = 0, 1, 2, 3

#: the headers i-PI's server sends to a client (ipi/interfaces/sockets.py; shared memory uses the same)
PROTOCOL_HEADERS = ("STATUS", "INIT", "POSDATA", "GETFORCE", "EXIT")
HDRLEN = 12  # length of i-PI's message headers
#: the longest INIT string accepted (i-PI sends the <ffsocket>'s <parameters> and batch_size)
MAX_INIT_BYTES = 1 << 24


class ServerGone(ConnectionError):
    """i-PI closed the connection or disappeared."""


class NoServer(ServerGone):
    """Nothing accepted the connection within the time allowed."""


class ProtocolError(RuntimeError):
    """The peer sent something that is not i-PI's protocol (a header or a size)."""


def _client_headers(client) -> frozenset[bytes]:
    """The headers the installed client's loop acts on: the protocol's, and any other its loop
    compares with (``header == Message("NAME")`` in its source), e.g. in a newer i-PI."""
    names = set(PROTOCOL_HEADERS)
    try:
        with open(client.__file__) as fh:
            names.update(re.findall(r"""header\s*==\s*Message\(\s*["'](\w+)["']\s*\)""", fh.read()))
    except (OSError, AttributeError, TypeError):
        pass
    return frozenset(client.Message(name) for name in names)


def _message(name: str) -> bytes:
    return name.upper().ljust(HDRLEN).encode()


def _header_order(name: str):
    return (PROTOCOL_HEADERS.index(name) if name in PROTOCOL_HEADERS else len(PROTOCOL_HEADERS), name)


def _where(address) -> str:
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


class _Watch:
    """A stand-in for the ``socket`` module (``module``) whose sockets wait to connect, raise on
    EOF and check each header, and a ``recv_data`` that checks the sizes i-PI announces.

    The sockets it makes are listed in ``opened`` (see :func:`_hang_up`); ``address`` is the last
    one connected to.  The atom count of POSDATA is the first int32 the loop reads after that
    header (unbatched: after h and h^-1; batched and shm: right after it), the INIT length the
    second after INIT (after the replica id); both are checked before the loop allocates."""

    def __init__(self, connect_timeout: float, headers=frozenset(), natoms: int | None = None, template=""):
        self.connect_timeout = connect_timeout
        self.headers = headers
        self.natoms = natoms
        self.template = template
        self.opened: list[socket.socket] = []
        self.address = None
        self.header = b""
        self.int32_reads = 0
        self.reconnecting = False
        self.have_data = False  # a POSDATA came and its GETFORCE not yet
        watch = self

        class WatchedSocket(socket.socket):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                watch.opened.append(self)

            def connect(self, address):
                deadline = time.monotonic() + watch.connect_timeout
                while True:
                    try:
                        super().connect(address)
                        watch.address = address
                        watch.have_data = False
                        if watch.reconnecting:
                            watch.reconnecting = False
                            _say(f"reconnected to {_where(address)}")
                        return
                    except (FileNotFoundError, ConnectionRefusedError) as err:
                        if time.monotonic() > deadline:
                            why = (
                                "no socket file"
                                if isinstance(err, FileNotFoundError)
                                else "connection refused: a stale socket file nobody listens on, e.g. of a killed i-PI"
                            )
                            raise NoServer(
                                f"no i-PI server at {_where(address)} after {watch.connect_timeout:g} s ({why})"
                            ) from None
                        time.sleep(0.1)

            def recv(self, bufsize, *flags):
                if not watch.headers or bufsize != HDRLEN or flags or not self.getblocking():
                    data = super().recv(bufsize, *flags)
                    if bufsize > 0 and not data and self.getblocking():
                        raise ServerGone("i-PI closed the connection")
                    return data
                # i-PI's loop reads headers (only those) with recv(HDRLEN): read all 12 bytes and check
                data = b""
                while len(data) < HDRLEN:
                    part = super().recv(HDRLEN - len(data))
                    if not part:
                        raise ServerGone("i-PI closed the connection" + (" in the middle of a message" if data else ""))
                    data += part
                if data not in watch.headers:
                    known = ", ".join(sorted((h.decode().strip() for h in watch.headers), key=_header_order))
                    raise ProtocolError(
                        f"not an i-PI message: {data!r} arrived where a 12-byte header ({known}) was due "
                        "(something other than i-PI at this address, or another version of the protocol)"
                    )
                if data == _message("GETFORCE") and not watch.have_data:
                    raise ProtocolError("i-PI asked for forces (GETFORCE) before sending any positions (POSDATA)")
                watch.have_data = data == _message("POSDATA") or (watch.have_data and data != _message("GETFORCE"))
                watch.header = data
                watch.int32_reads = 0
                return data

            def recv_into(self, buffer, nbytes=0, *flags):
                count = super().recv_into(buffer, nbytes, *flags)
                if count == 0 and (nbytes or len(memoryview(buffer))) > 0:
                    raise ServerGone("i-PI closed the connection in the middle of a message")
                return count

        module = types.SimpleNamespace(**vars(socket))
        module.socket = WatchedSocket
        self.module = module

    def wrap_recv_data(self, recv_data):
        """``recv_data`` of the client, checking the INIT length and the POSDATA atom count."""
        import numpy as np

        watch = self

        def checked(sock, data):
            value = recv_data(sock, data)
            if not (np.isscalar(data) and np.asarray(data).dtype == np.int32):
                return value
            watch.int32_reads += 1
            n = int(value)
            if watch.header == _message("POSDATA") and watch.int32_reads == 1 and watch.natoms is not None:
                if n != watch.natoms:
                    why = (
                        "a negative count means a corrupt message, or something other than i-PI at this address"
                        if n < 0
                        else "i-PI's input describes another system (the template must list i-PI's atoms in "
                        "i-PI's order), or something other than i-PI is at this address"
                    )
                    raise ProtocolError(
                        f"i-PI announced {n} atoms (POSDATA) but the template {watch.template} has "
                        f"{watch.natoms}; {why}"
                    )
            elif watch.header == _message("INIT") and watch.int32_reads == 2 and not 0 <= n <= MAX_INIT_BYTES:
                raise ProtocolError(f"i-PI announced an INIT string of {n} bytes (0 to {MAX_INIT_BYTES} expected)")
            return value

        return checked


def _hang_up(sock: socket.socket) -> None:
    """Close so that i-PI sees an orderly end of stream, not a reset.

    i-PI sends POSDATA and GETFORCE in one go; closing with GETFORCE still unread makes the
    kernel send a reset, which kills i-PI's polling thread (ConnectionResetError is not
    caught there) and leaves i-PI hanging.  Reading what is pending first gives a clean
    EOF, on which i-PI drops the client (and stops, with exit_on_disconnect)."""
    try:
        sock.setblocking(False)
        while sock.recv(65536):
            pass
    except OSError:  # BlockingIOError: drained; anything else: the peer is gone anyway
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _hang_up_all(watch: _Watch) -> None:
    """Hang up every socket the loop opened (they are not reused: a reconnect opens a new one)."""
    while watch.opened:
        _hang_up(watch.opened.pop())


def _ipi_client_module(path: str | None = None):
    """i-PI's Python client (the ``i-pi-py_driver`` script, or ``path``) loaded as a module."""
    path = path or shutil.which("i-pi-py_driver") or os.path.join(os.path.dirname(sys.executable), "i-pi-py_driver")
    if not os.path.isfile(path):
        raise RuntimeError("i-pi-py_driver of the installed i-PI not found; is i-PI (pip install ipi) installed?")
    loader = importlib.machinery.SourceFileLoader("_ipi_py_driver", path)
    spec = importlib.util.spec_from_loader("_ipi_py_driver", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def pes_path() -> str:
    """Path of the PES file for ``i-pi-py_driver -m custom -P`` and ``<ffdirect pes_path>``."""
    from . import pes

    return os.path.abspath(pes.__file__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tensorml-ipi",
        description="Serve a tensorml model to i-PI (energies, forces and, in the extras, dipole, BEC, "
        "polarizability, charges) over a unix or inet socket. Values on the wire are in atomic units. "
        "Exit status: 0 after i-PI's EXIT, 1 server gone (or never there), 2 setup error, 3 a structure the "
        "model cannot evaluate or a message that is not i-PI's protocol.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", help="tensorml model file")
    p.add_argument("--template", help="structure file with the elements in i-PI's atom order (e.g. i-PI's init.xyz)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--unix", metavar="NAME", help="unix socket name (i-PI <address> of a unix socket)")
    where.add_argument("--address", metavar="HOST", help="inet host of the i-PI server")
    p.add_argument("--port", type=int, default=12345, help="inet port (with --address)")
    p.add_argument(
        "--shm",
        action="store_true",
        help="with --unix and <ffsocket mode='shm'>: positions and forces through shared memory",
    )
    p.add_argument("--sockets-prefix", default="/tmp/ipi_", help="prefix of unix socket paths (i-PI default)")
    p.add_argument(
        "--device",
        default="auto",
        help="torch device: auto (cuda if available, else cpu; default), cpu, cuda, cuda:N; "
        "a bare cuda on several GPUs picks one from the node-local MPI rank",
    )
    p.add_argument(
        "--properties-only",
        action="store_true",
        help="zero energy/forces: only add tensors (extras) along another force field's dynamics",
    )
    p.add_argument(
        "--extras",
        default="all",
        help="extras to compute and send (atomic units): all (those the model has of dipole [e*bohr], BEC "
        "[e, (3N,3) as <bec mode='driver'>], polarizability [bohr^3], charges [e]), none, or a comma list, "
        "e.g. dipole,polarizability (no BEC: no APT backward passes)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds to wait for the server")
    p.add_argument(
        "--reconnect",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when the server goes away mid-run (killed, crashed, restarted from its checkpoint), wait up to "
        "SECONDS for it to listen again at the same address and serve it; 0: exit with status 1",
    )
    p.add_argument(
        "--timing",
        metavar="FILE",
        help="write per-evaluation timings (JSON) here at exit; {rank} in the name = local MPI rank",
    )
    p.add_argument(
        "--pes-path",
        action="store_true",
        help="print the path of the PES file (for i-pi-py_driver -P and <ffdirect pes_path>) and exit",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _say(message: str) -> None:
    print(f"tensorml-ipi: {message}", file=sys.stderr, flush=True)


def _write_timing(path: str, driver, wall: float) -> None:
    data = {
        "model": driver.model_path,
        "device": driver.device,
        "atoms": len(driver.numbers),
        "calls": driver.calls,
        "structures": driver.structures,
        "wall_s": wall,
        "model_s": driver.time_model,
        "driver_s": driver.time_driver,
        "evaluated": driver.evaluated,
        "per_call": [
            {"start": t, "structures": n, "evaluated": e, "model_s": m, "driver_s": d, "position_sums": f}
            for t, n, e, m, d, f in driver.timings
        ],
    }
    with open(path, "w") as fh:
        json.dump(data, fh)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pes_path:
        print(pes_path())
        return EXIT_OK
    for name in ("model", "template"):
        if getattr(args, name) is None:
            parser.error(f"--{name} is required")
    if args.unix is None and args.address is None:
        parser.error("give --unix NAME or --address HOST [--port P]")
    if args.shm and args.unix is None:
        parser.error("--shm needs --unix NAME (the control socket)")

    from .pes import DriverError, TensorMLDriver

    try:
        driver = TensorMLDriver(
            template=args.template,
            model=args.model,
            device=args.device,
            properties_only=args.properties_only,
            extras=args.extras,
            threads=args.threads,
            timing=bool(args.timing),
        )
        client = _ipi_client_module()
    except Exception as err:  # noqa: BLE001 - whatever stops the setup is reported the same way
        _say(
            f"error: {err}"
            if isinstance(err, (ValueError, OSError, RuntimeError))
            else f"error: {type(err).__name__}: {err}"
        )
        return EXIT_SETUP
    watch = _Watch(args.connect_timeout, _client_headers(client), len(driver.numbers), driver.template)
    client.socket = watch.module
    if hasattr(client, "recv_data"):
        client.recv_data = watch.wrap_recv_data(client.recv_data)
    unix = args.unix is not None
    target = f"unix socket {args.sockets_prefix}{args.unix}" if unix else f"{args.address}:{args.port}"
    _say(f"{driver.describe()}; connecting to {target}")
    start = time.monotonic()
    status = None
    while status is None:
        try:
            options = {"shm": True} if args.shm else {}  # only i-PI versions with shared memory know it
            client.run_driver(
                unix=unix,
                address=args.unix if unix else args.address,
                port=args.port,
                driver=driver,
                f_verbose=args.verbose,
                sockets_prefix=args.sockets_prefix,
                **options,
            )
            _hang_up_all(watch)
            _say(
                f"i-PI sent EXIT after {driver.calls} messages ({driver.structures} structures, {driver.evaluated} "
                f"evaluated: repeats in a batch once); model {driver.time_model:.2f} s, driver "
                f"{driver.time_driver:.2f} s"
            )
            status = EXIT_OK
        except (DriverError, ProtocolError) as err:
            _hang_up_all(watch)
            _say(
                f'error: {err}. Stopping instead of answering i-PI (set exit_on_disconnect="true" on the '
                "<ffsocket> for i-PI to stop too)"
            )
            status = EXIT_EVALUATION
        except NoServer as err:
            _hang_up_all(watch)
            _say(f"i-PI did not come back: {err}" if watch.reconnecting else str(err))
            status = EXIT_SERVER_GONE
        except (ServerGone, BrokenPipeError, ConnectionResetError) as err:
            _hang_up_all(watch)
            if isinstance(err, ServerGone):
                why = str(err)
            else:
                how = "reset" if isinstance(err, ConnectionResetError) else "broken"
                why = f"the connection was {how} (i-PI died or was killed?)"
            lost = f"lost the i-PI server after {driver.calls} evaluations: {why}"
            if args.reconnect > 0:  # i-PI restarted from its checkpoint, or a lost connection to it
                again = _where(watch.address) if watch.address else target
                _say(f"{lost}; reconnecting (up to {args.reconnect:g} s) to {again}")
                watch.connect_timeout = args.reconnect
                watch.reconnecting = True
                continue
            _say(lost)
            status = EXIT_SERVER_GONE
        except KeyboardInterrupt:
            _hang_up_all(watch)
            _say("interrupted")
            status = 130
        except Exception as err:  # noqa: BLE001 - e.g. i-PI's loop on an unexpected message
            traceback.print_exc()
            _hang_up_all(watch)
            _say(f"error after {driver.calls} evaluations: {type(err).__name__}: {err}")
            status = EXIT_EVALUATION
    if args.timing:
        from .pes import local_rank

        _write_timing(args.timing.replace("{rank}", str(local_rank() or 0)), driver, time.monotonic() - start)
    return status


if __name__ == "__main__":
    sys.exit(main())
