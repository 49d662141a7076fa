"""Small synthetic labelled datasets, for tests, smoke runs and examples without reference data.

:func:`water_clusters` makes distorted water clusters (1..``max_molecules`` molecules, each
cluster with its own ``system_id``); :func:`label` computes energy, forces, dipole,
polarizability and APT with any physics model through the contract (by default the
reference model of :mod:`tensorml.models.reference`: fixed charges plus environment-dependent
atomic dipoles, so the labels have real many-body structure); :func:`write_water_dataset`
writes them with the project's extxyz writer (read back by :func:`tensorml.data.read_dataset`).

    python -m tensorml.train.synthetic out.extxyz --frames 200
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation

LABELS = ("energy", "forces", "dipole", "polarizability", "apt")


def water_clusters(
    n_frames: int,
    max_molecules: int = 3,
    seed: int = 0,
    distortion: float = 0.06,
    frames_per_cluster: int = 2,
    efield: float = 0.0,
) -> list[Atoms]:
    """``n_frames`` water clusters; consecutive ``frames_per_cluster`` frames share a ``system_id``.

    ``efield`` > 0: frames get a random uniform field of up to that size (V/angstrom).
    """
    rng = np.random.default_rng(seed)
    h2o = molecule("H2O")
    h2o.positions -= h2o.positions[0]
    frames: list[Atoms] = []
    cluster = 0
    while len(frames) < n_frames:
        n = int(rng.integers(1, max_molecules + 1))
        centres: list[np.ndarray] = []
        while len(centres) < n:
            c = rng.uniform(-1.6, 1.6, 3) * n ** (1 / 3)
            if all(np.linalg.norm(c - d) > 2.6 for d in centres):
                centres.append(c)
        rots = [Rotation.random(random_state=int(rng.integers(2**31))) for _ in range(n)]
        for _ in range(frames_per_cluster):
            pos = np.concatenate([r.apply(h2o.positions) + c for r, c in zip(rots, centres)])
            pos = pos + rng.normal(0.0, distortion, pos.shape)
            atoms = Atoms("OHH" * n, positions=pos)
            atoms.info["system_id"] = f"synthetic_water{n}_{cluster:04d}"
            if efield:
                atoms.info["efield"] = rng.uniform(-efield, efield, 3)
            frames.append(atoms)
            if len(frames) == n_frames:
                break
        cluster += 1
    return frames


def label(frames: Sequence[Atoms], model=None, outputs: Sequence[str] = LABELS) -> list[Atoms]:
    """Copies of ``frames`` labelled by ``model`` (a physics model, float64; default: the reference model)."""
    import torch

    from ..contract_module import ContractModule
    from ..models.reference import ReferenceDipoleModel
    from .data import collate, make_samples

    model = model if model is not None else ReferenceDipoleModel(species=[1, 8], cutoff=4.0, seed=0)
    module = ContractModule(model).to(torch.float64)
    requested = [o for o in outputs if o in module.provides]
    samples = make_samples(frames, model.cutoff)
    out_frames = []
    for atoms, sample in zip(frames, samples):
        batch = collate([sample], torch.float64)
        res = module(batch["inputs"], requested)
        a = atoms.copy()
        for name in requested:
            value = res[name].detach().numpy()
            if name in ("forces", "apt"):
                a.arrays[name] = value
            elif name == "energy":
                a.info[name] = float(value[0])
            else:
                a.info[name] = value[0]
        a.info.setdefault("efield", np.zeros(3))
        a.info["charge"] = 0
        out_frames.append(a)
    return out_frames


def write_water_dataset(
    path: str | Path, n_frames: int = 100, seed: int = 0, max_molecules: int = 3, efield: float = 0.0
) -> Path:
    from ..data import write_dataset

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_dataset(label(water_clusters(n_frames, max_molecules, seed, efield=efield)), path)
    return path


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-molecules", type=int, default=3)
    args = p.parse_args(argv)
    path = write_water_dataset(args.output, args.frames, args.seed, args.max_molecules)
    print(f"wrote {args.frames} labelled frames to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
