"""The ``tensorml`` command: one subcommand per job.

Each subcommand lives in its own module that defines ``register(subparsers)``,
adding a parser whose ``func`` attribute runs it; :data:`SUBCOMMANDS` lists
those modules.  All of them are imported to build the parser, so keep their
top levels light (argparse only) and import torch, pyscf, ... inside ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules that provide a subcommand (each has ``register(subparsers)``).
SUBCOMMANDS = [
    "tensorml.commands.export",
    "tensorml.commands.info",
    "tensorml.commands.label",
    "tensorml.commands.spectrum",
    "tensorml.commands.train",
    "tensorml.commands.evaluate",
    "tensorml.commands.response",
    "tensorml.commands.train_emlp",
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="tensorml", description="Machine-learned tensorial properties for LAMMPS and i-PI."
    )
    parser.add_argument("--version", action="version", version=f"tensorml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"tensorml {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
