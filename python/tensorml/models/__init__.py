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
    return _construct(MODELS[model_type], dict(config or {}))


def _construct(cls, config: dict):
    """``cls(**config)``; a misspelt key (top level, backbone or head) is named with the keys allowed there."""
    import inspect
    import re

    try:
        return cls(**config)
    except TypeError as err:
        found = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(err))
        if not found:
            raise
        owner, key = found.groups()
        target = cls if owner == cls.__name__ else _find_class(cls, owner)
        allowed = []
        if target is not None:
            params = inspect.signature(target.__init__).parameters.values()
            allowed = [p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD]
        where = "model" if target is cls else f"model ({owner})"
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        raise ValueError(f"unknown key {key!r} in the {where} configuration{hint}") from None


def _find_class(root, name: str):
    """A class called ``name`` among the modules tensorml.models defines (heads, backbones)."""
    import sys

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("tensorml.models") and isinstance(getattr(module, name, None), type):
            return getattr(module, name)
    return None


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
