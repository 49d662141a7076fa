"""Composed tensorial models: one backbone, any set of physical heads, one forward pass.

Configuration (what ``model:`` holds in a training config, and ``model_config`` in the
metadata of an exported model)::

    species: [1, 8]            # atomic numbers (or symbols)
    cutoff: 4.5                # angstrom
    seed: 0
    backbone: {type: eann, n_radial: 8, max_l: 2}           # or {type: equivariant, n_layers: 2, ...}
    heads:
      dipole: {charges: fixed, atomic_dipoles: true}         # eq. 1 (+ local dipoles); apt = dM/dr
      polarizability: {type: atomic}                         # or {type: eann} (eqs. 9-12)
      apt: {type: direct}                                    # optional: APTNN-style direct APT
      energy: {}                                             # energy and forces
      transition_dipole: {}                                  # eqs. 7-8
    field_coupling: true

Heads left out are absent.  Without an ``apt`` head the APT is the autograd dM/dr of the
dipole head (exact sum rule, ghost rule ``sum``); with ``apt: {type: direct}`` it is predicted
per atom.  ``field_coupling`` (linear response to a uniform field E, the contract input ``efield``): the
dipole gains the induced part alpha_i E / k_e (with a per-atom polarizability head), and with
an energy head U = U_0 - E . sum_i (q_i r_i + mu_i) - E . alpha_i . E / (2 k_e), so that
M = -dU/dE and dF/dE = APT^T.  k_e = 14.3996 eV angstrom / e^2 turns the polarizability
volume (angstrom^3) into e angstrom per V/angstrom.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch

from ..units import COULOMB_CONSTANT
from .base import PerAtomModel
from .descriptors import build_backbone, message_passing_layers
from .heads import (
    AtomicPolarizabilityHead,
    ChargeDipoleHead,
    DirectAPTHead,
    EANNPolarizabilityHead,
    EnergyHead,
    TransitionDipoleHead,
)

HEAD_NAMES = ("dipole", "polarizability", "apt", "energy", "transition_dipole")


def _atomic_number(z) -> int:
    if isinstance(z, str):
        from ase.data import atomic_numbers

        if z not in atomic_numbers:
            raise ValueError(f"unknown element {z!r}")
        return int(atomic_numbers[z])
    return int(z)


def _symbol(z: int) -> str:
    from ase.data import chemical_symbols

    return chemical_symbols[int(z)]


class TensorialModel(PerAtomModel):
    model_type = "tensorial"

    def __init__(
        self,
        species: List[Any] = (1, 8),
        cutoff: float = 4.5,
        backbone: Optional[Dict[str, Any]] = None,
        heads: Optional[Dict[str, Dict[str, Any]]] = None,
        field_coupling: bool = True,
        seed: int = 0,
    ):
        species = sorted(_atomic_number(z) for z in species)
        backbone = dict(backbone or {"type": "eann"})
        heads = {k: dict(v or {}) for k, v in (heads if heads is not None else {"dipole": {}}).items()}
        unknown = [k for k in heads if k not in HEAD_NAMES]
        if unknown:
            raise ValueError(f"unknown head(s) {unknown}; known: {list(HEAD_NAMES)}")
        if not heads:
            raise ValueError("a model needs at least one head")
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            bb = build_backbone(len(species), cutoff, backbone)
            super().__init__(species, cutoff, message_passing_layers(bb))
            self.backbone = bb
            self._build_heads(heads)
        self.field_coupling = bool(field_coupling) and self.dipole_head is not None
        self.k_e = float(COULOMB_CONSTANT)

    def _build_heads(self, heads: Dict[str, Dict[str, Any]]) -> None:
        S = len(self.species)
        bb = self.backbone
        nsc, nv, npv, nt = bb.n_scalars, bb.n_vectors, bb.n_pseudovectors, bb.n_tensors
        self.head_configs = heads
        cfg = dict(heads.get("dipole", {}))
        if "dipole" in heads:
            fixed = cfg.pop("fixed_charges", None)
            if isinstance(fixed, dict):
                table = {_atomic_number(k): float(v) for k, v in fixed.items()}
                fixed = [table.get(z, 0.0) for z in self.species]
            formula = cfg.get("neutral_formula")
            if formula:
                from ase.formula import Formula

                counts = Formula(formula).count()
                unknown = [el for el in counts if _atomic_number(el) not in self.species]
                if unknown:
                    raise ValueError(f"neutral_formula {formula!r} has elements {unknown} the model lacks")
                cfg["neutral_counts"] = [float(counts.get(_symbol(z), 0)) for z in self.species]
            self.dipole_head = ChargeDipoleHead(S, nsc, nv, fixed_charges=fixed, **cfg)
        else:
            self.dipole_head = None
        self.polarizability_head = None
        self.system_polarizability_head = None
        if "polarizability" in heads:
            cfg = dict(heads["polarizability"])
            kind = cfg.pop("type", "atomic")
            if kind == "atomic":
                self.polarizability_head = AtomicPolarizabilityHead(S, nsc, nv, nt, **cfg)
            elif kind == "eann":
                self.system_polarizability_head = EANNPolarizabilityHead(S, nsc, **cfg)
            else:
                raise ValueError(f"polarizability head type must be 'atomic' or 'eann', got {kind!r}")
        self.apt_head = None
        if "apt" in heads:
            cfg = dict(heads["apt"])
            kind = cfg.pop("type", "direct")
            if kind == "direct":
                self.apt_head = DirectAPTHead(S, nsc, nv, npv, nt, **cfg)
            elif kind != "autograd":
                raise ValueError(f"apt head type must be 'direct' or 'autograd', got {kind!r}")
            elif "dipole" not in heads:
                raise ValueError("an autograd APT needs a dipole head")
        self.energy_head = EnergyHead(S, nsc, **heads["energy"]) if "energy" in heads else None
        self.transition_head = (
            TransitionDipoleHead(S, nsc, **heads["transition_dipole"]) if "transition_dipole" in heads else None
        )

    # -- what the exporter needs -------------------------------------------------------------
    def provides(self) -> list[str]:
        out = []
        if self.energy_head is not None:
            out.append("energy")
        if self.dipole_head is not None:
            out += ["dipole", "charges", "atomic_dipoles"]
        if self.polarizability_head is not None:
            out.append("polarizability")
        if self.apt_head is not None:
            out.append("apt")
        return out

    def system_outputs(self) -> list[str]:
        out = []
        if self.system_polarizability_head is not None:
            out.append("polarizability")
        if self.transition_head is not None:
            out.append("transition_dipole")
        return out

    def config(self) -> dict[str, Any]:
        heads: Dict[str, Dict[str, Any]] = {}
        if self.dipole_head is not None:
            heads["dipole"] = self.dipole_head.config()
        if self.polarizability_head is not None:
            heads["polarizability"] = self.polarizability_head.config()
        if self.system_polarizability_head is not None:
            heads["polarizability"] = self.system_polarizability_head.config()
        if self.apt_head is not None:
            heads["apt"] = self.apt_head.config()
        elif "apt" in self.head_configs:
            heads["apt"] = {"type": "autograd"}
        if self.energy_head is not None:
            heads["energy"] = self.energy_head.config()
        if self.transition_head is not None:
            heads["transition_dipole"] = self.transition_head.config()
        return {
            "species": list(self.species),
            "cutoff": self.cutoff,
            "backbone": self.backbone.config(),
            "heads": heads,
            "field_coupling": self.field_coupling,
            "seed": self.seed,
        }

    # -- the physics -------------------------------------------------------------------------
    def forward(self, graph: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
        want_energy = "energy" in requested
        efield = graph["efield"]
        field_on = False
        if self.field_coupling and efield.shape[0] > 0:
            field_on = bool((efield != 0).any())
        if self.system_polarizability_head is not None:
            if "polarizability" in requested and not graph["edge_vectors"].requires_grad:
                # eqs. 9-12 need dq/dr: make the edge vectors differentiable (nothing else needs them)
                graph = dict(graph)
                graph["edge_vectors"] = graph["edge_vectors"].detach().requires_grad_(True)
        features = self.backbone(graph)
        out: Dict[str, torch.Tensor] = {}

        alpha: Optional[torch.Tensor] = None
        if self.polarizability_head is not None:
            if "polarizability" in requested or (field_on and ("dipole" in requested or want_energy)):
                alpha = self.polarizability_head(features, graph)["polarizability"]
                out["polarizability"] = alpha
        if self.system_polarizability_head is not None:
            if "polarizability" in requested:
                out["polarizability"] = self.system_polarizability_head(features, graph)["polarizability"]

        permanent: Optional[torch.Tensor] = None
        if self.dipole_head is not None:
            if (
                "dipole" in requested
                or "charges" in requested
                or "atomic_dipoles" in requested
                or (field_on and want_energy)
            ):
                d = self.dipole_head(features, graph)
                permanent = d["dipole"]
                dipole = d["dipole"]
                atomic = d["atomic_dipoles"]
                if field_on and alpha is not None:
                    induced = torch.einsum("nab,nb->na", alpha, efield) / self.k_e
                    dipole = dipole + induced
                    atomic = atomic + induced
                out["dipole"] = dipole
                out["charges"] = d["charges"]
                out["atomic_dipoles"] = atomic

        if self.apt_head is not None and "apt" in requested:
            out["apt"] = self.apt_head(features, graph)["apt"]

        if self.energy_head is not None and want_energy:
            energy = self.energy_head(features, graph)["energy"]
            if field_on:
                if permanent is not None:
                    energy = energy - (permanent * efield).sum(1)
                if alpha is not None:
                    energy = energy - 0.5 * torch.einsum("na,nab,nb->n", efield, alpha, efield) / self.k_e
            out["energy"] = energy

        if self.transition_head is not None and "transition_dipole" in requested:
            out["transition_dipole"] = self.transition_head(features, graph)["transition_dipole"]
        return out

    # -- initialization from data ----------------------------------------------------------
    @torch.no_grad()
    def fit_statistics(self, graph: Dict[str, torch.Tensor], labels: Dict[str, Any]) -> Dict[str, Any]:
        """Initialize normalizations and per-element baselines from training data.

        ``graph``: a model graph (see :mod:`tensorml.models.base`) of training systems;
        ``labels``: see :func:`tensorml.train.data.statistics_labels` (any key may be missing).
        Sets the backbone's feature statistics, element reference energies and the energy
        scale, element charges (least squares on the dipoles, projected on the mean total
        charge, unless given), isotropic element polarizabilities and Born charges.
        Returns what it set (for the training log).
        """
        import numpy as np

        self.backbone.fit_statistics(graph)
        done: Dict[str, Any] = {}
        species = graph["species"].cpu().numpy()
        S = len(self.species)
        if self.energy_head is not None and "energy" in labels:
            counts, e = labels["energy"]
            base, *_ = np.linalg.lstsq(counts, e, rcond=None)
            per_atom = (e - counts @ base) / counts.sum(1)
            self.energy_head.element_energies.copy_(torch.as_tensor(base))
            self.energy_head.scale.fill_(float(max(per_atom.std(), 1e-3)))
            done["element_energies"] = base.tolist()
        if self.dipole_head is not None and "dipole" in labels and not self.dipole_head.charges_given:
            # M ~ sum_t q_t sum_{i in t} r_i: least squares for per-element charges
            # with sum_t n_t q_t = <Q> for the mean composition n, solved on that plane with a small
            # ridge: frames of one molecule in similar geometries leave combinations of charges
            # undetermined (nearly collinear columns), which plain least squares turns into huge charges
            psum, dip, counts, charge = labels["dipole"]
            a = psum.transpose(0, 2, 1).reshape(-1, S)
            n = counts.mean(0)
            q0 = n * float(charge.mean()) / (n @ n)
            basis = np.linalg.svd(np.eye(S) - np.outer(n, n) / (n @ n))[0][:, : S - 1]  # the plane n.q = 0
            ab = a @ basis
            gram = ab.T @ ab
            ridge = 1e-2 * np.trace(gram) / max(S - 1, 1)
            q = q0 + basis @ np.linalg.solve(gram + ridge * np.eye(S - 1), ab.T @ (dip.reshape(-1) - a @ q0))
            q_t = torch.as_tensor(q, dtype=self.dipole_head.neutral_counts.dtype)
            self.dipole_head.element_charges.copy_(self.dipole_head.project(q_t.to(self.dipole_head.neutral_counts)))
            done["element_charges"] = q.tolist()
        head = self.polarizability_head if self.polarizability_head is not None else self.system_polarizability_head
        if head is not None and "polarizability" in labels:
            counts, pol = labels["polarizability"]
            iso = np.trace(pol, axis1=1, axis2=2) / 3.0
            base, *_ = np.linalg.lstsq(counts, iso, rcond=None)
            head.element_alpha.copy_(torch.as_tensor(base))
            done["element_alpha"] = base.tolist()
        if self.apt_head is not None and "apt" in labels:
            iso = np.trace(labels["apt"], axis1=1, axis2=2) / 3.0
            z = np.array([iso[species == s].mean() if (species == s).any() else 0.0 for s in range(S)])
            self.apt_head.element_charges.copy_(torch.as_tensor(z))
            done["element_born_charges"] = z.tolist()
        return done
