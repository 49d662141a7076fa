"""Dataset 3: small H/C/N/O molecules with Foster-Boys electron pairs under random fields (eMLP).

A small analogue of the eMLP seed's eQM7 (Sec. 2.3.1, Table 2): 28 closed-shell molecules
from ASE's G2 set, each perturbed by

* normal-mode sampling at T uniform in [300, 800] K (Hessian at B3LYP/6-31G*, modes below
  400 cm^-1 sampled as 400 cm^-1) -- 20 frames per molecule;
* dimers with a normal-mode-sampled probe (H2O, NH3 or CH4) at a random orientation, the
  closest intermolecular atom pair 1.6-4.5 angstrom apart -- 16 frames per molecule;

and every frame sits in a homogeneous field of random direction and magnitude uniform in
[0, 0.01] a.u. (0-0.514 V/angstrom, the seed's upper limit).  Labels at PBE0/aug-cc-pVDZ
(the seed: PBE0/aug-cc-pVTZ): energy (with the field term), forces, dipole and the valence
Boys centres (core pairs dropped); electron-pair forces are zero by construction.

Step 1 (minutes): Hessians           python data/scripts/make_emlp_molecules.py prepare
Step 2 (seconds): structures          python data/scripts/make_emlp_molecules.py sample
Step 3 (hours, resumable):
    tensorml label data/work/emlp_structures.extxyz -o data/work/emlp_molecules.extxyz \
        --method PBE0 --basis aug-cc-pVDZ --properties energy,forces,dipole,electron_pairs -j 2

Step 4 (minutes): the test molecules at their G2 equilibrium geometries in zero field, labelled
with the finite-field polarizability as well (seed Table 5, last column)
    python data/scripts/make_emlp_molecules.py equilibrium
    tensorml label data/work/emlp_equilibrium_structures.extxyz -o data/work/emlp_equilibrium.extxyz \
        --method PBE0 --basis aug-cc-pVDZ --properties energy,forces,dipole,polarizability,electron_pairs -j 2

``system_id`` is the (main) molecule; the molecules in TEST_MOLECULES are only in the test
split (unseen molecules), everything else is train.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEED = 20240503
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "data" / "work"
REF = WORK / "emlp_hessians.npz"
STRUCTURES = WORK / "emlp_structures.extxyz"
EQUILIBRIUM = WORK / "emlp_equilibrium_structures.extxyz"

MOLECULES = [
    "H2",
    "N2",
    "CO",
    "CO2",
    "HCN",
    "H2O",
    "NH3",
    "CH4",
    "H2CO",
    "CH3OH",
    "H3CNH2",
    "C2H2",
    "C2H4",
    "C2H6",
    "HCOOH",
    "CH3CHO",
    "H2O2",
    "N2H4",
    "CH3CN",
    "CH3CH2OH",
    "CH3OCH3",
    "H2CCO",
    "N2O",
    "CH2OCH2",
    "CH2NHCH2",
    "CH3CONH2",
    "NCCN",
    "CH3NO2",
]
PROBES = ["H2O", "NH3", "CH4"]
TEST_MOLECULES = ["CH3CH2OH", "CH2NHCH2", "H2CCO", "HCOOH"]
N_MONOMER, N_DIMER = 20, 16
MAX_FIELD_AU = 0.01

LABEL_COMMAND = (
    "tensorml label data/work/emlp_structures.extxyz -o data/work/emlp_molecules.extxyz --method PBE0 "
    "--basis aug-cc-pVDZ --properties energy,forces,dipole,electron_pairs -j 2"
)


def prepare() -> None:
    from ase.build import molecule

    from tensorml import units
    from tensorml.data import finite_field as ff
    from tensorml.data.theory import LevelOfTheory

    level = LevelOfTheory(method="B3LYP", basis="6-31G*", density_fit=False)
    conv = units.factor(units.Dimension(length=-2, energy=1), units.ATOMIC, units.METAL)
    out = {}
    for name in MOLECULES:
        atoms = molecule(name)
        mol = ff.build_molecule(atoms.get_chemical_symbols(), atoms.positions, level)
        mf = ff.run_scf(ff.make_scf(mol, level))
        h = mf.Hessian().kernel()
        n = len(atoms)
        out[name] = h.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) * conv
        print(name, "done", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(REF, **out)


def _place_probe(main, probe, rng, dmin=1.6, dmax=4.5):
    from scipy.spatial.transform import Rotation

    target = rng.uniform(dmin, dmax)
    probe = probe.copy()
    probe.positions -= probe.get_center_of_mass()
    probe.positions = Rotation.random(random_state=int(rng.integers(2**31))).apply(probe.positions)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    centre = main.get_center_of_mass()
    # slide the probe in along `direction` until the closest atom pair is at `target`
    lo, hi = 0.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        d = np.linalg.norm(main.positions[:, None] - (probe.positions + centre + mid * direction)[None], axis=2)
        if d.min() < target:
            lo = mid
        else:
            hi = mid
    probe.positions += centre + hi * direction
    return main + probe


def sample() -> None:
    from ase.build import molecule
    from ase.io import write

    from tensorml.data.sampling import normal_mode_sample, random_field

    hess = np.load(REF)
    rng = np.random.default_rng(SEED)
    frames = []
    for name in MOLECULES:
        base = molecule(name)
        for k in range(N_MONOMER + N_DIMER):
            t = float(rng.uniform(300.0, 800.0))
            a = normal_mode_sample(base, hess[name], t, rng, min_wavenumber=400.0)
            kind = "monomer"
            if k >= N_MONOMER:
                pname = PROBES[int(rng.integers(len(PROBES)))]
                probe = normal_mode_sample(molecule(pname), hess[pname], t, rng, min_wavenumber=400.0)
                a = _place_probe(a, probe, rng)
                kind = f"dimer+{pname}"
            a.positions -= a.get_center_of_mass()
            a.info["efield"] = random_field(rng, MAX_FIELD_AU)
            a.info["system_id"] = name
            a.info["sampling"] = f"normal-modes {kind}"
            a.info["temperature_K"] = round(t, 1)
            a.info["split"] = "test" if name in TEST_MOLECULES else "train"
            frames.append(a)
    order = rng.permutation(len(frames))
    frames = [frames[i] for i in order]
    write(STRUCTURES, frames, format="extxyz")
    print(f"wrote {len(frames)} structures to {STRUCTURES}")


def equilibrium() -> None:
    """The test molecules at the G2 geometries, zero field (polarizability references)."""
    from ase.build import molecule
    from ase.io import write

    frames = []
    for name in TEST_MOLECULES:
        a = molecule(name)
        a.positions -= a.get_center_of_mass()
        a.info.update(system_id=name, split="test", sampling="G2 equilibrium geometry")
        frames.append(a)
    WORK.mkdir(parents=True, exist_ok=True)
    write(EQUILIBRIUM, frames, format="extxyz")
    print(f"wrote {len(frames)} structures to {EQUILIBRIUM}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["prepare", "sample", "equilibrium", "label-command"])
    args = p.parse_args()
    {"prepare": prepare, "sample": sample, "equilibrium": equilibrium, "label-command": lambda: print(LABEL_COMMAND)}[
        args.step
    ]()


if __name__ == "__main__":
    main()
