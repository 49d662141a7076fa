"""Physical heads: each maps backbone features to one physical quantity, mirroring its definition.

==========================  =============================  =========================================
head                        file                           quantity (seed equation)
==========================  =============================  =========================================
:class:`ChargeDipoleHead`   charge_dipole.py               M = sum q_i r_i + mu_i (EANN eqs. 1, 6)
:class:`TransitionDipoleHead` transition_dipole.py         mu_T from three latent vectors (eqs. 7-8)
:class:`EANNPolarizabilityHead` polarizability.py          D D^T + r D^T + D r^T + a I (eqs. 9-12)
:class:`AtomicPolarizabilityHead` polarizability.py        sum_i (0e + 2e)_i
:class:`DirectAPTHead`      apt.py                         apt_i = (0e + 1e + 2e)_i (APTNN)
:class:`EnergyHead`         energy.py                      E = sum_i E_i (eq. 5)
==========================  =============================  =========================================

The APT as autograd dM/dr of any dipole head needs no head: the contract module
differentiates the dipole.  Every head reads the Cartesian features of :mod:`tensorml.models.nn`,
so it works on either backbone.
"""

from .apt import DirectAPTHead
from .charge_dipole import ChargeDipoleHead
from .energy import EnergyHead
from .polarizability import AtomicPolarizabilityHead, EANNPolarizabilityHead
from .transition_dipole import TransitionDipoleHead

__all__ = [
    "AtomicPolarizabilityHead",
    "ChargeDipoleHead",
    "DirectAPTHead",
    "EANNPolarizabilityHead",
    "EnergyHead",
    "TransitionDipoleHead",
]
