"""SchNet short-range energy over atomic cores and electron pairs (seed Sec. 2.1.3, eqs. 14-24).

* eq. 14/15: dense layers D and shifted softplus f(h) = log(1 + e^h) - log 2 (``~`` = with f);
* eq. 16: cosine cutoff, 1 below r_cutoff - r_delta, 0 beyond r_cutoff;
* eq. 17: h_i^0 = a_{S_i}, an embedding per species (index 0 = electron pair, 1.. = elements);
* eqs. 18-21: m_i = 1/J sum_{j != i, r_ij < r_cutoff} D^{GxF}(h_j) * W_filter(r_ij) * f_cutoff(r_ij),
  W_filter = ~D^{GxG} o ~D^{GxN} (phi(r)), phi_n = exp(-(r - mu_n)^2 / (2 sigma^2)), mu_n uniform
  on [0, r_cutoff], sigma = r_cutoff / N;
* eq. 22: h^{t+1} = h^t + D^{FxG} o ~D^{GxG} (m^t), T times;
* eq. 23/24: eps_i = D^{1xF/2} o ~D^{F/2xF} o ~D^{FxF} (h^T), E_short-range = sum_i eps_i (eV).

Distances in angstrom.  :data:`PRESETS` holds the seed's Table 3 architecture (``table3``,
F=512, G=128, N=32, T=4, J=70) and a small CPU default (``small``).
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch
from torch import nn

from .neighbors import neighbor_pairs

#: Architectures by name: features F, filters G, radial basis N, interactions T, normalisation J,
#: cutoff r_cutoff and transition width r_delta (angstrom).
PRESETS: Dict[str, Dict[str, float]] = {
    "small": {
        "features": 32,
        "filters": 32,
        "n_basis": 16,
        "n_interactions": 2,
        "norm": 10.0,
        "cutoff": 4.0,
        "cutoff_width": 0.5,
    },
    "table3": {
        "features": 512,
        "filters": 128,
        "n_basis": 32,
        "n_interactions": 4,
        "norm": 70.0,
        "cutoff": 4.0,
        "cutoff_width": 0.5,
    },
}


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    """Eq. 15: log(1 + e^x) - log(2)."""
    return nn.functional.softplus(x) - math.log(2.0)


def cosine_cutoff(r: torch.Tensor, cutoff: float, width: float) -> torch.Tensor:
    """Eq. 16 (r in angstrom): 1, then 1/2 [1 + cos(pi (r - r_c + r_delta)/r_delta)], then 0."""
    inner = cutoff - width
    t = torch.clamp((r - inner) / width, 0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * t))


class Interaction(nn.Module):
    """One message-passing iteration, eqs. 18-22."""

    def __init__(self, features: int, filters: int, n_basis: int):
        super().__init__()
        self.atom_to_filter = nn.Linear(features, filters)  # D^{GxF}
        self.filter_1 = nn.Linear(n_basis, filters)  # ~D^{GxN}
        self.filter_2 = nn.Linear(filters, filters)  # ~D^{GxG}
        self.update_1 = nn.Linear(filters, filters)  # ~D^{GxG}
        self.update_2 = nn.Linear(filters, features)  # D^{FxG}

    def forward(
        self, h: torch.Tensor, basis: torch.Tensor, fcut: torch.Tensor, i: torch.Tensor, j: torch.Tensor, norm: float
    ) -> torch.Tensor:
        w = shifted_softplus(self.filter_2(shifted_softplus(self.filter_1(basis))))
        messages = self.atom_to_filter(h)[j] * w * fcut.unsqueeze(1)
        m = torch.zeros((h.shape[0], messages.shape[1]), dtype=h.dtype, device=h.device)
        m = m.index_add(0, i, messages) / norm
        return h + self.update_2(shifted_softplus(self.update_1(m)))


class SchNet(nn.Module):
    """Short-range energy of eqs. 14-24 for particles of ``n_species`` kinds (0 = electron pair)."""

    def __init__(
        self,
        n_species: int,
        features: int = 32,
        filters: int = 32,
        n_basis: int = 16,
        n_interactions: int = 2,
        norm: float = 10.0,
        cutoff: float = 4.0,
        cutoff_width: float = 0.5,
    ):
        super().__init__()
        if not 0.0 < cutoff_width <= cutoff:
            raise ValueError(f"cutoff_width {cutoff_width} must lie in (0, cutoff={cutoff}] angstrom")
        self.cutoff = float(cutoff)
        self.cutoff_width = float(cutoff_width)
        self.norm = float(norm)
        self.embedding = nn.Embedding(n_species, features)
        self.interactions = nn.ModuleList([Interaction(features, filters, n_basis) for _ in range(n_interactions)])
        self.out_1 = nn.Linear(features, features)
        self.out_2 = nn.Linear(features, features // 2)
        self.out_3 = nn.Linear(features // 2, 1)
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n_basis))
        self.sigma = float(cutoff) / n_basis

    def particle_energies(
        self, positions: torch.Tensor, species: torch.Tensor, cell: torch.Tensor, periodic: bool
    ) -> torch.Tensor:
        """eps_i of eq. 23 (eV) for every particle; ``species`` [P] int64 (0 = pair)."""
        i, j, vectors = neighbor_pairs(positions, cell, periodic, self.cutoff)
        return self.edge_energies(species, i, j, vectors, -1)

    @torch.jit.export
    def edge_energies(
        self, species: torch.Tensor, i: torch.Tensor, j: torch.Tensor, vectors: torch.Tensor, n_local: int = -1
    ) -> torch.Tensor:
        """eps_i of eq. 23 (eV) from a given neighbour list: directed edges i -> j (i receives from j)
        with vectors r_ij = x_j - x_i (+ a lattice translation), angstrom.  Edges beyond the cutoff add
        exactly zero (eq. 16), so a list built with a skin gives the same energy.

        ``n_local`` >= 0 (a domain of a parallel engine: particles 0..n_local-1 are its own, the rest
        ghosts): only eps of the first n_local particles is exact; each layer updates only the
        particles the remaining layers still need (:meth:`needed_receivers`), which gives those eps
        unchanged at a fraction of the cost when the ghost shell is large."""
        keep = self.needed_receivers(i, j, species.shape[0], n_local)
        if len(keep) > 0:
            i, j, vectors = i[keep[0]], j[keep[0]], vectors[keep[0]]
            keep = [k[keep[0]] for k in keep]
        r2 = (vectors * vectors).sum(-1)
        r = torch.sqrt(torch.clamp(r2, min=1e-20))
        basis = torch.exp(-((r.unsqueeze(1) - self.centers) ** 2) / (2.0 * self.sigma * self.sigma))
        fcut = cosine_cutoff(r, self.cutoff, self.cutoff_width)
        h = self.embedding(species)
        for t, block in enumerate(self.interactions):
            if len(keep) > 0:
                e = keep[t]
                h = block(h, basis[e], fcut[e], i[e], j[e], self.norm)
            else:
                h = block(h, basis, fcut, i, j, self.norm)
        h = shifted_softplus(self.out_2(shifted_softplus(self.out_1(h))))
        return self.out_3(h).squeeze(1)

    def needed_receivers(self, i: torch.Tensor, j: torch.Tensor, n: int, n_local: int) -> List[torch.Tensor]:
        """Edge masks, one per interaction t = 0..T-1: the edges whose receiver's features after layer t
        still matter for the energies of particles 0..n_local-1, i.e. receivers within T-1-t edges of
        them (followed from receiver to sender, so one-sided neighbour lists of a ghost shell work).
        Empty when every particle is local (whole systems: nothing to drop)."""
        masks: List[torch.Tensor] = []
        if n_local < 0 or n_local >= n:
            return masks
        reach = torch.arange(n, device=i.device) < n_local
        depth = [reach]
        for _ in range(len(self.interactions) - 1):
            grown = reach.clone()
            grown[j[reach[i]]] = True
            reach = grown
            depth.append(reach)
        for t in range(len(self.interactions)):
            masks.append(depth[len(self.interactions) - 1 - t][i])
        return masks

    def forward(
        self, positions: torch.Tensor, species: torch.Tensor, cell: torch.Tensor, periodic: bool
    ) -> torch.Tensor:
        """E_short-range of eq. 24 (eV)."""
        return self.particle_energies(positions, species, cell, periodic).sum()


def preset(name: str) -> Dict[str, float]:
    """Hyper-parameters of a named architecture (``small`` or ``table3``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown SchNet preset {name!r}; known: {sorted(PRESETS)}")
    return dict(PRESETS[name])


def preset_names() -> List[str]:
    return sorted(PRESETS)
