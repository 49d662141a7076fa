"""Restricted Kohn-Sham / Hartree-Fock in a homogeneous electric field, with PySCF.

Everything here is in atomic units (bohr, hartree, e; field in hartree/(e*bohr)),
the caller converts with :mod:`tensorml.units`.

Hamiltonian of a molecule in a homogeneous field F (gauge origin at the coordinate
origin, the same origin as the dipole)::

    E(F) = E_KS[rho; F] = E_KS[rho] + sum_a F_a * tr(D r_a) - sum_i Z_i F . R_i

i.e. the electrons (charge -1) feel +F.r and the nuclei -Z F.R, so that
-dE/dF_a = M_a = sum_i Z_i R_ia - tr(D r_a) (the dipole, Hellmann-Feynman) and the
nuclear forces F_i = -dE/dR_i contain the direct term +Z_i F.  This is the energy the
eMLP seed uses for field-perturbed data (its Eq. 12 with point nuclei).

The nuclear gradient of the field term has two parts: the nuclear one (-Z_i F) and the
one from the atom-centred basis functions moving with the nuclei,
2 sum_{mu on i, nu} D_{mu nu} F_a <d mu/dR_i | r_a | nu>, written with the libcint
integral ``int1e_irp`` = <mu| r_a d/dx |nu> via integration by parts:
<d_x mu| r_a |nu> = -delta_ax S_{mu nu} - <mu| r_a d_x |nu>.
"""

from __future__ import annotations

import numpy as np

from .theory import LevelOfTheory


class SCFNotConverged(RuntimeError):
    """An SCF (or Boys localisation) did not converge; the frame must be skipped."""


def build_molecule(symbols, positions_angstrom, level: LevelOfTheory, charge: int | None = None):
    """PySCF ``Mole`` (closed shell) from element symbols and positions in angstrom."""
    from pyscf import gto

    atom = [(s, tuple(float(x) for x in p)) for s, p in zip(symbols, positions_angstrom)]
    from ase.data import atomic_numbers

    charge = level.charge if charge is None else int(charge)
    n_electrons = sum(atomic_numbers[s] for s in symbols) - charge
    if n_electrons % 2:
        raise ValueError(f"odd number of electrons ({n_electrons}): only closed shells are supported")
    mol = gto.Mole()
    mol.atom = atom
    mol.unit = "Angstrom"
    mol.basis = level.basis
    mol.charge = charge
    mol.spin = 0
    mol.verbose = 0
    mol.max_memory = int(level.extra.get("max_memory_mb", 2000))
    mol.build()
    return mol


def _nuclear_dipole(mol) -> np.ndarray:
    return np.einsum("i,ix->x", mol.atom_charges(), mol.atom_coords())


def make_scf(mol, level: LevelOfTheory, field_au=(0.0, 0.0, 0.0)):
    """A PySCF SCF object (RKS or RHF, density fitted if asked) with the field term added."""
    from pyscf import dft, scf

    field_au = np.asarray(field_au, dtype=float)
    if level.is_hf:
        mf = scf.RHF(mol)
    else:
        mf = dft.RKS(mol)
        mf.xc = level.method
        mf.grids.level = level.grid_level
    if level.density_fit:
        mf = mf.density_fit(auxbasis=level.auxbasis)
    mf.conv_tol = level.conv_tol
    mf.conv_tol_grad = level.conv_tol_grad
    mf.max_cycle = level.max_cycle
    mf.verbose = 0
    if np.any(field_au != 0.0):
        with mol.with_common_orig((0.0, 0.0, 0.0)):
            r_ints = mol.intor_symmetric("int1e_r", comp=3)
        h_field = np.einsum("a,aij->ij", field_au, r_ints)
        h0 = scf.hf.get_hcore(mol)
        mf.get_hcore = lambda *args, **kwargs: h0 + h_field
        e_nuc_field = -float(_nuclear_dipole(mol) @ field_au)
        e_nuc0 = mol.energy_nuc()
        mf.energy_nuc = lambda *args, **kwargs: e_nuc0 + e_nuc_field
    mf._tensorml_field = field_au
    return mf


def run_scf(mf, dm0=None):
    """Run the SCF (from ``dm0`` if given); raise :class:`SCFNotConverged` if it fails."""
    mf.kernel(dm0=dm0)
    if not mf.converged:
        raise SCFNotConverged(
            f"SCF did not converge in {mf.max_cycle} cycles (field {mf._tensorml_field.tolist()} a.u.)"
        )
    return mf


def dipole_au(mf) -> np.ndarray:
    """Total dipole (e*bohr) about the coordinate origin: sum Z R - tr(D r)."""
    mol = mf.mol
    dm = mf.make_rdm1()
    with mol.with_common_orig((0.0, 0.0, 0.0)):
        r_ints = mol.intor_symmetric("int1e_r", comp=3)
    return _nuclear_dipole(mol) - np.einsum("xij,ji->x", r_ints, dm).real


def gradient_au(mf) -> np.ndarray:
    """Nuclear gradient dE/dR (hartree/bohr, shape (natm, 3)) including the field terms."""
    mol = mf.mol
    field_au = mf._tensorml_field
    g = mf.nuc_grad_method()
    g.verbose = 0
    if np.any(field_au != 0.0):
        base_hcore = g.get_hcore
        with mol.with_common_orig((0.0, 0.0, 0.0)):
            irp = mol.intor("int1e_irp", comp=9).reshape(3, 3, mol.nao, mol.nao)  # [a, x, mu, nu]
            s = mol.intor_symmetric("int1e_ovlp")
        # <d_x mu| r_a |nu> = -delta_ax S - <mu| r_a d_x |nu>
        ip_r = -irp.copy()
        for a in range(3):
            ip_r[a, a] -= s
        # grad.get_hcore returns -<d mu/dx|h|nu>, and the gradient adds its transpose
        h_field = -np.einsum("a,axij->xij", field_au, ip_r)
        g.get_hcore = lambda mol=None, _b=base_hcore, _h=h_field: _b(mol) + _h
        base_grad_nuc = g.grad_nuc
        z_field = np.einsum("i,x->ix", mol.atom_charges(), field_au)
        g.grad_nuc = lambda mol=None, atmlst=None, _b=base_grad_nuc: _b(mol, atmlst) - z_field
    return np.asarray(g.kernel())
