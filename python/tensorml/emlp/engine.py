"""An eMLP model file as an engine-side evaluator: relaxation every call, warm starts, outputs.

:class:`EMLPEngine` gives eMLP files (:mod:`tensorml.emlp.export`) the interface the i-PI
driver and other whole-system engines use for contract models
(:class:`tensorml.runtime.ExportedModel`): ``outputs``, ``units``, ``metadata['outputs']``
(per-atom flag and unit dimension of each output), ``check_species`` and
``evaluate(systems, requested)``.  :func:`tensorml.runtime.load_model` picks it by the file's
``format`` key, so an engine never needs to know which kind of model it runs.

Every structure is relaxed (seed eq. 4) before anything is reported:

1. start: the stored relaxed pairs whose cores are closest to the new ones (:class:`PairMemory`,
   moved with the cores: the warm start of seed Sec. 3.1.4, and, with several i-PI beads served
   by one engine, the stored configuration of the same bead), with the L-BFGS curvature pairs of
   that relaxation (a warm start of the Hessian), else a Lewis guess;
2. :func:`~tensorml.emlp.relax.relax_pairs_batch` with a displacement bound of 3x the largest core
   displacement since the stored configuration, at least ``min_bound`` (angstrom): all structures
   of one :meth:`EMLPEngine.evaluate` call (the beads of an i-PI batch) relax together, on the
   engine's device, one model evaluation per iteration for all of them;
3. outputs, in the model's units (angstrom, eV, e): ``energy``; ``forces`` on the cores (eq. 5);
   ``virial`` (periodic cells; -dE/d(strain), the contract's sign); ``dipole`` from cores and
   unwrapped pairs; ``electron_pairs`` [M, 3]; ``relax_iterations``; ``max_pair_force`` (eV/angstrom).

A failed relaxation raises :class:`~tensorml.emlp.relax.RelaxationError` naming why (collapse,
escape, bound, no convergence); nothing is returned for it.  Stalls that were recovered (an
L-BFGS restart, the FIRE fallback, a residual accepted within the slack) are counted in
``recovered``.  The model and the relaxation run on ``device`` (cpu, cuda, cuda:N).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import units as U
from .lewis import lewis_pairs
from .relax import RelaxResult, Structure, relax_pairs_batch
from .warmstart import PairMemory

#: RelaxResult.info keys of recovered stalls, counted in EMLPEngine.recovered
RECOVERED = ("restarts", "fallback", "accepted_within_slack")

#: output -> (per atom, unit dimension), in the model's units (tensorml's metal system)
OUTPUTS = {
    "energy": (False, U.ENERGY),
    "forces": (True, U.FORCE),
    "virial": (False, U.ENERGY),
    "dipole": (False, U.DIPOLE),
    "electron_pairs": (False, U.LENGTH),
    "relax_iterations": (False, U.DIMENSIONLESS),
    "max_pair_force": (False, U.FORCE),
}


class EMLPEngine:
    """A loaded eMLP model that relaxes its electron pairs for every structure it evaluates.

    :param module: eMLP TorchScript module (or :class:`~tensorml.emlp.model.EMLPModel`)
    :param metadata: its metadata (:func:`~tensorml.emlp.export.read_metadata`); ``species`` None
        leaves the element check to the model
    :param charge: total charge (e) used by the Lewis guess of a structure seen for the first time
    :param fmax: convergence of the pair relaxation, largest pair force (eV/angstrom)
    :param min_bound, max_bound: limits of the displacement bound of a warm-started relaxation (angstrom)
    :param memory: how many relaxed configurations are kept for warm starts (at least the beads served)
    :param device: torch device of the model and the relaxation: cpu, cuda or cuda:N
    :param batched: relax through :mod:`tensorml.emlp.batch` (one graph for all structures, vesin
        neighbour lists); False uses the model's own forward, structure by structure
    :param warm_hessian: start each warm-started relaxation with the L-BFGS curvature pairs of the
        stored one (kept in ``memory``); False starts L-BFGS from a scaled identity every time
    """

    units = U.METAL

    def __init__(
        self,
        module,
        metadata: dict,
        device: str = "cpu",
        charge: int = 0,
        fmax: float = 1e-3,
        min_bound: float = 0.1,
        max_bound: float = 2.0,
        memory: int = 64,
        source: str = "eMLP model",
        batched: bool = True,
        warm_hessian: bool = True,
    ):
        import torch

        device = str(device).strip().lower()
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ValueError(f"{source}: device {device!r} asked for, but torch sees no CUDA device")
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            if index >= torch.cuda.device_count():
                raise ValueError(
                    f"{source}: device {device!r} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)"
                )
        elif device != "cpu":
            raise ValueError(f"{source}: unknown device {device!r}: use cpu, cuda or cuda:N")
        self.device = device
        if hasattr(module, "to"):
            module = module.to(device)
        self.batched = bool(batched)
        self.warm_hessian = bool(warm_hessian)
        self.module = module
        self.source = source
        species = metadata.get("species")
        self.species = None if species is None else [int(z) for z in species]
        self.metadata = dict(metadata)
        self.metadata["outputs"] = {
            name: {"per_atom": per_atom, "dimension": dim.as_list(), "unit": self.units.unit_name(dim)}
            for name, (per_atom, dim) in OUTPUTS.items()
        }
        self.charge = int(charge)
        self.fmax = float(fmax)
        self.min_bound = float(min_bound)
        self.max_bound = float(max_bound)
        self.memory = PairMemory(memory)
        self.recovered: dict[str, int] = {}  # relaxations that stalled and were recovered (relax.py), by kind
        self.evaluations = 0  # model evaluations of all relaxations (benchmarks)

    @classmethod
    def load(cls, path, device: str = "cpu", **options) -> "EMLPEngine":
        from .export import load_emlp

        module, metadata = load_emlp(path)
        return cls(module, metadata, device=device, source=str(path), **options)

    @property
    def outputs(self) -> list[str]:
        return list(OUTPUTS)

    def check_species(self, numbers) -> None:
        if self.species is None:
            return
        unknown = sorted(set(int(z) for z in np.unique(numbers)) - set(self.species))
        if unknown:
            from ase.data import chemical_symbols

            raise ValueError(
                f"unknown element(s) {', '.join(chemical_symbols[z] for z in unknown)}: the eMLP "
                f"model {self.source} knows {', '.join(chemical_symbols[z] for z in self.species)}"
            )

    # ------------------------------------------------------------------ relaxation
    def start(self, positions, numbers) -> tuple[np.ndarray, float]:
        """(starting pairs, displacement bound): warm start from the closest stored cores, else Lewis."""
        return self._start(positions, numbers)[:2]

    def _start(self, positions, numbers):
        """(pairs, bound, L-BFGS history of the stored relaxation or None)."""
        found = self.memory.closest_entry(positions, numbers)
        if found is not None:
            pairs, moved, history = found
            return pairs, min(max(3.0 * moved, self.min_bound), self.max_bound), history
        return lewis_pairs(positions, numbers, self.charge), self.max_bound / 2, None

    def relax(
        self, positions, numbers, cell=None, pbc=None, efield=None, pairs=None, stress: bool = False
    ) -> RelaxResult:
        """Relax the pairs of one structure (angstrom, V/angstrom) and remember them for warm starts.

        ``pairs`` (M, 3), if given, is the starting guess (with a bound of half ``max_bound``)."""
        return self.relax_many([(positions, numbers, cell, pbc, efield, pairs, stress)])[0]

    def relax_many(self, structures) -> list[RelaxResult]:
        """Relax several structures together: tuples (positions, numbers, cell, pbc, efield, pairs, stress).

        Each starts from its own warm start (looked up before any is stored, so beads of one batch
        start from their own previous step) and all are stored afterwards."""
        batch = []
        for positions, numbers, cell, pbc, efield, pairs, stress in structures:
            positions = np.asarray(positions, dtype=float).reshape(-1, 3)
            numbers = np.asarray(numbers, dtype=int).reshape(-1)
            self.check_species(numbers)
            history = None
            if pairs is None:
                pairs, bound, history = self._start(positions, numbers)
            else:
                pairs, bound = np.asarray(pairs, dtype=float).reshape(-1, 3), self.max_bound / 2
            periodic = pbc is not None and bool(np.all(pbc))
            batch.append(
                Structure(
                    positions,
                    numbers,
                    pairs,
                    cell=cell if periodic else None,
                    pbc=pbc if periodic else None,
                    efield=efield,
                    bound=bound,
                    stress=bool(stress) and periodic,
                    history=history if self.warm_hessian else None,
                )
            )
        results = relax_pairs_batch(self.module, batch, fmax=self.fmax, max_bound=self.max_bound, batched=self.batched)
        for s, result in zip(batch, results):
            self.memory.store(s.cores, s.numbers, result.pairs, result.history)
            self.evaluations += int(result.info.get("evaluations", 0))
            for key in RECOVERED:  # stalls that were recovered, counted for reports
                if key in result.info:
                    self.recovered[key] = self.recovered.get(key, 0) + 1
        return results

    def evaluate(self, systems: Sequence, requested: Sequence[str]) -> list[dict[str, np.ndarray]]:
        """``requested`` outputs of each :class:`~tensorml.runtime.System` (model units), relaxing each."""
        unknown = [name for name in requested if name not in OUTPUTS]
        if unknown:
            raise ValueError(f"{self.source} cannot give {unknown}; an eMLP model gives {', '.join(OUTPUTS)}")
        batch, cells = [], []
        for s in systems:
            pbc = np.asarray(s.pbc, dtype=bool).reshape(-1)
            if pbc.any() and not pbc.all():
                raise ValueError(f"pbc {pbc.tolist()}: eMLP models take isolated or fully periodic systems")
            periodic = bool(pbc.all())
            cell = np.asarray(s.cell, dtype=float).reshape(3, 3)
            cells.append(cell)
            batch.append((s.positions, s.numbers, cell, pbc, s.efield, None, "virial" in requested and periodic))
        results = []
        for r, cell in zip(self.relax_many(batch) if batch else [], cells):
            values = {
                "energy": np.asarray(r.energy),
                "forces": r.core_forces,
                "virial": -r.stress * abs(np.linalg.det(cell)) if r.stress is not None else np.zeros((3, 3)),
                "dipole": r.dipole,
                "electron_pairs": r.pairs,
                "relax_iterations": np.asarray(float(r.iterations)),
                "max_pair_force": np.asarray(r.max_pair_force),
            }
            for name in requested:
                if not np.all(np.isfinite(values[name])):
                    raise FloatingPointError(f"eMLP model returned non-finite values in {name!r}")
            results.append({name: values[name] for name in requested})
        return results

    def evaluate_one(self, system, requested: Sequence[str]) -> dict[str, np.ndarray]:
        return self.evaluate([system], requested)[0]
