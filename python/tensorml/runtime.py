"""Load an exported model and evaluate it on whole systems (Python, ASE, i-PI).

All values going in and coming out are in the *model's* units (its metadata
say which); :mod:`tensorml.units` converts.  Several systems are evaluated in
one forward pass (i-PI beads): they become disconnected parts of one graph.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from . import archive, contract
from . import units as U
from .neighbors import neighbor_pairs


@dataclass
class System:
    """One structure in model units: atomic numbers, positions [N,3], cell rows [3,3], pbc [3]."""

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    pbc: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=bool))
    efield: np.ndarray = field(default_factory=lambda: np.zeros(3))
    #: optional, in model length per model time unit (dmdt and apt_velocity need them)
    velocities: np.ndarray | None = None

    @classmethod
    def from_atoms(cls, atoms, units: U.UnitSystem, efield_V_per_A=None) -> "System":
        """An ASE Atoms (angstrom; field in V/angstrom) converted to ``units``.

        Velocities, if the atoms have them, are converted from ASE's units to model length per
        model time unit.
        """
        to_model = U.factor(U.LENGTH, U.METAL, units)
        efield = np.zeros(3) if efield_V_per_A is None else np.asarray(efield_V_per_A, float)
        velocities = None
        if atoms.has("momenta"):
            import ase.units

            # ASE velocities are angstrom per ASE time unit; times ase.units.fs: angstrom/fs (METAL)
            velocities = atoms.get_velocities() * ase.units.fs * U.factor(U.VELOCITY, U.METAL, units)
        return cls(
            numbers=np.asarray(atoms.numbers, dtype=np.int64),
            positions=np.asarray(atoms.positions, dtype=np.float64) * to_model,
            cell=np.asarray(atoms.cell.array, dtype=np.float64) * to_model,
            pbc=np.asarray(atoms.pbc, dtype=bool),
            efield=efield * U.factor(U.EFIELD, U.METAL, units),
            velocities=velocities,
        )


class ExportedModel:
    """A tensorml model file, loaded and checked, ready to evaluate."""

    def __init__(self, module: torch.nn.Module, metadata: dict[str, Any], device: str = "cpu", source: str = "model"):
        metadata = contract.upgrade_metadata(metadata)
        contract.validate_metadata(metadata, source=source)
        self.module = module
        self.metadata = metadata
        self.device = torch.device(device)
        self.dtype = torch.float32 if metadata["dtype"] == "float32" else torch.float64
        self.units = U.UnitSystem.from_dict(metadata["units"])
        self.species = [int(z) for z in metadata["species"]]
        self.cutoff = float(metadata["cutoff"])
        length = float(metadata["unit_factors"]["length"])
        self.min_distance = float(metadata.get("min_distance", contract.DEFAULT_MIN_DISTANCE_ANGSTROM / length))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "ExportedModel":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tensorml model file not found: {path}")
        extra = {contract.METADATA_FILE: ""}
        try:
            module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except RuntimeError as err:
            raise contract.MetadataError(f"{path}: not a readable TorchScript archive ({err})") from None
        if not extra[contract.METADATA_FILE]:
            raise contract.MetadataError(f"{path}: no {contract.METADATA_FILE} inside; not a tensorml model")
        try:
            metadata = json.loads(extra[contract.METADATA_FILE])
        except json.JSONDecodeError as err:
            raise contract.MetadataError(f"{path}: {contract.METADATA_FILE} is not valid JSON ({err})") from None
        model = cls(module, metadata, device=device, source=str(path))  # format and version first
        archive.verify(path, metadata)
        return model

    @property
    def outputs(self) -> list[str]:
        return list(self.metadata["outputs"])

    def check_species(self, numbers) -> None:
        unknown = sorted(set(int(z) for z in np.unique(numbers)) - set(self.species))
        if unknown:
            from ase.data import chemical_symbols

            names = ", ".join(chemical_symbols[z] for z in unknown)
            known = ", ".join(self.metadata["species_symbols"])
            raise ValueError(f"unknown element(s) {names}: the model knows {known}")

    def check_distances(self, positions, i, j, shifts, system: int = 0) -> None:
        """Refuse two atoms closer than the model's ``min_distance``, naming them (1-based)."""
        if len(i) == 0:
            return
        pos = np.asarray(positions, np.float64).reshape(-1, 3)
        r = np.linalg.norm(pos[j] - pos[i] + shifts, axis=1)
        k = int(np.argmin(r))
        if r[k] < self.min_distance:
            a, b = sorted((int(i[k]) + 1, int(j[k]) + 1))
            raise ValueError(
                f"atoms {a} and {b} (1-based) of system {system + 1} are {r[k]:.4g} {self.units.length} apart, closer "
                f"than the model's minimum distance {self.min_distance:.4g}: the model cannot be evaluated there"
            )

    def inputs(self, systems: Sequence[System]) -> dict[str, torch.Tensor]:
        """The contract inputs of ``systems`` as one batched graph."""
        pos, numbers, batch, ei, ej, shifts = [], [], [], [], [], []
        offset = 0
        for b, s in enumerate(systems):
            self.check_species(s.numbers)
            i, j, sh = neighbor_pairs(s.positions, s.cell, s.pbc, self.cutoff)
            self.check_distances(s.positions, i, j, sh, b)
            pos.append(np.asarray(s.positions, np.float64))
            numbers.append(np.asarray(s.numbers, np.int64))
            batch.append(np.full(len(s.numbers), b, np.int64))
            ei.append(i + offset)
            ej.append(j + offset)
            shifts.append(sh)
            offset += len(s.numbers)

        def t(x, dtype):
            return torch.as_tensor(np.concatenate(x) if isinstance(x, list) else x, dtype=dtype, device=self.device)

        inputs = {
            "positions": t(pos, self.dtype),
            "atomic_numbers": t(numbers, torch.long),
            "cell": t(np.stack([np.asarray(s.cell, float).reshape(3, 3) for s in systems]), self.dtype),
            "pbc": t(np.stack([np.asarray(s.pbc, bool).reshape(3) for s in systems]), torch.bool),
            "edge_index": torch.stack([t(ei, torch.long), t(ej, torch.long)]),
            "edge_shifts": t(shifts, self.dtype).reshape(-1, 3),
            "batch": t(batch, torch.long),
            "n_local": torch.tensor(offset, dtype=torch.long),
            "efield": t(np.stack([np.asarray(s.efield, float).reshape(3) for s in systems]), self.dtype),
        }
        if any(s.velocities is not None for s in systems):
            inputs["velocities"] = t(
                [
                    np.zeros((len(s.numbers), 3))
                    if s.velocities is None
                    else np.asarray(s.velocities, float).reshape(-1, 3)
                    for s in systems
                ],
                self.dtype,
            )
        return inputs

    def evaluate(self, systems: Sequence[System], requested: Sequence[str]) -> list[dict[str, np.ndarray]]:
        """Evaluate ``requested`` outputs; one dict of float64 numpy arrays per system."""
        contract.check_requested(self.metadata, requested)
        for name in requested:
            for need in self.metadata["outputs"][name].get("needs", []):
                if need == "velocities" and any(s.velocities is None for s in systems):
                    raise ValueError(f"the output {name!r} needs velocities: give System(velocities=...)")
        inputs = self.inputs(systems)
        with torch.enable_grad():  # derivatives are taken inside the module
            out = self.module(inputs, list(requested))
        sizes = [len(s.numbers) for s in systems]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        results: list[dict[str, np.ndarray]] = [{} for _ in systems]
        for name in requested:
            value = out[name].detach().to("cpu", torch.float64).numpy()
            if not np.all(np.isfinite(value)):
                raise FloatingPointError(f"tensorml model returned non-finite values in {name!r}")
            per_atom = self.metadata["outputs"][name]["per_atom"]
            for b in range(len(systems)):
                results[b][name] = value[starts[b] : starts[b + 1]] if per_atom else value[b]
        return results

    def evaluate_one(self, system: System, requested: Sequence[str]) -> dict[str, np.ndarray]:
        return self.evaluate([system], requested)[0]


def read_file_metadata(path: str | Path) -> dict[str, Any]:
    """The ``metadata.json`` stored in a model file, read from the archive without loading the module."""
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tensorml model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f"/extra/{contract.METADATA_FILE}")]
            if not names:
                raise contract.MetadataError(f"{path}: no {contract.METADATA_FILE} inside; not a tensorml model")
            return contract.upgrade_metadata(json.loads(archive.read(names[0])))
    except zipfile.BadZipFile:
        raise contract.MetadataError(f"{path}: not a readable TorchScript archive") from None


def has_explicit_electrons(metadata: dict) -> bool:
    """Whether a model file's metadata is an eMLP's (contract format 3 or the deprecated ``tensorml-emlp``):
    the one test every engine uses to pick the eMLP engine, which relaxes the electron pairs."""
    from .emlp.export import FORMAT as EMLP_FORMAT

    return metadata.get("format") == EMLP_FORMAT or "explicit_electrons" in metadata


def load_model(path: str | Path, device: str = "cpu", **options):
    """Load any tensorml model file for whole-system evaluation, by the ``format`` of its metadata:
    a contract model (:class:`ExportedModel`) or an explicit-electron model
    (:class:`tensorml.emlp.engine.EMLPEngine`, which relaxes its electron pairs every call;
    ``options`` go to it).  Both give ``outputs``, ``units``, ``metadata['outputs']``,
    ``check_species`` and ``evaluate(systems, requested)``."""
    metadata = read_file_metadata(path)
    if has_explicit_electrons(metadata):
        # both eMLP formats: the pairs are relaxed by the eMLP engine (a contract file's eMLP is rebuilt
        # from its weights, with the Gaussian electrostatics the split reproduces)
        from .emlp.engine import EMLPEngine

        return EMLPEngine.load(path, device=device, **options)
    if options:
        raise ValueError(f"{path} is a contract model: options {sorted(options)} apply to eMLP models only")
    return ExportedModel.load(path, device=device)
