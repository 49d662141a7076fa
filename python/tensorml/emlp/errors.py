"""Static and dynamic test errors of an eMLP, in the form of the seed's Tables 4 and 5.

* **Static** (Table 4): cores and electron pairs at the reference (Boys-centre) positions;
  errors of the energy per atom (meV/atom), the core forces and the pair forces (meV/angstrom,
  per Cartesian component).  The field term (eq. 12) is exact in the model, so it cancels in
  every error; the reference pair forces are zero.
* **Dynamic** (Table 5): the pairs are relaxed (eq. 4) starting from the reference positions;
  errors of the Born-Oppenheimer energy per atom, the core forces and the dipole norm (Debye,
  cores + relaxed pairs against the labelled dipole), and the *error rate*: the fraction of
  frames whose relaxation fails (:class:`~tensorml.emlp.relax.RelaxationError`), excluded from
  the errors.
* **Polarizability** (Table 5, last column): electronic polarizability (pairs relaxed, cores
  clamped, appendix A) of molecules against finite-field reference values (bohr^3, per component).
* **Intrinsic variability**: the MAE of the best constant model (the mean) on the same frames,
  for the energy per atom after removing the per-element linear reference (eq. 32), for forces
  and for the dipole norm; for pair forces the field-free pair forces are the field force
  -(-2 e) E, whose mean magnitude is given.

Every entry is a mean absolute error (MAE) and a median of the absolute errors.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from ase.units import Bohr, Debye

from .evaluate import energy_and_forces, make_inputs, numpy_results
from .frames import EMLPFrame
from .relax import RelaxationError, relax_pairs
from .response import electronic_polarizability, extended_hessian


def _stats(errors) -> dict:
    e = np.abs(np.concatenate([np.ravel(x) for x in errors])) if len(errors) else np.zeros(0)
    return {
        "mae": float(e.mean()) if e.size else float("nan"),
        "median": float(np.median(e)) if e.size else float("nan"),
        "n": int(e.size),
    }


def linear_reference(frames: Sequence[EMLPFrame], species: Sequence[int]) -> np.ndarray:
    """Least-squares per-element energies (eV) of ``frames`` (the eq.-32 form, coefficients fitted)."""
    counts = np.array([[np.sum(f.numbers == z) for z in species] for f in frames], dtype=float)
    coef, *_ = np.linalg.lstsq(counts, np.array([f.energy for f in frames]), rcond=None)
    return coef


def intrinsic_variability(
    frames: Sequence[EMLPFrame], species: Sequence[int], dipoles=None, reference: Optional[np.ndarray] = None
) -> dict:
    """MAE of the constant (mean) model: energy meV/atom, forces and pair forces meV/angstrom, dipole Debye.

    Energies per atom are taken after subtracting the per-element ``reference`` (eV, in the order
    of ``species``): fit it on the *training* frames (:func:`linear_reference`) for the seed's
    baseline; by default it is fitted on ``frames`` themselves, which leaves only the variation
    within each composition (an optimistic baseline when there are few molecules)."""
    counts = np.array([[np.sum(f.numbers == z) for z in species] for f in frames], dtype=float)
    coef = linear_reference(frames, species) if reference is None else np.asarray(reference, dtype=float)
    per_atom = (np.array([f.energy for f in frames]) - counts @ coef) / counts.sum(1)
    forces = np.concatenate([f.forces.ravel() for f in frames])
    field_pair = np.concatenate(
        [np.tile(2.0 * (np.zeros(3) if f.efield is None else f.efield), len(f.pairs)) for f in frames]
    )
    out = {
        "energy_meV_per_atom": 1e3 * float(np.abs(per_atom - per_atom.mean()).mean()),
        "forces_meV_per_A": 1e3 * float(np.abs(forces - forces.mean()).mean()),
        "pair_forces_meV_per_A": 1e3 * float(np.abs(field_pair).mean()),
    }
    if dipoles is not None:
        norms = np.linalg.norm(np.asarray(dipoles), axis=1) / Debye
        out["dipole_norm_D"] = float(np.abs(norms - norms.mean()).mean())
    return out


def static_errors(model, frames: Sequence[EMLPFrame]) -> dict:
    """Table 4: errors with cores and pairs at the reference positions."""
    de, df, dp = [], [], []
    for f in frames:
        inputs = make_inputs(model, f.cores, f.numbers, f.pairs, f.cell, f.pbc, f.efield)
        out = numpy_results(energy_and_forces(model, inputs))
        de.append(1e3 * (out["energy"] - f.energy) / len(f.cores))
        df.append(1e3 * (out["core_forces"] - f.forces))
        dp.append(1e3 * (out["pair_forces"] - f.pair_forces))
    return {
        "energy_meV_per_atom": _stats(de),
        "forces_meV_per_A": _stats(df),
        "pair_forces_meV_per_A": _stats(dp),
        "frames": len(frames),
    }


def dynamic_errors(model, frames: Sequence[EMLPFrame], dipoles: Sequence, fmax: float = 1e-3) -> dict:
    """Table 5: errors after relaxing the pairs from the reference positions, and the error rate.

    ``dipoles`` (e*angstrom) are the labelled dipoles of ``frames``; ``failures`` lists why each
    failed relaxation failed."""
    de, df, dd, failures = [], [], [], []
    for k, (f, d_ref) in enumerate(zip(frames, dipoles)):
        try:
            r = relax_pairs(model, f.cores, f.numbers, f.pairs, f.cell, f.pbc, f.efield, fmax=fmax)
        except RelaxationError as err:
            failures.append(f"frame {k}: {err}")
            continue
        de.append(1e3 * (r.energy - f.energy) / len(f.cores))
        df.append(1e3 * (r.core_forces - f.forces))
        dd.append((np.linalg.norm(r.dipole) - np.linalg.norm(d_ref)) / Debye)
    return {
        "energy_meV_per_atom": _stats(de),
        "forces_meV_per_A": _stats(df),
        "dipole_norm_D": _stats(dd),
        "error_rate": len(failures) / max(len(frames), 1),
        "frames": len(frames),
        "failures": failures,
    }


def polarizability_errors(model, molecules: Sequence, fmax: float = 1e-6) -> dict:
    """Table 5, polarizability: ``molecules`` = (cores, numbers, pairs, reference alpha in angstrom^3)."""
    errors, failures, values = [], [], []
    for k, (cores, numbers, pairs, alpha_ref) in enumerate(molecules):
        try:
            r = relax_pairs(model, cores, numbers, pairs, fmax=fmax)
            alpha = electronic_polarizability(extended_hessian(model, make_inputs(model, cores, numbers, r.pairs)))
        except (RelaxationError, ValueError) as err:
            failures.append(f"molecule {k}: {err}")
            continue
        errors.append((alpha - np.asarray(alpha_ref)) / Bohr**3)
        values.append((np.trace(alpha) / 3 / Bohr**3, np.trace(np.asarray(alpha_ref)) / 3 / Bohr**3))
    return {
        "polarizability_bohr3": _stats(errors),
        "error_rate": len(failures) / max(len(molecules), 1),
        "molecules": len(molecules),
        "failures": failures,
        "isotropic_bohr3": values,
    }


def error_tables(
    model,
    frames: Sequence[EMLPFrame],
    dipoles: Sequence,
    species: Sequence[int],
    molecules: Optional[Sequence] = None,
    reference: Optional[np.ndarray] = None,
) -> dict:
    """Everything above for one model on one test set (``reference``: see :func:`intrinsic_variability`)."""
    out = {
        "intrinsic": intrinsic_variability(frames, species, dipoles, reference),
        "static": static_errors(model, frames),
        "dynamic": dynamic_errors(model, frames, dipoles),
    }
    if molecules:
        out["polarizability"] = polarizability_errors(model, molecules)
    return out
