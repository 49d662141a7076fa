"""NVE stability of eMLP molecular dynamics (seed Sec. 3.1.4, Figure 4 criteria).

A molecule starts at its given geometry with Maxwell-Boltzmann velocities at ``temperature``
(K; no net momentum or rotation) and runs ``steps`` velocity-Verlet steps of ``timestep`` fs
with ASE and :class:`~tensorml.emlp.calculator.EMLPCalculator`: the electron pairs are relaxed at
every step, warm-started from the previous step with a box of 3x the largest core displacement.
The conserved quantity per atom, E_cons = (E_pot + E_kin)/N (eV), is characterised as in
Figure 4 after discarding the first ``skip`` steps:

* ``slope_eV_per_fs``: slope of a straight line fitted to E_cons(t) (drift, eV/fs per atom);
* ``max_jump_eV``: the largest |Delta E_cons| between two consecutive steps (eV per atom);
* ``regime``: ``stable`` (max jump < 5e-4 eV), ``jumps`` (electron-pair jumps, < 0.01 eV),
  ``unstable`` (larger), or ``failed`` when a relaxation fails (the step is reported).
"""

from __future__ import annotations

import numpy as np

from .calculator import EMLPCalculator
from .relax import RelaxationError

STABLE_JUMP_EV = 5e-4
JUMPS_LIMIT_EV = 1e-2


def classify(max_jump: float) -> str:
    """Figure 4's regions by the largest jump of the conserved energy per atom (eV)."""
    if max_jump < STABLE_JUMP_EV:
        return "stable"
    return "jumps" if max_jump < JUMPS_LIMIT_EV else "unstable"


def conserved_energy_metrics(times_fs: np.ndarray, e_cons: np.ndarray) -> dict:
    """Drift slope (eV/fs) and largest step-to-step jump (eV) of a conserved-energy series."""
    slope = float(np.polyfit(times_fs, e_cons, 1)[0]) if len(e_cons) > 1 else 0.0
    jump = float(np.abs(np.diff(e_cons)).max()) if len(e_cons) > 1 else 0.0
    return {"slope_eV_per_fs": slope, "max_jump_eV": jump, "regime": classify(jump)}


def nve_stability(
    model,
    atoms,
    temperature: float = 300.0,
    steps: int = 1000,
    timestep: float = 0.5,
    skip: int = 10,
    seed: int = 0,
    fmax: float = 1e-3,
) -> dict:
    """Run NVE MD of ``atoms`` (ASE, angstrom) with eMLP ``model`` and return the Figure-4 metrics."""
    from ase import units
    from ase.md.verlet import VelocityVerlet

    from ..data.sampling import thermalize

    atoms = atoms.copy()
    atoms.info.pop("electron_pairs", None)
    atoms.calc = EMLPCalculator(model, fmax=fmax, memory=2)
    thermalize(atoms, temperature, np.random.default_rng(seed))
    n = len(atoms)
    energies, iterations = [], []
    dyn = VelocityVerlet(atoms, timestep * units.fs)

    def record():
        energies.append((atoms.get_potential_energy() + atoms.get_kinetic_energy()) / n)
        iterations.append(atoms.calc.results["relax_iterations"])

    out = {"atoms": n, "steps": steps, "timestep_fs": timestep, "temperature_K": temperature}
    try:
        record()
        for _ in range(steps):
            dyn.run(1)
            record()
    except RelaxationError as err:
        out.update(
            regime="failed",
            failed_step=len(energies),
            reason=str(err),
            slope_eV_per_fs=float("nan"),
            max_jump_eV=float("nan"),
        )
        return out
    e = np.array(energies[skip:])
    out.update(conserved_energy_metrics(timestep * np.arange(skip, skip + len(e)), e))
    out["mean_relax_iterations"] = float(np.mean(iterations))
    out["recovered_relaxations"] = dict(atoms.calc.engine.recovered)  # stalls near fmax, polished or accepted
    return out
