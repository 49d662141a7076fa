"""Neighbour lists (vesin) against a brute-force search over periodic images."""

import itertools

import numpy as np
import pytest

from tensorml.neighbors import neighbor_pairs


def brute_force(positions, cell, pbc, cutoff):
    reps = [range(-3, 4) if p else range(1) for p in pbc]
    pairs = set()
    for n in itertools.product(*reps):
        shift = np.array(n) @ cell
        d = positions[None, :, :] + shift - positions[:, None, :]
        r = np.linalg.norm(d, axis=2)
        for i, j in zip(*np.nonzero(r < cutoff)):
            if i != j or any(n):
                pairs.add((int(i), int(j), tuple(np.round(d[i, j], 8))))
    return pairs


@pytest.mark.parametrize("pbc", [(True, True, True), (False, False, False), (True, False, True)])
def test_pairs_match_brute_force(pbc):
    rng = np.random.default_rng(3)
    cell = np.array([[5.0, 0.0, 0.0], [1.2, 4.5, 0.0], [-0.7, 0.9, 5.5]])
    frac = rng.uniform(-0.6, 1.6, (12, 3))  # many atoms outside the cell, as i-PI sends them
    positions = frac @ cell
    cutoff = 3.3
    i, j, shifts = neighbor_pairs(positions, cell, pbc, cutoff)
    got = {(int(a), int(b), tuple(np.round(positions[b] - positions[a] + s, 8))) for a, b, s in zip(i, j, shifts)}
    assert got == brute_force(positions, cell, np.array(pbc), cutoff)
    assert len(got) > 4
