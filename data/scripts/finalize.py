"""Turn the labelling outputs in data/work/ into the shipped, compressed datasets in data/.

    python data/scripts/finalize.py            # every dataset whose labelling output exists
    python data/scripts/finalize.py --stats    # only print statistics (frames, time, split)
    python data/scripts/finalize.py --only emlp_molecules emlp_equilibrium   # just these

Reads each output with :func:`tensorml.data.read_dataset` (the trainer's reader), makes sure
every frame has ``split`` ('train'/'test'; water clusters: whole trajectories, 20 % test,
seed 20240501), and writes ``data/<name>.extxyz.xz``.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "data" / "work"
DATASETS = {
    # name: (labelling output, split seed or None if the structures carry the split)
    "water_clusters": ("water_clusters.extxyz", 20240501),
    "water_clusters_fields": ("water_clusters_fields.extxyz", 20240501),
    "nma": ("nma.extxyz", None),
    "emlp_molecules": ("emlp_molecules.extxyz", None),
    "emlp_equilibrium": ("emlp_equilibrium.extxyz", None),
}


def stats(name: str, frames) -> None:
    n = len(frames)
    split = Counter(a.info.get("split") for a in frames)
    systems = {a.info["system_id"] for a in frames}
    print(f"{name}: {n} frames, {len(systems)} systems, split {dict(split)}")
    secs = [a.info.get("label_seconds") for a in frames if a.info.get("label_seconds") is not None]
    if secs:
        by_size = defaultdict(list)
        for a in frames:
            if "label_seconds" in a.info:
                by_size[len(a)].append(a.info["label_seconds"])
        print(f"  labelling time: {sum(secs) / 3600:.2f} worker-hours in all, {np.mean(secs):.1f} s/frame on average")
        for size in sorted(by_size):
            v = by_size[size]
            print(f"    {size:3d} atoms: {len(v):4d} frames, {np.mean(v):7.1f} s/frame (median {np.median(v):.1f})")


def main() -> None:
    from tensorml.data import read_dataset, write_dataset
    from tensorml.data.splits import assign_split

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stats", action="store_true", help="print statistics only")
    p.add_argument("--only", nargs="+", choices=sorted(DATASETS), help="finalize only these datasets")
    args = p.parse_args()
    parents = {}
    for name, (src, seed) in DATASETS.items():
        if args.only and name not in args.only:
            continue
        path = WORK / src
        if not path.exists():
            print(f"{name}: {path} missing, skipped")
            continue
        frames = read_dataset(path)
        if name == "water_clusters_fields":
            for a in frames:  # a field frame is in the split of its parent frame
                a.info["split"] = parents.get(int(a.info["parent_frame_index"]), "train")
        elif seed is not None:
            assign_split(frames, test_fraction=0.2, seed=seed)
        if name == "water_clusters":
            parents = {int(a.info["frame_index"]): a.info["split"] for a in frames}
        for a in frames:
            # the first frames of the water run were made before the field grid became an option:
            # their field SCFs used the main grid, recorded here
            if "dft_grid_level" in a.info and "field_dft_grid_level" not in a.info and "field_step_au" in a.info:
                a.info["field_dft_grid_level"] = a.info["dft_grid_level"]
            if name == "water_clusters_fields" and "field_dft_grid_level" in a.info:
                a.info["dft_grid_level"] = a.info["field_dft_grid_level"]
            if "split" not in a.info:
                raise ValueError(f"{name}: frame without a split")
        stats(name, frames)
        if not args.stats:
            out = ROOT / "data" / f"{name}.extxyz.xz"
            write_dataset(frames, out)
            print(f"  wrote {out.relative_to(ROOT)} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
