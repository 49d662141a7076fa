"""Shared pieces of the explicit-electron LAMMPS tests: data files, the Python reference relaxation, thermo rows."""

from __future__ import annotations


import numpy as np
import scipy.optimize
import torch

from engines import three_waters
from tensorml.emlp.contract_model import PAIR_Z
from tensorml.emlp.longrange import long_range_energy
from tensorml.runtime import System


def split_energy(exported, numbers, positions, cell, pbc):
    """Energy (eV) and forces (eV/angstrom) of the split: module + the long range its metadata names."""
    system = System(numbers, positions, cell, pbc)
    out = exported.evaluate_one(system, ["energy", "forces", "charges"])
    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    table = exported.metadata["explicit_electrons"]["long_range"]
    q = torch.tensor(out["charges"])
    lr = long_range_energy(table["kind"], x, q, torch.tensor(cell), torch.tensor(pbc), table["gaussian_gamma"], 1e-14)
    (g,) = torch.autograd.grad(lr, [x])
    return float(out["energy"]) + float(lr.detach()), out["forces"] - g.numpy()


def relax_in_python(exported, numbers, positions, cell, pbc):
    """Pairs (atomic number 0) relaxed at fixed cores by SciPy, largest pair force component < 5e-6 eV/angstrom."""
    pairs = numbers == PAIR_Z
    pos = positions.copy()

    def fun(flat):
        pos[pairs] = flat.reshape(-1, 3)
        e, f = split_energy(exported, numbers, pos, cell, pbc)
        return e, -f[pairs].ravel()

    # L-BFGS-B may stop on a failed line search a little above the tolerance, depending on the last bits
    # of the CPU's arithmetic: restart it from where it stopped (a fresh curvature estimate)
    for _ in range(5):
        result = scipy.optimize.minimize(
            fun, pos[pairs].ravel(), jac=True, method="L-BFGS-B", options={"gtol": 1e-8, "ftol": 0, "maxiter": 5000}
        )
        pos[pairs] = result.x.reshape(-1, 3)
        energy, forces = split_energy(exported, numbers, pos, cell, pbc)
        if np.abs(forces[pairs]).max() < 5e-6:
            break
    assert np.abs(forces[pairs]).max() < 5e-6, result.message
    return pos, energy, forces


def thermo_rows(stdout):
    lines = stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "PotEng"])
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("Loop time"):
            break
        rows.append([float(v) for v in line.split()])
    return np.array(rows)


def water_cell():
    cores, numbers, pairs = three_waters()
    return np.concatenate([numbers, np.full(len(pairs), PAIR_Z)]), np.concatenate([cores, pairs])
