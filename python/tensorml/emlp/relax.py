"""Relaxation of the electron pairs at fixed cores (seed eq. 4) and full structure optimisation.

E_eMLP,BO(R) = min_r E_eMLP(R, r) (eq. 4) is found by a minimiser written on torch tensors, on
the model's device, for several structures at once (i-PI beads, a batch of frames): every
iteration evaluates the energies and pair forces of all structures still relaxing in one pass
(:mod:`tensorml.emlp.batch`: one SchNet graph over vesin neighbour lists), while each structure
keeps its own optimiser state.  The forces on the cores are then -dE/dR at the relaxed pairs:
eq. 5, whose second term vanishes because the pair forces (eq. 6) are zero there.

Per structure:

1. L-BFGS (memory 30, two-loop recursion, first step scaled by ``1 / 10 eV/angstrom^2``, no pair
   moving more than ``max_step`` angstrom a step) with a backtracking Armijo line search.  As in
   seed Sec. 3.1.4 every pair coordinate stays in a box of half-width ``max_displacement``
   (angstrom) around the starting guess (the previous MD step: a warm start); directions are
   projected on the box, and when the minimum lies on its edge (the projected force is below
   fmax, the full one is not) the box is doubled, up to ``max_bound``.
2. A stall is not a failure.  The line search compares energies, so near a tight ``fmax`` it can
   fail when the predicted energy change falls below the rounding of the total energy (the
   precise point depends on the CPU's BLAS kernels).  A line search that fails (6 backtracks)
   first restarts L-BFGS (history cleared: steepest descent, at most ``restarts`` times); when
   steepest descent fails too, or the predicted change is below the rounding of the energy, the
   structure switches to FIRE (Bitzek et al., PRL 97, 170201 (2006)), which moves on forces
   alone, and polishes to fmax.  L-BFGS that runs out of ``max_iterations`` also goes on with FIRE.  If
   FIRE too ends above fmax, a residual within ``slack * fmax`` is accepted.  What happened is
   reported in ``RelaxResult.info`` (``restarts``, ``fallback``, ``accepted_within_slack``, and
   ``evaluations``, the number of energy + force evaluations, the final one included) and counted
   by :class:`~tensorml.emlp.engine.EMLPEngine` in ``recovered``.

A relaxation that does not bring the largest pair force below ``fmax`` (eV/angstrom) within the
slack, or whose pairs collapse onto each other (closer than ``collapse_distance``) or escape
(farther than ``escape_distance`` from every core), raises :class:`RelaxationError` instead of
returning an unphysical state (the failure modes of seed Sec. 3.1.3).  Pair positions are never
wrapped into the cell, so the dipole sum_i q_i R_i - 2 sum_k r_k stays continuous under PBC.

The optimiser works in float64 whatever the model's dtype.  The SciPy relaxer this one replaced
is :func:`tensorml.emlp.relax_scipy.relax_pairs_scipy` (reference for tests and benchmarks);
:func:`optimize_structure` (cores and pairs together, the 0 K structure of ``tensorml response``)
runs the same minimiser on all particles, without a box (the SciPy version it replaced is
:func:`tensorml.emlp.relax_scipy.optimize_structure_scipy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from .batch import Item, energy_backend
from .evaluate import Inputs, make_inputs, model_dtype, total_charge_dipole


class RelaxationError(RuntimeError):
    """The electron pairs have no acceptable minimum from this start (message says why)."""


@dataclass
class RelaxResult:
    """Relaxed state: energy (eV), core forces (eV/angstrom, eq. 5), pairs (angstrom), dipole (e*angstrom)."""

    energy: float
    core_forces: np.ndarray
    pairs: np.ndarray
    pair_forces: np.ndarray
    dipole: np.ndarray
    iterations: int
    max_pair_force: float
    stress: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)
    #: L-BFGS curvature pairs (s, y), oldest first, [k, 3M] tensors: pass them as
    #: ``Structure.history`` of the next relaxation of this structure (a warm start of the Hessian)
    history: Optional[tuple] = None


@dataclass
class Structure:
    """One structure to relax: cores (N, 3) and starting pairs (M, 3) in angstrom, numbers, cell rows
    (angstrom), pbc, field (V/angstrom); ``bound`` overrides ``max_displacement`` for it; ``stress``
    asks for the stress (periodic only); ``history`` is the ``RelaxResult.history`` of an earlier
    relaxation of the same pairs (the previous MD step), to start L-BFGS with its curvature."""

    cores: np.ndarray
    numbers: np.ndarray
    pairs: np.ndarray
    cell: Optional[np.ndarray] = None
    pbc: Optional[np.ndarray] = None
    efield: Optional[np.ndarray] = None
    bound: Optional[float] = None
    stress: bool = False
    history: Optional[tuple] = None


def _minimum_image(diff: np.ndarray, inputs: Inputs) -> np.ndarray:
    if not inputs.periodic:
        return diff
    cell = inputs.cell.detach().to(torch.float64).cpu().numpy()
    frac = diff @ np.linalg.inv(cell)
    return (frac - np.round(frac)) @ cell


def check_pairs(pairs: np.ndarray, inputs: Inputs, collapse_distance: float, escape_distance: float) -> None:
    """Raise :class:`RelaxationError` for collapsed or escaped pairs (distances in angstrom)."""
    cores = inputs.cores.detach().to(torch.float64).cpu().numpy()
    m = len(pairs)
    if m > 1:
        d = np.linalg.norm(_minimum_image(pairs[:, None, :] - pairs[None, :, :], inputs), axis=-1)
        d[np.arange(m), np.arange(m)] = np.inf
        a, b = np.unravel_index(np.argmin(d), d.shape)
        if d[a, b] < collapse_distance:
            raise RelaxationError(
                f"electron pairs {a} and {b} collapsed onto each other ({d[a, b]:.3f} angstrom apart, "
                f"limit {collapse_distance})"
            )
    if m and len(cores):
        d = np.linalg.norm(_minimum_image(pairs[:, None, :] - cores[None, :, :], inputs), axis=-1).min(axis=1)
        k = int(np.argmax(d))
        if d[k] > escape_distance:
            raise RelaxationError(
                f"electron pair {k} escaped: {d[k]:.3f} angstrom from the nearest core (limit {escape_distance})"
            )


# ---------------------------------------------------------------------------------- optimiser
_MEMORY = 30  # L-BFGS history (as maxcor of the SciPy relaxer)
_H0 = 0.1  # first-step inverse curvature, angstrom^2/eV (pairs are bound by ~10 eV/angstrom^2)
_ARMIJO = 1e-4
_MAX_BACKTRACKS = 6
_FIRE = {"dt": 0.02, "dt_max": 0.2, "alpha": 0.1, "n_min": 5, "grow": 1.1, "shrink": 0.5, "alpha_decay": 0.99}


def _max_norm(v: torch.Tensor) -> torch.Tensor:
    """Largest per-particle norm of [B, D] vectors (D = 3 M): [B]."""
    return torch.linalg.vector_norm(v.reshape(v.shape[0], -1, 3), dim=-1).amax(dim=1)


@dataclass
class _Options:
    fmax: float
    max_bound: float
    max_iterations: int
    fire_steps: int
    restarts: int
    max_step: float  # angstrom per pair and L-BFGS step
    fire_move: float  # angstrom per pair and FIRE step
    dtype: torch.dtype  # the model's (sets the energy resolution)


class _Relaxer:
    """Batched L-BFGS / FIRE state over B structures, padded to the largest pair count."""

    def __init__(self, backend, items, starts, mask, bounds, *, device, options, stress, histories):
        self.backend = backend
        self.items = items
        self.stress = list(stress)  # per structure: the strain derivative is wanted (periodic only)
        self.n_pairs = [int(t.pairs.shape[0]) for t in items]
        self.mask = mask  # [B, D] float, 1 on real coordinates
        self.x0 = starts.clone()
        self.bound = torch.as_tensor(bounds, dtype=torch.float64, device=device)
        self.fmax = float(options.fmax)
        self.max_bound = float(options.max_bound)
        self.max_iterations = int(options.max_iterations)
        self.fire_steps = int(options.fire_steps)
        self.max_step = float(options.max_step)
        self.fire_move = float(options.fire_move)
        self.noise = 1e3 * torch.finfo(options.dtype).eps  # relative energy resolution for the stall test
        restarts = int(options.restarts)
        b, d = starts.shape
        z = lambda *s: torch.zeros(*s, dtype=torch.float64, device=device)  # noqa: E731
        self.x, self.g, self.trial, self.p, self.v = starts.clone(), z(b, d), starts.clone(), z(b, d), z(b, d)
        self.e = z(b)
        self.s_hist, self.y_hist, self.rho = z(b, _MEMORY, d), z(b, _MEMORY, d), z(b, _MEMORY)
        self.head = [0] * b
        self.count = [0] * b
        self.mode = ["start"] * b
        self.alpha = [1.0] * b
        self.slope = [0.0] * b
        self.backtracks = [0] * b
        self.restarts_left = [int(restarts)] * b
        self.lbfgs_iterations = [0] * b
        self.fire_done = [0] * b
        self.dt = [_FIRE["dt"]] * b
        self.fire_alpha = [_FIRE["alpha"]] * b
        self.n_positive = [0] * b
        self.evaluations = [0] * b
        self.info: list[dict] = [{} for _ in range(b)]
        self.error: list[Optional[str]] = [None] * b
        self.lo = self.x0 - self.bound.unsqueeze(1) * mask
        self.hi = self.x0 + self.bound.unsqueeze(1) * mask
        # core gradients and strain derivatives at the accepted points (every evaluation gives them,
        # so the relaxed state needs no extra evaluation)
        self.core_g: list[Optional[torch.Tensor]] = [None] * b
        self.strain_g: list[Optional[torch.Tensor]] = [None] * b
        self._last: dict[int, tuple] = {}
        for k, h in enumerate(histories):
            if h is not None:
                self._load_history(k, *h)

    def _load_history(self, b, s_old, y_old):
        """Curvature pairs (oldest first, [k, 3M]) of an earlier relaxation of this structure (warm L-BFGS)."""
        n = 3 * self.n_pairs[b]
        if s_old.shape[-1] != n or len(s_old) == 0:
            return
        s_old, y_old = s_old[-_MEMORY:].to(self.x), y_old[-_MEMORY:].to(self.x)
        k = s_old.shape[0]
        self.s_hist[b, :k, :n] = s_old
        self.y_hist[b, :k, :n] = y_old
        self.rho[b, :k] = 1.0 / (s_old * y_old).sum(1)
        self.count[b] = k
        self.head[b] = k % _MEMORY

    def history(self, b):
        """The L-BFGS curvature pairs of structure ``b``, oldest first ([k, 3M] each), or None."""
        k = self.count[b]
        if k == 0:
            return None
        n = 3 * self.n_pairs[b]
        slots = [(self.head[b] - k + t) % _MEMORY for t in range(k)]
        return self.s_hist[b, slots, :n].clone(), self.y_hist[b, slots, :n].clone()

    # -------------------------------------------------------------- helpers
    def _set_box(self, idx):
        bound = self.bound[idx].unsqueeze(1) * self.mask[idx]
        self.lo[idx] = self.x0[idx] - bound
        self.hi[idx] = self.x0[idx] + bound

    def _projected(self, idx, g):
        """Gradient with the components that push out of the box at an active bound removed."""
        x, lo, hi = self.x[idx], self.lo[idx], self.hi[idx]
        held = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        return torch.where(held, torch.zeros_like(g), g)

    @torch.enable_grad()  # also under a caller's no_grad
    def _evaluate(self, idx, points):
        """Energies [b] and pair gradients [b, D] of structures ``idx`` with pairs at ``points`` [b, D];
        the core gradients (and strain derivatives) are kept in ``self._last`` until accepted."""
        dtype = self.items[idx[0]].cores.dtype
        leaf = points.detach().to(dtype).requires_grad_(True)
        batch, extra = [], []
        for k, b in enumerate(idx):
            t = self.items[b]
            m = self.n_pairs[b]
            cores = t.cores.detach().requires_grad_(True)
            pairs = leaf[k, : 3 * m].reshape(m, 3)
            wrt = [cores]
            if self.stress[b]:
                strain = torch.zeros((3, 3), dtype=dtype, device=cores.device, requires_grad=True)
                deform = torch.eye(3, dtype=dtype, device=cores.device) + strain
                batch.append(Item(cores @ deform, t.numbers, pairs @ deform, t.cell @ deform, t.pbc, t.efield, True))
                wrt.append(strain)
            else:
                batch.append(Item(cores, t.numbers, pairs, t.cell, t.pbc, t.efield, t.periodic))
            extra.append(wrt)
        energies = self.backend(batch)
        flat = [x for wrt in extra for x in wrt]
        grads = torch.autograd.grad(energies.sum(), [leaf] + flat, allow_unused=True)
        n = 1
        for b, wrt in zip(idx, extra):
            got = [torch.zeros_like(x) if grads[n + q] is None else grads[n + q].detach() for q, x in enumerate(wrt)]
            n += len(wrt)
            self._last[b] = (got[0], got[1] if len(got) > 1 else None)
            self.evaluations[b] += 1
        grad = torch.zeros_like(leaf) if grads[0] is None else grads[0]
        return energies.detach().to(torch.float64), grad.detach().to(torch.float64)

    def _push_history(self, idx, s, y):
        sy = (s * y).sum(1)
        ok = (sy > 1e-12 * torch.linalg.vector_norm(s, dim=1) * torch.linalg.vector_norm(y, dim=1)).tolist()
        for k, b in enumerate(idx):
            if ok[k]:
                h = self.head[b]
                self.s_hist[b, h] = s[k]
                self.y_hist[b, h] = y[k]
                self.rho[b, h] = 1.0 / sy[k]
                self.head[b] = (h + 1) % _MEMORY
                self.count[b] = min(self.count[b] + 1, _MEMORY)

    def _directions(self, idx):
        """L-BFGS directions (two-loop recursion) for structures ``idx``, then their first trial points."""
        ix = torch.as_tensor(idx, device=self.x.device)
        g = self._projected(idx, self.g[idx])
        q = g.clone()
        count = torch.as_tensor([self.count[b] for b in idx], device=self.x.device)
        head = torch.as_tensor([self.head[b] for b in idx], device=self.x.device)
        depth = max(self.count[b] for b in idx)
        saved = []
        for t in range(depth):
            slot = (head - 1 - t) % _MEMORY
            valid = (t < count).to(torch.float64)
            s, y, rho = self.s_hist[ix, slot], self.y_hist[ix, slot], self.rho[ix, slot] * valid
            a = rho * (s * q).sum(1)
            q = q - a.unsqueeze(1) * y
            saved.append((s, y, rho, a))
        if depth:
            s, y = saved[0][0], saved[0][1]
            yy = (y * y).sum(1)
            gamma = torch.where((count > 0) & (yy > 0), (s * y).sum(1) / yy.clamp_min(1e-300), torch.full_like(yy, _H0))
        else:
            gamma = torch.full((len(idx),), _H0, dtype=torch.float64, device=self.x.device)
        z = gamma.unsqueeze(1) * q
        for s, y, rho, a in reversed(saved):
            beta = rho * (y * z).sum(1)
            z = z + s * (a - beta).unsqueeze(1)
        p = -z
        descent = (p * g).sum(1)
        bad = ~(descent < 0) | ~torch.isfinite(p).all(1)
        if bool(bad.any()):  # not a descent direction: forget the history, steepest descent
            p = torch.where(bad.unsqueeze(1), -_H0 * g, p)
            for k in torch.nonzero(bad).reshape(-1).tolist():
                self.count[idx[k]] = 0
        longest = _max_norm(p)
        scale = torch.clamp(self.max_step / longest.clamp_min(1e-300), max=1.0)
        self.p[idx] = p * scale.unsqueeze(1)
        for b in idx:
            self.alpha[b] = 1.0
            self.backtracks[b] = 0
        self._trial(idx)

    def _trial(self, idx):
        alpha = torch.as_tensor([self.alpha[b] for b in idx], dtype=torch.float64, device=self.x.device)
        trial = torch.clamp(self.x[idx] + alpha.unsqueeze(1) * self.p[idx], self.lo[idx], self.hi[idx])
        self.trial[idx] = trial
        slope = (self.g[idx] * (trial - self.x[idx])).sum(1).tolist()
        for k, b in enumerate(idx):
            self.slope[b] = slope[k]

    def _fire_step(self, idx):
        """One FIRE update of structures ``idx`` from their current forces (unit masses, box bounds)."""
        force = -self._projected(idx, self.g[idx])
        v = self.v[idx]
        power = (force * v).sum(1).tolist()
        norm_f = torch.linalg.vector_norm(force, dim=1).clamp_min(1e-300)
        norm_v = torch.linalg.vector_norm(v, dim=1)
        dt, mix = [], []
        for k, b in enumerate(idx):
            if power[k] > 0.0:
                mix.append(self.fire_alpha[b])
                self.n_positive[b] += 1
                if self.n_positive[b] > _FIRE["n_min"]:
                    self.dt[b] = min(_FIRE["grow"] * self.dt[b], _FIRE["dt_max"])
                    self.fire_alpha[b] *= _FIRE["alpha_decay"]
            else:
                mix.append(-1.0)  # stop
                self.dt[b] *= _FIRE["shrink"]
                self.fire_alpha[b] = _FIRE["alpha"]
                self.n_positive[b] = 0
            dt.append(self.dt[b])
            self.fire_done[b] += 1
        a = torch.as_tensor(mix, dtype=torch.float64, device=v.device).unsqueeze(1)
        mixed = (1.0 - a) * v + a * norm_v.unsqueeze(1) * force / norm_f.unsqueeze(1)
        v = torch.where(a < 0, torch.zeros_like(v), mixed)
        dt_t = torch.as_tensor(dt, dtype=torch.float64, device=v.device).unsqueeze(1)
        v = v + dt_t * force
        move = dt_t * v
        longest = _max_norm(move)
        move = move * torch.clamp(self.fire_move / longest.clamp_min(1e-300), max=1.0).unsqueeze(1)
        self.v[idx] = v
        self.x[idx] = torch.clamp(self.x[idx] + move, self.lo[idx], self.hi[idx])

    def _to_fire(self, b, reason):
        self.info[b]["fallback"] = reason
        self.mode[b] = "fire"
        self.v[b] = 0.0
        self.dt[b], self.fire_alpha[b], self.n_positive[b] = _FIRE["dt"], _FIRE["alpha"], 0

    # -------------------------------------------------------------- main loop
    def run(self):
        while True:
            active = [b for b, m in enumerate(self.mode) if m != "done"]
            if not active:
                return
            points = torch.stack([self.trial[b] if self.mode[b] == "lbfgs" else self.x[b] for b in active])
            e_new, g_new = self._evaluate(active, points)
            e_list = e_new.tolist()
            finite = torch.isfinite(g_new).all(1).tolist()
            accepted, fire, backtrack = [], [], []
            for k, b in enumerate(active):
                mode, e = self.mode[b], e_list[k]
                ok = np.isfinite(e) and finite[k]
                if mode == "start":
                    if not ok:
                        self.error[b] = "non-finite energy or pair forces at the starting pairs"
                        self.mode[b] = "done"
                        continue
                    accepted.append(k)
                elif mode == "lbfgs":
                    scale = self.noise * max(1.0, abs(self.e[b].item()))
                    if ok and e <= self.e[b].item() + _ARMIJO * self.slope[b]:
                        accepted.append(k)
                    else:
                        backtrack.append((k, e if ok else np.inf, scale))
                else:
                    fire.append(k)
            # accept the evaluated points (history for L-BFGS steps)
            lb = [k for k in accepted if self.mode[active[k]] == "lbfgs"]
            if lb:
                idx = [active[k] for k in lb]
                kk = torch.as_tensor(lb, device=self.x.device)
                self._push_history(idx, self.trial[idx] - self.x[idx], g_new[kk] - self.g[idx])
                for b in idx:
                    self.lbfgs_iterations[b] += 1
            for k in accepted + fire:
                b = active[k]
                if self.mode[b] != "fire":
                    self.x[b] = points[k]
                self.e[b] = e_new[k]
                self.g[b] = g_new[k]
                self.core_g[b], self.strain_g[b] = self._last[b]
                if self.mode[b] == "start":
                    self.mode[b] = "lbfgs"
            moved = [active[k] for k in accepted + fire]
            need_dir, need_fire = [], []
            if moved:
                full = _max_norm(self.g[moved]).tolist()
                proj = _max_norm(self._projected(moved, self.g[moved])).tolist()
                for k, b in enumerate(moved):
                    if not self._go_on(b, full[k], proj[k]):
                        continue
                    if self.mode[b] == "lbfgs":
                        if self.lbfgs_iterations[b] >= self.max_iterations:
                            why = f"reached {self.max_iterations} iterations at {full[k]:.3g} eV/angstrom"
                            self._to_fire(b, f"FIRE after L-BFGS {why}")
                            need_fire.append(b)
                        else:
                            need_dir.append(b)
                    else:
                        need_fire.append(b)
            for k, e, scale in backtrack:
                b = active[k]
                self.backtracks[b] += 1
                if self.backtracks[b] <= _MAX_BACKTRACKS and np.isfinite(e):
                    curv = e - self.e[b].item() - self.slope[b]
                    s = -self.slope[b] / (2.0 * curv) if curv > 0 else 0.5
                    self.alpha[b] *= min(max(s, 0.1), 0.5)
                    self._trial([b])
                    continue
                if self.backtracks[b] <= _MAX_BACKTRACKS:  # non-finite: shrink hard
                    self.alpha[b] *= 0.1
                    self._trial([b])
                    continue
                force = _max_norm(self.g[b : b + 1]).item()
                rounding = abs(self._first_slope(b)) < scale
                if rounding or self.count[b] == 0 or self.restarts_left[b] <= 0:
                    # the energy no longer resolves the steps (even steepest descent fails): forces only
                    why = "line search below the rounding of the energy" if rounding else "line search failed"
                    self._to_fire(b, f"FIRE after L-BFGS stalled at {force:.3g} eV/angstrom ({why})")
                    need_fire.append(b)
                else:
                    self.restarts_left[b] -= 1
                    self.info[b]["restarts"] = self.info[b].get("restarts", 0) + 1
                    self.count[b] = 0
                    need_dir.append(b)
            if need_dir:
                self._directions(need_dir)
            if need_fire:
                done = [b for b in need_fire if self.fire_done[b] >= self.fire_steps]
                for b in done:
                    self._finish_fire(b)
                go = [b for b in need_fire if b not in done]
                if go:
                    self._fire_step(go)

    def _first_slope(self, b):
        """Predicted energy change of the full (alpha = 1) step of the current L-BFGS iteration."""
        return self.slope[b] / self.alpha[b] if self.alpha[b] > 0 else 0.0

    def _finish_fire(self, b):
        """FIRE used up its steps: accept within the slack (decided by the caller) or report."""
        self.mode[b] = "done"
        self.info[b]["unconverged"] = True

    def _go_on(self, b, full, proj) -> bool:
        """Done (True: no more steps) or at the box edge (expand, or fail at max_bound); False: go on."""
        if full < self.fmax:
            self.mode[b] = "done"
            return False
        if proj < self.fmax:  # held by the box: the minimum lies beyond its edge
            bound = float(self.bound[b])
            if bound >= self.max_bound:
                self.error[b] = (
                    f"electron pairs reached the displacement bound of {self.max_bound} angstrom from their start "
                    f"with a residual pair force of {full:.3g} eV/angstrom"
                )
                self.mode[b] = "done"
                return False
            self.bound[b] = min(2.0 * bound, self.max_bound)
            self._set_box([b])
            self.info[b]["bound"] = float(self.bound[b])
        return True


def _items(model, structures: Sequence[Structure], device) -> tuple[list[Item], list[Inputs]]:
    dtype = model_dtype(model)
    items, inputs = [], []
    for s in structures:
        inp = make_inputs(model, s.cores, s.numbers, s.pairs, s.cell, s.pbc, s.efield)
        inp = Inputs(*(t.to(device) for t in (inp.cores, inp.numbers, inp.pairs, inp.cell, inp.pbc, inp.efield)))
        model.core_charges(inp.numbers)  # unknown elements raise here
        items.append(Item(inp.cores, inp.numbers, inp.pairs.to(dtype), inp.cell, inp.pbc, inp.efield, inp.periodic))
        inputs.append(inp)
    return items, inputs


def _device_of(model) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def relax_pairs_batch(
    model,
    structures: Sequence[Structure],
    *,
    fmax: float = 1e-3,
    max_displacement: float = 0.5,
    max_bound: float = 2.0,
    max_iterations: int = 2000,
    max_fire_steps: Optional[int] = None,
    collapse_distance: float = 0.1,
    escape_distance: float = 2.5,
    restarts: int = 5,
    slack: float = 10.0,
    max_step: float = 0.2,
    batched: bool = True,
) -> list[RelaxResult]:
    """Minimise the eMLP energy over the pairs of several structures at fixed cores (eq. 4), together.

    Each :class:`Structure` has its own start, box (``bound``, else ``max_displacement``) and
    optimiser state; one model evaluation per iteration serves all that are still relaxing.
    ``max_fire_steps`` (default ``max_iterations``) limits the FIRE polish after a stall, ``max_step``
    the move of a pair in one L-BFGS step (angstrom).  ``batched`` False evaluates through the
    model's own forward (brute-force neighbour lists) instead of :mod:`tensorml.emlp.batch`.
    Returns one :class:`RelaxResult` per structure; raises :class:`RelaxationError` (naming the
    structure when there are several) if any fails.
    """
    structures = list(structures)
    if not structures:
        return []
    for s in structures:
        if s.stress and not (s.pbc is not None and bool(np.all(s.pbc))):
            raise ValueError("the stress is defined for periodic systems only")
    device = _device_of(model)
    backend = energy_backend(model, batched=batched)
    items, inputs = _items(model, structures, device)
    todo = [k for k, t in enumerate(items) if t.pairs.shape[0] > 0]
    results: list[Optional[RelaxResult]] = [None] * len(items)
    if todo:
        sub = [items[k] for k in todo]
        width = 3 * max(int(t.pairs.shape[0]) for t in sub)
        starts = torch.zeros((len(sub), width), dtype=torch.float64, device=device)
        mask = torch.zeros_like(starts)
        for k, t in enumerate(sub):
            n = 3 * int(t.pairs.shape[0])
            starts[k, :n] = t.pairs.reshape(-1).to(torch.float64)
            mask[k, :n] = 1.0
        bounds = [float(max_displacement if structures[k].bound is None else structures[k].bound) for k in todo]
        relaxer = _Relaxer(
            backend,
            sub,
            starts,
            mask,
            bounds,
            device=device,
            options=_Options(
                fmax=fmax,
                max_bound=max_bound,
                max_iterations=max_iterations,
                fire_steps=max_iterations if max_fire_steps is None else max_fire_steps,
                restarts=restarts,
                max_step=max_step,
                fire_move=0.05,
                dtype=model_dtype(model),
            ),
            stress=[bool(structures[k].stress) for k in todo],
            histories=[structures[k].history for k in todo],
        )
        relaxer.run()
        forces = _max_norm(relaxer.g).tolist()
        many = len(structures) > 1
        for k, b in enumerate(todo):
            where = f"structure {b}: " if many else ""
            info = relaxer.info[k]
            iterations = relaxer.lbfgs_iterations[k] + relaxer.fire_done[k]
            if relaxer.error[k] is not None:
                raise RelaxationError(where + relaxer.error[k])
            if info.pop("unconverged", False):
                if forces[k] < slack * fmax:
                    info["accepted_within_slack"] = (
                        f"max pair force {forces[k]:.3g} eV/angstrom < {slack:g} x fmax {fmax}"
                    )
                else:
                    raise RelaxationError(
                        f"{where}pair relaxation did not converge: max pair force {forces[k]:.3g} eV/angstrom > "
                        f"fmax {fmax} after {iterations} iterations (FIRE fallback: {'fallback' in info})"
                    )
            m = int(items[b].pairs.shape[0])
            pairs = relaxer.x[k, : 3 * m].reshape(m, 3)
            pairs_np = pairs.cpu().numpy().copy()
            check_pairs(pairs_np, inputs[b], collapse_distance, escape_distance)
            info["evaluations"] = relaxer.evaluations[k]
            relaxed = Inputs(inputs[b].cores, inputs[b].numbers, pairs, inputs[b].cell, inputs[b].pbc, inputs[b].efield)
            pair_forces = -relaxer.g[k, : 3 * m].reshape(m, 3).cpu().numpy()
            strain = relaxer.strain_g[k]
            results[b] = RelaxResult(
                energy=float(relaxer.e[k]),
                core_forces=-relaxer.core_g[k].to(torch.float64).cpu().numpy(),
                pairs=pairs_np,
                pair_forces=pair_forces,
                dipole=_dipole(model, relaxed),
                iterations=iterations,
                max_pair_force=float(np.linalg.norm(pair_forces, axis=1).max()),
                stress=None if strain is None else _stress(strain, items[b].cell),
                info=info,
                history=relaxer.history(k),
            )
    rest = [k for k in range(len(items)) if results[k] is None]  # no pairs: one evaluation each
    if rest:
        done = _finish(model, backend, [items[k] for k in rest], [inputs[k] for k in rest],
                       [bool(structures[k].stress) for k in rest])  # fmt: skip
        for k, r in zip(rest, done):
            r.info["evaluations"] = 1
            results[k] = r
    return results


def _dipole(model, inputs: Inputs) -> np.ndarray:
    dtype = inputs.cores.dtype
    relaxed = Inputs(inputs.cores, inputs.numbers, inputs.pairs.to(dtype), inputs.cell, inputs.pbc, inputs.efield)
    return total_charge_dipole(model, relaxed).detach().to(torch.float64).cpu().numpy()


def _stress(strain_grad: torch.Tensor, cell: torch.Tensor) -> np.ndarray:
    """sigma = (1/V) dE/d(strain), eV/angstrom^3 (ASE sign)."""
    return (strain_grad / torch.abs(torch.linalg.det(cell))).detach().to(torch.float64).cpu().numpy()


def relax_pairs(
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
    max_fire_steps: Optional[int] = None,
    collapse_distance: float = 0.1,
    escape_distance: float = 2.5,
    stress: bool = False,
    restarts: int = 5,
    slack: float = 10.0,
    batched: bool = True,
) -> RelaxResult:
    """Minimise the eMLP energy over the pair positions at fixed cores (eq. 4).

    ``pairs`` (M, 3) angstrom is the starting guess (a Lewis guess or the previous MD step).
    L-BFGS first; a stall above ``fmax`` switches to FIRE; a residual below ``slack * fmax``
    after both is accepted and reported (``info['accepted_within_slack']``).  One structure of
    :func:`relax_pairs_batch`.  Returns a :class:`RelaxResult`; raises :class:`RelaxationError` on failure.
    """
    structure = Structure(cores, numbers, pairs, cell, pbc, efield, stress=stress)
    return relax_pairs_batch(
        model,
        [structure],
        fmax=fmax,
        max_displacement=max_displacement,
        max_bound=max_bound,
        max_iterations=max_iterations,
        max_fire_steps=max_fire_steps,
        collapse_distance=collapse_distance,
        escape_distance=escape_distance,
        restarts=restarts,
        slack=slack,
        batched=batched,
    )[0]


@torch.enable_grad()
def _finish(model, backend, items: list[Item], inputs: list[Inputs], stress: list[bool]) -> list[RelaxResult]:
    """Energy, core and pair forces, stress (where asked, periodic only) and dipole, in one pass."""
    batch, leaves = [], []
    for t, want in zip(items, stress):
        cores = t.cores.detach().requires_grad_(True)
        pairs = t.pairs.detach().requires_grad_(True)
        wrt = [cores, pairs]
        if want:
            strain = torch.zeros((3, 3), dtype=cores.dtype, device=cores.device, requires_grad=True)
            deform = torch.eye(3, dtype=cores.dtype, device=cores.device) + strain
            batch.append(Item(cores @ deform, t.numbers, pairs @ deform, t.cell @ deform, t.pbc, t.efield, True))
            wrt.append(strain)
        else:
            batch.append(Item(cores, t.numbers, pairs, t.cell, t.pbc, t.efield, t.periodic))
        leaves.append(wrt)
    energies = backend(batch)
    flat = [x for wrt in leaves for x in wrt]
    grads = torch.autograd.grad(energies.sum(), flat, allow_unused=True)
    results, k = [], 0
    as_np = lambda t: t.detach().to(torch.float64).cpu().numpy()  # noqa: E731
    for b, (t, inp, wrt) in enumerate(zip(items, inputs, leaves)):
        g = [torch.zeros_like(x) if grads[k + n] is None else grads[k + n] for n, x in enumerate(wrt)]
        k += len(wrt)
        pair_forces = as_np(-g[1])
        relaxed = Inputs(inp.cores, inp.numbers, t.pairs.detach(), inp.cell, inp.pbc, inp.efield)
        results.append(
            RelaxResult(
                energy=float(energies[b].detach()),
                core_forces=as_np(-g[0]),
                pairs=as_np(t.pairs).reshape(-1, 3).copy(),
                pair_forces=pair_forces,
                dipole=_dipole(model, relaxed),
                iterations=0,
                max_pair_force=float(np.linalg.norm(pair_forces, axis=1).max()) if len(pair_forces) else 0.0,
                stress=_stress(g[2], t.cell) if len(wrt) == 3 else None,
            )
        )
    return results


class _Joint:
    """A backend over items whose ``pairs`` hold every particle (cores first, as many as ``numbers``)."""

    def __init__(self, backend):
        self.backend = backend

    @property
    def kind(self) -> str:
        return self.backend.kind

    def __call__(self, items: Sequence[Item]) -> torch.Tensor:
        split = []
        for t in items:
            n = t.numbers.shape[0]
            split.append(Item(t.pairs[:n], t.numbers, t.pairs[n:], t.cell, t.pbc, t.efield, t.periodic))
        return self.backend(split)


def optimize_structure(
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
    batched: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise over cores and pairs together at a fixed cell (the 0 K structure of appendix A).

    The relaxer of :func:`relax_pairs_batch` on all particles, without a box (L-BFGS, restarts
    and FIRE on a stall; no slack).  Returns (cores, pairs) in angstrom; raises
    :class:`RelaxationError` when the largest force on any particle stays above ``fmax``
    (eV/angstrom) or the pairs collapse or escape.
    """
    device = _device_of(model)
    (item,), (inputs,) = _items(model, [Structure(cores, numbers, pairs, cell, pbc, efield)], device)
    n = item.cores.shape[0]
    everything = torch.cat([item.cores, item.pairs]).to(torch.float64).reshape(1, -1)
    joint = Item(item.cores[:0], item.numbers, everything.reshape(-1, 3).to(item.cores.dtype), item.cell, item.pbc,
                 item.efield, item.periodic)  # fmt: skip
    relaxer = _Relaxer(
        _Joint(energy_backend(model, batched=batched)),
        [joint],
        everything,
        torch.ones_like(everything),
        [float("inf")],
        device=device,
        options=_Options(
            fmax=fmax,
            max_bound=float("inf"),
            max_iterations=max_iterations,
            fire_steps=max_iterations,
            restarts=5,
            max_step=0.2,
            fire_move=0.05,
            dtype=model_dtype(model),
        ),
        stress=[False],
        histories=[None],
    )
    relaxer.run()
    max_force = float(_max_norm(relaxer.g)[0])
    if relaxer.error[0] is not None or max_force >= fmax:
        raise RelaxationError(
            f"structure optimisation did not converge: max force {max_force:.3g} eV/angstrom > fmax {fmax} "
            f"after {relaxer.lbfgs_iterations[0] + relaxer.fire_done[0]} iterations"
            + (f" ({relaxer.error[0]})" if relaxer.error[0] else "")
        )
    xyz = relaxer.x[0].reshape(-1, 3).cpu().numpy()
    relaxed = Inputs(
        torch.as_tensor(xyz[:n]), inputs.numbers, torch.as_tensor(xyz[n:]), inputs.cell, inputs.pbc, inputs.efield
    )
    check_pairs(xyz[n:], relaxed, collapse_distance, escape_distance)
    return xyz[:n].copy(), xyz[n:].copy()
