"""tensorml-ipi: connect a tensorml model to a running i-PI server.

The wire protocol is i-PI's own client loop (``run_driver`` of the
``i-pi-py_driver`` script of the installed i-PI), given our PES class.  Two
things are added around it:

* connecting waits for the server socket to appear (``--connect-timeout``),
  so the driver may be started right after i-PI;
* a server that vanishes is noticed: i-PI's loop reads an empty header from a
  closed socket forever, so the socket we hand it raises on end-of-stream,
  and the driver exits with a clear message (status 1) instead of spinning.

An EXIT from i-PI ends the driver with status 0.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import shutil
import socket
import sys
import time
import types


class ServerGone(ConnectionError):
    """i-PI closed the connection or disappeared."""


def _watched_socket_module(connect_timeout: float) -> types.SimpleNamespace:
    """A stand-in for the ``socket`` module whose sockets wait to connect and raise on EOF."""

    class WatchedSocket(socket.socket):
        def connect(self, address):
            deadline = time.monotonic() + connect_timeout
            while True:
                try:
                    return super().connect(address)
                except (FileNotFoundError, ConnectionRefusedError) as err:
                    if time.monotonic() > deadline:
                        raise ServerGone(f"no i-PI server at {address!r} after {connect_timeout:g} s ({err})")
                    time.sleep(0.1)

        def recv(self, bufsize, *flags):
            data = super().recv(bufsize, *flags)
            if bufsize > 0 and not data:
                raise ServerGone("i-PI closed the connection")
            return data

    module = types.SimpleNamespace(**vars(socket))
    module.socket = WatchedSocket
    return module


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tensorml-ipi",
        description="Serve a tensorml model to i-PI (energies, forces and, in the extras, dipole, BEC, "
        "polarizability) over a unix or inet socket. Values on the wire are in atomic units.",
    )
    p.add_argument("--model", required=True, help="tensorml model file")
    p.add_argument("--template", required=True,
                   help="structure file with the elements in i-PI's atom order (e.g. i-PI's init.xyz)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix", metavar="NAME", help="unix socket name (i-PI <address> of a unix socket)")
    where.add_argument("--address", metavar="HOST", help="inet host of the i-PI server")
    p.add_argument("--port", type=int, default=12345, help="inet port (with --address)")
    p.add_argument("--sockets-prefix", default="/tmp/ipi_", help="prefix of unix socket paths (i-PI default)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    p.add_argument("--properties-only", action="store_true",
                   help="zero energy/forces: only add tensors (extras) along another force field's dynamics")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds to wait for the server")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .pes import TensorMLDriver

    try:
        driver = TensorMLDriver(template=args.template, model=args.model, device=args.device,
                                properties_only=args.properties_only)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"tensorml-ipi: error: {err}", file=sys.stderr)
        return 2
    client = _ipi_client_module()
    client.socket = _watched_socket_module(args.connect_timeout)
    unix = args.unix is not None
    try:
        client.run_driver(
            unix=unix,
            address=args.unix if unix else args.address,
            port=args.port,
            driver=driver,
            f_verbose=args.verbose,
            sockets_prefix=args.sockets_prefix,
        )
    except (ServerGone, BrokenPipeError, ConnectionResetError) as err:
        print(f"tensorml-ipi: lost the i-PI server: {err}", file=sys.stderr)
        return 1
    except RuntimeError as err:  # i-PI's loop reports a disconnect mid-message this way
        print(f"tensorml-ipi: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
