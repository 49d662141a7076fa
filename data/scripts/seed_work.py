"""Resume labelling from the shipped datasets: copy their frames into data/work/.

    python data/scripts/seed_work.py     # from the repository root, after the structure steps

``tensorml label`` resumes from its output file (frames whose ``frame_index`` is there are not
recomputed), but ``data/work/`` is not in git.  This script writes each shipped dataset
``data/NAME.extxyz.xz`` back to ``data/work/NAME.extxyz`` when that output does not exist yet,
keeping only the frames whose atoms and positions (to 1e-6 angstrom) equal those of the
structure file at their ``frame_index``; so a structure file made by another version of the
sampling scripts cannot mix old labels into a new plan.  Field frames
(``water_clusters_fields``) follow their parent frame.  Frames are copied as text, unchanged.
"""

from __future__ import annotations

import lzma
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from tensorml.data.runner import extxyz_blocks  # noqa: E402

WORK = ROOT / "data" / "work"
SHIPPED = ROOT / "data"
#: labelling output -> (structure file it labels, field-frame output or None)
OUTPUTS = {
    "water_clusters": ("water_clusters_structures.extxyz", "water_clusters_fields"),
    "nma": ("nma_structures.extxyz", None),
    "emlp_molecules": ("emlp_structures.extxyz", None),
    "emlp_equilibrium": ("emlp_equilibrium_structures.extxyz", None),
}


def _shipped_blocks(name: str) -> list[str]:
    path = WORK / f".{name}.shipped.extxyz"
    with lzma.open(SHIPPED / f"{name}.extxyz.xz", "rt") as fh:
        path.write_text(fh.read())
    try:
        return extxyz_blocks(path)
    finally:
        path.unlink()


def _parse(block: str):
    from io import StringIO

    from ase.io import read

    return read(StringIO(block), format="extxyz")


def matching_blocks(blocks: list[str], structures) -> tuple[list[str], set[int]]:
    """The blocks whose nuclei equal ``structures[frame_index]``, and their frame indices."""
    kept, indices = [], set()
    for block in blocks:
        atoms = _parse(block)
        index = int(atoms.info["frame_index"])
        if index >= len(structures):
            continue
        ref = structures[index]
        nuclei = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s != "X"]
        same = [atoms.get_chemical_symbols()[i] for i in nuclei] == ref.get_chemical_symbols() and np.allclose(
            atoms.positions[nuclei], ref.positions, rtol=0.0, atol=1e-6
        )
        if same:
            kept.append(block)
            indices.add(index)
    return kept, indices


def seed(name: str) -> None:
    from ase.io import read

    structures_file, fields = OUTPUTS[name]
    out = WORK / f"{name}.extxyz"
    if out.exists() and out.stat().st_size:
        print(f"{name}: {out.relative_to(ROOT)} exists, left as it is")
        return
    if not (SHIPPED / f"{name}.extxyz.xz").exists() or not (WORK / structures_file).exists():
        print(f"{name}: no shipped file or no data/work/{structures_file} (make the structures first)")
        return
    blocks = _shipped_blocks(name)
    kept, indices = matching_blocks(blocks, read(WORK / structures_file, ":"))
    out.write_text("".join(kept))
    print(f"{name}: {len(kept)} of {len(blocks)} shipped frames match the structures -> {out.relative_to(ROOT)}")
    if fields:
        field_blocks = _shipped_blocks(fields)
        kept_fields = [b for b in field_blocks if int(_parse(b).info["parent_frame_index"]) in indices]
        (WORK / f"{fields}.extxyz").write_text("".join(kept_fields))
        print(f"{fields}: {len(kept_fields)} of {len(field_blocks)} field frames kept")


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        seed(name)


if __name__ == "__main__":
    main()
