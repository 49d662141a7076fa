"""The module that implements the model contract around a physics model.

It does, identically for every model and every engine:

1. maps atomic numbers to the model's species indices (refusing unknown ones),
2. builds edge vectors r_ij = r_j - r_i + shift_ij from positions (so autograd
   sees positions), optionally strained for the virial,
3. calls the physics model for per-atom quantities,
4. sums per-atom contributions over *local* atoms into per-system totals
   (energy, dipole, polarizability), which is what makes MPI domains add up,
5. differentiates with autograd: forces = -dE/dr, virial = -dE/d(strain),
   APT[i, a, b] = dM_a/dr_ib (three backward passes), on all N atoms, ghosts
   included (their parts are added onto the owning atoms by the engine).

No finite differences anywhere.  See ``docs/model-contract.md``.
"""

from typing import Dict, List, Optional

import torch

from .contract import DERIVATIVES, GLOBAL_SUMS


class ContractModule(torch.nn.Module):
    # class-level annotations: TorchScript cannot infer the type of an empty list
    provides: List[str]
    global_sums: List[str]
    system_outputs: List[str]
    derived_from: Dict[str, str]

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        per_atom = list(model.provides())
        self.provides = list(model.contract_outputs())
        # per-atom contributions summed over local atoms, and per-system values passed through
        self.global_sums = [g for g in GLOBAL_SUMS if g in per_atom]
        self.system_outputs = list(model.system_outputs())
        self.direct_apt: bool = "apt" in per_atom
        # derived output -> the quantity of the physics model it comes from
        self.derived_from = dict(DERIVATIVES)
        self.derived_from["atomic_energies"] = "energy"
        if self.direct_apt:
            for name in ("apt", "dmdt", "apt_velocity"):
                self.derived_from[name] = "apt"
        # keep the graph for training on derivatives (forces, APT) when True
        self.create_graph: bool = False
        table = torch.full((119,), -1, dtype=torch.long)
        for k, z in enumerate(model.species):
            table[int(z)] = k
        self.register_buffer("species_table", table)

    def _needed(self, requested: List[str]) -> List[str]:
        """Quantities of the physics model needed for ``requested``."""
        needed: List[str] = []
        for name in requested:
            base = name
            if name in self.derived_from:
                base = self.derived_from[name]
            if base not in needed:
                needed.append(base)
        return needed

    def forward(self, inputs: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        for name in requested:
            if name not in self.provides:
                raise RuntimeError("tensorml: the model does not provide the output '" + name + "'")
        # Callers must leave autograd enabled (not torch.no_grad / InferenceMode):
        # forces and APTs are computed with torch.autograd.grad inside.
        return self._evaluate(inputs, requested)

    def _evaluate(self, inputs: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        positions = inputs["positions"]
        numbers = inputs["atomic_numbers"]
        edge_index = inputs["edge_index"]
        shifts = inputs["edge_shifts"]
        batch = inputs["batch"]
        efield = inputs["efield"]
        n_local = int(inputs["n_local"].item())
        n_systems = inputs["cell"].shape[0]

        valid = (numbers >= 0) & (numbers < 119)
        species = self.species_table[torch.where(valid, numbers, torch.zeros_like(numbers))]
        species = torch.where(valid, species, torch.full_like(species, -1))
        if bool((species < 0).any()):
            bad = numbers[species < 0][0]
            raise RuntimeError("tensorml: atomic number " + str(int(bad.item())) + " is not among the model's species")

        want_forces = "forces" in requested
        want_virial = "virial" in requested
        want_dmdt = "dmdt" in requested
        want_aptv = "apt_velocity" in requested
        velocities = torch.zeros_like(positions)
        if want_dmdt or want_aptv:
            if "velocities" not in inputs:
                raise RuntimeError("tensorml: dmdt and apt_velocity need the input 'velocities'")
            velocities = inputs["velocities"]
        # full APTs (three backward passes) unless only dM/dt is wanted: then one Jacobian-vector product
        want_apt = ("apt" in requested or want_aptv) and not self.direct_apt
        want_jvp = want_dmdt and not want_apt and not self.direct_apt

        pos = positions.detach()
        if want_forces or want_apt or want_jvp:
            pos.requires_grad_(True)
        strain: Optional[torch.Tensor] = None
        pos_in = pos
        shifts_in = shifts
        if want_virial:
            strain_t = torch.zeros((n_systems, 3, 3), dtype=pos.dtype, device=pos.device)
            strain_t.requires_grad_(True)
            pos_in = pos + torch.einsum("ni,nij->nj", pos, strain_t[batch])
            shifts_in = shifts + torch.einsum("ei,eij->ej", shifts, strain_t[batch[edge_index[0]]])
            strain = strain_t
        graph: Dict[str, torch.Tensor] = {
            "species": species,
            "positions": pos_in,
            "edge_index": edge_index,
            "edge_vectors": pos_in[edge_index[1]] - pos_in[edge_index[0]] + shifts_in,
            "efield": efield[batch],
            "batch": batch,
            "n_local": inputs["n_local"],
            "n_systems": torch.tensor(n_systems, dtype=torch.long),
        }
        needed = self._needed(requested)
        values = self.model(graph, needed)

        totals: Dict[str, torch.Tensor] = {}
        local_batch = batch[:n_local]
        for name in self.global_sums:
            if name in needed:
                contrib = values[name][:n_local]
                shape = [n_systems] + list(contrib.shape[1:])
                totals[name] = torch.zeros(shape, dtype=contrib.dtype, device=contrib.device).index_add(
                    0, local_batch, contrib
                )
        for name in self.system_outputs:
            if name in needed:
                totals[name] = values[name]

        results: Dict[str, torch.Tensor] = {}
        grad_inputs: List[torch.Tensor] = []
        if want_forces:
            grad_inputs.append(pos)
        if strain is not None:
            grad_inputs.append(strain)
        if len(grad_inputs) > 0:
            grads = torch.autograd.grad(
                [totals["energy"].sum()],
                grad_inputs,
                retain_graph=want_apt or want_jvp or self.create_graph,
                create_graph=self.create_graph,
                allow_unused=True,
            )
            k = 0
            if want_forces:
                results["forces"] = -_or_zeros(grads[k], pos)
                k += 1
            if strain is not None:
                results["virial"] = -_or_zeros(grads[k], strain)
        if want_apt:
            dipole = totals["dipole"]
            rows: List[torch.Tensor] = []
            for a in range(3):
                g = torch.autograd.grad(
                    [dipole[:, a].sum()],
                    [pos],
                    retain_graph=(a < 2) or self.create_graph,
                    create_graph=self.create_graph,
                    allow_unused=True,
                )[0]
                rows.append(_or_zeros(g, pos))
            results["apt"] = torch.stack(rows, dim=1)  # [N, a, b] = dM_a / dr_ib
        if want_jvp:
            # dM/dt = J v by the double-backward trick: g(u) = u^T J is linear in a dummy u,
            # and d(g(u) . v)/du = J v; one graph, no [N, 3, 3] tensor
            u = torch.zeros((n_systems, 3), dtype=pos.dtype, device=pos.device)
            u.requires_grad_(True)
            g = torch.autograd.grad([(totals["dipole"] * u).sum()], [pos], create_graph=True, allow_unused=True)[0]
            g = _or_zeros(g, pos)
            jv = torch.autograd.grad(
                [(g * velocities).sum()],
                [u],
                retain_graph=self.create_graph,
                create_graph=self.create_graph,
                allow_unused=True,
            )[0]
            results["dmdt"] = _or_zeros(jv, u)
        elif want_dmdt or want_aptv:
            apt = results["apt"] if "apt" in results else values["apt"]
            aptv = torch.einsum("nab,nb->na", apt, velocities)
            results["apt_velocity"] = aptv
            # a rank's dM/dt sums APT_j v_j over all its atoms (ghost rows are partial derivatives);
            # a directly predicted APT belongs to its atom, so only local atoms count
            count = n_local if self.direct_apt else aptv.shape[0]
            results["dmdt"] = torch.zeros((n_systems, 3), dtype=aptv.dtype, device=aptv.device).index_add(
                0, batch[:count], aptv[:count]
            )

        for name in requested:
            if name in totals:
                results[name] = totals[name]
            elif name == "atomic_energies":
                results[name] = values["energy"]
            elif name not in results:
                results[name] = values[name]
        if not self.create_graph:
            for name in list(results.keys()):
                results[name] = results[name].detach()
        return results


def _or_zeros(grad: Optional[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    if grad is None:
        return torch.zeros_like(like)
    return grad
