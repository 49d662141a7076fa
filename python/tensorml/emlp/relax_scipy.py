"""The SciPy pair relaxation (L-BFGS-B + FIRE), kept as the reference for the torch relaxer.

:func:`relax_pairs_scipy` (and :func:`optimize_structure_scipy`, cores and pairs together) is the
relaxation tensorml used before :mod:`tensorml.emlp.relax`
(written on torch tensors, batched, on the model's device) replaced it in every MD path; tests
compare the two and benchmarks/emlp/ measures both.  It runs on the CPU only.

E_eMLP,BO(R) = min_r E_eMLP(R, r) (eq. 4) is found with SciPy's L-BFGS-B on the torch energy
with its analytic (autograd) gradient.  As in seed Sec. 3.1.4 every pair coordinate is kept in
a box of half-width ``max_displacement`` (angstrom) around the starting guess, which is the
previous step's solution in MD (warm start); when the minimum would lie on the box edge the box
is doubled, up to ``max_bound``.  The forces on the cores are then -dE/dR at the relaxed pairs:
eq. 5, whose second term vanishes because the pair forces (eq. 6) are zero there.

L-BFGS-B compares energies in its line search, so near a tight ``fmax`` it can stop with
``ABNORMAL_TERMINATION_IN_LNSRCH`` a hair above fmax, when energy changes fall below the rounding
of the total energy (the precise point depends on the BLAS kernel of the CPU). Such a stall is not
a failure: the relaxation switches to FIRE (Bitzek et al., PRL 97, 170201 (2006)), which moves on
forces alone, and polishes to fmax; if FIRE too stalls, a residual within ``slack * fmax`` is
accepted. What happened is reported in ``RelaxResult.info`` (``fallback``, ``accepted_within_slack``).

A relaxation that does not bring the largest pair force below ``fmax`` (eV/angstrom), or whose
pairs collapse onto each other (closer than ``collapse_distance``) or escape (farther than
``escape_distance`` from every core), raises :class:`RelaxationError` instead of returning an
unphysical state (the failure modes of seed Sec. 3.1.3).  Pair positions are never wrapped into
the cell, so the dipole sum_i q_i R_i - 2 sum_k r_k stays continuous under PBC.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from .evaluate import Inputs, energy_and_forces, make_inputs, total_charge_dipole
from .relax import RelaxationError, RelaxResult, check_pairs


def _energy_gradient(model, inputs: Inputs):
    """f(x) -> (E in eV, dE/dx in eV/angstrom) over the flat pair coordinates."""
    dtype = inputs.cores.dtype

    def fun(x: np.ndarray):
        pairs = torch.tensor(x.reshape(-1, 3), dtype=dtype, requires_grad=True)
        energy = model(inputs.cores, inputs.numbers, pairs, inputs.cell, inputs.pbc, inputs.efield)
        (grad,) = torch.autograd.grad(energy, pairs)
        return float(energy.detach()), grad.detach().to(torch.float64).numpy().reshape(-1)

    return fun


def _fire(
    fun, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, fmax: float, max_steps: int = 2000, max_move: float = 0.05
) -> tuple[np.ndarray, int]:
    """FIRE on the flat pair coordinates (forces only, no energy comparisons), inside the box bounds.

    Unit masses; the time step adapts (grows while the power F.v stays positive, halves on an
    uphill step); no particle moves more than ``max_move`` angstrom a step. Returns (x, steps)."""
    dt, dt_max, alpha, n_positive = 0.02, 0.2, 0.1, 0
    v = np.zeros_like(x)
    for step in range(1, max_steps + 1):
        force = -fun(x)[1]
        if np.linalg.norm(force.reshape(-1, 3), axis=1).max() < fmax:
            return x, step - 1
        power = float(force @ v)
        if power > 0.0:
            norm_f = np.linalg.norm(force)
            v = (1.0 - alpha) * v + alpha * np.linalg.norm(v) * force / max(norm_f, 1e-300)
            n_positive += 1
            if n_positive > 5:
                dt, alpha = min(1.1 * dt, dt_max), 0.99 * alpha
        else:
            v[:] = 0.0
            dt, alpha, n_positive = 0.5 * dt, 0.1, 0
        v = v + dt * force
        move = (dt * v).reshape(-1, 3)
        longest = np.linalg.norm(move, axis=1).max()
        if longest > max_move:
            move *= max_move / longest
        x = np.clip(x + move.reshape(-1), lower, upper)
    return x, max_steps


def _lbfgsb(fun, x, x0, bound, gtol, max_iterations):
    """One L-BFGS-B run in the box x0 +- bound: (x, iterations, gradient, message)."""
    res = scipy.optimize.minimize(
        fun,
        x,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(x0 - bound, x0 + bound)),
        options={"maxiter": max_iterations, "gtol": gtol, "ftol": 0.0, "maxcor": 30},
    )
    return res.x, int(res.nit), res.jac, str(res.message)


def _at_edge(x, x0, bound, grad):
    """Coordinates held by the box whose force pushes outwards."""
    g = grad.reshape(-1)
    return ((np.abs(x - (x0 - bound)) < 1e-9) & (g > 0)) | ((np.abs(x - (x0 + bound)) < 1e-9) & (g < 0))


def relax_pairs_scipy(
    model,
    cores,
    numbers,
    pairs,
    cell=None,
    pbc=None,
    efield=None,
    *,
    fmax: float = 1e-3,
    max_displacement: float = 0.5,
    max_bound: float = 2.0,
    max_iterations: int = 2000,
    collapse_distance: float = 0.1,
    escape_distance: float = 2.5,
    stress: bool = False,
    restarts: int = 5,
    slack: float = 10.0,
) -> RelaxResult:
    """Minimise the eMLP energy over the pair positions at fixed cores (eq. 4).

    ``pairs`` (M, 3) angstrom is the starting guess (a Lewis guess or the previous MD step).
    L-BFGS-B first; a stall above ``fmax`` switches to FIRE; a residual below ``slack * fmax``
    after both is accepted and reported (``info['accepted_within_slack']``).
    Returns a :class:`RelaxResult`; raises :class:`RelaxationError` on failure.
    """
    inputs = make_inputs(model, cores, numbers, pairs, cell, pbc, efield)
    x0 = inputs.pairs.to(torch.float64).numpy().reshape(-1).copy()
    if x0.size == 0:
        result = _finish(model, inputs, x0, 0, stress)
        result.info["evaluations"] = 1
        return result
    evaluate = _energy_gradient(model, inputs)
    calls = [0]

    def fun(x):
        calls[0] += 1
        return evaluate(x)

    bound = float(max_displacement)
    x, iterations, info = x0.copy(), 0, {}
    gtol = fmax / (2.0 * np.sqrt(3.0))
    max_force, message = np.inf, ""
    for _ in range(restarts + 1):
        x, nit, grad, message = _lbfgsb(fun, x, x0, bound, gtol, max_iterations)
        iterations += nit
        max_force = float(np.linalg.norm(grad.reshape(-1, 3), axis=1).max())
        if max_force < fmax:
            break
        if _at_edge(x, x0, bound, grad).any():
            if bound >= max_bound:
                raise RelaxationError(
                    f"electron pairs reached the displacement bound of {max_bound} angstrom from their start "
                    f"with a residual pair force of {max_force:.3g} eV/angstrom"
                )
            bound = min(2.0 * bound, max_bound)
            continue
        # stalled inside the box (line search at the rounding of the energy): polish with FIRE
        info["fallback"] = f"FIRE after L-BFGS-B stopped at {max_force:.3g} eV/angstrom ({message})"
        x, steps = _fire(fun, x, x0 - bound, x0 + bound, fmax, max_steps=max_iterations)
        iterations += steps
        max_force = float(np.linalg.norm(fun(x)[1].reshape(-1, 3), axis=1).max())
        if max_force < fmax:
            break
    if max_force >= fmax:
        if max_force < slack * fmax:
            info["accepted_within_slack"] = f"max pair force {max_force:.3g} eV/angstrom < {slack:g} x fmax {fmax}"
        else:
            raise RelaxationError(
                f"pair relaxation did not converge: max pair force {max_force:.3g} eV/angstrom > fmax {fmax} "
                f"after {iterations} iterations ({message}; FIRE fallback: {'fallback' in info})"
            )
    check_pairs(x.reshape(-1, 3), inputs, collapse_distance, escape_distance)
    result = _finish(model, inputs, x, iterations, stress)
    info["evaluations"] = calls[0] + 1  # + the final energy, forces (and stress)
    result.info.update(info)
    return result


def _finish(model, inputs: Inputs, x: np.ndarray, iterations: int, stress: bool) -> RelaxResult:
    relaxed = Inputs(
        inputs.cores,
        inputs.numbers,
        torch.tensor(x.reshape(-1, 3), dtype=inputs.cores.dtype),
        inputs.cell,
        inputs.pbc,
        inputs.efield,
    )
    out = energy_and_forces(model, relaxed, stress=stress)
    pair_forces = out["pair_forces"].to(torch.float64).numpy()
    return RelaxResult(
        energy=float(out["energy"]),
        core_forces=out["core_forces"].to(torch.float64).numpy(),
        pairs=x.reshape(-1, 3).copy(),
        pair_forces=pair_forces,
        dipole=total_charge_dipole(model, relaxed).detach().to(torch.float64).numpy(),
        iterations=iterations,
        max_pair_force=float(np.linalg.norm(pair_forces, axis=1).max()) if len(pair_forces) else 0.0,
        stress=out["stress"].to(torch.float64).numpy() if stress else None,
    )


def optimize_structure_scipy(
    model,
    cores,
    numbers,
    pairs,
    cell=None,
    pbc=None,
    efield=None,
    *,
    fmax: float = 1e-4,
    max_iterations: int = 5000,
    collapse_distance: float = 0.1,
    escape_distance: float = 2.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise over cores and pairs together at a fixed cell (the 0 K structure of appendix A).

    SciPy's L-BFGS-B on the model's forward, on the CPU (what ``tensorml response`` used before).
    Returns (cores, pairs) in angstrom; raises :class:`RelaxationError` when the largest force
    on any particle stays above ``fmax`` (eV/angstrom) or the pairs collapse or escape.
    """
    inputs = make_inputs(model, cores, numbers, pairs, cell, pbc, efield)
    n = inputs.cores.shape[0]
    dtype = inputs.cores.dtype

    def fun(x: np.ndarray):
        t = torch.tensor(x.reshape(-1, 3), dtype=dtype, requires_grad=True)
        energy = model(t[:n], inputs.numbers, t[n:], inputs.cell, inputs.pbc, inputs.efield)
        (grad,) = torch.autograd.grad(energy, t)
        return float(energy.detach()), grad.detach().to(torch.float64).numpy().reshape(-1)

    x = torch.cat([inputs.cores, inputs.pairs]).to(torch.float64).numpy().reshape(-1)
    for _ in range(5):
        res = scipy.optimize.minimize(
            fun,
            x,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iterations, "gtol": fmax / (2 * np.sqrt(3)), "ftol": 0.0, "maxcor": 50},
        )
        x = res.x
        max_force = float(np.linalg.norm(res.jac.reshape(-1, 3), axis=1).max())
        if max_force < fmax:
            break
    else:
        raise RelaxationError(
            f"structure optimisation did not converge: max force {max_force:.3g} eV/angstrom "
            f"> fmax {fmax} ({res.message})"
        )
    xyz = x.reshape(-1, 3)
    relaxed = Inputs(
        torch.tensor(xyz[:n], dtype=dtype),
        inputs.numbers,
        torch.tensor(xyz[n:], dtype=dtype),
        inputs.cell,
        inputs.pbc,
        inputs.efield,
    )
    check_pairs(xyz[n:], relaxed, collapse_distance, escape_distance)
    return xyz[:n].copy(), xyz[n:].copy()
