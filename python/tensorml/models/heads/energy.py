"""Energy as a sum of atomic energies (EANN seed eq. 5): E = sum_i [e_t + s NN_t(s_i)].

e_t: per-element reference energies (fitted by least squares on the training set), s: the
spread of the per-atom residual energies (also from the training set).  Forces and virial
come from autograd in the contract module, so one model drives MD and reports its tensors in
the same forward pass.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..nn import ElementMLP


class EnergyHead(torch.nn.Module):
    def __init__(self, n_species: int, n_scalars: int, hidden: Optional[List[int]] = None):
        super().__init__()
        self.hidden = [int(h) for h in (hidden if hidden is not None else [64, 64])]
        self.mlp = ElementMLP(n_scalars, self.hidden, 1, n_species)
        self.register_buffer("element_energies", torch.zeros(n_species, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(()))

    def config(self) -> Dict[str, Any]:
        return {"hidden": self.hidden}

    def forward(self, features: Dict[str, torch.Tensor], graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        baseline = self.element_energies.to(self.scale.dtype)[species]
        e = baseline + self.scale * self.mlp(features["scalars"], species)[:, 0]
        return {"energy": e}
