"""Response properties of molecules from the autograd Hessian of the eMLP (seed appendix A).

The extended Hessian (eq. 40, here in Cartesian coordinates of an isolated molecule) of
E_eMLP(R, r, E) with respect to core positions R (c), pair positions r (p) and the uniform
field E (e) has blocks H_cc, H_cp, H_pp, H_ce, H_pe (H_ee = 0: eq. 12 is linear in E).  Units:
eV/angstrom^2, eV/(angstrom V/angstrom) = e, and the field block in e*angstrom/(V/angstrom).

* electronic polarizability, pairs relaxed and cores clamped (eq. 42 restricted to the pairs):
  alpha = H_ep H_pp^-1 H_pe  (e^2 angstrom^2/eV), reported as the polarizability volume
  k_e alpha in angstrom^3 (k_e = 1/(4 pi eps0));
* polarizability with core relaxation (eq. 42 over cores and pairs): the same with the block of
  all particles, on the internal space (rigid translations and rotations projected out; the
  structure must be a minimum);
* Born-Oppenheimer Hessian of the cores (eq. 4-5 at second order): H_BO = H_cc - H_cp H_pp^-1 H_pc;
* atomic polar tensors: apt[j, a, b] = d d_a / d R_jb = -(H_ec - H_ep H_pp^-1 H_pc) (e), since
  the dipole is d = -dE/dE at relaxed pairs;
* IR: harmonic frequencies (cm^-1) of the mass-weighted H_BO and intensities
  N_A / (12 eps0 c^2) |d d/dQ_k|^2 (km/mol) of each normal mode Q_k.

Every function takes any module with the eMLP forward signature (see :mod:`tensorml.emlp.model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ase.units
import numpy as np
import torch
from ase.data import atomic_masses

from .electrostatics import K_E
from .evaluate import Inputs

#: Conversion of an IR intensity |dmu/dQ|^2 in e^2/amu to km/mol: N_A e^2 / (12 eps0 c^2 amu) / 1000 m.
IR_INTENSITY_KM_PER_MOL = (
    ase.units._Nav * ase.units._e**2 / (12.0 * ase.units._eps0 * ase.units._c**2 * ase.units._amu) / 1000.0
)
#: sqrt(eV / (angstrom^2 amu)) in s^-1 -> cm^-1.
FREQUENCY_CM = np.sqrt(ase.units._e / (1e-20 * ase.units._amu)) / (2.0 * np.pi * ase.units._c * 100.0)


@dataclass
class HessianBlocks:
    """Blocks of the extended Hessian (eq. 40) at one configuration (numpy float64)."""

    cc: np.ndarray  # [3N, 3N] eV/angstrom^2
    cp: np.ndarray  # [3N, 3M]
    pp: np.ndarray  # [3M, 3M]
    ec: np.ndarray  # [3, 3N]  e
    ep: np.ndarray  # [3, 3M]
    cores: np.ndarray  # [N, 3] angstrom
    pairs: np.ndarray  # [M, 3] angstrom


def extended_hessian(model, inputs: Inputs) -> HessianBlocks:
    """Second derivatives of E_eMLP with respect to cores, pairs and field by autograd."""
    n = inputs.cores.shape[0]
    m = inputs.pairs.shape[0]
    dtype = inputs.cores.dtype
    x0 = torch.cat([inputs.cores.reshape(-1), inputs.pairs.reshape(-1), inputs.efield.reshape(-1)]).detach()

    def energy(x: torch.Tensor) -> torch.Tensor:
        cores = x[: 3 * n].reshape(n, 3)
        pairs = x[3 * n : 3 * n + 3 * m].reshape(m, 3)
        return model(cores, inputs.numbers, pairs, inputs.cell, inputs.pbc, x[3 * n + 3 * m :])

    h = torch.autograd.functional.hessian(energy, x0.to(dtype)).detach().to(torch.float64).numpy()
    c = slice(0, 3 * n)
    p = slice(3 * n, 3 * n + 3 * m)
    e = slice(3 * n + 3 * m, 3 * n + 3 * m + 3)
    return HessianBlocks(
        cc=h[c, c],
        cp=h[c, p],
        pp=h[p, p],
        ec=h[e, c],
        ep=h[e, p],
        cores=inputs.cores.detach().to(torch.float64).numpy(),
        pairs=inputs.pairs.detach().to(torch.float64).numpy(),
    )


def _solve_positive(h: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    """h^-1 b for a symmetric positive definite h; ValueError naming ``what`` otherwise."""
    h = 0.5 * (h + h.T)
    try:
        factor = np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        lowest = np.linalg.eigvalsh(h)[0]
        raise ValueError(
            f"{what} is not positive definite (lowest eigenvalue {lowest:.3g} eV/angstrom^2): "
            "the configuration is not a minimum"
        ) from None
    return np.linalg.solve(factor.T, np.linalg.solve(factor, b))


def electronic_polarizability(blocks: HessianBlocks) -> np.ndarray:
    """Polarizability volume (angstrom^3) with relaxed pairs and clamped cores: k_e H_ep H_pp^-1 H_pe."""
    if blocks.pp.size == 0:
        return np.zeros((3, 3))
    alpha = blocks.ep @ _solve_positive(blocks.pp, blocks.ep.T, "the electron-pair Hessian H_pp")
    return K_E * 0.5 * (alpha + alpha.T)


def rigid_modes(positions: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Orthonormal basis (3P, k) of translations and infinitesimal rotations (k = 5 or 6).

    ``weights`` (P,) scale each particle's displacement (sqrt of masses for mass-weighted
    coordinates); rotations are about the (weighted) centre.
    """
    x = np.asarray(positions, dtype=float).reshape(-1, 3)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    centre = (w[:, None] ** 2 * x).sum(0) / (w**2).sum()
    rel = x - centre
    vectors = []
    for a in range(3):
        t = np.zeros_like(x)
        t[:, a] = 1.0
        vectors.append((w[:, None] * t).reshape(-1))
    for a in range(3):
        axis = np.zeros(3)
        axis[a] = 1.0
        vectors.append((w[:, None] * np.cross(axis, rel)).reshape(-1))
    u, s, _ = np.linalg.svd(np.array(vectors).T, full_matrices=False)
    return u[:, s > 1e-6 * s[0]]


def _internal_basis(positions: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    rigid = rigid_modes(positions, weights)
    u, s, _ = np.linalg.svd(np.eye(rigid.shape[0]) - rigid @ rigid.T)
    return u[:, : rigid.shape[0] - rigid.shape[1]]


def relaxed_polarizability(blocks: HessianBlocks) -> np.ndarray:
    """Polarizability volume (angstrom^3) with cores and pairs relaxed (eq. 42), rigid modes excluded."""
    h = np.block([[blocks.cc, blocks.cp], [blocks.cp.T, blocks.pp]])
    hef = np.concatenate([blocks.ec, blocks.ep], axis=1)
    q = _internal_basis(np.vstack([blocks.cores, blocks.pairs]))
    hq = q.T @ h @ q
    bq = q.T @ hef.T
    alpha = bq.T @ _solve_positive(hq, bq, "the internal Hessian of cores and pairs")
    return K_E * 0.5 * (alpha + alpha.T)


def born_oppenheimer_hessian(blocks: HessianBlocks) -> np.ndarray:
    """d^2 E_BO / dR dR (eV/angstrom^2) with the pairs following the cores (eq. 4)."""
    if blocks.pp.size == 0:
        return blocks.cc.copy()
    h = blocks.cc - blocks.cp @ _solve_positive(blocks.pp, blocks.cp.T, "the electron-pair Hessian H_pp")
    return 0.5 * (h + h.T)


def atomic_polar_tensors(blocks: HessianBlocks) -> np.ndarray:
    """apt[j, a, b] = d d_a / d R_jb (e) of the relaxed dipole, shape (N, 3, 3)."""
    total = blocks.ec.copy()
    if blocks.pp.size:
        total -= blocks.ep @ _solve_positive(blocks.pp, blocks.cp.T, "the electron-pair Hessian H_pp")
    n = blocks.cores.shape[0]
    return -total.reshape(3, n, 3).transpose(1, 0, 2)


@dataclass
class IRSpectrum:
    """Harmonic IR spectrum: frequencies (cm^-1, negative = imaginary), intensities (km/mol),
    Cartesian normal-mode displacements (modes, N, 3) normalised in mass-weighted coordinates."""

    frequencies: np.ndarray
    intensities: np.ndarray
    modes: np.ndarray


def ir_spectrum(blocks: HessianBlocks, numbers, masses=None) -> IRSpectrum:
    """Normal modes of the mass-weighted H_BO on the internal space and their IR intensities."""
    numbers = np.asarray(numbers, dtype=int)
    masses = atomic_masses[numbers] if masses is None else np.asarray(masses, dtype=float)
    sqrt_m = np.sqrt(masses)
    inv = np.repeat(1.0 / sqrt_m, 3)
    hm = born_oppenheimer_hessian(blocks) * inv[:, None] * inv[None, :]
    q = _internal_basis(blocks.cores, sqrt_m)
    evals, evecs = np.linalg.eigh(q.T @ hm @ q)
    mw_modes = q @ evecs  # mass-weighted normal coordinates, orthonormal
    cart = mw_modes * inv[:, None]  # dR / dQ
    apt = atomic_polar_tensors(blocks)  # [N, a, b]
    dmu_dq = np.einsum("jab,jbk->ka", apt, cart.reshape(len(numbers), 3, -1))
    freqs = np.sign(evals) * np.sqrt(np.abs(evals)) * FREQUENCY_CM
    intensities = IR_INTENSITY_KM_PER_MOL * (dmu_dq**2).sum(1)
    return IRSpectrum(freqs, intensities, cart.T.reshape(-1, len(numbers), 3))
