"""Atomic polar tensors predicted directly per atom (APTNN seed): 0e + 1e + 2e irreps.

    apt_i = z_i I + A(sum_c u_ic p_ic) + sum_c b_ic T_ic + sum_c d_ic (v_ic v_ic^T - |v_ic|^2 I/3)

apt[i, a, b] = dM_a/dr_ib (unit e).  A rank-2 tensor of two polar indices decomposes into a
scalar (0e: the isotropic Born charge z_i), an axial vector (1e: the antisymmetric part
A(p)_ab = eps_abc p_c, with p the backbone's pseudovectors) and a symmetric traceless tensor
(2e: from the backbone's 2e tensors and outer products of its vectors).  z_i, u, b, d come
from the atomic network.

A direct APT is not the derivative of any dipole, so the acoustic sum rule
sum_i apt_i = Q I holds only as well as it was learned (the trainer has an optional loss
term, ``apt_sum_rule``); the autograd APT of a dipole head satisfies it exactly.  Exported
with ghost rule ``local`` (per-atom values, not derivatives).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..nn import ElementMLP, antisymmetric, outer_traceless


class DirectAPTHead(torch.nn.Module):
    def __init__(
        self,
        n_species: int,
        n_scalars: int,
        n_vectors: int,
        n_pseudovectors: int,
        n_tensors: int,
        hidden: Optional[List[int]] = None,
        use_vectors: bool = True,
    ):
        super().__init__()
        self.hidden = [int(h) for h in (hidden if hidden is not None else [32, 32])]
        self.n_pseudo = int(n_pseudovectors)
        self.n_tensors = int(n_tensors)
        self.n_vectors = int(n_vectors) if use_vectors else 0
        self.use_vectors = bool(use_vectors)
        self.mlp = ElementMLP(n_scalars, self.hidden, 1 + self.n_pseudo + self.n_tensors + self.n_vectors, n_species)
        with torch.no_grad():
            self.mlp.layers[-1].weight.mul_(0.1)
        self.element_charges = torch.nn.Parameter(torch.zeros(n_species))

    def config(self) -> Dict[str, Any]:
        return {"type": "direct", "hidden": self.hidden, "use_vectors": self.use_vectors}

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        w = self.mlp(features["scalars"], species)
        z = self.element_charges[species] + w[:, 0]
        eye = torch.eye(3, dtype=w.dtype, device=w.device)
        apt = z[:, None, None] * eye
        k = 1
        if self.n_pseudo > 0:
            p = torch.einsum("nc,nca->na", w[:, k : k + self.n_pseudo], features["pseudovectors"])
            apt = apt + antisymmetric(p)
            k += self.n_pseudo
        if self.n_tensors > 0:
            apt = apt + torch.einsum("nc,ncab->nab", w[:, k : k + self.n_tensors], features["tensors"])
            k += self.n_tensors
        if self.n_vectors > 0:
            apt = apt + torch.einsum("nc,ncab->nab", w[:, k : k + self.n_vectors], outer_traceless(features["vectors"]))
        return {"apt": apt}
