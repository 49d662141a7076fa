"""Configurations to label: water clusters from classical MD, distortions, random fields.

Everything is seeded (numpy ``default_rng``) so a dataset script reproduces its structures
exactly.  Lengths angstrom, temperatures K, fields V/angstrom.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation

from .. import units


def random_water_cluster(n: int, rng: np.random.Generator, min_oo: float = 2.7) -> Atoms:
    """``n`` randomly oriented water molecules (O H H order) packed in a sphere, O-O >= ``min_oo``."""
    h2o = molecule("H2O")
    h2o.positions -= h2o.positions[0]
    radius = 1.93 * n ** (1 / 3) + 0.5
    centres = []
    for _ in range(100000):
        if len(centres) == n:
            break
        c = rng.uniform(-radius, radius, 3)
        if np.linalg.norm(c) > radius:
            continue
        if all(np.linalg.norm(c - d) >= min_oo for d in centres):
            centres.append(c)
    else:  # pragma: no cover
        raise RuntimeError("could not pack the cluster")
    pos = []
    for c in centres:
        rot = Rotation.random(random_state=int(rng.integers(2**31)))
        pos.extend(rot.apply(h2o.positions) + c)
    return Atoms("OHH" * n, positions=pos)


def thermalize(atoms, temperature: float, rng) -> None:
    """Maxwell-Boltzmann momenta at ``temperature`` (K) without net momentum or rotation."""
    from ase.md import velocitydistribution as vd

    # ASE >= 3.26 names it thermalize_momenta (same distribution)
    draw = getattr(vd, "thermalize_momenta", None) or vd.MaxwellBoltzmannDistribution
    draw(atoms, temperature_K=temperature, rng=rng)
    vd.Stationary(atoms)
    vd.ZeroRotation(atoms)


def water_cluster_trajectory(
    n: int,
    temperature: float,
    n_frames: int,
    rng: np.random.Generator,
    equilibration_fs: float = 1000.0,
    stride_fs: float = 250.0,
    timestep_fs: float = 0.5,
) -> list[Atoms]:
    """Frames of a Langevin MD of an ``n``-water cluster at ``temperature`` (flexible water model).

    The cluster is relaxed briefly, equilibrated for ``equilibration_fs`` and then sampled
    every ``stride_fs``.  A soft spherical wall (:mod:`tensorml.data.water_ff`) keeps it
    together at high temperature.
    """
    import ase.units
    from ase.md.langevin import Langevin
    from ase.optimize import FIRE

    from .water_ff import FlexibleWater

    atoms = random_water_cluster(n, rng)
    wall = 1.93 * n ** (1 / 3) + 0.8
    atoms.calc = FlexibleWater(wall_radius=wall if n > 1 else None)
    FIRE(atoms, logfile=None).run(fmax=0.5, steps=200)
    thermalize(atoms, temperature, rng)
    dyn = Langevin(
        atoms, timestep_fs * ase.units.fs, temperature_K=temperature, friction=0.01 / ase.units.fs, fixcm=False, rng=rng
    )
    dyn.run(int(equilibration_fs / timestep_fs))
    frames = []
    for _ in range(n_frames):
        dyn.run(int(stride_fs / timestep_fs))
        a = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions - atoms.get_center_of_mass())
        frames.append(a)
    return frames


def distort(
    atoms: Atoms, rng: np.random.Generator, sigma: float = 0.03, stretch: tuple = (1.05, 1.45), p_stretch: float = 0.5
) -> Atoms:
    """A distorted copy: Gaussian noise ``sigma`` on every atom and, with probability
    ``p_stretch``, one O-H bond (water, O H H order) stretched to a length in ``stretch``."""
    out = atoms.copy()
    out.positions += rng.normal(0.0, sigma, out.positions.shape)
    syms = out.get_chemical_symbols()
    if rng.random() < p_stretch and len(out) >= 3 and syms[0] == "O":
        m = int(rng.integers(len(out) // 3))
        h = 3 * m + 1 + int(rng.integers(2))
        o = 3 * m
        d = out.positions[h] - out.positions[o]
        out.positions[h] = out.positions[o] + d / np.linalg.norm(d) * rng.uniform(*stretch)
    return out


def random_field(rng: np.random.Generator, max_au: float) -> np.ndarray:
    """A homogeneous field (V/angstrom) with a uniform random direction and a magnitude
    uniform in [0, ``max_au``] atomic units (the eMLP seed uses max 0.01 a.u., Sec. 2.3.1)."""
    v = rng.normal(size=3)
    v /= np.linalg.norm(v)
    return v * rng.uniform(0.0, max_au) * units.factor(units.EFIELD, units.ATOMIC, units.METAL)


def normal_modes(atoms: Atoms, hessian_eV_A2: np.ndarray, n_zero: int | None = None):
    """Normal modes of a molecule: (wavenumbers in cm^-1, Cartesian displacement vectors per
    unit normal coordinate in angstrom*sqrt(amu)^-1 ... see :func:`normal_mode_sample`).

    ``hessian_eV_A2``: (3N, 3N) in eV/angstrom^2.  The ``n_zero`` (default 6, 5 for linear
    molecules) lowest |eigenvalues| (translations, rotations) are dropped.
    """
    import ase.units

    m = np.repeat(atoms.get_masses(), 3)
    hm = hessian_eV_A2 / np.sqrt(np.outer(m, m))
    hm = 0.5 * (hm + hm.T)
    w2, vec = np.linalg.eigh(hm)
    if n_zero is None:
        pos = atoms.positions - atoms.get_center_of_mass()
        n_zero = 5 if np.linalg.matrix_rank(pos, tol=1e-3) <= 1 else 6
    keep = np.sort(np.argsort(np.abs(w2))[n_zero:])
    w2, vec = w2[keep], vec[:, keep]
    # omega in rad per ASE time unit -> cm^-1
    omega = np.sqrt(np.abs(w2)) * ase.units.s  # rad/s
    wavenumber = omega / (2 * np.pi * 2.99792458e10) * np.sign(w2)
    return wavenumber, w2, vec / np.sqrt(m)[:, None]


def normal_mode_sample(
    atoms: Atoms, hessian_eV_A2: np.ndarray, temperature: float, rng: np.random.Generator, min_wavenumber: float = 200.0
) -> Atoms:
    """A configuration drawn from the classical harmonic Boltzmann distribution at ``temperature``.

    Each normal coordinate Q_k ~ N(0, kT / omega_k^2) (the eMLP seed's Eq. 29, the normal-mode
    sampling of Smith et al.); modes softer than ``min_wavenumber`` (torsions, for which
    the harmonic picture fails) are sampled as if they had that wavenumber.
    """
    import ase.units

    wn, w2, disp = normal_modes(atoms, hessian_eV_A2)
    w2_floor = w2.max() * (min_wavenumber / wn.max()) ** 2
    w2_eff = np.maximum(w2, w2_floor)
    q = rng.normal(0.0, np.sqrt(ase.units.kB * temperature / w2_eff))
    out = atoms.copy()
    out.positions += (disp @ q).reshape(-1, 3)
    return out


def rotate_group(atoms: Atoms, axis_from: int, axis_to: int, group, angle_deg: float) -> Atoms:
    """Rotate the atoms ``group`` about the bond axis_from -> axis_to by ``angle_deg``."""
    out = atoms.copy()
    origin = out.positions[axis_to]
    axis = origin - out.positions[axis_from]
    rot = Rotation.from_rotvec(np.deg2rad(angle_deg) * axis / np.linalg.norm(axis))
    idx = list(group)
    out.positions[idx] = rot.apply(out.positions[idx] - origin) + origin
    return out
