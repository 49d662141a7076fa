"""Transition dipole from three latent atomic "charges" (EANN seed eqs. 7-8).

    mu^1 = sum_i q_i^1 (r_i - c),   mu^2 = sum_i q_i^2 (r_i - c),          (eq. 7)
    mu^3 = (sum_i q_i^3) (mu^1 x mu^2),                                    (eq. 8)
    mu_T = mu^1 + mu^2 + mu^3

with q^1, q^2, q^3 three outputs of the same atomic network and c the centroid of the system
(the seed's "certain origin"; it makes mu_T translation invariant whatever sum_i q_i^j is).
mu^1 and mu^2 span a plane (the molecular plane of a planar molecule) and mu^3 is normal to
it, which is what lets the model describe perpendicular (n -> pi*) transitions that
sum_i q_i r_i alone cannot.  mu^3 is an axial vector: under rotations mu_T is exactly
equivariant; under improper operations its normal part changes sign relative to a polar vector.
That is the phase freedom of a transition dipole (its sign is arbitrary), and the trainer's
sign-insensitive loss min(|mu - mu_ref|^2, |mu + mu_ref|^2) accepts either sign.

A whole-system quantity (products of global sums): Python and i-PI only.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..nn import ElementMLP, system_sum


class TransitionDipoleHead(torch.nn.Module):
    def __init__(self, n_species: int, n_scalars: int, hidden: Optional[List[int]] = None):
        super().__init__()
        self.hidden = [int(h) for h in (hidden if hidden is not None else [32, 32])]
        self.mlp = ElementMLP(n_scalars, self.hidden, 3, n_species)
        with torch.no_grad():
            self.mlp.layers[-1].weight.mul_(0.1)

    def config(self) -> Dict[str, Any]:
        return {"hidden": self.hidden}

    def parts(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        batch = graph["batch"]
        n_sys = int(graph["n_systems"].item())
        positions = graph["positions"]
        q = self.mlp(features["scalars"], graph["species"])
        count = system_sum(torch.ones_like(q[:, 0]), batch, n_sys)
        centre = system_sum(positions, batch, n_sys) / count[:, None]
        rel = positions - centre[batch]
        mu1 = system_sum(q[:, 0:1] * rel, batch, n_sys)
        mu2 = system_sum(q[:, 1:2] * rel, batch, n_sys)
        q3 = system_sum(q[:, 2], batch, n_sys)
        mu3 = q3[:, None] * torch.linalg.cross(mu1, mu2, dim=-1)
        return [mu1, mu2, mu3]

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        p = self.parts(features, graph)
        return {"transition_dipole": p[0] + p[1] + p[2]}
