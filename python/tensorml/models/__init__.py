"""Physics models of tensorml and their checkpoints.

:data:`MODELS` maps a model type to its class; a checkpoint stores the type,
the constructor arguments (``model.config()``) and the weights, so any model
can be rebuilt and exported without the script that trained it.
"""

from __future__ import annotations

from pathlib import Path

from .base import PerAtomModel
from .reference import ReferenceDipoleModel
from .tensorial import TensorialModel

MODELS: dict[str, type[PerAtomModel]] = {
    ReferenceDipoleModel.model_type: ReferenceDipoleModel,
    TensorialModel.model_type: TensorialModel,
}


def build_model(model_type: str, config: dict | None = None) -> PerAtomModel:
    if model_type not in MODELS:
        raise ValueError(f"unknown model type {model_type!r}; known: {sorted(MODELS)}")
    return MODELS[model_type](**(config or {}))


def save_checkpoint(model: PerAtomModel, path: str | Path, **extra) -> None:
    from .. import checkpoint

    checkpoint.save(
        {"model_type": model.model_type, "config": model.config(), "state_dict": model.state_dict(), **extra}, path
    )


def load_checkpoint(path: str | Path) -> PerAtomModel:
    """Rebuild a model from a checkpoint (read with ``weights_only=True``: see :mod:`tensorml.checkpoint`)."""
    from .. import checkpoint

    ckpt = checkpoint.load(path)
    model = build_model(ckpt["model_type"], ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model
