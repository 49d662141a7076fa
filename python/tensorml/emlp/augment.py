"""Data augmentation with displaced electron pairs (seed Sec. 2.4, eq. 30, appendix B).

One electron pair i of a training frame is displaced by Delta R (uniform direction, length
uniform in [``min_displacement``, ``max_displacement``], 0.06-0.12 angstrom in Table 3).  The
labels become

* energy: E + k/2 |Delta R|^2 (eq. 30), k = 2 Ha/angstrom^2 = 54.4 eV/angstrom^2 (Table 3);
* force on pair i: f_i + Delta F_i with Delta F_i = -k Delta R (eq. 46);
* forces on every other particle j: f_j + Delta f_j, the weighted least-norm solution (eqs. 50-55)
  of eq. 49, so that the net force stays zero (eq. 47) and, for isolated systems, the total torque
  stays d' x E (eq. 48), d' the dipole after the displacement:
  Delta f_j = (lambda + mu x r_j) / phi(r_ji) in coordinates centred by t = -Q_1/Q_0 (eq. 54),
  lambda = -Delta F_i / Q_0, mu = Q_2^-1 M (eq. 55), phi(r) = r^2 / f_cutoff(r) (eq. 56, cutoff of
  eq. 16), r_ji measured from the displaced pair.  Periodic frames keep only the net-force
  condition (mu = 0): the torque is not defined under PBC.

Positions in angstrom, forces in eV/angstrom, field in V/angstrom, charges in e.
"""

from __future__ import annotations

from dataclasses import dataclass

import ase.units
import numpy as np

from .frames import EMLPFrame
from .particles import PAIR_CHARGE, core_charges

#: Augmentation strength k of eq. 30: 2 Ha/angstrom^2 in eV/angstrom^2 (Table 3).
DEFAULT_K = 2.0 * ase.units.Hartree


@dataclass(frozen=True)
class AugmentOptions:
    k: float = DEFAULT_K  # eV/angstrom^2
    min_displacement: float = 0.06  # angstrom
    max_displacement: float = 0.12  # angstrom
    cutoff: float = 4.0  # angstrom, r_cutoff of eq. 16
    cutoff_width: float = 0.5  # angstrom, r_delta of eq. 16


def _cutoff(r: np.ndarray, cutoff: float, width: float) -> np.ndarray:
    t = np.clip((r - (cutoff - width)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def correction_forces(
    positions: np.ndarray,
    charges: np.ndarray,
    forces: np.ndarray,
    index: int,
    displacement: np.ndarray,
    efield: np.ndarray,
    k: float,
    cutoff: float,
    width: float,
    periodic: bool = False,
) -> np.ndarray:
    """Force changes (P, 3) of eqs. 46 and 52-56 for displacing particle ``index`` by ``displacement``.

    ``positions``, ``charges``, ``forces``: all particles *before* the displacement.  Row
    ``index`` of the result is Delta F_i = -k Delta R; the others solve eq. 49 with least weighted norm.
    Raises ``ValueError`` when the torque condition cannot be met (all other particles within the
    cutoff on one line, or none within the cutoff).
    """
    x = np.asarray(positions, dtype=float)
    d_r = np.asarray(displacement, dtype=float)
    delta_f_i = -k * d_r
    others = np.arange(len(x)) != index
    dist = np.linalg.norm(x[others] - (x[index] + d_r), axis=1)
    w = np.where(dist > 0, _cutoff(dist, cutoff, width) / np.maximum(dist, 1e-12) ** 2, 0.0)  # 1 / phi
    q0 = w.sum()
    if q0 <= 0:
        raise ValueError(f"no particle within the cutoff ({cutoff} angstrom) of augmented pair {index}")
    t = -(w[:, None] * x[others]).sum(0) / q0  # eq. 54
    r = x[others] + t
    lam = -delta_f_i / q0
    mu = np.zeros(3)
    if not periodic:
        r_i = x[index] + t
        m = charges[index] * np.cross(d_r, efield) - np.cross(d_r, forces[index] + delta_f_i) - np.cross(r_i, delta_f_i)
        q2 = (w[:, None, None] * ((r * r).sum(1)[:, None, None] * np.eye(3) - r[:, :, None] * r[:, None, :])).sum(0)
        mu = np.linalg.lstsq(q2, m, rcond=1e-10)[0]
        if np.linalg.norm(q2 @ mu - m) > 1e-8 * max(1.0, np.linalg.norm(m)):
            raise ValueError(
                f"the torque condition (eq. 48) cannot be met for augmented pair {index}: "
                "the particles within the cutoff lie on one line"
            )
    out = np.zeros_like(x)
    out[others] = w[:, None] * (lam + np.cross(mu, r))
    out[index] = delta_f_i
    return out


def augment_frame(
    frame: EMLPFrame, rng: np.random.Generator, options: AugmentOptions = AugmentOptions(), attempts: int = 8
) -> EMLPFrame:
    """A copy of ``frame`` with one random pair displaced and labels of eq. 30 / appendix B.

    When the torque condition cannot be met for the drawn pair and direction (a linear molecule:
    the other particles lie on one line and cannot exert a torque about it), another pair and
    direction are drawn, up to ``attempts`` times; then ``ValueError`` (the caller keeps the frame
    unaugmented)."""
    m = len(frame.pairs)
    if m == 0:
        raise ValueError("cannot augment a frame without electron pairs")
    n = len(frame.cores)
    positions = np.vstack([frame.cores, frame.pairs])
    charges = np.concatenate([core_charges(frame.numbers), np.full(m, PAIR_CHARGE)])
    forces = np.vstack([frame.forces, frame.pair_forces])
    efield = np.zeros(3) if frame.efield is None else np.asarray(frame.efield, dtype=float)
    for attempt in range(attempts):
        pick = int(rng.integers(m))
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        d_r = direction * rng.uniform(options.min_displacement, options.max_displacement)
        try:
            delta = correction_forces(
                positions,
                charges,
                forces,
                n + pick,
                d_r,
                efield,
                options.k,
                options.cutoff,
                options.cutoff_width,
                periodic=frame.periodic,
            )
            break
        except ValueError:
            if attempt == attempts - 1:
                raise
    new_forces = forces + delta
    pairs = frame.pairs.copy()
    pairs[pick] += d_r
    return frame.copy(
        pairs=pairs,
        energy=frame.energy + 0.5 * options.k * float(d_r @ d_r),
        forces=new_forces[:n],
        pair_forces=new_forces[n:],
        stress=None,
    )
