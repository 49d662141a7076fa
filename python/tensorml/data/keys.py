"""Names and units of every label in tensorml datasets (the contract the trainer relies on).

Units are the tensorml ``metal`` system (:data:`tensorml.units.METAL`: angstrom, eV, e).

Per frame (``atoms.info`` after :func:`tensorml.data.read_dataset`):

==================  ===========  =========================  ==================================
key                 shape        unit                       meaning
==================  ===========  =========================  ==================================
``energy``          scalar       eV                         total energy, including the
                                                            interaction with ``efield``
``dipole``          (3,)         e*angstrom                 total dipole about the coordinate
                                                            origin, sum Z R - int rho r
``polarizability``  (3, 3)       angstrom^3                 static polarizability *volume*
                                                            alpha/(4 pi eps0), alpha_ab = dM_a/dE_b
``efield``          (3,)         V/angstrom                 applied homogeneous field (zero for
                                                            unperturbed frames)
``charge``          scalar int   e                          total charge
``electron_pairs``  (M, 3)       angstrom                   Foster-Boys centres of the valence
                                                            electron pairs (charge -2 e each)
``system_id``       str          -                          identity of the molecule/cluster
                                                            (train/test splits keep it whole)
==================  ===========  =========================  ==================================

Per atom (``atoms.arrays``, nuclei only):

===========  ==========  ============  ================================================
key          shape       unit          meaning
===========  ==========  ============  ================================================
``forces``   (N, 3)      eV/angstrom   -dE/dR
``apt``      (N, 3, 3)   e             apt[i, a, b] = dM_a/dR_ib = dF_ib/dE_a
===========  ==========  ============  ================================================

Level of theory (header strings): ``method``, ``basis``, ``program``, ``density_fit``.

On disk (extxyz, read by ASE): ``polarizability`` is 9 numbers row-major [a][b]; ``apt``
is a per-atom column of 9 numbers row-major [a][b]; electron pairs are extra atoms with
the symbol ``X`` (atomic number 0) after the nuclei, whose ``forces`` are zero (the
electron pairs sit at their equilibrium positions, eMLP seed Sec. 2.2) and whose ``apt``
columns are zero (not a label).  This is also how CP2K writes Wannier centres, and any
extxyz viewer shows the pairs.
"""

from __future__ import annotations

#: Symbol of an electron pair (Boys or Wannier centre) in an extxyz/xyz frame.
ELECTRON_PAIR_SYMBOL = "X"

#: Per-frame keys and their units.
FRAME_KEYS = {
    "energy": "eV",
    "dipole": "e*angstrom",
    "polarizability": "angstrom^3",
    "efield": "V/angstrom",
    "charge": "e",
    "electron_pairs": "angstrom",
}
#: Per-atom keys and their units.
ATOM_KEYS = {"forces": "eV/angstrom", "apt": "e"}

#: Identity keys tried, in order, to group frames of one molecule/cluster for splits.
IDENTITY_KEYS = ("system_id", "cluster_id", "molecule_id")

#: Header keys of the level of theory.
THEORY_KEYS = ("program", "method", "basis", "density_fit", "dft_grid_level", "field_step_au")
