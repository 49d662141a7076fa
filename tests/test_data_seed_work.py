"""data/scripts/seed_work.py: shipped frames resume labelling only where they match the structures."""

import importlib.util
import lzma
from io import StringIO
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read

from tensorml.data.runner import extxyz_blocks

ROOT = Path(__file__).resolve().parents[1]


def _seed_work():
    spec = importlib.util.spec_from_file_location("seed_work", ROOT / "data" / "scripts" / "seed_work.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_frames_are_kept_only_where_the_nuclei_match(tmp_path):
    shipped = tmp_path / "water.extxyz"
    with lzma.open(ROOT / "data" / "water_clusters.extxyz.xz", "rt") as fh:
        shipped.write_text(fh.read())
    blocks = extxyz_blocks(shipped)[:4]
    frames = [read(StringIO(b), format="extxyz") for b in blocks]
    indices = [int(a.info["frame_index"]) for a in frames]
    structures = [Atoms("H")] * (max(indices) + 1)  # frames not in the shipped file: anything
    for a in frames:
        nuclei = a[[s != "X" for s in a.get_chemical_symbols()]]
        structures[a.info["frame_index"]] = Atoms(nuclei.get_chemical_symbols(), nuclei.positions)
    moved = structures[indices[1]].copy()
    moved.positions[0, 2] += 1e-4  # another structure plan: its label must not be reused
    structures[indices[1]] = moved
    renamed = structures[indices[2]].copy()
    renamed.symbols[0] = "S"
    structures[indices[2]] = renamed

    kept, kept_indices = _seed_work().matching_blocks(blocks, structures)

    assert kept == [blocks[0], blocks[3]]  # text copied unchanged
    assert kept_indices == {indices[0], indices[3]}
    np.testing.assert_allclose(read(StringIO(kept[1]), format="extxyz").positions, frames[3].positions)
