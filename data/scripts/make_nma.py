"""Dataset 2: N-methylacetamide (NMA) conformers with dipole and polarizability (EANN seed toy system).

The EANN seed took 10000 NMA geometries from protein backbones (PDB) at room temperature,
B3LYP/cc-pVDZ, random 80/20 split.  tensorml ships no downloaded data, so the geometries
are sampled here, at the seed's level of theory:

Step 1 (minutes): optimise trans-NMA and compute its Hessian at B3LYP/cc-pVDZ
    python data/scripts/make_nma.py prepare
Step 2 (seconds): sample conformers (seed 20240502)
    python data/scripts/make_nma.py sample
  - classical harmonic normal-mode sampling at T uniform in [300, 500] K (modes below
    400 cm^-1 sampled as 400 cm^-1: torsions are sampled explicitly below),
  - both methyl groups rotated by uniform random angles (nearly free rotors),
  - the amide (C-N) torsion twisted by N(0, 8 deg) around trans (cis peptides are rare
    in proteins).
Step 3 (hours, resumable): label dipole and polarizability
    tensorml label data/work/nma_structures.extxyz -o data/work/nma.extxyz \
        --method B3LYP --basis cc-pVDZ --properties energy,dipole,polarizability -j 2

Every frame is its own ``system_id`` (nma_0000, ...); ``split`` is a random 80/20 (exactly
100 test frames), as in the seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEED = 20240502
N_FRAMES = 500
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "data" / "work"
REF = WORK / "nma_reference.npz"
STRUCTURES = WORK / "nma_structures.extxyz"

# atom order: 0 C(acetyl methyl) 1 C(carbonyl) 2 O 3 N 4 H(N) 5 C(N-methyl) 6-8 H on C0, 9-11 H on C5
METHYL_ACETYL = (1, 0, (6, 7, 8))
METHYL_N = (3, 5, (9, 10, 11))
AMIDE = (1, 3, (4, 5, 9, 10, 11))

LABEL_COMMAND = (
    "tensorml label data/work/nma_structures.extxyz -o data/work/nma.extxyz --method B3LYP --basis cc-pVDZ "
    "--properties energy,dipole,polarizability -j 2"
)


def nma_guess():
    from ase import Atoms

    def u(deg):
        return np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg)), 0.0])

    c2 = np.zeros(3)
    o, c1, n = 1.23 * u(90), 1.51 * u(210), 1.36 * u(-30)
    c3, hn = n + 1.45 * u(30), n + 1.01 * u(-90)
    pos, sym = [c1, c2, o, n, hn, c3], ["C", "C", "O", "N", "H", "C"]
    for c, base in ((c1, c2), (c3, n)):
        ax = (c - base) / np.linalg.norm(c - base)
        v = np.cross(ax, [0, 0, 1])
        v /= np.linalg.norm(v)
        w = np.cross(ax, v)
        th = np.radians(70.5)
        for phi in (0, 120, 240):
            p = np.radians(phi)
            pos.append(c + 1.09 * (np.cos(th) * ax + np.sin(th) * (np.cos(p) * v + np.sin(p) * w)))
            sym.append("H")
    return Atoms(sym, positions=pos)


def prepare() -> None:
    from ase.optimize import BFGS

    from tensorml import units
    from tensorml.data import finite_field as ff
    from tensorml.data.pyscf_calculator import PySCFCalculator
    from tensorml.data.theory import LevelOfTheory

    level = LevelOfTheory(method="B3LYP", basis="cc-pVDZ")
    atoms = nma_guess()
    atoms.calc = PySCFCalculator(level)
    BFGS(atoms, logfile="-").run(fmax=0.005, steps=200)
    hess_level = LevelOfTheory(method="B3LYP", basis="cc-pVDZ", density_fit=False)
    mol = ff.build_molecule(atoms.get_chemical_symbols(), atoms.positions, hess_level)
    mf = ff.run_scf(ff.make_scf(mol, hess_level))
    h = mf.Hessian().kernel()  # (natm, natm, 3, 3) hartree/bohr^2
    n = len(atoms)
    hess = h.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    hess = hess * units.factor(units.Dimension(length=-2, energy=1), units.ATOMIC, units.METAL)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(REF, symbols=np.array(atoms.get_chemical_symbols()), positions=atoms.positions, hessian=hess)
    from tensorml.data.sampling import normal_modes

    wn = normal_modes(atoms, hess)[0]
    print(f"wrote {REF}; wavenumbers (cm^-1): {np.round(wn, 0).tolist()}")


def sample() -> None:
    from ase import Atoms
    from ase.io import write

    from tensorml.data.sampling import normal_mode_sample, rotate_group

    ref = np.load(REF)
    atoms0 = Atoms([str(s) for s in ref["symbols"]], positions=ref["positions"])
    hess = ref["hessian"]
    rng = np.random.default_rng(SEED)
    frames = []
    for k in range(N_FRAMES):
        t = float(rng.uniform(300.0, 500.0))
        a = normal_mode_sample(atoms0, hess, t, rng, min_wavenumber=400.0)
        for frm, to, grp in (METHYL_ACETYL, METHYL_N):
            a = rotate_group(a, frm, to, grp, float(rng.uniform(0.0, 360.0)))
        frm, to, grp = AMIDE
        a = rotate_group(a, frm, to, grp, float(rng.normal(0.0, 8.0)))
        a.positions -= a.get_center_of_mass()
        a.info["system_id"] = f"nma_{k:04d}"
        a.info["temperature_K"] = round(t, 1)
        a.info["sampling"] = "normal-modes+methyl-rotation+amide-twist"
        frames.append(a)
    test = set(rng.permutation(N_FRAMES)[: N_FRAMES // 5].tolist())  # exactly 80/20, as the seed
    for k, a in enumerate(frames):
        a.info["split"] = "test" if k in test else "train"
    write(STRUCTURES, frames, format="extxyz")
    n_test = sum(a.info["split"] == "test" for a in frames)
    print(f"wrote {len(frames)} structures ({n_test} test) to {STRUCTURES}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["prepare", "sample", "label-command"])
    args = p.parse_args()
    {"prepare": prepare, "sample": sample, "label-command": lambda: print(LABEL_COMMAND)}[args.step]()


if __name__ == "__main__":
    main()
