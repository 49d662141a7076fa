"""E(3)-equivariant message-passing backbone on e3nn (the APTNN seed's kind of network).

Atoms carry irreps features of both parities (default ``16x0e+8x0o+8x1o+8x1e+4x2e+4x2o``,
the APTNN seed's "0o+0e+1o+1e+2o+2e" at a smaller width).  Each of ``n_layers`` interaction
blocks (NequIP-like):

    m_i = 1/sqrt(<n_neighbours>) sum_j TP( h_j , Y(r_ij) ; R(r_ij) )      (messages)
    h_i <- Gate( Linear(m_i) + SelfInteraction(h_i, element_i) )

with spherical harmonics Y up to ``max_l``, a radial MLP R on a Bessel basis times a smooth
cutoff, and an equivariant gate (SiLU on even scalars, tanh on odd scalars, sigmoid gates on
l > 0).  A final linear layer maps to ``F x0e + C1 x1o + C2 x1e + C3 x2e``, converted to the
Cartesian features every head reads (``scalars``, ``vectors``, ``pseudovectors``,
``tensors``; see :mod:`tensorml.models.nn`).  e3nn's real basis is used for l = 1 (x, y, z);
l = 2 goes to symmetric traceless 3x3 tensors through e3nn's own change of basis.

The receptive field is ``n_layers`` x cutoff: the model sets ``message_passing_layers`` so
that LAMMPS builds a halo that deep.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import torch
from e3nn import o3

from ..radial import BesselBasis, SmoothCutoff


def _cartesian_l2_basis() -> torch.Tensor:
    """[5, 3, 3]: maps e3nn l=2 components to symmetric traceless Cartesian tensors."""
    from e3nn.io import CartesianTensor

    q = CartesianTensor("ij=ji").reduced_tensor_products().change_of_basis  # [6, 3, 3]: 0e, then 2e
    return q[1:6].to(torch.get_default_dtype())


class EquivariantGate(torch.nn.Module):
    """Gate nonlinearity (TorchScript-able): [scalars | gates | gated] -> [act(scalars) | sigmoid(gates) * gated]."""

    def __init__(self, irreps_scalars: o3.Irreps, irreps_gated: o3.Irreps):
        super().__init__()
        self.irreps_scalars = o3.Irreps(irreps_scalars)
        self.irreps_gated = o3.Irreps(irreps_gated)
        self.n_scalars = self.irreps_scalars.dim
        self.n_gates = self.irreps_gated.num_irreps
        self.irreps_in = self.irreps_scalars + o3.Irreps(f"{self.n_gates}x0e") + self.irreps_gated
        self.irreps_out = self.irreps_scalars + self.irreps_gated
        odd = []
        for mul, ir in self.irreps_scalars:
            odd += [1.0 if ir.p == -1 else 0.0] * mul
        self.register_buffer("odd", torch.tensor(odd if odd else [0.0]))
        expand: List[int] = []
        g = 0
        for mul, ir in self.irreps_gated:
            for _ in range(mul):
                expand += [g] * ir.dim
                g += 1
        self.register_buffer("expand", torch.tensor(expand if expand else [0], dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, : self.n_scalars]
        odd = self.odd[: self.n_scalars]
        s = odd * torch.tanh(s) + (1.0 - odd) * torch.nn.functional.silu(s)
        if self.n_gates == 0:
            return s
        gates = torch.sigmoid(x[:, self.n_scalars : self.n_scalars + self.n_gates])
        gated = x[:, self.n_scalars + self.n_gates :]
        return torch.cat([s, gated * gates[:, self.expand]], dim=1)


class Interaction(torch.nn.Module):
    """One message-passing block (see the module docstring)."""

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_hidden: o3.Irreps,
        n_species: int,
        n_basis: int,
        radial_hidden: int,
    ):
        super().__init__()
        irreps_in = o3.Irreps(irreps_in)
        irreps_hidden = o3.Irreps(irreps_hidden)
        # messages: every path l_in x l_sh -> l_out whose output irrep the hidden features hold
        wanted = {ir for _, ir in irreps_hidden}
        mid: List[Any] = []
        instructions = []
        for i1, (mul, ir_in) in enumerate(irreps_in):
            for i2, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in wanted:
                        k = len(mid)
                        mid.append((mul, ir_out))
                        instructions.append((i1, i2, k, "uvu", True))
        irreps_mid = o3.Irreps(mid)
        irreps_mid, perm, _ = irreps_mid.sort()
        instructions = [(a, b, perm[c], mode, train) for a, b, c, mode, train in instructions]
        self.tp = o3.TensorProduct(
            irreps_in, irreps_sh, irreps_mid, instructions, shared_weights=False, internal_weights=False
        )
        self.radial = torch.nn.Sequential(
            torch.nn.Linear(n_basis, radial_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(radial_hidden, self.tp.weight_numel),
        )
        scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_hidden if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in irreps_hidden if ir.l > 0])
        self.gate = EquivariantGate(scalars, gated)
        self.linear = o3.Linear(irreps_mid.simplify(), self.gate.irreps_in)
        self.self_interaction = o3.FullyConnectedTensorProduct(irreps_in, f"{n_species}x0e", self.gate.irreps_in)
        self.irreps_out = self.gate.irreps_out
        self.irreps_mid = irreps_mid

    def forward(
        self,
        h: torch.Tensor,
        onehot: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_basis: torch.Tensor,
        edge_cut: torch.Tensor,
        edge_index: torch.Tensor,
        inv_sqrt_neighbours: float,
    ) -> torch.Tensor:
        i = edge_index[0]
        j = edge_index[1]
        weights = self.radial(edge_basis) * edge_cut[:, None]
        messages = self.tp(h[j], edge_sh, weights)
        m = messages.new_zeros(h.shape[0], messages.shape[1]).index_add(0, i, messages) * inv_sqrt_neighbours
        return self.gate(self.linear(m) + self.self_interaction(h, onehot))


class EquivariantBackbone(torch.nn.Module):
    kind = "equivariant"

    def __init__(
        self,
        n_species: int,
        cutoff: float,
        hidden_irreps: str = "16x0e+8x0o+8x1o+8x1e+4x2e+4x2o",
        n_layers: int = 2,
        max_l: int = 2,
        n_basis: int = 8,
        radial_hidden: int = 32,
        n_scalars: int = 16,
        n_vectors: int = 8,
        n_pseudovectors: int = 4,
        n_tensors: int = 8,
        avg_num_neighbors: float = 10.0,
    ):
        super().__init__()
        self.n_species = int(n_species)
        self.cutoff = float(cutoff)
        self.hidden = str(o3.Irreps(hidden_irreps))
        self.n_layers = int(n_layers)
        self.max_l = int(max_l)
        self.n_basis = int(n_basis)
        self.radial_hidden = int(radial_hidden)
        self.n_scalars = int(n_scalars)
        self.n_vectors = int(n_vectors)
        self.n_pseudovectors = int(n_pseudovectors)
        self.n_tensors = int(n_tensors)
        self.avg_num_neighbors = float(avg_num_neighbors)
        self.inv_sqrt_neighbours = 1.0 / math.sqrt(max(self.avg_num_neighbors, 1e-3))

        self.irreps_sh = o3.Irreps.spherical_harmonics(self.max_l)
        self.sh = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        self.basis = BesselBasis(cutoff, n_basis)
        self.fcut = SmoothCutoff(cutoff)
        n_embed = o3.Irreps(self.hidden).count(o3.Irrep("0e")) or 8
        self.embed = o3.Linear(f"{n_species}x0e", f"{n_embed}x0e")
        layers = []
        irreps = o3.Irreps(f"{n_embed}x0e")
        for _ in range(self.n_layers):
            layer = Interaction(irreps, self.irreps_sh, o3.Irreps(self.hidden), n_species, n_basis, radial_hidden)
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = torch.nn.ModuleList(layers)
        out = o3.Irreps(f"{self.n_scalars}x0e+{self.n_vectors}x1o+{self.n_pseudovectors}x1e+{self.n_tensors}x2e")
        self.irreps_output = out
        self.output = o3.Linear(irreps, out)
        self.register_buffer("l2_basis", _cartesian_l2_basis())
        self.register_buffer("scalar_shift", torch.zeros(self.n_scalars))
        self.register_buffer("scalar_scale", torch.ones(self.n_scalars))
        self.i_vec = self.n_scalars
        self.i_pseudo = self.i_vec + 3 * self.n_vectors
        self.i_tensor = self.i_pseudo + 3 * self.n_pseudovectors

    def config(self) -> Dict[str, Any]:
        return {
            "type": self.kind,
            "hidden_irreps": self.hidden,
            "n_layers": self.n_layers,
            "max_l": self.max_l,
            "n_basis": self.n_basis,
            "radial_hidden": self.radial_hidden,
            "n_scalars": self.n_scalars,
            "n_vectors": self.n_vectors,
            "n_pseudovectors": self.n_pseudovectors,
            "n_tensors": self.n_tensors,
            "avg_num_neighbors": self.avg_num_neighbors,
        }

    def _irreps(self, graph: Dict[str, torch.Tensor]) -> torch.Tensor:
        species = graph["species"]
        ev = graph["edge_vectors"]
        edge_index = graph["edge_index"]
        r = torch.linalg.norm(ev, dim=1)
        onehot = torch.nn.functional.one_hot(species, self.n_species).to(ev.dtype)
        edge_sh = self.sh(ev)
        edge_basis = self.basis(r)
        edge_cut = self.fcut(r)
        h = self.embed(onehot)
        for layer in self.layers:
            h = layer(h, onehot, edge_sh, edge_basis, edge_cut, edge_index, self.inv_sqrt_neighbours)
        return self.output(h)

    def forward(self, graph: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        x = self._irreps(graph)
        n = x.shape[0]
        out: Dict[str, torch.Tensor] = {
            "scalars": (x[:, : self.n_scalars] - self.scalar_shift) / self.scalar_scale,
            "vectors": x[:, self.i_vec : self.i_pseudo].reshape(n, self.n_vectors, 3),
            "pseudovectors": x[:, self.i_pseudo : self.i_tensor].reshape(n, self.n_pseudovectors, 3),
        }
        t = x[:, self.i_tensor :].reshape(n, self.n_tensors, 5)
        out["tensors"] = torch.einsum("ncm,mab->ncab", t, self.l2_basis)
        return out

    @torch.no_grad()
    def fit_statistics(self, graph: Dict[str, torch.Tensor]) -> None:
        """Average number of neighbours (message normalization), then standardize the output scalars."""
        n_atoms = graph["species"].shape[0]
        n_edges = graph["edge_index"].shape[1]
        self.avg_num_neighbors = max(n_edges / max(n_atoms, 1), 1.0)
        self.inv_sqrt_neighbours = 1.0 / math.sqrt(self.avg_num_neighbors)
        s = self._irreps(graph)[:, : self.n_scalars]
        self.scalar_shift.copy_(s.mean(0))
        self.scalar_scale.copy_(s.std(0).clamp_min(1e-3))
