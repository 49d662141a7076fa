"""Train/test splits that keep each molecule/cluster whole (the test set holds unseen systems).

Frames are grouped by ``info['system_id']`` (:func:`tensorml.data.read_dataset` fills it
from ``system_id``, ``cluster_id`` or ``molecule_id``).  A system goes to the test set
when a stable hash of (seed, system_id) falls below ``test_fraction``, so the split of a
system does not depend on which other systems are in the file.  Frames that carry
``info['split']`` ('train'/'test', as the shipped datasets do) keep it.
"""

from __future__ import annotations

import hashlib


def system_in_test(system_id: str, test_fraction: float, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}:{system_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def assign_split(frames, test_fraction: float = 0.2, seed: int = 0, key: str = "split") -> None:
    """Write ``info[key]`` = 'train' or 'test' into every frame, by system (in place)."""
    for a in frames:
        sid = str(a.info.get("system_id", a.get_chemical_formula()))
        a.info[key] = "test" if system_in_test(sid, test_fraction, seed) else "train"


def train_test_split(frames, test_fraction: float = 0.2, seed: int = 0, key: str = "split"):
    """(train, test) lists; frames with ``info[key]`` keep their split, others are split by system."""
    train, test = [], []
    for a in frames:
        split = a.info.get(key)
        if split is None:
            sid = str(a.info.get("system_id", a.get_chemical_formula()))
            split = "test" if system_in_test(sid, test_fraction, seed) else "train"
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} (expected 'train' or 'test')")
        (test if split == "test" else train).append(a)
    return train, test
