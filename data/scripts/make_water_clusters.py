"""Dataset 1: water clusters (1-6 molecules, 300-600 K MD + distortions), fully labelled.

Step 1 (seconds): sample structures with a flexible water model (tensorml.data.water_ff)
    python data/scripts/make_water_clusters.py sample
writes data/work/water_clusters_structures.extxyz (seed 20240501).

Step 2 (hours, resumable: rerun to continue): label with PySCF, B3LYP/aug-cc-pVDZ,
    tensorml label data/work/water_clusters_structures.extxyz -o data/work/water_clusters.extxyz \
        --field-frames data/work/water_clusters_fields.extxyz
(the command is printed by ``python data/scripts/make_water_clusters.py label-command``).

Step 3: ``python data/scripts/finalize.py`` compresses into data/*.extxyz.xz.

Every trajectory is one ``cluster_id``; the train/test split (tensorml.data.splits) keeps
whole trajectories in the test set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEED = 20240501
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "data" / "work"
STRUCTURES = WORK / "water_clusters_structures.extxyz"

#: cluster size -> (trajectories, frames per trajectory); 530 frames in all
PLAN = {1: (30, 3), 2: (40, 4), 3: (38, 4), 4: (23, 4), 5: (10, 2), 6: (8, 2)}
#: fraction of frames that get an extra distortion (noise + a stretched O-H bond)
P_DISTORT = 0.25


def sample() -> None:
    from ase.io import write

    from tensorml.data.sampling import distort, water_cluster_trajectory

    rng = np.random.default_rng(SEED)
    frames = []
    for n, (n_traj, n_frames) in PLAN.items():
        for k in range(n_traj):
            temperature = float(rng.uniform(300.0, 600.0))
            traj = water_cluster_trajectory(n, temperature, n_frames, rng)
            for a in traj:
                a.info["cluster_id"] = f"water{n}_{k:03d}"
                a.info["system_id"] = f"water{n}_{k:03d}"
                a.info["n_molecules"] = n
                a.info["temperature_K"] = round(temperature, 1)
                a.info["sampling"] = "md"
                if rng.random() < P_DISTORT:
                    a = distort(a, rng)
                    a.info["sampling"] = "md+distorted"
                frames.append(a)
    order = rng.permutation(len(frames))  # shuffled: a partly labelled run is a fair sample
    frames = [frames[i] for i in order]
    WORK.mkdir(parents=True, exist_ok=True)
    write(STRUCTURES, frames, format="extxyz")
    print(f"wrote {len(frames)} structures to {STRUCTURES}")


LABEL_COMMAND = (
    "tensorml label data/work/water_clusters_structures.extxyz -o data/work/water_clusters.extxyz "
    "--method B3LYP --basis aug-cc-pVDZ --field-frames data/work/water_clusters_fields.extxyz -j 2"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["sample", "label-command"])
    args = p.parse_args()
    if args.step == "sample":
        sample()
    else:
        print(LABEL_COMMAND)


if __name__ == "__main__":
    main()
