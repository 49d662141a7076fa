"""Neighbour lists of the eMLP engine: vesin's O(N) cell list gives the same edges and lattice shifts as
the brute-force selection inside the model (molecules, periodic cells with unwrapped particles and
with periodic self-images), and the batched energy over those lists equals the model's forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import molecule

from tensorml.emlp.batch import EdgeEnergies, Item, energy_backend
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.model import EMLPModel, build_config
from tensorml.emlp.neighbors import neighbor_pairs, vesin_pairs

CUTOFF = 4.0


def _brute_force(positions, cell, periodic):
    """Edges (i, j, integer lattice shift) of the model's own brute-force neighbour list."""
    x = torch.tensor(positions)
    c = torch.tensor(cell)
    i, j, vectors = neighbor_pairs(x, c, periodic, CUTOFF)
    i, j, vectors = i.numpy(), j.numpy(), vectors.numpy()
    if periodic:
        shifts = np.rint((vectors - (positions[j] - positions[i])) @ np.linalg.inv(cell)).astype(int)
    else:
        shifts = np.zeros((len(i), 3), dtype=int)
    return _edges(i, j, shifts)


def _edges(i, j, shifts):
    edges = [(int(a), int(b), *map(int, s)) for a, b, s in zip(i, j, shifts)]
    assert len(set(edges)) == len(edges)  # no edge twice
    return set(edges)


def _vesin(positions, cell, periodic):
    i, j, shifts = vesin_pairs(positions, cell, periodic, CUTOFF)
    # the shifts are the lattice translations of the edge vectors
    vectors = positions[j] - positions[i] + shifts @ cell
    assert np.all(np.linalg.norm(vectors, axis=1) < CUTOFF)
    return _edges(i, j, shifts)


def test_vesin_equals_brute_force_on_a_molecule():
    atoms = molecule("CH3CH2OH")
    positions = np.concatenate([atoms.positions, lewis_pairs(atoms.positions, atoms.numbers)])
    brute = _brute_force(positions, np.zeros((3, 3)), False)
    got = _vesin(positions, np.zeros((3, 3)), False)
    assert got == brute and len(got) > 100
    assert all(e[2:] == (0, 0, 0) for e in got)


@pytest.mark.parametrize("length", [9.0, 3.5])  # 3.5 angstrom < cutoff: several images and self-images
def test_vesin_equals_brute_force_in_a_periodic_cell(length):
    rng = np.random.default_rng(int(length))
    cell = np.array([[length, 0.0, 0.0], [0.8, length * 1.1, 0.0], [-0.6, 0.9, length * 0.95]])  # triclinic
    frac = rng.uniform(-0.3, 1.3, size=(30, 3))  # some particles outside the cell (unwrapped pairs)
    positions = frac @ cell
    brute = _brute_force(positions, cell, True)
    got = _vesin(positions, cell, True)
    assert got == brute
    assert any(e[0] == e[1] for e in got) == (length < CUTOFF)  # self-images only in the small cell
    assert any(e[2:] != (0, 0, 0) for e in got)


@pytest.fixture(scope="module")
def model():
    return EMLPModel(build_config([1, 6, 7, 8], preset="small"))


def _item(cores, numbers, pairs, cell=None, efield=None):
    t = lambda a: torch.tensor(np.asarray(a, dtype=float))  # noqa: E731
    periodic = cell is not None
    return Item(
        t(cores),
        torch.tensor(numbers),
        t(pairs),
        t(cell) if periodic else torch.zeros((3, 3), dtype=torch.float64),
        torch.full((3,), periodic, dtype=torch.bool),
        t(efield) if efield is not None else torch.zeros(3, dtype=torch.float64),
        periodic,
    )


def _water_box(n=2, spacing=3.1, seed=0):
    rng = np.random.default_rng(seed)
    water = molecule("H2O")
    cores, numbers = [], []
    for a in range(n):
        for b in range(n):
            for c in range(n):
                q, r = np.linalg.qr(rng.normal(size=(3, 3)))
                cores.append(water.positions @ (q * np.sign(np.diag(r))).T + spacing * np.array([a, b, c]))
                numbers.append(water.numbers)
    cores, numbers = np.concatenate(cores), np.concatenate(numbers)
    return cores, numbers, lewis_pairs(cores, numbers), np.eye(3) * n * spacing


def test_batched_energies_equal_the_forward(model):
    """Methanol (in a field) and a periodic box of 8 waters, evaluated together over vesin lists: the
    energy and the pair forces of each equal the model's forward (rounding-level tolerances)."""
    ch3oh = molecule("CH3OH")
    items = [
        _item(ch3oh.positions, ch3oh.numbers, lewis_pairs(ch3oh.positions, ch3oh.numbers), efield=[0.0, 0.1, 0.2]),
        _item(*_water_box()[:3], cell=_water_box()[3]),
    ]
    leaves = [t.pairs.clone().requires_grad_(True) for t in items]
    batch = [Item(t.cores, t.numbers, p, t.cell, t.pbc, t.efield, t.periodic) for t, p in zip(items, leaves)]
    energies = EdgeEnergies(model)(batch)
    grads = torch.autograd.grad(energies.sum(), leaves)
    for t, e, g in zip(items, energies.detach(), grads):
        pairs = t.pairs.clone().requires_grad_(True)
        ref = model(t.cores, t.numbers, pairs, t.cell, t.pbc, t.efield)
        (ref_g,) = torch.autograd.grad(ref, pairs)
        ref = float(ref.detach())
        assert float(e) == pytest.approx(ref, abs=1e-9 * max(1.0, abs(ref)))
        np.testing.assert_allclose(g.numpy(), ref_g.numpy(), atol=1e-9)


def test_the_backend_of_a_scripted_model_is_rebuilt_and_checked(model):
    """A TorchScript export is rebuilt as a Python model for the batched path (checked once against its
    forward); a module that is not an eMLP model keeps its forward."""
    scripted = torch.jit.script(model)
    backend = energy_backend(scripted)
    ch4 = molecule("CH4")
    item = _item(ch4.positions, ch4.numbers, lewis_pairs(ch4.positions, ch4.numbers))
    e = backend([item]).detach()
    assert backend.kind == "edges"
    ref = scripted(item.cores, item.numbers, item.pairs, item.cell, item.pbc, item.efield).detach()
    assert float(e[0]) == pytest.approx(float(ref), abs=1e-9 * max(1.0, abs(float(ref))))
    assert energy_backend(scripted, batched=False).kind == "forward"

    class Other(torch.nn.Module):
        def forward(self, cores, numbers, pairs, cell, pbc, efield):
            return (pairs**2).sum()

    assert energy_backend(Other()).kind == "forward"
