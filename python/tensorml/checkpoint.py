"""Checkpoint files: written and read without executing code.

A checkpoint holds tensors, plain containers (dict, list, tuple) and plain scalars (str, int,
float, bool, None) only. :func:`save` converts NumPy arrays and scalars to those before writing,
so :func:`load` can read with ``torch.load(..., weights_only=True)``: a crafted file that carries
a pickled callable (``os.system`` through ``__reduce__``, say) is refused with
:class:`CheckpointError` instead of being run.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read safely (not a checkpoint, or carries code)."""


def plain(value: Any) -> Any:
    """``value`` with NumPy arrays and scalars turned into lists and Python scalars (recursively)."""
    import numpy as np
    import torch

    if isinstance(value, np.generic):  # before float: np.float64 is a float subclass that pickles as NumPy
        return value.item()
    if isinstance(value, torch.Tensor) or value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"a checkpoint holds tensors, containers and plain scalars only, not {type(value).__name__}")


def save(state: dict, path: str | Path) -> Path:
    """Write ``state`` atomically (a temporary file renamed into place); returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(plain(state), str(tmp))
    tmp.replace(path)
    return path


def load(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; raise :class:`CheckpointError` for anything else."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    from .archive import is_model_file

    if is_model_file(path):
        raise CheckpointError(f"{path} is an exported model file, not a training checkpoint")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln or "GLOBAL" in ln]
        first = lines[0] if lines else type(exc).__name__
        raise CheckpointError(
            f"{path}: refused to load: the file holds more than tensors and plain containers, which could run "
            f"code when unpickled ({first}). tensorml checkpoints never do; only load files you made."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(state, dict) or "model_type" not in state:
        raise CheckpointError(f"{path}: not a tensorml checkpoint (no 'model_type')")
    return state
