"""Label one frame with PySCF: energy, forces, dipole, polarizability, APT, Boys centres.

The cheapest correct route (7 SCFs per frame when polarizability or APT is asked for):

* one SCF at the frame's applied field F0 (zero unless the frame carries ``efield``) gives
  the energy, forces, dipole and Boys centres;
* six SCFs at F0 +/- h e_a (a = x, y, z), started from the F0 density D0 (+h) and from
  2 D0 - D(+h) (-h, exact to first order in h), give by
  central differences

  - the static polarizability  alpha_ab = dM_a/dF_b = [M_a(F0+h e_b) - M_a(F0-h e_b)] / 2h
    (EANN seed Eq. 4: alpha = -d^2E/dF^2, and M = -dE/dF),
  - the atomic polar tensor (Born charges)
    apt[i, a, b] = dM_a/dR_ib = dF_ib/dF_a = [F_ib(F0+h e_a) - F_ib(F0-h e_a)] / 2h
    (APTNN seed Eq. 5, P_i = (grad_i (x) M)^T).  The two derivatives are equal because
    both are -d^2E/(dR_ib dF_a) (Maxwell relation); the first index of ``apt`` is always
    the dipole / field component, the second the displacement / force component.

The six field SCFs use the grid ``level.field_grid_level`` (default 1; grid errors cancel in
the differences, see :class:`~tensorml.data.theory.LevelOfTheory`); the field frames they
give (``field_frames=True``) are therefore on that grid.

Field step h = 1e-3 a.u. (0.0514 V/angstrom): the central-difference truncation error is
gamma h^2 / 6 (gamma the second hyperpolarizability, ~1e3 a.u. for small molecules), about
2e-4 a.u. on alpha; the round-off error is dM/h with dM ~ 1e-7 a.u. at conv_tol_grad 1e-7,
about 1e-4 a.u.  A step 10x larger makes the truncation error 100x larger, one 10x smaller
makes the round-off 10x larger, so 1e-3 a.u. balances the two (0.01 % of alpha).

Frames are rejected (:class:`FrameFailure`) when an SCF does not converge, when the Boys
localisation does not converge, or when the finite-field response is inconsistent (an
asymmetric or non-positive polarizability, or APTs that break the acoustic sum rule,
which flags an SCF that jumped to another state under the field).

Units of the returned labels are those of the datasets (:mod:`tensorml.data.keys`):
eV, eV/angstrom, e*angstrom, angstrom^3, e, angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import units
from .boys import boys_centres_bohr, core_charges
from .finite_field import SCFNotConverged, build_molecule, dipole_au, gradient_au, make_scf, run_scf
from .theory import DEFAULT_FIELD_STEP_AU, LevelOfTheory

#: Every label the PySCF labeller can make.
ALL_PROPERTIES = ("energy", "forces", "dipole", "polarizability", "apt", "electron_pairs")

# conversions, all from the one table in tensorml.units
_E = units.factor(units.ENERGY, units.ATOMIC, units.METAL)  # hartree -> eV
_F = units.factor(units.FORCE, units.ATOMIC, units.METAL)  # hartree/bohr -> eV/angstrom
_M = units.factor(units.DIPOLE, units.ATOMIC, units.METAL)  # e*bohr -> e*angstrom
_A = units.factor(units.POLARIZABILITY, units.ATOMIC, units.METAL)  # bohr^3 -> angstrom^3
_L = units.factor(units.LENGTH, units.ATOMIC, units.METAL)  # bohr -> angstrom
_FIELD_TO_AU = units.factor(units.EFIELD, units.METAL, units.ATOMIC)  # V/angstrom -> a.u.


class FrameFailure(RuntimeError):
    """A frame that cannot be labelled reliably; it is reported and skipped."""


@dataclass(frozen=True)
class LabelRequest:
    """What to compute for each frame.

    ``properties``: a subset of :data:`ALL_PROPERTIES`.  ``field_step_au``: finite-field step
    (a.u.).  ``field_frames``: also return the six +/-h field frames (energy, forces, dipole,
    Boys centres under the field) as extra eMLP training data.  ``max_alpha_asymmetry``
    (angstrom^3) and ``max_sum_rule_error`` (e) are the consistency checks on the response.
    """

    properties: tuple = ALL_PROPERTIES
    field_step_au: float = DEFAULT_FIELD_STEP_AU
    field_frames: bool = False
    max_alpha_asymmetry: float = 0.05
    max_sum_rule_error: float = 0.05

    def __post_init__(self):
        unknown = set(self.properties) - set(ALL_PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties {sorted(unknown)}; known: {', '.join(ALL_PROPERTIES)}")

    @property
    def needs_field_scfs(self) -> bool:
        return "polarizability" in self.properties or "apt" in self.properties or self.field_frames


def frame_charge(atoms, level: LevelOfTheory) -> int:
    """Total charge (e) of a frame: ``atoms.info['charge']`` if present, else the level's."""
    return int(round(float(atoms.info.get("charge", level.charge))))


def frame_field_au(atoms) -> np.ndarray:
    """Applied field of a frame in a.u., from ``atoms.info['efield']`` (V/angstrom), else zero."""
    f = np.asarray(atoms.info.get("efield", np.zeros(3)), dtype=float).reshape(3)
    return f * _FIELD_TO_AU


def _single_point(mol, level, field, props, dm0=None, pairs_optional=False):
    mf = run_scf(make_scf(mol, level, field), dm0=dm0)
    out = {"energy": float(mf.e_tot) * _E, "dipole": dipole_au(mf) * _M, "_dipole_au": dipole_au(mf)}
    if "forces" in props or "apt" in props:
        grad = gradient_au(mf)
        out["forces"] = -grad * _F
        out["_forces_au"] = -grad
    if "electron_pairs" in props:
        try:
            out["electron_pairs"] = boys_centres_bohr(mf) * _L
        except SCFNotConverged:
            if not pairs_optional:
                raise
            out["_pairs_failed"] = True
    return mf, out


def label_frame(atoms, level: LevelOfTheory, request: LabelRequest = LabelRequest()) -> dict:
    """Labels of one frame (a dict in dataset units, see module docstring).

    Returns ``{"labels": {...}, "field_frames": [...]}`` where each field frame is a dict
    with ``efield`` (V/angstrom) and its energy/forces/dipole/electron_pairs.
    Raises :class:`FrameFailure` when the frame must be skipped.
    """
    props = set(request.properties)
    symbols = atoms.get_chemical_symbols()
    try:
        mol = build_molecule(symbols, atoms.positions, level, charge=frame_charge(atoms, level))
    except (RuntimeError, ValueError, KeyError) as err:
        raise FrameFailure(f"cannot build the molecule: {err}") from err
    field0 = frame_field_au(atoms)
    h = float(request.field_step_au)
    try:
        mf0, res0 = _single_point(mol, level, field0, props)
        dm0 = mf0.make_rdm1()
        labels = {"energy": res0["energy"], "dipole": res0["dipole"]}
        if "forces" in props:
            labels["forces"] = res0["forces"]
        if "electron_pairs" in props:
            labels["electron_pairs"] = res0["electron_pairs"]
        field_frames = []
        if request.needs_field_scfs:
            sub = set(props) | ({"forces"} if "apt" in props else set())
            if not request.field_frames:
                sub.discard("electron_pairs")
            field_level = replace(level, grid_level=level.field_grid_level_or_default)
            dip = np.zeros((3, 2, 3))  # [field axis, sign, component] a.u.
            frc = np.zeros((3, 2, len(atoms), 3))
            for b in range(3):
                guess = dm0
                for k, sign in enumerate((1.0, -1.0)):
                    field = field0.copy()
                    field[b] += sign * h
                    # a field frame whose localisation fails is dropped, not the whole frame
                    mf, res = _single_point(mol, field_level, field, sub, dm0=guess, pairs_optional=True)
                    # D(F0 - h) = 2 D(F0) - D(F0 + h) + O(h^2): a better start for the -h SCF
                    guess = 2.0 * dm0 - mf.make_rdm1()
                    dip[b, k] = res["_dipole_au"]
                    if "_forces_au" in res:
                        frc[b, k] = res["_forces_au"]
                    if request.field_frames and not res.get("_pairs_failed"):
                        ff = {key: res[key] for key in ("energy", "dipole", "forces", "electron_pairs") if key in res}
                        ff["efield"] = field / _FIELD_TO_AU
                        field_frames.append(ff)
            if "polarizability" in props:
                alpha_au = ((dip[:, 0, :] - dip[:, 1, :]) / (2 * h)).T  # [a, b] = dM_a/dF_b
                alpha = alpha_au * _A
                asym = float(np.abs(alpha - alpha.T).max())
                if asym > request.max_alpha_asymmetry:
                    raise FrameFailure(f"polarizability asymmetric by {asym:.3g} angstrom^3 (SCF state jump?)")
                alpha = 0.5 * (alpha + alpha.T)
                if np.linalg.eigvalsh(alpha).min() <= 0.0:
                    raise FrameFailure("polarizability not positive definite")
                labels["polarizability"] = alpha
            if "apt" in props:
                # apt[i, a, b] = dF_ib / dF_a  (force in a.u. per field in a.u. = e)
                apt = np.transpose((frc[:, 0] - frc[:, 1]) / (2 * h), (1, 0, 2))  # [a, i, b] -> [i, a, b]
                total = apt.sum(axis=0)
                err = float(np.abs(total - mol.charge * np.eye(3)).max())
                if err > request.max_sum_rule_error:
                    raise FrameFailure(f"APTs break the acoustic sum rule by {err:.3g} e")
                labels["apt"] = apt
    except SCFNotConverged as err:
        raise FrameFailure(str(err)) from err
    labels["charge"] = int(mol.charge)
    labels["efield"] = field0 / _FIELD_TO_AU
    if "electron_pairs" in props:
        labels["core_charges"] = core_charges(mol)
    return {"labels": labels, "field_frames": field_frames}
