"""Backbones: map a graph of atoms to per-atom Cartesian features (see :mod:`tensorml.models.nn`).

* ``eann``: embedded-atom densities (EANN seed eqs. 15-16), :class:`EANNDescriptor`;
  one "layer" (receptive field = cutoff).
* ``equivariant``: e3nn message passing with even and odd irreps (APTNN seed),
  :class:`EquivariantBackbone`; receptive field = n_layers x cutoff.
"""

from __future__ import annotations

from typing import Any


def build_backbone(n_species: int, cutoff: float, config: dict[str, Any]):
    config = dict(config)
    kind = config.pop("type", "eann")
    if kind == "eann":
        from .eann import EANNDescriptor

        return EANNDescriptor(n_species, cutoff, **config)
    if kind in ("equivariant", "e3nn"):
        from .equivariant import EquivariantBackbone

        return EquivariantBackbone(n_species, cutoff, **config)
    raise ValueError(f"unknown backbone type {kind!r}; known: 'eann', 'equivariant'")


def message_passing_layers(backbone) -> int:
    return int(getattr(backbone, "n_layers", 1))
