"""A compact training loop for the eMLP: eq. 31 with Adam, eq. 32 references, eq. 30 augmentation.

Seed Sec. 2.5 / 3.1.1: mini-batches of frames, Adam (initial learning rate 3e-4, halved every
``halving_epochs`` epochs), a fraction ``augment_fraction`` (10 % in Table 3) of every mini-batch
replaced by augmented copies (:mod:`tensorml.emlp.augment`).  With ``hydrides`` (Z -> EMLPFrame of
that element's reference hydride, H2 for Z = 1) energies are differences to eq. 32: the target
reference uses the hydride labels, the predicted one the model's own hydride energies evaluated
in the same step; after training the model's per-element reference energies are set so that it
predicts absolute energies.
"""

from __future__ import annotations

import copy
import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from .augment import AugmentOptions, augment_frame
from .cost import CostWeights, emlp_cost, predict
from .frames import EMLPFrame
from .reference import element_reference_energies, reference_energy


def _references(model, batch, hydrides):
    """(target, predicted) eq.-32 references per frame; the predicted ones are differentiable."""
    if hydrides is None:
        return None
    target_energies = {z: f.energy for z, f in hydrides.items()}
    model_energies = {z: predict(model, f, stress=False)["energy"] for z, f in hydrides.items()}
    return [(reference_energy(f.numbers, target_energies), reference_energy(f.numbers, model_energies)) for f in batch]


def validation_cost(model, frames: Sequence[EMLPFrame], weights: CostWeights = CostWeights()) -> float:
    """Mean eq.-31 cost (static: pairs at their reference positions) over ``frames``, in batches of 16."""
    total = 0.0
    for start in range(0, len(frames), 16):
        batch = list(frames[start : start + 16])
        cost, _ = emlp_cost(model, batch, weights)
        total += float(cost.detach()) * len(batch)
    return total / len(frames)


def train_emlp(
    model,
    frames: Sequence[EMLPFrame],
    *,
    epochs: int,
    lr: float = 3e-4,
    batch_size: int = 8,
    weights: CostWeights = CostWeights(),
    hydrides: Optional[dict] = None,
    augment_fraction: float = 0.0,
    augment_options: AugmentOptions = AugmentOptions(),
    halving_epochs: Optional[int] = None,
    seed: int = 0,
    validation: Optional[Sequence[EMLPFrame]] = None,
    max_minutes: Optional[float] = None,
    log: Optional[Callable[[dict], None]] = None,
) -> list[float]:
    """Train ``model`` in place; returns the mean eq.-31 cost of every epoch (before its updates).

    With ``validation`` frames the weights with the lowest validation cost are kept at the end;
    ``max_minutes`` stops after that wall time (at the end of an epoch); ``log`` gets one dict per
    epoch (epoch, train cost, validation cost, learning rate, seconds)."""
    if not frames:
        raise ValueError("no training frames")
    if not 0.0 <= augment_fraction <= 1.0:
        raise ValueError(f"augment_fraction {augment_fraction} must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = None
    if halving_epochs:
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5 ** (1.0 / halving_epochs))
    history = []
    start_time = time.monotonic()
    best = (float("inf"), None)
    for epoch in range(epochs):
        order = rng.permutation(len(frames))
        costs = []
        for start in range(0, len(order), batch_size):
            batch = [frames[i] for i in order[start : start + batch_size]]
            n_aug = int(round(augment_fraction * len(batch)))
            for k in rng.choice(len(batch), size=n_aug, replace=False):
                try:
                    batch[k] = augment_frame(batch[k], rng, augment_options)
                except ValueError:  # no admissible displacement (linear molecules): keep the frame
                    pass
            optimizer.zero_grad()
            cost, _ = emlp_cost(model, batch, weights, _references(model, batch, hydrides))
            cost.backward()
            optimizer.step()
            costs.append(float(cost.detach()))
        if scheduler is not None:
            scheduler.step()
        history.append(float(np.mean(costs)))
        entry = {"epoch": epoch + 1, "train_cost": history[-1], "lr": optimizer.param_groups[0]["lr"]}
        if validation:
            entry["validation_cost"] = validation_cost(model, validation, weights)
            if entry["validation_cost"] < best[0]:
                best = (entry["validation_cost"], copy.deepcopy(model.state_dict()))
        entry["seconds"] = time.monotonic() - start_time
        if log is not None:
            log(entry)
        if max_minutes is not None and entry["seconds"] > 60.0 * max_minutes:
            break
    if best[1] is not None:
        model.load_state_dict(best[1])
    if hydrides is not None:
        set_absolute_references(model, hydrides)
    return history


def set_absolute_references(model, hydrides: dict) -> dict:
    """Set per-element references e_Z(labels) - e_Z(model) (eq. 32) so that energies are absolute."""
    model.reference_table.zero_()
    labels = element_reference_energies({z: f.energy for z, f in hydrides.items()})
    predicted = element_reference_energies(
        {z: float(predict(model, f, stress=False, create_graph=False)["energy"]) for z, f in hydrides.items()}
    )
    shifts = {z: labels[z] - predicted[z] for z in labels}
    model.set_reference_energies(shifts)
    return shifts
