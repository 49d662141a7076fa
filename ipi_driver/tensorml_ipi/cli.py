"""tensorml-ipi: connect a tensorml model to a running i-PI server.

The wire protocol is i-PI's own client loop (``run_driver`` of the
``i-pi-py_driver`` script of the installed i-PI), given our PES class
(:class:`tensorml_ipi.pes.TensorMLDriver`).  Two things are added around it:

* connecting waits for the server socket to appear (``--connect-timeout``),
  so the driver may be started right after i-PI;
* a server that vanishes is noticed: i-PI's loop reads an empty header from a
  closed socket forever, so the socket we hand it raises on end-of-stream,
  and the driver exits with a clear message instead of spinning.

Exit status: 0 after i-PI's EXIT; 1 when the server closed the connection or died
(also mid-message); 2 for a setup error (model, template, device, arguments);
3 when a structure cannot be evaluated (non-finite positions or model outputs,
wrong atom count, a failing model call): the driver stops rather than answer i-PI
with garbage, and closes the connection cleanly so that i-PI notices.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shutil
import socket
import sys
import time
import traceback
import types

EXIT_OK, EXIT_SERVER_GONE, EXIT_SETUP, EXIT_EVALUATION = 0, 1, 2, 3


class ServerGone(ConnectionError):
    """i-PI closed the connection or disappeared."""


def _watched_socket_module(connect_timeout: float) -> types.SimpleNamespace:
    """A stand-in for the ``socket`` module whose sockets wait to connect and raise on EOF.

    The sockets it makes are listed in its ``opened`` attribute (see :func:`_hang_up`)."""
    opened: list[socket.socket] = []

    class WatchedSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

        def connect(self, address):
            deadline = time.monotonic() + connect_timeout
            while True:
                try:
                    return super().connect(address)
                except (FileNotFoundError, ConnectionRefusedError) as err:
                    if time.monotonic() > deadline:
                        raise ServerGone(f"no i-PI server at {address!r} after {connect_timeout:g} s ({err})") from None
                    time.sleep(0.1)

        def recv(self, bufsize, *flags):
            data = super().recv(bufsize, *flags)
            if bufsize > 0 and not data and self.getblocking():
                raise ServerGone("i-PI closed the connection")
            return data

        def recv_into(self, buffer, nbytes=0, *flags):
            count = super().recv_into(buffer, nbytes, *flags)
            if count == 0 and (nbytes or len(memoryview(buffer))) > 0:
                raise ServerGone("i-PI closed the connection in the middle of a message")
            return count

    module = types.SimpleNamespace(**vars(socket))
    module.socket = WatchedSocket
    module.opened = opened
    return module


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


def _ipi_client_module():
    """i-PI's Python client (the ``i-pi-py_driver`` script) loaded as a module."""
    path = shutil.which("i-pi-py_driver") or os.path.join(os.path.dirname(sys.executable), "i-pi-py_driver")
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
        "Exit status: 0 after i-PI's EXIT, 1 server gone, 2 setup error, 3 a structure the model "
        "cannot evaluate.",
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
    client.socket = _watched_socket_module(args.connect_timeout)
    unix = args.unix is not None
    target = f"unix socket {args.sockets_prefix}{args.unix}" if unix else f"{args.address}:{args.port}"
    _say(f"{driver.describe()}; connecting to {target}")
    start = time.monotonic()
    status = EXIT_OK
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
        _say(
            f"i-PI sent EXIT after {driver.calls} messages ({driver.structures} structures, {driver.evaluated} "
            f"evaluated: repeats in a batch once); model {driver.time_model:.2f} s, driver {driver.time_driver:.2f} s"
        )
    except DriverError as err:
        for sock in client.socket.opened:
            _hang_up(sock)
        _say(
            f'error: {err}. Stopping instead of answering i-PI (set exit_on_disconnect="true" on the '
            "<ffsocket> for i-PI to stop too)"
        )
        status = EXIT_EVALUATION
    except ServerGone as err:
        _say(f"lost the i-PI server after {driver.calls} evaluations: {err}")
        status = EXIT_SERVER_GONE
    except (BrokenPipeError, ConnectionResetError) as err:
        _say(
            f"lost the i-PI server after {driver.calls} evaluations: the connection was "
            f"{'reset' if isinstance(err, ConnectionResetError) else 'broken'} (i-PI died or was killed?)"
        )
        status = EXIT_SERVER_GONE
    except KeyboardInterrupt:
        for sock in client.socket.opened:
            _hang_up(sock)
        _say("interrupted")
        status = 130
    except Exception as err:  # noqa: BLE001 - e.g. i-PI's loop on an unexpected message
        traceback.print_exc()
        for sock in client.socket.opened:
            _hang_up(sock)
        _say(f"error after {driver.calls} evaluations: {type(err).__name__}: {err}")
        status = EXIT_EVALUATION
    if args.timing:
        from .pes import local_rank

        _write_timing(args.timing.replace("{rank}", str(local_rank() or 0)), driver, time.monotonic() - start)
    return status


if __name__ == "__main__":
    sys.exit(main())
