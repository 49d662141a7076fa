"""Loss terms: weighted mean squared errors per target, normalized by the spread of each target.

    L = sum_t w_t < |y_t - y_t^ref|^2 > / sigma_t^2

over the components of every labelled entry (frames for global targets, atoms for per-atom
ones).  sigma_t is the standard deviation of the target's components in the training set
(``normalize: true``, default), so that the weights are dimensionless and comparable; with
``normalize: false`` the losses are in the model's units (eV, e*angstrom, angstrom^3, e).

Special terms:

* ``energy``: per atom (E/N) when ``per_atom_energy`` (default), so clusters of all sizes weigh alike;
* ``charge``: the total-charge cost of EANN seed eq. 6, (sum_i q_i - Q)^2 per frame
  (the dipole term is the other half of eq. 6; eq. 6's factor 1/3 is the mean over components);
* ``transition_dipole`` with ``sign_insensitive``: min(|mu - mu_ref|^2, |mu + mu_ref|^2) per frame,
  for data whose phases were not corrected (the sign of a transition dipole is arbitrary);
* ``apt_sum_rule``: |sum_i apt_i - Q I|^2 per frame (useful for directly predicted APTs; the
  autograd APT obeys it by construction).
"""

from __future__ import annotations

from typing import Dict

import torch

#: contract outputs each loss term needs
NEEDS = {
    "energy": "energy",
    "forces": "forces",
    "dipole": "dipole",
    "polarizability": "polarizability",
    "apt": "apt",
    "transition_dipole": "transition_dipole",
    "charge": "charges",
    "apt_sum_rule": "apt",
}


def _masked_mse(pred: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not bool(mask.any()):
        return pred.sum() * 0.0
    diff = (pred - ref)[mask]
    return (diff * diff).mean()


def sign_insensitive_mse(pred: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not bool(mask.any()):
        return pred.sum() * 0.0
    p, r = pred[mask], ref[mask]
    plus = ((p - r) ** 2).mean(-1)
    minus = ((p + r) ** 2).mean(-1)
    return torch.minimum(plus, minus).mean()


def loss_terms(
    out: Dict[str, torch.Tensor],
    batch,
    weights: Dict[str, float],
    scales: Dict[str, float],
    per_atom_energy: bool = True,
    sign_insensitive: bool = False,
) -> Dict[str, torch.Tensor]:
    """Unweighted, normalized loss of every weighted term the batch has labels for."""
    labels, masks = batch["labels"], batch["masks"]
    n_atoms = batch["n_atoms"]
    terms: Dict[str, torch.Tensor] = {}
    for name, w in weights.items():
        if w == 0:
            continue
        scale = scales.get(name, 1.0) ** 2
        if name == "energy" and "energy" in labels:
            pred, ref = out["energy"], labels["energy"]
            if per_atom_energy:
                pred, ref = pred / n_atoms, ref / n_atoms
            terms[name] = _masked_mse(pred, ref, masks["energy"]) / scale
        elif name in ("forces", "dipole", "polarizability", "apt") and name in labels:
            terms[name] = _masked_mse(out[name], labels[name], masks[name]) / scale
        elif name == "transition_dipole" and name in labels:
            f = sign_insensitive_mse if sign_insensitive else _masked_mse
            terms[name] = f(out[name], labels[name], masks[name]) / scale
        elif name == "charge":
            q = out["charges"]
            nsys = n_atoms.shape[0]
            total = torch.zeros(nsys, dtype=q.dtype, device=q.device).index_add(0, batch["inputs"]["batch"], q)
            ref = labels["charge"] if "charge" in labels else torch.zeros_like(total)
            mask = masks["charge"] if "charge" in masks else torch.ones_like(total, dtype=torch.bool)
            # frames without a charge label are taken as neutral
            ref = torch.where(mask, ref, torch.zeros_like(ref))
            terms[name] = ((total - ref) ** 2).mean() / scale
        elif name == "apt_sum_rule" and "apt" in out:
            apt = out["apt"]
            nsys = n_atoms.shape[0]
            total = torch.zeros((nsys, 3, 3), dtype=apt.dtype, device=apt.device).index_add(
                0, batch["inputs"]["batch"], apt
            )
            q = labels["charge"] if "charge" in labels else torch.zeros(nsys, dtype=apt.dtype, device=apt.device)
            eye = torch.eye(3, dtype=apt.dtype, device=apt.device)
            terms[name] = ((total - q[:, None, None] * eye) ** 2).mean() / scale
    return terms


def target_scales(samples, names, per_atom_energy: bool = True) -> Dict[str, float]:
    """Standard deviation of each target's components over the training samples (1 if undefined)."""
    import numpy as np

    scales: Dict[str, float] = {}
    for name in names:
        key = "apt" if name == "apt_sum_rule" else name
        rows = []
        for s in samples:
            if key in s.labels:
                v = np.asarray(s.labels[key], dtype=float)
                if key == "energy" and per_atom_energy:
                    v = v / s.n_atoms
                # one row per frame (global targets) or per atom (per-atom targets)
                rows.append(v.reshape(s.n_atoms if key in ("forces", "apt") else 1, -1))
        sigma = 1.0
        if rows and name not in ("charge", "apt_sum_rule"):
            x = np.concatenate(rows)
            sigma = float(np.sqrt(x.var(0).mean())) if len(x) > 1 else 1.0  # RMSE of predicting the mean
        scales[name] = sigma if sigma > 1e-8 else 1.0
    return scales
