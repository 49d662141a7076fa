"""Response properties of crystals from the autograd Hessian of the eMLP (seed appendix A, eqs. 40-45).

The extended Hessian (eq. 40) of E_eMLP(s, A, E) is taken with respect to the fractional
coordinates s of all cores and (unwrapped) electron pairs (f), the nine elements of the cell
matrix A whose rows are the lattice vectors (a), and the uniform field E (e); Cartesian
positions are x = s A.  Units: angstrom, eV, e, V/angstrom.  With V the cell volume and f
restricted either to the pairs ("clamped ions": the cores follow the homogeneous strain, the
electrons relax) or to all particles ("relaxed ions", uniform translations projected out):

* dielectric tensor (eq. 43): eps_ij = delta_ij + (1/(V eps0)) (H_ef H_ff^-1 H_fe)_ij, with
  1/eps0 = 4 pi k_e (k_e = 14.3996 eV angstrom/e^2); dimensionless;
* stiffness (eq. 41): C_ijkl = (1/V) sum_mn A_mi A_nk (H_aa - H_af H_ff^-1 H_fa)_(mj)(nl), the
  second strain derivative of the energy per volume (the elastic constants when the cell is
  stress free; :attr:`CrystalResponse.stress` says how far it is); eV/angstrom^3, reported in GPa;
* proper piezoelectric tensor (eq. 44): e~_ijk = (1/V) sum_m A_mj (H_ef H_ff^-1 H_fa)_i(mk),
  e/angstrom^2, reported in C/m^2.  It is the dipole change per strain, (1/V) dd_i/deps_jk,
  minus delta_ik P_j (eq. 45 with P = d/V), invariant under moving a particle by a lattice vector;
* piezoelectric strain constants (eq. 39): d = e~ : C^-1, in Voigt notation d_iJ = e_iK (C^-1)_KJ
  (shear strains counted twice, as in the seed's Table 7), reported in pC/N (= pm/V).

Voigt order: xx, yy, zz, yz, xz, xy.  The structure should be a minimum of cores and pairs
(:func:`~tensorml.emlp.relax.optimize_structure`); a Hessian that is not positive definite on
the relaxing coordinates is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .electrostatics import K_E
from .evaluate import Inputs
from .response import _solve_positive

#: Voigt index pairs: xx, yy, zz, yz, xz, xy
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: eV/angstrom^3 -> GPa
GPA = 1.602176634e-19 / 1e-30 / 1e9
#: e/angstrom^2 -> C/m^2
C_PER_M2 = 1.602176634e-19 / 1e-20


@dataclass
class CrystalHessian:
    """Blocks of eq. 40 in fractional coordinates (numpy float64) and the structure they belong to."""

    ff: np.ndarray  # [3P, 3P] eV
    fa: np.ndarray  # [3P, 9] eV/angstrom
    fe: np.ndarray  # [3P, 3] e*angstrom
    aa: np.ndarray  # [9, 9] eV/angstrom^2
    cell: np.ndarray  # [3, 3] rows = lattice vectors, angstrom
    n_cores: int
    gradient_a: np.ndarray  # [3, 3] dE/dA, eV/angstrom

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell)))


def crystal_hessian(model, inputs: Inputs) -> CrystalHessian:
    """The extended Hessian of eq. 40 by autograd for a 3D-periodic eMLP structure."""
    if not inputs.periodic:
        raise ValueError("crystal response properties need a 3D-periodic structure (use response.py for molecules)")
    dtype = inputs.cores.dtype
    n = inputs.cores.shape[0]
    cell = inputs.cell.detach()
    x = torch.cat([inputs.cores, inputs.pairs]).detach()
    s = x @ torch.linalg.inv(cell)  # fractional coordinates, pairs unwrapped
    p = s.shape[0]
    z0 = torch.cat([s.reshape(-1), cell.reshape(-1), inputs.efield.reshape(-1)]).detach().to(dtype)

    def energy(z: torch.Tensor) -> torch.Tensor:
        a = z[3 * p : 3 * p + 9].reshape(3, 3)
        pos = z[: 3 * p].reshape(p, 3) @ a
        return model(pos[:n], inputs.numbers, pos[n:], a, inputs.pbc, z[3 * p + 9 :])

    h = torch.autograd.functional.hessian(energy, z0).detach().to(torch.float64).numpy()
    zg = z0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(zg), zg)
    f, a, e = slice(0, 3 * p), slice(3 * p, 3 * p + 9), slice(3 * p + 9, 3 * p + 12)
    return CrystalHessian(
        ff=h[f, f],
        fa=h[f, a],
        fe=h[f, e],
        aa=h[a, a],
        cell=cell.to(torch.float64).numpy(),
        n_cores=n,
        gradient_a=grad[a].detach().to(torch.float64).numpy().reshape(3, 3),
    )


def _relaxing(hess: CrystalHessian, ions: bool) -> np.ndarray:
    """Basis (3P, k) of the coordinates that relax: the pairs' (clamped ions), or all particles'
    without the three uniform translations (relaxed ions)."""
    p = hess.ff.shape[0] // 3
    if not ions:
        return np.eye(3 * p)[:, 3 * hess.n_cores :]
    translations = np.kron(np.ones((p, 1)), np.eye(3)) / np.sqrt(p)  # [3P, 3]
    u, _, _ = np.linalg.svd(np.eye(3 * p) - translations @ translations.T)
    return u[:, : 3 * p - 3]


def _response(hess: CrystalHessian, ions: bool, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left^T H_ff^-1 right on the relaxing coordinates (left, right: [3P, k])."""
    q = _relaxing(hess, ions)
    if q.shape[1] == 0:
        return np.zeros((left.shape[1], right.shape[1]))
    what = "the Hessian of the relaxing coordinates (" + ("cores and pairs" if ions else "pairs") + ")"
    return (q.T @ left).T @ _solve_positive(q.T @ hess.ff @ q, q.T @ right, what)


def dielectric_tensor(hess: CrystalHessian, ions: bool = False) -> np.ndarray:
    """eps_ij (eq. 43): electrons only (ion-clamped, ``ions=False``) or with relaxed cores."""
    alpha = _response(hess, ions, hess.fe, hess.fe)  # e^2 angstrom^2 / eV
    return np.eye(3) + 4.0 * np.pi * K_E * 0.5 * (alpha + alpha.T) / hess.volume


def stiffness_tensor(hess: CrystalHessian, ions: bool = True) -> np.ndarray:
    """C_ijkl (eq. 41), eV/angstrom^3, shape (3, 3, 3, 3): cores relaxed (``ions=True``) or following
    the homogeneous strain; the electron pairs always relax."""
    h = hess.aa - _response(hess, ions, hess.fa, hess.fa)  # (mj),(nl)
    h = h.reshape(3, 3, 3, 3)
    c = np.einsum("mi,nk,mjnl->ijkl", hess.cell, hess.cell, h) / hess.volume
    return c


def piezoelectric_tensor(hess: CrystalHessian, ions: bool = True) -> np.ndarray:
    """Proper piezoelectric tensor e~_ijk (eq. 44), e/angstrom^2, shape (3, 3, 3)."""
    r = _response(hess, ions, hess.fe, hess.fa).reshape(3, 3, 3)  # i, m, k
    return np.einsum("mj,imk->ijk", hess.cell, r) / hess.volume


def stress(hess: CrystalHessian) -> np.ndarray:
    """sigma_ij = (1/V) sum_m A_mi dE/dA_mj (eV/angstrom^3, ASE sign) at the Hessian's structure."""
    return hess.cell.T @ hess.gradient_a / hess.volume


def voigt_matrix(c: np.ndarray) -> np.ndarray:
    """6x6 Voigt matrix C_IJ = C_ijkl of a (3, 3, 3, 3) tensor (no factors)."""
    return np.array([[c[i, j, k, m] for (k, m) in VOIGT] for (i, j) in VOIGT])


def voigt_piezo(e: np.ndarray) -> np.ndarray:
    """3x6 Voigt matrix e_iJ = e_ijk of a (3, 3, 3) tensor (no factors)."""
    return np.array([[e[i, j, k] for (j, k) in VOIGT] for i in range(3)])


@dataclass
class CrystalResponse:
    """Appendix-A properties of one crystal structure, in the units named by each field; the
    relaxed-ion ones are None unless asked for (they need a minimum of the cores)."""

    volume: float  # angstrom^3
    stress_gpa: np.ndarray  # 3x3 residual stress of the structure, GPa
    dielectric_clamped: np.ndarray  # 3x3, ion-clamped (electrons relax)
    stiffness_clamped_gpa: np.ndarray  # 6x6 Voigt, GPa
    piezo_clamped_c_m2: np.ndarray  # 3x6 Voigt, proper e~, C/m^2
    dielectric_relaxed: Optional[np.ndarray] = None  # 3x3, static (cores relax too)
    stiffness_relaxed_gpa: Optional[np.ndarray] = None  # 6x6 Voigt, GPa
    piezo_relaxed_c_m2: Optional[np.ndarray] = None  # 3x6 Voigt, proper e~, C/m^2
    piezo_strain_pc_n: Optional[np.ndarray] = None  # 3x6 Voigt, d = e~ C^-1 (relaxed ions), pC/N


def crystal_response(model, inputs: Inputs, relaxed_ions: bool = True) -> CrystalResponse:
    """Every property above for a 3D-periodic structure at a minimum of its pairs (and of its cores
    for ``relaxed_ions``)."""
    hess = crystal_hessian(model, inputs)
    out = CrystalResponse(
        volume=hess.volume,
        stress_gpa=stress(hess) * GPA,
        dielectric_clamped=dielectric_tensor(hess, ions=False),
        stiffness_clamped_gpa=voigt_matrix(stiffness_tensor(hess, ions=False)) * GPA,
        piezo_clamped_c_m2=voigt_piezo(piezoelectric_tensor(hess, ions=False)) * C_PER_M2,
    )
    if relaxed_ions:
        out.dielectric_relaxed = dielectric_tensor(hess, ions=True)
        out.stiffness_relaxed_gpa = voigt_matrix(stiffness_tensor(hess, ions=True)) * GPA
        out.piezo_relaxed_c_m2 = voigt_piezo(piezoelectric_tensor(hess, ions=True)) * C_PER_M2
        # (C/m^2) / GPa = 1e-9 C/N = 1e3 pC/N
        out.piezo_strain_pc_n = out.piezo_relaxed_c_m2 @ np.linalg.inv(out.stiffness_relaxed_gpa) * 1e3
    return out
