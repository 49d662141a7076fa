"""Embedded-atom density descriptor of the EANN seed (eqs. 15-16), with its equivariant by-products.

For atom i, orbital k and angular momentum L (seed eq. 15):

    rho_i^{L,k} = sum_{lx+ly+lz=L} L!/(lx! ly! lz!) [ sum_j c_{t_j,k} phi^{lx ly lz}_k(r_ij) f_c(r_ij) ]^2

with Gaussian-type orbitals centred on the neighbour j (seed eq. 16)

    phi^{lx ly lz}_k(r_ij) = x^lx y^ly z^lz  R_k(r_ij),

where (x, y, z) = r_ij and f_c is a smooth cutoff.  The multinomial weights make the sum over
(lx, ly, lz) the full contraction of the Cartesian tensor A_i^{L,k} = sum_j w_jk r_ij^{(x)L}
with itself, so rho^{L,k} = |A^{L,k}|^2 (Frobenius), which is how it is computed here.
Radial orbitals R_k(r) = sum_m c_{t_j, m, k} exp(-alpha_m (r - r_s,m)^2) mix n_radial
Gaussians with *learnable* element-dependent orbital coefficients c (seed: c_j); at
initialization c is close to the identity (one Gaussian per orbital, as in the seed).

The invariants rho (L = 0..max_l, 2-body for L = 0 and 3-body for L > 0) are the
``scalars`` the atomic networks read.  The same intermediate tensors are equivariant and
are handed to the tensorial heads (so every head works on this backbone):

* ``vectors`` (1o): A^{1,k} and A^{2,k} . A^{1,k} (2 n_orb channels),
* ``tensors`` (2e): the symmetric traceless part of A^{2,k} (n_orb channels),
* ``pseudovectors`` (1e): cross products (U v) x (V v) of learned mixtures of the vectors.

Units: r in angstrom; features are standardized with statistics of the training set
(:meth:`fit_statistics`, stored as buffers).
"""

from __future__ import annotations

from typing import Any, Dict

import torch

from ..nn import traceless
from ..radial import SmoothCutoff


class EANNDescriptor(torch.nn.Module):
    kind = "eann"

    def __init__(
        self,
        n_species: int,
        cutoff: float,
        n_radial: int = 8,
        n_orbitals: int | None = None,
        max_l: int = 2,
        r_min: float = 0.0,
        n_pseudovectors: int = 4,
        learn_radial: bool = False,
    ):
        super().__init__()
        if not 0 <= max_l <= 3:
            raise ValueError(f"EANN max_l must be 0..3, got {max_l}")
        self.n_species = int(n_species)
        self.cutoff = float(cutoff)
        self.n_radial = int(n_radial)
        self.n_orbitals = int(n_orbitals or n_radial)
        self.max_l = int(max_l)
        self.r_min = float(r_min)
        self.n_pseudo = int(n_pseudovectors) if max_l >= 1 else 0
        self.learn_radial = bool(learn_radial)
        centres = torch.linspace(r_min, cutoff, n_radial + 1)[:-1] if n_radial > 1 else torch.tensor([r_min])
        spacing = (cutoff - r_min) / max(n_radial, 1)
        alpha = torch.full((n_radial,), 1.0 / (2.0 * (0.6 * spacing) ** 2) if spacing > 0 else 1.0)
        if learn_radial:
            self.centres = torch.nn.Parameter(centres)
            self.log_alpha = torch.nn.Parameter(alpha.log())
        else:
            self.register_buffer("centres", centres)
            self.register_buffer("log_alpha", alpha.log())
        self.fcut = SmoothCutoff(cutoff)
        # orbital coefficients c[t_j, m, k]: near identity, element-dependent
        eye = torch.eye(n_radial, self.n_orbitals)
        coeff = eye[None].repeat(n_species, 1, 1) * (1.0 + 0.1 * torch.randn(n_species, 1, self.n_orbitals))
        coeff = coeff + 0.1 * torch.randn(n_species, n_radial, self.n_orbitals) / n_radial**0.5
        self.coefficients = torch.nn.Parameter(coeff)
        n_vec = 2 * self.n_orbitals if max_l >= 2 else (self.n_orbitals if max_l >= 1 else 0)
        self.n_scalars = (self.max_l + 1) * self.n_orbitals
        self.n_vectors = n_vec
        self.n_tensors = self.n_orbitals if max_l >= 2 else 0
        self.n_pseudovectors = self.n_pseudo
        self.mix_u = torch.nn.Parameter(torch.randn(max(self.n_pseudo, 1), max(n_vec, 1)) / max(n_vec, 1) ** 0.5)
        self.mix_v = torch.nn.Parameter(torch.randn(max(self.n_pseudo, 1), max(n_vec, 1)) / max(n_vec, 1) ** 0.5)
        # standardization of the features (training-set statistics)
        self.register_buffer("scalar_shift", torch.zeros(self.n_scalars))
        self.register_buffer("scalar_scale", torch.ones(self.n_scalars))
        self.register_buffer("vector_scale", torch.ones(max(n_vec, 1)))
        self.register_buffer("tensor_scale", torch.ones(max(self.n_tensors, 1)))

    def config(self) -> Dict[str, Any]:
        return {
            "type": self.kind,
            "n_radial": self.n_radial,
            "n_orbitals": self.n_orbitals,
            "max_l": self.max_l,
            "r_min": self.r_min,
            "n_pseudovectors": self.n_pseudo,
            "learn_radial": self.learn_radial,
        }

    def _raw(self, graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        species = graph["species"]
        ev = graph["edge_vectors"]
        i = graph["edge_index"][0]
        j = graph["edge_index"][1]
        n = species.shape[0]
        r = torch.linalg.norm(ev, dim=1)
        gauss = torch.exp(-torch.exp(self.log_alpha) * (r[:, None] - self.centres) ** 2) * self.fcut(r)[:, None]
        w = torch.einsum("em,emk->ek", gauss, self.coefficients[species[j]])  # [E, K] orbital weights
        k = self.n_orbitals
        a0 = ev.new_zeros(n, k).index_add(0, i, w)
        feats = [a0 * a0]
        out: Dict[str, torch.Tensor] = {}
        if self.max_l >= 1:
            a1 = ev.new_zeros(n, k, 3).index_add(0, i, w[:, :, None] * ev[:, None, :])
            feats.append((a1 * a1).sum(-1))
            out["vectors"] = a1
            if self.max_l >= 2:
                rr = ev[:, :, None] * ev[:, None, :]
                a2 = ev.new_zeros(n, k, 3, 3).index_add(0, i, w[:, :, None, None] * rr[:, None])
                feats.append((a2 * a2).sum((-1, -2)))
                out["vectors"] = torch.cat([a1, torch.einsum("nkab,nkb->nka", a2, a1)], dim=1)
                out["tensors"] = traceless(a2)
                if self.max_l >= 3:
                    rrr = rr[:, :, :, None] * ev[:, None, None, :]
                    a3 = ev.new_zeros(n, k, 3, 3, 3).index_add(0, i, w[:, :, None, None, None] * rrr[:, None])
                    feats.append((a3 * a3).sum((-1, -2, -3)))
        out["scalars"] = torch.cat(feats, dim=1)
        return out

    def forward(self, graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        raw = self._raw(graph)
        out: Dict[str, torch.Tensor] = {"scalars": (raw["scalars"] - self.scalar_shift) / self.scalar_scale}
        if "vectors" in raw:
            v = raw["vectors"] * self.vector_scale[None, :, None]
            out["vectors"] = v
            if self.n_pseudo > 0:
                u = torch.einsum("pk,nka->npa", self.mix_u, v)
                w = torch.einsum("pk,nka->npa", self.mix_v, v)
                out["pseudovectors"] = torch.linalg.cross(u, w, dim=-1)
        if "tensors" in raw:
            out["tensors"] = raw["tensors"] * self.tensor_scale[None, :, None, None]
        return out

    @torch.no_grad()
    def fit_statistics(self, graph: Dict[str, torch.Tensor]) -> None:
        """Standardize the features with their statistics over the atoms of ``graph`` (training data)."""
        raw = self._raw(graph)
        s = raw["scalars"]
        self.scalar_shift.copy_(s.mean(0))
        self.scalar_scale.copy_(s.std(0).clamp_min(1e-6 * float(s.abs().max()) + 1e-12))
        if "vectors" in raw:
            rms = raw["vectors"].pow(2).sum(-1).mean(0).sqrt()
            self.vector_scale.copy_(1.0 / rms.clamp_min(1e-8))
        if "tensors" in raw:
            rms = raw["tensors"].pow(2).sum((-1, -2)).mean(0).sqrt()
            self.tensor_scale.copy_(1.0 / rms.clamp_min(1e-8))
