"""Polarizability heads (polarizability volume alpha/(4 pi eps0), angstrom^3).

:class:`AtomicPolarizabilityHead`: a sum of equivariant per-atom tensors, 0e + 2e,

    alpha = sum_i alpha_i,  alpha_i = a_i I + sum_c b_ic T_ic + sum_c d_ic (v_ic v_ic^T - |v_ic|^2 I/3)

with T_ic the backbone's symmetric traceless (2e) features, v_ic its vectors and a, b, d from
the atomic network of atom i.  A sum of atomic contributions, so it decomposes over MPI
domains (LAMMPS sums it over ranks); a planar molecule is no special case (the 0e part is
isotropic and the 2e parts have out-of-plane components).

:class:`EANNPolarizabilityHead`: seed eqs. 9-12,

    D^j = sum_i dq_i/dr_j                                   (eq. 9,  3 x N)
    alpha = D D^T  +  (r D^T + D r^T)  +  (sum_i a_i) I      (eqs. 10, 11, 12)

with latent charges q_i and scalars a_i from the atomic network, r the 3 x N positions (taken
from the centroid: sum_j D^j = 0 because the q_i are translation invariant, so this changes
nothing but float32 rounding).  D D^T and r D^T + D r^T are rank deficient for a planar
molecule (D and r lie in the plane); the scalar term a I restores the out-of-plane component
(seed eq. 12).  D is computed by autograd inside the model, so training differentiates
through a gradient.  alpha is built from products of whole-system sums: a ``system`` output
(Python and i-PI, not LAMMPS domains).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..nn import ElementMLP, outer_traceless, system_sum


class AtomicPolarizabilityHead(torch.nn.Module):
    kind = "atomic"

    def __init__(
        self,
        n_species: int,
        n_scalars: int,
        n_vectors: int,
        n_tensors: int,
        hidden: Optional[List[int]] = None,
        use_vectors: bool = True,
    ):
        super().__init__()
        self.hidden = [int(h) for h in (hidden if hidden is not None else [32, 32])]
        self.n_tensors = int(n_tensors)
        self.n_vectors = int(n_vectors) if use_vectors else 0
        self.use_vectors = bool(use_vectors)
        self.mlp = ElementMLP(n_scalars, self.hidden, 1 + self.n_tensors + self.n_vectors, n_species)
        with torch.no_grad():
            self.mlp.layers[-1].weight.mul_(0.1)
        self.element_alpha = torch.nn.Parameter(torch.zeros(n_species))

    def config(self) -> Dict[str, Any]:
        return {"type": self.kind, "hidden": self.hidden, "use_vectors": self.use_vectors}

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        w = self.mlp(features["scalars"], species)
        iso = self.element_alpha[species] + w[:, 0]
        eye = torch.eye(3, dtype=w.dtype, device=w.device)
        alpha = iso[:, None, None] * eye
        k = 1
        if self.n_tensors > 0:
            alpha = alpha + torch.einsum("nc,ncab->nab", w[:, k : k + self.n_tensors], features["tensors"])
            k += self.n_tensors
        if self.n_vectors > 0:
            alpha = alpha + torch.einsum(
                "nc,ncab->nab", w[:, k : k + self.n_vectors], outer_traceless(features["vectors"])
            )
        return {"polarizability": alpha}


class EANNPolarizabilityHead(torch.nn.Module):
    kind = "eann"

    def __init__(self, n_species: int, n_scalars: int, hidden: Optional[List[int]] = None):
        super().__init__()
        self.hidden = [int(h) for h in (hidden if hidden is not None else [32, 32])]
        self.mlp = ElementMLP(n_scalars, self.hidden, 2, n_species)
        with torch.no_grad():
            self.mlp.layers[-1].weight.mul_(0.1)
        self.element_alpha = torch.nn.Parameter(torch.zeros(n_species))

    def config(self) -> Dict[str, Any]:
        return {"type": self.kind, "hidden": self.hidden}

    def parts(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        """The three terms of eq. 12 per system: D D^T, r D^T + D r^T, a I."""
        species = graph["species"]
        ev = graph["edge_vectors"]
        i = graph["edge_index"][0]
        j = graph["edge_index"][1]
        batch = graph["batch"]
        n_sys = int(graph["n_systems"].item())
        positions = graph["positions"]
        out = self.mlp(features["scalars"], species)
        q = out[:, 0]
        a = self.element_alpha[species] + out[:, 1]
        grads = torch.autograd.grad([q.sum()], [ev], create_graph=True, allow_unused=True)
        g = grads[0]
        if g is None:
            g = torch.zeros_like(ev)
        # d q / d r_j through r_ij = r_j - r_i: + on the edge's target, - on its source   (eq. 9)
        d = torch.zeros_like(positions).index_add(0, j, g).index_add(0, i, -g)
        count = system_sum(torch.ones_like(q), batch, n_sys)
        centre = system_sum(positions, batch, n_sys) / count[:, None]
        rel = positions - centre[batch]
        dd = system_sum(d[:, :, None] * d[:, None, :], batch, n_sys)  # eq. 10
        rd = system_sum(rel[:, :, None] * d[:, None, :], batch, n_sys)
        rd = rd + rd.transpose(1, 2)  # eq. 11
        eye = torch.eye(3, dtype=q.dtype, device=q.device)
        scalar = system_sum(a, batch, n_sys)[:, None, None] * eye  # eq. 12
        return [dd, rd, scalar]

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        p = self.parts(features, graph)
        return {"polarizability": p[0] + p[1] + p[2]}
