"""A flexible water force field for sampling cluster geometries (not a label source).

Flexible TIP3P-like model for gas-phase clusters: TIP3P charges (qO = -0.834 e,
qH = +0.417 e) and O-O Lennard-Jones (sigma 3.15061 angstrom, epsilon 0.1521 kcal/mol),
harmonic O-H bonds and H-O-H angles around the gas-phase geometry (0.9572 angstrom,
104.52 deg) with the SPC/Fw force constants (k_b = 1059.162 kcal/mol/angstrom^2,
k_a = 75.90 kcal/mol/rad^2, E = k/2 (x - x0)^2).  Intermolecular Coulomb and LJ only
(no cutoff: clusters are small).  An optional soft spherical wall on the oxygens,
E = k_w (r - R_w)^2 for r > R_w around the centre of mass, keeps a cluster from
evaporating at 600 K.

Atoms must be ordered O H H per molecule.  Energies eV, forces eV/angstrom.
"""

from __future__ import annotations

import ase.units
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .. import units

KCAL_MOL = ase.units.kcal / ase.units.mol  # eV
Q_O, Q_H = -0.834, 0.417
LJ_SIGMA = 3.15061
LJ_EPSILON = 0.1521 * KCAL_MOL
R0_OH = 0.9572
THETA0 = np.deg2rad(104.52)
K_BOND = 1059.162 * KCAL_MOL
K_ANGLE = 75.90 * KCAL_MOL


class FlexibleWater(Calculator):
    """ASE calculator of the flexible water model above."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, wall_radius: float | None = None, wall_k: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.wall_radius = wall_radius
        self.wall_k = wall_k

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        e, f = water_energy_forces(self.atoms.positions, self.atoms.get_masses(), self.wall_radius, self.wall_k)
        self.results = {"energy": e, "forces": f}


def water_energy_forces(pos, masses=None, wall_radius=None, wall_k=1.0):
    """Energy (eV) and forces (eV/angstrom) of O H H ordered water molecules."""
    pos = np.asarray(pos, dtype=float)
    n = len(pos)
    if n % 3:
        raise ValueError("atoms must be O H H per molecule")
    nmol = n // 3
    f = np.zeros_like(pos)
    energy = 0.0
    o, h1, h2 = pos[0::3], pos[1::3], pos[2::3]
    # bonds
    for hi, hpos in ((1, h1), (2, h2)):
        d = hpos - o
        r = np.linalg.norm(d, axis=1)
        energy += 0.5 * K_BOND * np.sum((r - R0_OH) ** 2)
        g = (K_BOND * (r - R0_OH) / r)[:, None] * d  # dE/dH
        f[hi::3] -= g
        f[0::3] += g
    # angles
    a, b = h1 - o, h2 - o
    ra, rb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = np.clip(np.sum(a * b, axis=1) / (ra * rb), -1.0, 1.0)
    theta = np.arccos(cos)
    energy += 0.5 * K_ANGLE * np.sum((theta - THETA0) ** 2)
    sin = np.maximum(np.sqrt(1.0 - cos**2), 1e-8)
    de_dtheta = K_ANGLE * (theta - THETA0)
    dcos_da = b / (ra * rb)[:, None] - (cos / ra**2)[:, None] * a
    dcos_db = a / (ra * rb)[:, None] - (cos / rb**2)[:, None] * b
    ga = (-de_dtheta / sin)[:, None] * dcos_da
    gb = (-de_dtheta / sin)[:, None] * dcos_db
    f[1::3] -= ga
    f[2::3] -= gb
    f[0::3] += ga + gb
    # intermolecular Coulomb + O-O LJ
    if nmol > 1:
        q = np.tile([Q_O, Q_H, Q_H], nmol)
        mol = np.repeat(np.arange(nmol), 3)
        d = pos[:, None, :] - pos[None, :, :]
        r = np.linalg.norm(d, axis=2)
        inter = mol[:, None] != mol[None, :]
        rinv = np.where(inter, 1.0 / np.where(inter, r, 1.0), 0.0)
        ke = units.COULOMB_CONSTANT
        e_c = ke * q[:, None] * q[None, :] * rinv
        energy += 0.5 * e_c.sum()
        f += np.einsum("ij,ijx->ix", e_c * rinv**2, d)
        oo = np.arange(0, n, 3)
        do = d[np.ix_(oo, oo)]
        ro = r[np.ix_(oo, oo)]
        mask = ~np.eye(nmol, dtype=bool)
        sr6 = np.where(mask, (LJ_SIGMA / np.where(mask, ro, 1.0)) ** 6, 0.0)
        energy += 0.5 * np.sum(4 * LJ_EPSILON * (sr6**2 - sr6))
        coef = np.where(mask, 24 * LJ_EPSILON * (2 * sr6**2 - sr6) / np.where(mask, ro, 1.0) ** 2, 0.0)
        f[oo] += np.einsum("ij,ijx->ix", coef, do)
    if wall_radius is not None:
        m = np.ones(n) if masses is None else np.asarray(masses)
        com = (m[:, None] * pos).sum(0) / m.sum()
        d = o - com
        r = np.linalg.norm(d, axis=1)
        out = r > wall_radius
        energy += wall_k * np.sum((r[out] - wall_radius) ** 2)
        g = np.zeros_like(o)
        g[out] = (2 * wall_k * (r[out] - wall_radius) / r[out])[:, None] * d[out]
        # the centre of mass moves with every atom: spread the reaction over all atoms by mass
        f[0::3] -= g
        f += (m / m.sum())[:, None] * g.sum(0)
    return float(energy), f
