"""Small neural-network pieces shared by descriptors and heads (all TorchScript-able).

* :class:`ElementMLP`: one feed-forward network per element (Behler-Parrinello / EANN
  style atomic networks), evaluated for all atoms at once.
* :func:`traceless`, :func:`outer_traceless`: symmetric traceless (2e) Cartesian tensors.
* :func:`system_sum`: per-system sums of per-atom values.

Cartesian feature dictionaries (what every backbone returns and every head reads):

==================  ==============  ======================================================
key                 shape           transforms as (O(3), r -> Q r)
==================  ==============  ======================================================
``scalars``         [N, F]          invariant (0e)
``vectors``         [N, C1, 3]      polar vector (1o): v -> Q v
``pseudovectors``   [N, C2, 3]      axial vector (1e): p -> det(Q) Q p
``tensors``         [N, C3, 3, 3]   symmetric traceless (2e): T -> Q T Q^T
==================  ==============  ======================================================
"""

from __future__ import annotations

import math
from typing import List

import torch


class ElementLinear(torch.nn.Module):
    """One affine layer per element, applied to [N, S, n_in] -> [N, S, n_out]."""

    def __init__(self, n_in: int, n_out: int, n_species: int, zero: bool = False):
        super().__init__()
        w = torch.randn(n_species, n_in, n_out) / math.sqrt(n_in)
        self.weight = torch.nn.Parameter(w * 0.0 if zero else w)
        self.bias = torch.nn.Parameter(torch.zeros(n_species, n_out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nsi,sio->nso", h, self.weight) + self.bias


class ElementMLP(torch.nn.Module):
    """An MLP per element: y_i = NN_{t_i}(x_i), with SiLU activations (smooth: forces and APTs).

    All element networks are evaluated on every atom and the atom's own is picked: cheap for
    the few elements of a molecular model, and vectorized.  ``zero_last``: start the last
    layer at zero (the head then starts from its baseline).
    """

    def __init__(self, n_in: int, hidden: List[int], n_out: int, n_species: int, zero_last: bool = False):
        super().__init__()
        sizes = [int(n_in)] + [int(h) for h in hidden] + [int(n_out)]
        self.n_out = int(n_out)
        self.n_species = int(n_species)
        self.layers = torch.nn.ModuleList(
            [
                ElementLinear(sizes[k], sizes[k + 1], n_species, zero=zero_last and k == len(sizes) - 2)
                for k in range(len(sizes) - 1)
            ]
        )

    def forward(self, x: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1).expand(-1, self.n_species, -1)
        for k, layer in enumerate(self.layers):
            if k > 0:
                h = torch.nn.functional.silu(h)
            h = layer(h)
        index = species.view(-1, 1, 1).expand(-1, 1, self.n_out)
        return torch.gather(h, 1, index).squeeze(1)


def traceless(t: torch.Tensor) -> torch.Tensor:
    """Symmetric traceless part of [..., 3, 3] tensors."""
    sym = 0.5 * (t + t.transpose(-1, -2))
    trace = sym.diagonal(dim1=-2, dim2=-1).sum(-1)
    eye = torch.eye(3, dtype=t.dtype, device=t.device)
    return sym - trace[..., None, None] * eye / 3.0


def outer_traceless(v: torch.Tensor) -> torch.Tensor:
    """v v^T - |v|^2 I / 3 for [..., 3] vectors (a 2e tensor from a 1o or 1e vector)."""
    eye = torch.eye(3, dtype=v.dtype, device=v.device)
    return v[..., :, None] * v[..., None, :] - (v * v).sum(-1)[..., None, None] * eye / 3.0


def antisymmetric(p: torch.Tensor) -> torch.Tensor:
    """The antisymmetric matrix A_ab = eps_abc p_c of [..., 3] axial vectors (1e -> 3x3)."""
    zero = torch.zeros_like(p[..., 0])
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    rows = [
        torch.stack([zero, z, -y], dim=-1),
        torch.stack([-z, zero, x], dim=-1),
        torch.stack([y, -x, zero], dim=-1),
    ]
    return torch.stack(rows, dim=-2)


def system_sum(values: torch.Tensor, batch: torch.Tensor, n_systems: int) -> torch.Tensor:
    """Per-system sums [B, ...] of per-atom values [N, ...]."""
    shape = [n_systems] + list(values.shape[1:])
    return torch.zeros(shape, dtype=values.dtype, device=values.device).index_add(0, batch, values)


def edges_cross_images(
    graph_positions: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
) -> bool:
    """True when the graph is not one whole isolated system: periodic images or ghost atoms.

    An edge whose vector differs from positions[j] - positions[i] joins an atom to a periodic
    image; ghost atoms (n_local < N) mean a domain of a larger (usually periodic) system.
    """
    if n_local < graph_positions.shape[0]:
        return True
    if edge_vectors.shape[0] == 0:
        return False
    direct = graph_positions[edge_index[1]] - graph_positions[edge_index[0]]
    return bool(((edge_vectors - direct).abs() > 1e-3).any())
