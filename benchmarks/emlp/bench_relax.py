"""Pair relaxation per MD step of the shipped eMLP: SciPy (before) against the torch relaxer (after).

NVE velocity Verlet (ASE, 0.5 fs, 300 K Maxwell-Boltzmann start, fixed seed) with
:class:`tensorml.emlp.calculator.EMLPCalculator`, as in the NVE stability runs
(:mod:`tensorml.emlp.stability`): every step relaxes the electron pairs (fmax 1e-3 eV/angstrom),
warm-started from the previous step's pairs moved with their nearest core
(:class:`tensorml.emlp.warmstart.PairMemory`, the predictor there), in a box of 3x the largest core
displacement.  Per MD step it reports the relaxation iterations, the model evaluations (energy +
pair forces, the final energy/forces/stress evaluation included) and the wall time, for

* ``scipy``: the relaxer tensorml had before (:func:`tensorml.emlp.relax_scipy.relax_pairs_scipy`:
  SciPy L-BFGS-B + FIRE on the model's TorchScript forward, brute-force neighbour lists), driven by
  the same engine logic as before;
* ``torch``: :func:`tensorml.emlp.relax.relax_pairs_batch` (L-BFGS + FIRE on tensors, vesin
  neighbour lists, one SchNet graph for all structures, L-BFGS curvature carried from the previous
  step), what the engine runs now; ablations: ``torch-identity`` (no curvature carried over) and
  ``torch-forward`` (the model's own forward, brute-force neighbour lists).

The same trajectory is run ``--repeats`` times (identical iteration counts); the wall time is the
best repeat (the machine is shared).  ``--beads N`` adds an i-PI-like batch: N methanol beads (0.02
angstrom apart) moved by 0.005 angstrom per step and evaluated through ``EMLPEngine.evaluate`` in one
call (torch: relaxed together; scipy: one after the other).  Prints a markdown table.

    .venv/bin/python benchmarks/emlp/bench_relax.py --systems methanol water64 --steps 20 --repeats 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "emlp" / "model.pt"


def scipy_engine_class():
    """EMLPEngine whose relaxation is the SciPy one, structure by structure (the engine before)."""
    from tensorml.emlp.engine import RECOVERED, EMLPEngine
    from tensorml.emlp.relax_scipy import relax_pairs_scipy

    class ScipyEngine(EMLPEngine):
        def relax_many(self, structures):
            results = []
            for positions, numbers, cell, pbc, efield, pairs, stress in structures:
                positions = np.asarray(positions, dtype=float).reshape(-1, 3)
                numbers = np.asarray(numbers, dtype=int).reshape(-1)
                if pairs is None:
                    pairs, bound = self.start(positions, numbers)
                else:
                    pairs, bound = np.asarray(pairs, dtype=float).reshape(-1, 3), self.max_bound / 2
                periodic = pbc is not None and bool(np.all(pbc))
                r = relax_pairs_scipy(
                    self.module,
                    positions,
                    numbers,
                    pairs,
                    cell=cell if periodic else None,
                    pbc=pbc if periodic else None,
                    efield=efield,
                    fmax=self.fmax,
                    max_displacement=bound,
                    max_bound=self.max_bound,
                    stress=bool(stress) and periodic,
                )
                self.memory.store(positions, numbers, r.pairs)
                self.evaluations += int(r.info.get("evaluations", 0))
                for key in RECOVERED:
                    if key in r.info:
                        self.recovered[key] = self.recovered.get(key, 0) + 1
                results.append(r)
            return results

    return ScipyEngine


#: relaxer name -> EMLPEngine options (ablations of the torch relaxer)
VARIANTS = {
    "torch": {},
    "torch-identity": {"warm_hessian": False},  # L-BFGS starts from a scaled identity every step
    "torch-forward": {"batched": False},  # the model's forward (brute-force neighbour lists)
}


def make_engine(relaxer: str, fmax: float, memory: int = 2):
    from tensorml.emlp.engine import EMLPEngine
    from tensorml.emlp.export import load_emlp

    module, metadata = load_emlp(MODEL)
    if relaxer == "scipy":
        return scipy_engine_class()(module, metadata, fmax=fmax, memory=memory, source=str(MODEL))
    return EMLPEngine(module, metadata, fmax=fmax, memory=memory, source=str(MODEL), **VARIANTS[relaxer])


def water_box(n: int = 4, seed: int = 0):
    """n^3 randomly oriented waters on a simple cubic grid at 1 g/cm^3 (periodic ASE Atoms)."""
    from ase import Atoms
    from ase.build import molecule

    spacing = (18.015 / 0.6022140857) ** (1 / 3)  # angstrom per molecule at 1 g/cm^3
    rng = np.random.default_rng(seed)
    water = molecule("H2O")
    positions, numbers = [], []
    for a in range(n):
        for b in range(n):
            for c in range(n):
                q, r = np.linalg.qr(rng.normal(size=(3, 3)))
                positions.append(water.positions @ (q * np.sign(np.diag(r))).T + spacing * np.array([a, b, c]))
                numbers.append(water.numbers)
    return Atoms(numbers=np.concatenate(numbers), positions=np.concatenate(positions), cell=[n * spacing] * 3, pbc=True)


def system(name: str):
    from ase.build import molecule

    if name == "methanol":
        return molecule("CH3OH")
    if name.startswith("water"):
        n = round(int(name[len("water") :]) ** (1 / 3))
        return water_box(n)
    return molecule(name)


def run_md(name: str, relaxer: str, steps: int, fmax: float, seed: int = 0) -> dict:
    """One NVE run: per-step iterations, evaluations, seconds (after the cold first relaxation)."""
    from ase import units
    from ase.md.verlet import VelocityVerlet

    from tensorml.data.sampling import thermalize
    from tensorml.emlp.calculator import EMLPCalculator

    atoms = system(name)
    calc = EMLPCalculator(MODEL, fmax=fmax, memory=2)
    calc.engine = make_engine(relaxer, fmax)
    atoms.calc = calc
    thermalize(atoms, 300.0, np.random.default_rng(seed))
    dyn = VelocityVerlet(atoms, 0.5 * units.fs)
    atoms.get_potential_energy()  # cold start from the Lewis guess: not counted
    n = len(atoms)
    e_cons = [(atoms.get_potential_energy() + atoms.get_kinetic_energy()) / n]
    its, evs, secs = [], [], []
    for _ in range(steps):
        before = calc.engine.evaluations
        t0 = time.perf_counter()
        dyn.run(1)
        secs.append(time.perf_counter() - t0)
        evs.append(calc.engine.evaluations - before)
        its.append(calc.results["relax_iterations"])
        e_cons.append((atoms.get_potential_energy() + atoms.get_kinetic_energy()) / n)
    return {
        "particles": n + len(calc.results["electron_pairs"]),
        "iterations": float(np.mean(its)),
        "evaluations": float(np.mean(evs)),
        "ms": 1e3 * float(np.mean(secs)),
        "max_jump": float(np.abs(np.diff(e_cons)).max()),
        "recovered": dict(calc.engine.recovered),
        "positions": atoms.positions.copy(),
    }


def run_beads(beads: int, relaxer: str, steps: int, fmax: float, seed: int = 0) -> dict:
    """i-PI-like: ``beads`` methanol replicas evaluated in one call per step."""
    from ase.build import molecule

    from tensorml.runtime import System

    atoms = molecule("CH3OH")
    rng = np.random.default_rng(seed)
    engine = make_engine(relaxer, fmax, memory=4 * beads)
    positions = [atoms.positions + 0.02 * rng.normal(size=atoms.positions.shape) for _ in range(beads)]
    engine.evaluate([System(atoms.numbers, p) for p in positions], ["energy", "forces"])  # cold: not counted
    evs, secs, its = [], [], []
    for _ in range(steps):
        positions = [p + 0.005 * rng.normal(size=p.shape) for p in positions]
        before = engine.evaluations
        t0 = time.perf_counter()
        out = engine.evaluate([System(atoms.numbers, p) for p in positions], ["energy", "relax_iterations"])
        secs.append(time.perf_counter() - t0)
        evs.append((engine.evaluations - before) / beads)
        its.append(np.mean([float(o["relax_iterations"]) for o in out]))
    return {
        "particles": beads * 13,
        "iterations": float(np.mean(its)),
        "evaluations": float(np.mean(evs)),
        "ms": 1e3 * float(np.mean(secs)),
        "max_jump": float("nan"),
        "recovered": dict(engine.recovered),
        "positions": None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--systems", nargs="+", default=["methanol", "water64"])
    p.add_argument("--relaxers", nargs="+", default=["scipy", "torch"], choices=["scipy", *VARIANTS])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--fmax", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--beads", type=int, nargs="*", default=[])
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    cases = [(name, None) for name in args.systems] + [("methanol", b) for b in args.beads]
    for name, beads in cases:
        finals = {}
        for relaxer in args.relaxers:
            best = None
            for _ in range(args.repeats):
                if beads is None:
                    r = run_md(name, relaxer, args.steps, args.fmax)
                else:
                    r = run_beads(beads, relaxer, args.steps, args.fmax)
                if best is None or r["ms"] < best["ms"]:
                    best = r
            finals[relaxer] = best["positions"]
            label = name if beads is None else f"methanol x {beads} beads (one call)"
            rows.append((label, relaxer, best))
        if beads is None and "scipy" in finals:  # same trajectory within the relaxation tolerance
            for other in (k for k in finals if k != "scipy"):
                d = np.abs(finals["scipy"] - finals[other]).max()
                print(f"{name}: largest core position difference scipy vs {other} after {args.steps} steps: {d:.2e} A")
    print(
        f"\nfmax {args.fmax} eV/angstrom, {args.steps} steps (0.5 fs), best of {args.repeats}, "
        f"{args.threads} torch threads\n"
    )
    print(
        "| system | particles (cores + pairs) | relaxer | iterations / step | evaluations / step "
        "| ms / step | ms / evaluation | max jump E_cons (eV/atom) | recovered stalls |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, relaxer, r in rows:
        rec = ", ".join(f"{k} {v}" for k, v in r["recovered"].items()) or "none"
        jump = "" if not np.isfinite(r["max_jump"]) else f"{r['max_jump']:.1e}"
        print(
            f"| {label} | {r['particles']} | {relaxer} | {r['iterations']:.1f} | {r['evaluations']:.1f} "
            f"| {r['ms']:.1f} | {r['ms'] / max(r['evaluations'], 1e-9):.1f} | {jump} | {rec} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
