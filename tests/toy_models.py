"""Small physics models that exercise parts of the contract the reference model does not."""

from typing import Dict, List

import torch

from tensorml.models.base import PerAtomModel
from tensorml.models.radial import GaussianBasis


class DirectAptModel(PerAtomModel):
    """APT predicted directly per atom (APTNN-style: 0e + 2e here) and a whole-system polarizability.

    apt_i = q_t I + sum_j w(r_ij) (rhat rhat^T - I/3); energy: positive pair terms;
    polarizability (system output) = (sum_i a_t) I + (sum_i d_i)(sum_i d_i)^T with
    d_i = sum_j v(r_ij) r_ij: a product of global sums, so not decomposable.
    """

    model_type = "test-direct-apt"

    def __init__(self, species=(1, 8), cutoff=4.0, seed=0):
        super().__init__(list(species), cutoff)
        gen = torch.Generator().manual_seed(seed)
        n = len(self.species)
        self.basis = GaussianBasis(cutoff, 6)
        self.w = torch.nn.Parameter(torch.randn(n * n, 6, generator=gen, dtype=torch.float64) * 0.1)
        self.v = torch.nn.Parameter(torch.randn(n * n, 6, generator=gen, dtype=torch.float64) * 0.1)
        self.e = torch.nn.Parameter(torch.rand(n * n, 6, generator=gen, dtype=torch.float64) * 0.1)
        self.register_buffer("q", torch.tensor([0.4, -0.8][:n], dtype=torch.float64))
        self.register_buffer("eye", torch.eye(3, dtype=torch.float64))

    def provides(self):
        return ["energy", "apt", "charges"]

    def system_outputs(self):
        return ["polarizability"]

    def config(self):
        return {"species": self.species, "cutoff": self.cutoff}

    def forward(self, graph: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        species, vec = graph["species"], graph["edge_vectors"]
        i, j = graph["edge_index"][0], graph["edge_index"][1]
        n = species.shape[0]
        r = torch.linalg.norm(vec, dim=1)
        b = self.basis(r)
        pair = species[i] * len(self.species) + species[j]
        rhat = vec / r[:, None]
        outer = rhat[:, :, None] * rhat[:, None, :] - self.eye / 3
        aniso = (self.w[pair] * b).sum(1)
        q = self.q[species]
        apt = q[:, None, None] * self.eye + vec.new_zeros(n, 3, 3).index_add(0, i, aniso[:, None, None] * outer)
        energy = 0.5 * vec.new_zeros(n).index_add(0, i, (self.e[pair] * b).sum(1))
        d = vec.new_zeros(n, 3).index_add(0, i, (self.v[pair] * b).sum(1)[:, None] * vec)
        n_systems = int(graph["n_systems"].item())
        batch = graph["batch"]
        big_d = vec.new_zeros(n_systems, 3).index_add(0, batch, d)
        iso = vec.new_zeros(n_systems).index_add(0, batch, torch.ones_like(q))
        pol = iso[:, None, None] * self.eye + big_d[:, :, None] * big_d[:, None, :]
        return {"energy": energy, "apt": apt, "charges": q, "polarizability": pol}


class TwoLayerModel(PerAtomModel):
    """Two message-passing layers: atom i's energy and dipole see neighbours of neighbours.

    h_i = sum_j a(r_ij);  m_i = sum_j b(r_ij) tanh(h_j)  (second layer reads h of the neighbours)
    E_i = c_t m_i^2 + pair terms;  mu_i = sum_j d(r_ij) tanh(h_j) r_ij;  charges fixed.
    (With tanh(m_j) in mu_i the dipole would see three hops, beyond the declared halo: the
    LAMMPS test then fails, as it should.)
    The halo is 2 x cutoff: LAMMPS must list neighbours of ghost atoms.
    """

    model_type = "test-two-layer"

    def __init__(self, species=(1, 8), cutoff=3.0, seed=0):
        super().__init__(list(species), cutoff, message_passing_layers=2)
        gen = torch.Generator().manual_seed(seed)
        n = len(self.species)
        self.basis = GaussianBasis(cutoff, 6)

        def p(*shape, scale=0.2):
            return torch.nn.Parameter(torch.randn(*shape, generator=gen, dtype=torch.float64) * scale)

        self.a, self.b, self.d, self.e = p(n * n, 6), p(n * n, 6), p(n * n, 6, scale=0.05), p(n * n, 6)
        self.c = p(n)
        self.register_buffer("q", torch.tensor([0.4238, -0.8476][:n], dtype=torch.float64))

    def provides(self):
        return ["energy", "dipole", "charges"]

    def config(self):
        return {"species": self.species, "cutoff": self.cutoff}

    def forward(self, graph: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        species, vec, pos = graph["species"], graph["edge_vectors"], graph["positions"]
        i, j = graph["edge_index"][0], graph["edge_index"][1]
        n = species.shape[0]
        b = self.basis(torch.linalg.norm(vec, dim=1))
        pair = species[i] * len(self.species) + species[j]
        h = vec.new_zeros(n).index_add(0, i, (self.a[pair] * b).sum(1))
        m = vec.new_zeros(n).index_add(0, i, (self.b[pair] * b).sum(1) * torch.tanh(h[j]))
        energy = self.c[species] * m**2 + 0.5 * vec.new_zeros(n).index_add(0, i, (self.e[pair] * b).sum(1) ** 2)
        mu = vec.new_zeros(n, 3).index_add(0, i, ((self.d[pair] * b).sum(1) * torch.tanh(h[j]))[:, None] * vec)
        q = self.q[species]
        return {"energy": energy, "dipole": q[:, None] * pos + mu, "charges": q}
