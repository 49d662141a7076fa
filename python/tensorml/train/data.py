"""Datasets for training: labelled frames -> precomputed graphs -> batches of contract inputs.

Frames come from :func:`tensorml.data.read_dataset` (standardized keys, metal units: eV,
e*angstrom, angstrom^3, e; see :mod:`tensorml.data.keys`).  Each frame becomes a
:class:`Sample` holding its neighbour list (computed once: positions do not change during
training) and its labels; :func:`collate` concatenates samples into the contract's input
dictionary (the same inputs LAMMPS, i-PI and Python pass to an exported model) plus label
tensors and masks, so training runs the very module that is exported.

Targets (label name = contract output name):

================== ========= ============= ==================================
target             per atom  shape         frame key
================== ========= ============= ==================================
energy             no        []            info['energy']
forces             yes       [3]           arrays['forces']
dipole             no        [3]           info['dipole']
polarizability     no        [3,3]         info['polarizability']
apt                yes       [3,3]         arrays['apt'] (apt[i,a,b] = dM_a/dr_ib)
transition_dipole  no        [3]           info['transition_dipole']
charge             no        []            info['charge'] (total charge, eq. 6 cost)
================== ========= ============= ==================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from ..neighbors import neighbor_pairs

GLOBAL_TARGETS = {"energy": (), "dipole": (3,), "polarizability": (3, 3), "transition_dipole": (3,), "charge": ()}
ATOM_TARGETS = {"forces": (3,), "apt": (3, 3)}
TARGETS = tuple(GLOBAL_TARGETS) + tuple(ATOM_TARGETS)
#: contract output compared with each target
OUTPUT_OF = {
    "energy": "energy",
    "forces": "forces",
    "dipole": "dipole",
    "polarizability": "polarizability",
    "apt": "apt",
    "transition_dipole": "transition_dipole",
    "charge": "charges",
}


@dataclass
class Sample:
    numbers: np.ndarray  # [N] int64
    positions: np.ndarray  # [N,3]
    cell: np.ndarray  # [3,3]
    pbc: np.ndarray  # [3] bool
    efield: np.ndarray  # [3]
    edge_i: np.ndarray
    edge_j: np.ndarray
    shifts: np.ndarray  # [E,3]
    system_id: str
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    tag: str | None = None  # the dataset's own split ("train"/"test"), when it has one

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)


def read_frames(path: str | Path) -> list:
    """Labelled frames through the project's one reader (:func:`tensorml.data.read_dataset`)."""
    from ..data import read_dataset

    return read_dataset(path)


def frame_labels(atoms) -> dict[str, np.ndarray]:
    labels: dict[str, np.ndarray] = {}
    info = atoms.info
    n = len(atoms)
    for key, shape in GLOBAL_TARGETS.items():
        if key in info and info[key] is not None:
            value = np.asarray(info[key], dtype=np.float64)
            if value.size != int(np.prod(shape)):
                raise ValueError(f"frame label {key!r} has {value.size} numbers, expected shape {shape}")
            labels[key] = value.reshape(shape)
    for key, shape in ATOM_TARGETS.items():
        if key in atoms.arrays:
            labels[key] = np.asarray(atoms.arrays[key], dtype=np.float64).reshape((n,) + shape)
    return labels


def make_samples(frames: Sequence, cutoff: float, split_key: str | None = "split") -> list[Sample]:
    samples = []
    for atoms in frames:
        pos = np.asarray(atoms.positions, dtype=np.float64)
        cell = np.asarray(atoms.cell.array, dtype=np.float64)
        pbc = np.asarray(atoms.pbc, dtype=bool)
        i, j, shifts = neighbor_pairs(pos, cell, pbc, cutoff)
        samples.append(
            Sample(
                numbers=np.asarray(atoms.numbers, dtype=np.int64),
                positions=pos,
                cell=cell,
                pbc=pbc,
                efield=np.asarray(atoms.info.get("efield", np.zeros(3)), dtype=np.float64).reshape(3),
                edge_i=i,
                edge_j=j,
                shifts=shifts,
                system_id=str(atoms.info.get("system_id", atoms.get_chemical_formula())),
                labels=frame_labels(atoms),
                tag=str(atoms.info[split_key]) if split_key and split_key in atoms.info else None,
            )
        )
    return samples


def available_targets(samples: Iterable[Sample]) -> dict[str, int]:
    """How many samples carry each target."""
    counts: dict[str, int] = {}
    for s in samples:
        for k in s.labels:
            counts[k] = counts.get(k, 0) + 1
    return counts


def split_by_identity(
    samples: Sequence[Sample], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int], str]:
    """Indices of train/val/test samples; whole molecules/clusters (system_id) go to one split.

    The test set then holds molecules/clusters the model never saw.  When the dataset tags
    its frames (``info['split']`` = ``train``/``test``, :mod:`tensorml.data.splits`), its test
    frames are the test set and the validation set is split off its training frames.  With
    fewer than 3 identities (e.g. conformers of one molecule without a trajectory id) frames
    are split at random instead.  Returns (train, val, test, how).
    """
    tagged = [k for k, s in enumerate(samples) if s.tag == "test"]
    if tagged:
        rest = [k for k, s in enumerate(samples) if s.tag != "test"]
        n = len(samples)
        sub_val = val_fraction * n / max(len(rest), 1)
        train, val, _, how = split_by_identity([_untagged(samples[k]) for k in rest], sub_val, 0.0, seed)
        return (
            [rest[k] for k in train],
            [rest[k] for k in val],
            tagged,
            f"test = the dataset's own test frames; validation {how}",
        )
    rng = np.random.default_rng(seed)
    ids = [s.system_id for s in samples]
    groups: dict[str, list[int]] = {}
    for k, g in enumerate(ids):
        groups.setdefault(g, []).append(k)
    n = len(samples)
    if len(groups) >= 3:
        names = sorted(groups)
        rng.shuffle(names)
        test, val, train = [], [], []
        n_test = round(test_fraction * n)
        n_val = round(val_fraction * n)
        for name in names:
            members = groups[name]
            if len(test) < n_test:
                test += members
            elif len(val) < n_val:
                val += members
            else:
                train += members
        how = f"by system_id ({len(groups)} molecules/clusters)"
    else:
        order = rng.permutation(n).tolist()
        n_test = round(test_fraction * n)
        n_val = round(val_fraction * n)
        test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
        how = "by frame (fewer than 3 system_id values)"
    return sorted(train), sorted(val), sorted(test), how


def training_split(
    samples: Sequence[Sample], data_cfg: dict, seed: int, separate_test: bool = False
) -> tuple[list[int], list[int], list[int], str]:
    """The split ``tensorml train`` makes of data.train: :func:`split_by_identity`, then data.max_train.

    ``data_cfg``: the configuration's ``data`` section (val_fraction, test_fraction, max_train);
    ``separate_test``: a data.test file is the test set (no test frames are taken from data.train).
    ``tensorml evaluate --split`` calls this to reproduce the split of a run from its configuration.
    """
    test_fraction = 0.0 if separate_test else float(data_cfg["test_fraction"])
    train_idx, val_idx, test_idx, how = split_by_identity(samples, float(data_cfg["val_fraction"]), test_fraction, seed)
    max_train = data_cfg.get("max_train")
    if max_train:
        order = np.random.default_rng(seed + 1).permutation(len(train_idx))[: int(max_train)]
        train_idx = sorted(train_idx[k] for k in order)
    return train_idx, val_idx, test_idx, how


def _untagged(sample: Sample) -> Sample:
    from dataclasses import replace

    return replace(sample, tag=None)


class Batch(dict):
    """Contract inputs (``inputs``), labels and masks (``labels``, ``masks``) of several samples."""


def collate(samples: Sequence[Sample], dtype: torch.dtype, device: torch.device | str = "cpu") -> Batch:
    pos, numbers, batch, ei, ej, shifts = [], [], [], [], [], []
    offset = 0
    for b, s in enumerate(samples):
        pos.append(s.positions)
        numbers.append(s.numbers)
        batch.append(np.full(s.n_atoms, b, np.int64))
        ei.append(s.edge_i + offset)
        ej.append(s.edge_j + offset)
        shifts.append(s.shifts.reshape(-1, 3))
        offset += s.n_atoms

    def t(x, dt):
        return torch.as_tensor(np.concatenate(x) if isinstance(x, list) else x, dtype=dt, device=device)

    inputs = {
        "positions": t(pos, dtype),
        "atomic_numbers": t(numbers, torch.long),
        "cell": t(np.stack([s.cell for s in samples]), dtype),
        "pbc": t(np.stack([s.pbc for s in samples]), torch.bool),
        "edge_index": torch.stack([t(ei, torch.long), t(ej, torch.long)]),
        "edge_shifts": t(shifts, dtype).reshape(-1, 3),
        "batch": t(batch, torch.long),
        "n_local": torch.tensor(offset, dtype=torch.long),
        "efield": t(np.stack([s.efield for s in samples]), dtype),
    }
    labels: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    for key, shape in GLOBAL_TARGETS.items():
        have = [key in s.labels for s in samples]
        if any(have):
            labels[key] = t(np.stack([s.labels[key] if h else np.zeros(shape) for s, h in zip(samples, have)]), dtype)
            masks[key] = torch.as_tensor(have, device=device)
    for key, shape in ATOM_TARGETS.items():
        have = [key in s.labels for s in samples]
        if any(have):
            labels[key] = t(
                [s.labels[key] if h else np.zeros((s.n_atoms,) + shape) for s, h in zip(samples, have)], dtype
            )
            masks[key] = torch.as_tensor(
                np.concatenate([np.full(s.n_atoms, h) for s, h in zip(samples, have)]), device=device
            )
    out = Batch(inputs=inputs, labels=labels, masks=masks)
    out["n_atoms"] = torch.as_tensor([s.n_atoms for s in samples], dtype=dtype, device=device)
    return out


def model_graph(inputs: dict[str, torch.Tensor], species: Sequence[int]) -> dict[str, torch.Tensor]:
    """The graph a physics model sees (what the contract module builds), for statistics."""
    table = torch.full((119,), -1, dtype=torch.long)
    for k, z in enumerate(species):
        table[int(z)] = k
    numbers = inputs["atomic_numbers"]
    sp = table.to(numbers.device)[numbers]
    if bool((sp < 0).any()):
        raise ValueError("the data hold elements the model does not know")
    pos = inputs["positions"]
    ei = inputs["edge_index"]
    return {
        "species": sp,
        "positions": pos,
        "edge_index": ei,
        "edge_vectors": pos[ei[1]] - pos[ei[0]] + inputs["edge_shifts"],
        "efield": inputs["efield"][inputs["batch"]],
        "batch": inputs["batch"],
        "n_local": inputs["n_local"],
        "n_systems": torch.tensor(inputs["cell"].shape[0], dtype=torch.long),
    }


def statistics_labels(samples: Sequence[Sample], species: Sequence[int]) -> dict[str, Any]:
    """Label arrays for :meth:`TensorialModel.fit_statistics` (per-element baselines).

    ``energy``/``polarizability``: (counts [B,S], values) over the samples that have them;
    ``dipole``: (positions summed per element [B,S,3], dipoles [B,3], counts, total charges) over
    zero-field samples; ``apt``: [N,3,3] over all atoms when every sample has APTs.
    """
    S = len(species)
    index = {int(z): k for k, z in enumerate(species)}
    counts = np.zeros((len(samples), S))
    psum = np.zeros((len(samples), S, 3))
    for b, s in enumerate(samples):
        for z, r in zip(s.numbers, s.positions):
            counts[b, index[int(z)]] += 1
            psum[b, index[int(z)]] += r
    out: dict[str, Any] = {}
    for key in ("energy", "polarizability"):
        have = np.array([key in s.labels for s in samples])
        if have.any():
            out[key] = (counts[have], np.stack([s.labels[key] for s, h in zip(samples, have) if h]))
    have = np.array([("dipole" in s.labels) and not np.any(s.efield) for s in samples])
    if have.any():
        dip = np.stack([s.labels["dipole"] for s, h in zip(samples, have) if h])
        charge = np.array([float(s.labels.get("charge", 0.0)) for s, h in zip(samples, have) if h])
        out["dipole"] = (psum[have], dip, counts[have], charge)
    if samples and all("apt" in s.labels for s in samples):
        out["apt"] = np.concatenate([s.labels["apt"] for s in samples])
    return out
